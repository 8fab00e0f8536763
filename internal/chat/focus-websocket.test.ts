// SIP over WebSocket (RFC 7118) to the chat focus, with the browser's MSRP through the relay's
// wss: listener (RFC 7977), over real sockets: a WebSocket SIP client INVITEs a room and
// SUBSCRIBEs to its conference events (the NOTIFYs come back over the same WebSocket, its
// hosts being `.invalid`), and exchanges messages with an `msrp chat` CLI participant on TCP.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { offerSdp, SipUac } from '../client/sip-uac.ts';
import { runMsrp } from '../client/cli/testrun.ts';
import { formatCpim } from '../msrp/cpim.ts';
import { buildResponse as msrpResponse } from '../msrp/transaction.ts';
import { headerValue } from '../sip/message.ts';
import { parseSdp } from '../sip/sdp.ts';
import { findMsrpMedia } from '../sip/sdp-msrp.ts';
import { TestClient, usePathOf } from '../relay/testclient.ts';
import { startTestRelay, type TestRelay } from '../relay/testrelay.ts';
import { createLogger } from '../telemetry/logger.ts';
import { eventually } from '../testwait.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { startChatServer, type RunningChatServer } from './server.ts';
import { loopbackChatConfig } from './testchat.ts';

const ROOM = 'sip:lobby@chat.test';
const bodyText = (f: { body: readonly Buffer[] }): string => Buffer.concat(f.body).toString();

