// Security table of the chat server's listeners (docs/security.md): the MSRP switch listener
// and the focus's SIP TCP/TLS listeners, each row an attack on real sockets (TLS included)
// and the refusal it must meet: connection caps counted from accept (before the TLS
// handshake), handshake deadline, idle timeouts, and no metric series made from input.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { offerSdp, SipUac } from '../client/sip-uac.ts';
import { newTransactionId } from '../msrp/transaction.ts';
import { eventually } from '../testwait.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { testPki } from '../transport/testcerts.ts';
import { closedWithin, rawConnect } from '../transport/testsockets.ts';
import { startChatServer, type ChatConfig, type RunningChatServer } from './server.ts';
import { loopbackChatConfig } from './testchat.ts';

const logger = createLogger({ name: 'chat-security', level: 'silent', env: {} });
const sockets: Socket[] = [];
after(() => {
  for (const s of sockets) s.destroy();
});

async function raw(port: number, localAddress: string): Promise<Socket> {
  const s = await rawConnect(port, { localAddress });
  sockets.push(s);
  return s;
}

/** A TLS connection to the switch, handshake done, nothing sent; what it receives is collected in `text()`. */
async function tlsTo(port: number, ca: string): Promise<{ socket: Socket; text: () => string }> {
  let text = '';
  const socket = await new Promise<Socket>((resolve, reject) => {
    const t = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(t));
    t.once('error', reject);
  });
  sockets.push(socket);
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  return { socket, text: () => text };
}

async function refusals(metrics: Metrics, listener: string, reason: string): Promise<number> {
  const { values } = await metrics.registry.getSingleMetric('msrp_chat_connections_refused_total')!.get();
  return values.filter((v) => v.labels['listener'] === listener && v.labels['reason'] === reason).reduce((n, v) => n + v.value, 0);
}

async function chatWith(connections: Partial<ChatConfig['connections']>, metrics: Metrics): Promise<RunningChatServer> {
  const pki = await testPki();
  const base = loopbackChatConfig({ rooms: [{ name: 'lobby' }] });
  return startChatServer({
    ...base,
    sip: { host: '127.0.0.1', udpPort: 0, tcpPort: 0, tlsPort: 0 },
    msrp: { ...base.msrp, host: '127.0.0.1', port: 0, transport: 'tls' },
    connections: { ...base.connections, ...connections },
  }, { logger, metrics, tls: { cert: pki.peer.cert, key: pki.peer.key } });
}

