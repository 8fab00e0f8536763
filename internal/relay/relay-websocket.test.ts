// MSRP over WebSocket (RFC 7977) through the relay, over real sockets: wss: (and ws:) clients
// made with the `ws` package next to msrps: clients made with node:tls.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { after, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { getHeader, type MsrpRequest } from '../msrp/frame.ts';
import { buildResponse, newMessageId } from '../msrp/transaction.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import type { RelayOptions } from './options.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { eventually, startTestRelay, type TestRelay } from './testrelay.ts';

const relays: TestRelay[] = [];
after(async () => {
  for (const r of relays) await r.relay.stop();
});

interface WsRelay extends TestRelay {
  wsPort: number;
  metrics: Metrics;
}

async function setup(overrides: Partial<RelayOptions> = {}, secure = true): Promise<WsRelay> {
  const metrics = createMetrics({ defaultMetrics: false });
  const r = await startTestRelay({
    listeners: [{ hosts: ['127.0.0.1'], port: 0, tls: true }, { hosts: ['127.0.0.1'], port: 0, tls: secure, websocket: true }],
    ...overrides,
  }, undefined, { metrics });
  relays.push(r);
  const wsPort = r.relay.addresses.find((a) => a.websocket)!.port;
  return { ...r, wsPort, metrics };
}

