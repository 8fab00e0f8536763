import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { once } from 'node:events';
import { connect as tlsConnect } from 'node:tls';
import { testPki } from './testcerts.ts';
import { startSipTransport, type SipTransport } from './sip.ts';
import { UserAgentServer } from '../sip/ua.ts';
import { parseDatagram, SipStreamFramer } from '../sip/parser.ts';
import { serialize } from '../sip/serializer.ts';
import { headerValue, request, type SipMessage, type SipResponse } from '../sip/message.ts';
import { toTag, topVia } from '../sip/fields.ts';

/** A focus-like UAS on loopback: accepts every INVITE with 200 and every BYE with 200. */
async function server(): Promise<{ transport: SipTransport; ua: UserAgentServer }> {
  const core: { ua?: UserAgentServer } = {};
  const transport = await startSipTransport({
    udpPort: 0, tcpPort: 0,
    onMessage: (m, source) => core.ua!.receive(m, source),
    onError: (e, source) => core.ua!.receiveError(e, source),
  });
  const ua = new UserAgentServer({
    send: (m, d) => transport.send(m, d),
    contact: `<sip:room@127.0.0.1:${transport.tcpPort};transport=tcp>;isfocus`,
    onRequest: (r) => {
      if (r.request.method === 'INVITE') r.respond(200, { body: 'v=0\r\n', contentType: 'application/sdp' });
      else r.respond(200);
    },
  });
  core.ua = ua;
  return { transport, ua };
}

function call(transport: 'UDP' | 'TCP', port: number) {
  const via = `SIP/2.0/${transport} 127.0.0.1:${port};rport;branch=`;
  const base = [['From', '<sip:alice@example.com>;tag=a1'], ['Call-ID', `rt-${transport}@127.0.0.1`], ['Max-Forwards', '70']] as [string, string][];
  return {
    invite: () => request({ method: 'INVITE', uri: 'sip:room@127.0.0.1', headers: [['Via', `${via}z9hG4bKinv${transport}`], ...base, ['To', '<sip:room@127.0.0.1>'], ['CSeq', '1 INVITE'], ['Contact', `<sip:alice@127.0.0.1:${port}>`], ['Content-Type', 'application/sdp']], body: 'v=0\r\n' }),
    ack: (tag: string) => request({ method: 'ACK', uri: 'sip:room@127.0.0.1', headers: [['Via', `${via}z9hG4bKack${transport}`], ...base, ['To', `<sip:room@127.0.0.1>;tag=${tag}`], ['CSeq', '1 ACK']] }),
    bye: (tag: string) => request({ method: 'BYE', uri: 'sip:room@127.0.0.1', headers: [['Via', `${via}z9hG4bKbye${transport}`], ...base, ['To', `<sip:room@127.0.0.1>;tag=${tag}`], ['CSeq', '2 BYE']] }),
  };
}

/** Collects messages and lets the test wait for the next one. */
function inbox() {
  const queue: SipMessage[] = [];
  const waiters: ((m: SipMessage) => void)[] = [];
  return {
    push(m: SipMessage) {
      const w = waiters.shift();
      if (w) w(m);
      else queue.push(m);
    },
    next(): Promise<SipResponse> {
      const m = queue.shift();
      const p = m ? Promise.resolve(m) : new Promise<SipMessage>((resolve) => waiters.push(resolve));
      return p.then((x) => {
        assert.equal(x.kind, 'response');
        return x;
      });
    },
  };
}