describe('chat listeners security table (docs/security.md)', { timeout: 60_000 }, () => {
  let chat: RunningChatServer;
  let metrics: Metrics;
  before(async () => {
    metrics = createMetrics({ defaultMetrics: false });
    chat = await chatWith({ max: 6, perSource: 2, tlsHandshakeTimeoutSec: 1, sipIdleSec: 1, msrpIdleSec: 1 }, metrics);
  });
  after(async () => {
    await chat.close();
  });

  it('switch, slot exhaustion: TLS connections without a ClientHello count against perSource; the next one is closed at accept', async () => {
    const held = [await raw(chat.msrp.port, '127.0.0.5'), await raw(chat.msrp.port, '127.0.0.5')];
    await closedWithin(await raw(chat.msrp.port, '127.0.0.5'), 900);
    assert.ok(held.every((s) => !s.destroyed));
    assert.equal(await refusals(metrics, 'msrp', 'connections-per-source'), 1);
    for (const s of held) s.destroy();
  });

  it('SIP over TCP and TLS, slot exhaustion: one count per source for both listeners', async () => {
    const held = [await raw(chat.focus.tcpPort!, '127.0.0.6'), await raw(chat.focus.tlsPort!, '127.0.0.6')];
    await closedWithin(await raw(chat.focus.tcpPort!, '127.0.0.6'), 900);
    await closedWithin(await raw(chat.focus.tlsPort!, '127.0.0.6'), 900);
    assert.ok(held.every((s) => !s.destroyed));
    assert.equal(await refusals(metrics, 'sip', 'connections-per-source'), 2);
    for (const s of held) s.destroy();
  });

  it('switch and SIP, handshake: a TLS connection that sends nothing is closed after tlsHandshakeTimeoutSec', async () => {
    const [m, s] = [await raw(chat.msrp.port, '127.0.0.7'), await raw(chat.focus.tlsPort!, '127.0.0.7')];
    const [msM, msS] = await Promise.all([closedWithin(m, 5000), closedWithin(s, 5000)]);
    assert.ok(msM >= 900 && msS >= 900, `closed after ${msM} and ${msS} ms`);
    assert.equal(await refusals(metrics, 'msrp', 'handshake-timeout'), 1);
    assert.equal(await refusals(metrics, 'sip', 'handshake-timeout'), 1);
  });

  it('SIP over TCP, idle: a connection with no traffic is closed after sipIdleSec', async () => {
    const s = await raw(chat.focus.tcpPort!, '127.0.0.8');
    const ms = await closedWithin(s, 5000);
    assert.ok(ms >= 900, `closed after ${ms} ms`);
    assert.equal(await refusals(metrics, 'sip', 'idle'), 1);
  });

  it('no series from input: made-up SIP and MSRP method names get answers, and no metric label carries them', async () => {
    const uac = await SipUac.open('TCP', chat.focus.tcpPort!, 'eve');
    try {
      const res = await uac.send(uac.newDialog('sip:lobby@chat.test'), 'FOOBARSIP');
      assert.ok(res.status === 405 || res.status === 501, `status ${res.status}`);
    } finally {
      uac.close();
    }
    const pki = await testPki();
    const { socket: tls, text: received } = await tlsTo(chat.msrp.port, pki.caPem);
    const tid = newTransactionId();
    tls.write(`MSRP ${tid} FOOBARMSRP\r\nTo-Path: msrps://127.0.0.1:${chat.msrp.port}/nosuch;tcp\r\nFrom-Path: msrp://127.0.0.1:9/eve;tcp\r\n-------${tid}$\r\n`);
    await closedWithin(tls, 5000); // answered, then closed as idle (no participant) after 1 s
    const text = received();
    assert.match(text, new RegExp(`^MSRP ${tid} (481|501) `));
    const all = await metrics.registry.getMetricsAsJSON();
    const labelValues = all.flatMap((m) => m.values.flatMap((v) => Object.values(v.labels ?? {}).map(String)));
    assert.ok(!labelValues.some((v) => v.includes('FOOBAR')), labelValues.join(' '));
  });
});

describe('switch idle timeout keeps participants', { timeout: 60_000 }, () => {
  it('closes an idle connection that carries no participant, but not an idle one with a participant bound to it', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const chat = await chatWith({ msrpIdleSec: 1 }, metrics);
    const pki = await testPki();
    const uac = await SipUac.open('UDP', chat.focus.udpPort!, 'alice');
    try {
      const ours = `msrp://127.0.0.1:9/alice-sess;tcp`;
      const res = await uac.send(uac.newDialog('sip:lobby@chat.test'), 'INVITE', { body: offerSdp(ours) });
      assert.equal(res.status, 200);
      const focusPath = /^a=path:(\S+)$/m.exec(res.body.toString())![1]!;
      const { socket: member, text } = await tlsTo(chat.msrp.port, pki.caPem);
      const tid = newTransactionId();
      member.write(`MSRP ${tid} SEND\r\nTo-Path: ${focusPath}\r\nFrom-Path: ${ours}\r\n-------${tid}$\r\n`);
      await eventually(() => text().includes(`MSRP ${tid} 200`), 'the 200 to the binding SEND');
      // Opened after the member's last traffic: its idle timer runs out after the member's.
      const bare = await tlsTo(chat.msrp.port, pki.caPem);
      await closedWithin(bare.socket, 5000);
      assert.equal(member.destroyed, false, 'the participant\'s connection is still open');
      assert.equal(chat.switch.room('sip:lobby@chat.test')!.participants().length, 1);
      assert.equal(await refusals(metrics, 'msrp', 'idle'), 1);
    } finally {
      uac.close();
      await chat.close();
    }
  });
});