describe('the chat focus over SIP WebSocket (RFC 7118)', { timeout: 60_000 }, () => {
  let pki: TestPki;
  let chat: RunningChatServer;
  let relay: TestRelay;
  let wsPort: number;
  let dir: string;
  before(async () => {
    pki = await testPki();
    dir = await mkdtemp(join(tmpdir(), 'focus-ws-'));
    const base = loopbackChatConfig({ rooms: [{ name: 'lobby', policy: { history: { enabled: false } } }] });
    chat = await startChatServer({ ...base, sip: { ...base.sip, wssPort: 0, wsOrigins: [] } }, {
      logger: createLogger({ name: 'focus-ws', level: 'silent', env: {} }), tls: { cert: pki.server.cert, key: pki.server.key },
    });
    relay = await startTestRelay({
      listeners: [{ hosts: ['127.0.0.1'], port: 0, tls: true }, { hosts: ['127.0.0.1'], port: 0, tls: true, websocket: true }],
      nextHops: { allow: [{ host: '127.0.0.1', port: chat.msrp.port }], allowPrivate: true, connectTimeoutMs: 2000 },
    });
    wsPort = relay.relay.addresses.find((a) => a.websocket)!.port;
  });
  after(async () => {
    await chat.close();
    await relay.relay.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a WebSocket handshake without the sip subprotocol (400, RFC 7118 §4)', async () => {
    await assert.rejects(SipUac.open('WSS', chat.focus.wssPort!, 'eve', '127.0.0.1', {}, { ca: pki.caPem, protocols: ['msrp'] }), /handshake refused: 400/);
    await assert.rejects(SipUac.open('WSS', chat.focus.wssPort!, 'eve', '127.0.0.1', {}, { ca: pki.caPem, protocols: [] }), /handshake refused: 400/);
  });

  it('joins a room over WSS, gets conference NOTIFYs on the same WebSocket, and talks with a TCP participant through the relay', async () => {
    // The browser's MSRP side: a wss: connection to the relay, authenticated.
    const w = await TestClient.connectWebSocket({ port: wsPort, ca: relay.ca });
    const sw = usePathOf(await w.auth(relay.relay.uri, 'alice', 'alice-pw'));
    // Its SIP side: a wss: connection to the focus.
    const uac = await SipUac.open('WSS', chat.focus.wssPort!, 'alice', '127.0.0.1', {}, { ca: pki.caPem });
    assert.match(uac.contact, /^<sip:alice@[0-9a-f]+\.invalid;transport=ws>$/);

    const sub = uac.newDialog(ROOM, 'sip:alice@example.test');
    const subscribed = await uac.send(sub, 'SUBSCRIBE', { headers: [['Event', 'conference'], ['Expires', '600'], ['Accept', 'application/conference-info+xml']] });
    assert.equal(subscribed.status, 200);
    const full = await uac.nextRequest('NOTIFY');
    assert.equal(headerValue(full, 'Event'), 'conference');
    assert.match(headerValue(full, 'Via') ?? '', /^SIP\/2\.0\/WSS 127\.0\.0\.1:\d+;/, 'the focus names the WSS transport in its Via (RFC 7118 §5.2)');

    // A second watcher whose WebSocket goes away without unsubscribing: the next NOTIFY cannot
    // reach it (no connection can be opened to `.invalid`), fails at once and ends its subscription.
    const gone = await SipUac.open('WSS', chat.focus.wssPort!, 'gone', '127.0.0.1', {}, { ca: pki.caPem });
    const goneSub = gone.newDialog(ROOM, 'sip:gone@example.test');
    assert.equal((await gone.send(goneSub, 'SUBSCRIBE', { headers: [['Event', 'conference'], ['Expires', '600']] })).status, 200);
    await gone.nextRequest('NOTIFY');
    assert.equal(chat.focus.subscriptions, 2);
    gone.close();

    const call = uac.newDialog(ROOM, 'sip:alice@example.test');
    const res = await uac.send(call, 'INVITE', { body: offerSdp(`${sw} ${w.uri}`, { setup: 'active' }) });
    assert.equal(res.status, 200, `${res.status} ${res.reason} ${headerValue(res, 'Warning') ?? ''}`);
    assert.match(headerValue(res, 'Contact') ?? '', /;transport=ws>;isfocus$/);
    await uac.send(call, 'ACK');
    const answer = parseSdp(res.body);
    assert.ok(answer.ok);
    const media = findMsrpMedia(answer.value);
    assert.ok(media.ok);
    // The switch's session, reached through the relay: nothing WebSocket-specific in the answer.
    const switchUri = media.value.path.at(-1)!;
    assert.match(switchUri, new RegExp(`^msrp://127\\.0\\.0\\.1:${chat.msrp.port}/`));
    const toPath = [sw, switchUri];
    // The active side speaks first (RFC 4975 §5.4): an empty SEND binds the session.
    const bind = w.send('SEND', toPath, [{ name: 'Message-ID', value: 'bind1' }, { name: 'Byte-Range', value: '1-0/0' }]);
    assert.equal((await w.response(bind.transactionId)).status, 200);
    const nick = w.send('NICKNAME', toPath, [{ name: 'Use-Nickname', value: '"Alice"' }]);
    assert.equal((await w.response(nick.transactionId)).status, 200);
    // The NOTIFY telling Alice joined arrives over the WebSocket.
    for (;;) {
      const n = await uac.nextRequest('NOTIFY');
      if (/sip:alice@example\.test/.test(n.body.toString())) break;
    }

    await eventually(() => chat.focus.subscriptions === 1, 'the gone watcher\'s subscription ended by its failed NOTIFY (no Timer F wait)', 3000);

    // A TCP participant: the `msrp chat` CLI, straight to the focus (UDP) and the switch (TCP).
    const script = join(dir, 'bob.txt');
    await writeFile(script, ['/nick Bob', 'expect:hello from the browser$', 'hi browser', 'wait:500'].join('\n') + '\n');
    const bob = runMsrp(['chat', ROOM, '--focus', `127.0.0.1:${chat.focus.udpPort!}`, '--user', 'bob', '--script', script, '--expect-timeout', '10000']);
    const room = chat.switch.room(ROOM)!;
    await eventually(() => room.participants().some((p) => p.nickname === 'Bob'), 'bob in the room with his nickname', 20_000);
    // ...and the browser is told over its WebSocket.
    for (;;) {
      const n = await uac.nextRequest('NOTIFY');
      if (/Bob/.test(n.body.toString())) break;
    }
    const cpim = formatCpim({ from: { uri: 'sip:alice@example.test' }, to: [{ uri: ROOM }], dateTime: new Date(), contentType: 'text/plain;charset=utf-8', content: 'hello from the browser' });
    const hello = w.send('SEND', toPath, [
      { name: 'Message-ID', value: 'hello1' }, { name: 'Byte-Range', value: `1-${cpim.length}/${cpim.length}` }, { name: 'Content-Type', value: 'message/cpim' },
    ], cpim);
    assert.equal((await w.response(hello.transactionId)).status, 200);
    const reply = await w.next((f) => f.kind === 'request' && f.method === 'SEND' && bodyText(f).includes('hi browser'), 15_000);
    assert.equal(reply.kind, 'request');
    assert.deepEqual(reply.toPath, [w.uri], 'the switch reaches the browser through the relay, over its WebSocket');
    w.write(msrpResponse(reply, 200));
    const r = await bob;
    assert.equal(r.code, 0, `bob exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stdout, /hello from the browser$/m);
    assert.deepEqual(w.messageFaults, []);

    // BYE over the WebSocket ends the call; the room empties of Alice.
    assert.equal((await uac.send(call, 'BYE', { inDialog: true })).status, 200);
    await eventually(() => room.participants().every((p) => p.nickname !== 'Alice'), 'alice left with BYE');
    const un = await uac.send(sub, 'SUBSCRIBE', { inDialog: true, headers: [['Event', 'conference'], ['Expires', '0']] });
    assert.equal(un.status, 200);
    // Pending state NOTIFYs (Alice leaving) may come first; the last one ends the subscription.
    while (!/^terminated/.test(headerValue(await uac.nextRequest('NOTIFY'), 'Subscription-State') ?? '')) { /* next */ }
    uac.close();
    w.close();
  });
});