describe('SIP over real loopback sockets', () => {
  it('runs INVITE → 100/200 → ACK → BYE → 200 over UDP, answering at received:rport', async () => {
    const { transport, ua } = await server();
    const client = createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    const box = inbox();
    client.on('message', (d) => {
      const r = parseDatagram(d);
      if (r?.ok) box.push(r.value);
    });
    try {
      const port = client.address().port;
      const c = call('UDP', port);
      const send = (m: SipMessage) => client.send(serialize(m), transport.udpPort, '127.0.0.1');
      send(c.invite());
      const trying = await box.next();
      assert.equal(trying.status, 100);
      assert.equal(topVia(trying)!.rport, port, 'RFC 3581: rport filled with the source port');
      assert.equal(topVia(trying)!.received, '127.0.0.1');
      const ok = await box.next();
      assert.equal(ok.status, 200);
      assert.equal(ok.body.toString(), 'v=0\r\n');
      const tag = toTag(ok)!;
      send(c.ack(tag));
      send(c.bye(tag));
      const byeOk = await box.next();
      assert.equal(byeOk.status, 200);
      assert.equal(headerValue(byeOk, 'CSeq'), '2 BYE');
      assert.equal(ua.dialogs.size, 0);
    } finally {
      client.close();
      await transport.close();
    }
  });

  it('runs INVITE → 100/200 → ACK → BYE → 200 over TCP on the same connection', async () => {
    const { transport, ua } = await server();
    const socket = connect({ host: '127.0.0.1', port: transport.tcpPort! });
    await once(socket, 'connect');
    const box = inbox();
    const framer = new SipStreamFramer({ onMessage: (m) => box.push(m), onError: (e) => assert.fail(e.message) });
    socket.on('data', (d: Buffer) => framer.push(d));
    try {
      const c = call('TCP', socket.localPort!);
      // Split writes exercise the server's framer.
      const bytes = serialize(c.invite());
      socket.write(bytes.subarray(0, 37));
      socket.write(bytes.subarray(37));
      assert.equal((await box.next()).status, 100);
      const ok = await box.next();
      assert.equal(ok.status, 200);
      const tag = toTag(ok)!;
      socket.write(Buffer.concat([serialize(c.ack(tag)), Buffer.from('\r\n\r\n'), serialize(c.bye(tag))]));
      const byeOk = await box.next();
      assert.equal(byeOk.status, 200);
      assert.equal(ua.dialogs.size, 0);
      assert.equal(transport.connectionCount, 1);
    } finally {
      socket.destroy();
      await transport.close();
    }
  });

  it('answers a malformed request over TCP with 400 naming the missing header', async () => {
    const { transport } = await server();
    const socket = connect({ host: '127.0.0.1', port: transport.tcpPort! });
    await once(socket, 'connect');
    const box = inbox();
    // The 400 lacks CSeq too (it copies what the request had): take the partial message.
    const framer = new SipStreamFramer({ onMessage: (m) => box.push(m), onError: (e) => e.partial && box.push(e.partial) });
    socket.on('data', (d: Buffer) => framer.push(d));
    try {
      socket.write('OPTIONS sip:room@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKbad\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:room@127.0.0.1>\r\nCall-ID: bad@1\r\nContent-Length: 0\r\n\r\n');
      const res = await box.next();
      assert.equal(res.status, 400);
      assert.equal(res.reason, 'Missing CSeq');
    } finally {
      socket.destroy();
      await transport.close();
    }
  });

  it('answers OPTIONS over TLS on the same connection', async () => {
    const pki = await testPki();
    const transport = await startSipTransport({
      tlsPort: 0, tls: { cert: pki.server.cert, key: pki.server.key },
      onMessage: (m, source) => ua.receive(m, source),
    });
    const ua = new UserAgentServer({ send: (m, d) => transport.send(m, d), contact: '<sips:room@localhost>', onRequest: () => undefined });
    const socket = tlsConnect({ host: '127.0.0.1', port: transport.tlsPort!, ca: pki.caPem, servername: 'localhost' });
    await once(socket, 'secureConnect');
    const box = inbox();
    const framer = new SipStreamFramer({ onMessage: (m) => box.push(m), onError: (e) => assert.fail(e.message) });
    socket.on('data', (d: Buffer) => framer.push(d));
    try {
      socket.write(serialize(request({ method: 'OPTIONS', uri: 'sips:room@localhost', headers: [
        ['Via', 'SIP/2.0/TLS 127.0.0.1;branch=z9hG4bKtls'], ['From', '<sips:a@localhost>;tag=1'], ['To', '<sips:room@localhost>'], ['Call-ID', 'tls@1'], ['CSeq', '1 OPTIONS'],
      ] })));
      const res = await box.next();
      assert.equal(res.status, 200);
      assert.ok(headerValue(res, 'Allow')!.includes('INVITE'));
    } finally {
      socket.destroy();
      await transport.close();
    }
  });
});