async function metric(m: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const found = (await m.registry.getMetricsAsJSON()).find((x) => x.name === `msrp_${name}`);
  const v = found?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A wss: client and an msrps: client, both authenticated. */
async function pair(r: WsRelay): Promise<{ w: TestClient; t: TestClient; sw: string; st: string }> {
  const w = await TestClient.connectWebSocket({ port: r.wsPort, ca: r.ca });
  const t = await TestClient.connect({ port: r.port, ca: r.ca });
  const sw = usePathOf(await w.auth(r.relay.uri, 'alice', 'alice-pw'));
  const st = usePathOf(await t.auth(r.relay.uri, 'bob', 'bob-pw'));
  return { w, t, sw, st };
}

describe('MSRP over WebSocket through the relay (RFC 7977)', () => {
  it('authenticates a wss: client with Digest (RFC 4976 §5.1) and hands out a Use-Path peers reach over TCP', async () => {
    const r = await setup();
    const w = await TestClient.connectWebSocket({ port: r.wsPort, ca: r.ca });
    const first = w.send('AUTH', [r.relay.uri]);
    const challenge = await w.response(first.transactionId);
    assert.equal(challenge.status, 401);
    assert.match(getHeader(challenge, 'WWW-Authenticate')!, /^Digest realm="example.test"/);
    assert.deepEqual(challenge.toPath, [w.uri], 'the answer goes back to the .invalid;ws URI, on the WebSocket');
    const ok = await w.answer(challenge, r.relay.uri, 'alice', 'alice-pw');
    assert.equal(ok.status, 200);
    // RFC 7977 §5.3: the relay's URI for others is the one it is reached on over TCP/TLS.
    assert.match(usePathOf(ok), new RegExp(`^msrps://127\\.0\\.0\\.1:${r.port}/[A-Za-z0-9]+;tcp$`));
    assert.equal(w.messages, 2);
    assert.deepEqual(w.messageFaults, []);
    const wrong = await TestClient.connectWebSocket({ port: r.wsPort, ca: r.ca });
    assert.equal((await wrong.auth(r.relay.uri, 'alice', 'nope')).status, 403);
    w.close();
    wrong.close();
  });

  it('refuses AUTH over plain ws: as over plain TCP (RFC 4976 §5), unless allowPlainTcp', async () => {
    const r = await setup({}, false);
    const w = await TestClient.connectWebSocket({ port: r.wsPort });
    const res = await w.auth(r.relay.uri, 'alice', 'alice-pw');
    assert.equal(res.status, 403);
    w.close();
    const lab = await setup({ allowPlainTcp: true }, false);
    const w2 = await TestClient.connectWebSocket({ port: lab.wsPort });
    assert.equal((await w2.auth(lab.relay.uri, 'alice', 'alice-pw')).status, 200);
    w2.close();
  });

  it('forwards SENDs both ways between a wss: client and an msrps: client, one frame per WebSocket message', async () => {
    const r = await setup();
    const { w, t, sw, st } = await pair(r);
    // WebSocket -> TLS
    const out = w.sendMessage([sw, st, t.uri], 'hello from the browser', [{ name: 'Success-Report', value: 'yes' }]);
    assert.equal((await w.response(out.transactionId)).status, 200);
    const got = await t.request('SEND');
    assert.deepEqual(got.fromPath, [st, sw, w.uri]);
    assert.equal(Buffer.concat(got.body).toString(), 'hello from the browser');
    t.write(buildResponse(got, 200));
    t.send('REPORT', [...got.fromPath], [
      { name: 'Message-ID', value: getHeader(got, 'Message-ID')! }, { name: 'Byte-Range', value: '1-22/22' }, { name: 'Status', value: '000 200 OK' },
    ]);
    const report = await w.request('REPORT');
    assert.deepEqual(report.toPath, [w.uri]);
    assert.equal(getHeader(report, 'Status'), '000 200 OK');
    // TLS -> WebSocket, several at once (the relay gathers them into one write: still one message each)
    const sent: MsrpRequest[] = [];
    for (let i = 0; i < 20; i++) sent.push(t.sendMessage([st, sw, w.uri], `reply ${i}`));
    for (const s of sent) assert.equal((await t.response(s.transactionId)).status, 200);
    for (let i = 0; i < 20; i++) {
      const back = await w.next((f) => f.kind === 'request' && Buffer.concat(f.body).toString() === `reply ${i}`);
      assert.deepEqual(back.toPath, [w.uri]);
      assert.deepEqual(back.fromPath, [sw, st, t.uri]);
    }
    assert.deepEqual(w.messageFaults, []);
    w.close();
    t.close();
  });

  it('takes back-to-back messages from one wss: client as one stream and hands them to another, each in its own message, in order', async () => {
    // A WebSocket client sends each message in its own TLS record: the relay reads many in one
    // read, holds the small ones and parses them together (websocket.ts), and sends their
    // frames on in one socket write per turn; each must still arrive as exactly one message.
    const r = await setup();
    const a = await TestClient.connectWebSocket({ port: r.wsPort, ca: r.ca });
    const b = await TestClient.connectWebSocket({ port: r.wsPort, ca: r.ca });
    const sa = usePathOf(await a.auth(r.relay.uri, 'alice', 'alice-pw'));
    const sb = usePathOf(await b.auth(r.relay.uri, 'bob', 'bob-pw'));
    const n = 200;
    const sent: MsrpRequest[] = [];
    for (let i = 0; i < n; i++) sent.push(a.sendMessage([sa, sb, b.uri], `msg ${i} ${'x'.repeat(i % 7 === 0 ? 3000 : 40)}`));
    for (let i = 0; i < n; i++) {
      const got = await b.request('SEND');
      assert.equal(Buffer.concat(got.body).toString().split(' ')[1], String(i), 'in order');
      b.write(buildResponse(got, 200));
    }
    for (const s of sent) assert.equal((await a.response(s.transactionId)).status, 200);
    assert.deepEqual(a.messageFaults, []);
    assert.deepEqual(b.messageFaults, []);
    a.close();
    b.close();
  });

  it('carries a 50 MB file in 64 KB chunks from wss: to msrps: and back, byte for byte', async () => {
    const r = await setup();
    const { w, t, sw, st } = await pair(r);
    const file = randomBytes(50 * 1024 * 1024);
    const chunk = 64 * 1024;
    const send = async (from: TestClient, to: TestClient, toPath: string[]): Promise<Buffer> => {
      const messageId = newMessageId();
      const received: Buffer[] = [];
      let receivedBytes = 0;
      const reader = (async () => {
        while (receivedBytes < file.length) {
          const f = await to.request('SEND', 30_000);
          const range = /^(\d+)-(\d+)\/(\d+)$/.exec(getHeader(f, 'Byte-Range')!)!;
          assert.equal(Number(range[1]), receivedBytes + 1, 'chunks arrive in order');
          received.push(...f.body);
          receivedBytes += f.body.reduce((n, b) => n + b.length, 0);
          to.write(buildResponse(f, 200));
        }
      })();
      // A window of 16 chunks in flight, as a sender pacing on responses would.
      const inFlight: Promise<unknown>[] = [];
      for (let start = 0; start < file.length; start += chunk) {
        const end = Math.min(file.length, start + chunk);
        const req = from.send('SEND', toPath, [
          { name: 'Message-ID', value: messageId }, { name: 'Byte-Range', value: `${start + 1}-${end}/${file.length}` }, { name: 'Content-Type', value: 'application/octet-stream' },
        ], file.subarray(start, end), [from.uri], end === file.length ? '$' : '+');
        inFlight.push(from.response(req.transactionId, 30_000).then((res) => assert.equal(res.status, 200)));
        if (inFlight.length >= 16) await inFlight.shift();
      }
      await Promise.all(inFlight);
      await reader;
      return Buffer.concat(received);
    };
    assert.equal(sha(await send(w, t, [sw, st, t.uri])), sha(file), 'wss: -> msrps:');
    assert.equal(sha(await send(t, w, [st, sw, w.uri])), sha(file), 'msrps: -> wss:');
    assert.deepEqual(w.messageFaults, []);
    w.close();
    t.close();
  });

  it('streams a 16 MB chunk from msrps: to wss: as one fragmented message, and holds the sender while the browser does not read', async () => {
    const r = await setup();
    const { w, t, sw, st } = await pair(r);
    // Larger than the kernel can absorb between the relay and the paused reader: Linux
    // autotunes a loopback send buffer up to tcp_wmem's maximum (4 MB here), so a 3 MB chunk
    // could sit entirely in kernel buffers and the relay would rightly never pause (CI saw it).
    const body = randomBytes(16 * 1024 * 1024);
    w.socket.pause(); // the WebSocket client stops reading
    const sent = t.sendMessage([st, sw, w.uri], body);
    const fromT = [...r.relay.connections].find((c) => c.remotePort === t.socket.localPort)!;
    const toW = [...r.relay.connections].find((c) => c.remotePort === w.socket.localPort)!;
    let maxBuffered = 0;
    await eventually(() => {
      maxBuffered = Math.max(maxBuffered, toW.bufferedBytes);
      return fromT.paused;
    }, 'the relay to pause reading from the msrps: sender', 20_000);
    assert.ok(fromT.bytesIn < body.length, `relay read ${fromT.bytesIn} of ${body.length} bytes while the WebSocket client did not read`);
    assert.ok(maxBuffered < 1024 * 1024, `relay buffered ${maxBuffered} bytes for the WebSocket client`);
    w.socket.resume();
    const got = await w.request('SEND', 20_000);
    assert.equal(sha(Buffer.concat(got.body)), sha(body));
    assert.equal((await t.response(sent.transactionId, 20_000)).status, 200);
    assert.deepEqual(w.messageFaults, []);
    w.close();
    t.close();
  });
});

describe('bad input on the WebSocket listener (RFC 7977 §4.1, RFC 6455)', () => {
  /** A raw HTTPS upgrade request; resolves with the status of the answer. */
  const handshake = (r: WsRelay, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: r.wsPort, ca: r.ca, servername: 'localhost', method, path: '/', headers });
      const answer = (res: { statusCode?: number; on(e: 'data', f: (c: Buffer) => void): void; on(e: 'end', f: () => void): void }): void => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      };
      req.on('response', answer);
      req.on('upgrade', (res) => resolve({ status: res.statusCode ?? 0, body: '' }));
      req.on('error', reject);
      req.end();
    });
  const upgrade = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') };

  it('refuses handshakes without the msrp subprotocol, from origins not allowed, and plain HTTP, and counts them', async () => {
    const r = await setup({ websocket: { origins: ['https://chat.example.test'], maxMessageBytes: 1024 * 1024 } });
    const none = await handshake(r, { ...upgrade, Origin: 'https://chat.example.test' });
    assert.equal(none.status, 400);
    assert.match(none.body, /subprotocol "msrp" must be offered/);
    assert.equal((await handshake(r, { ...upgrade, Origin: 'https://chat.example.test', 'Sec-WebSocket-Protocol': 'sip, xmpp' })).status, 400);
    const origin = await handshake(r, { ...upgrade, Origin: 'https://evil.example.test', 'Sec-WebSocket-Protocol': 'msrp' });
    assert.equal(origin.status, 403);
    assert.equal((await handshake(r, { ...upgrade, 'Sec-WebSocket-Protocol': 'msrp' })).status, 403, 'no Origin when origins are listed');
    assert.equal((await handshake(r, { Origin: 'https://chat.example.test' })).status, 426, 'plain GET');
    const badKey = await handshake(r, { ...upgrade, 'Sec-WebSocket-Key': 'short', Origin: 'https://chat.example.test', 'Sec-WebSocket-Protocol': 'msrp' });
    assert.equal(badKey.status, 400);
    assert.equal(await metric(r.metrics, 'relay_websocket_refusals_total', { reason: 'subprotocol' }), 2);
    assert.equal(await metric(r.metrics, 'relay_websocket_refusals_total', { reason: 'origin' }), 2);
    assert.equal(await metric(r.metrics, 'relay_websocket_refusals_total', { reason: 'not-websocket' }), 1);
    assert.equal(await metric(r.metrics, 'relay_websocket_refusals_total', { reason: 'handshake' }), 1);
    // The ws client library sees the refusal too; the right offer from the right origin gets in.
    await assert.rejects(TestClient.connectWebSocket({ port: r.wsPort, ca: r.ca, protocols: ['sip'], origin: 'https://chat.example.test' }), /handshake refused: 400/);
    const ok = await TestClient.connectWebSocket({ port: r.wsPort, ca: r.ca, origin: 'https://chat.example.test' });
    assert.equal((await ok.auth(r.relay.uri, 'alice', 'alice-pw')).status, 200);
    ok.close();
  });

  it('answers a non-SEND body over the limit with 413 as over TCP, and closes on a message over maxMessageBytes with 1009', async () => {
    const r = await setup({ websocket: { origins: [], maxMessageBytes: 64 * 1024 } });
    const { w, t, sw, st } = await pair(r);
    const big = w.send('NICKNAME', [sw], [{ name: 'Use-Nickname', value: '"x"' }], randomBytes(20 * 1024).toString('hex').slice(0, 20 * 1024));
    assert.equal((await w.response(big.transactionId)).status, 413);
    // A SEND chunk within the message limit goes through; one above closes this connection only.
    const fits = w.sendMessage([sw, st, t.uri], randomBytes(60 * 1024));
    assert.equal((await w.response(fits.transactionId)).status, 200);
    w.sendMessage([sw, st, t.uri], randomBytes(100 * 1024));
    await w.closed;
    assert.equal(w.closeCode, 1009);
    await eventually(async () => (await metric(r.metrics, 'relay_drops_total', { reason: 'websocket-message-too-big' })) === 1, 'the drop counted');
    // The msrps: client's session is untouched.
    assert.equal((await t.auth(r.relay.uri, 'bob', 'bob-pw')).status, 200);
    t.close();
  });

  it('closes a connection that sends a text message that is not MSRP with a parse error, other sessions untouched', async () => {
    const r = await setup();
    const { t } = await pair(r);
    const tls = { ca: r.ca, servername: 'localhost' };
    const ws = new WebSocket(`wss://127.0.0.1:${r.wsPort}/`, ['msrp'], tls);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.send('GET / HTTP/1.1\r\n\r\n');
    await closed;
    await eventually(async () => (await metric(r.metrics, 'parse_errors_total', {})) >= 1, 'the parse error counted');
    assert.equal((await t.auth(r.relay.uri, 'bob', 'bob-pw')).status, 200);
    t.close();
  });
});
