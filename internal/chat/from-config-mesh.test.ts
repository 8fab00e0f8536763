// The engine's own wiring of rooms over replicas (from-config.ts with `mesh.enabled`), with
// the production default of an MSRP switch over TLS: two replicas from engine configs (as
// msrpd loads them, environment variables only) on one PostgreSQL database. A participant
// who joins through the replica that does not own the room binds its session over TLS on
// that replica's own switch port, and its messages reach a participant of the owner.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { offerSdp, SipUac } from '../client/sip-uac.ts';
import { loadEngineConfig } from '../config/engine.ts';
import { formatCpim } from '../msrp/cpim.ts';
import { freePort } from '../relay/testrelay.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { freshDatabase } from '../store/testdatabase.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { startChatFromConfig } from './from-config.ts';
import type { RunningChatServer } from './server.ts';
import { TlsParticipant } from './testparticipant.ts';

const adminUrl = process.env['DATABASE_URL'];
const skip = adminUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against';
const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const ROOM = 'sip:lobby@chat.test';

describe('rooms over replicas from the engine config', { skip, timeout: 60_000 }, () => {
  let pki: TestPki;
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined;
  let store: Store;
  const replicas: RunningChatServer[] = [];
  const metrics: Metrics[] = [];
  const uacs: SipUac[] = [];

  before(async () => {
    database = await freshDatabase(adminUrl!, 'msrp_rooms_cfg');
    store = await openStore({ url: database.url, logger });
    await store.rooms.put('lobby', { policy: { history: { enabled: true, size: 5 } } });
    await store.rooms.put('hall', { policy: { history: { enabled: false } } });
    pki = await testPki();
    const chatPort = String(await freePort('127.0.1.0'));
    for (const k of [0, 1]) {
      const c = loadEngineConfig({
        env: {
          MSRP_TLS__DIR: pki.server.dir,
          MSRP_CHAT__ENABLED: 'true', MSRP_CHAT__DOMAIN: 'chat.test', MSRP_CHAT__PUBLIC_HOST: '127.0.0.1',
          MSRP_CHAT__SIP__HOST: '127.0.0.1', MSRP_CHAT__SIP__UDP_PORT: '0', MSRP_CHAT__SIP__TCP_PORT: '0',
          MSRP_CHAT__MSRP__HOST: '127.0.0.1', MSRP_CHAT__MSRP__PORT: '0', MSRP_CHAT__MSRP__TRANSPORT: 'tls',
          MSRP_MESH__ENABLED: 'true', MSRP_MESH__PEER_HOST: '127.0.1.{ordinal}', MSRP_MESH__LISTEN_HOST: `127.0.1.${k}`,
          MSRP_MESH__CHAT_PORT: chatPort, MSRP_MESH__TLS_DIR: pki.mesh.dir, MSRP_MESH__ROOM_LEASE_SEC: '5',
        },
      });
      // The ordinal comes from the host name, as in a StatefulSet pod.
      const m = createMetrics({ defaultMetrics: false });
      metrics.push(m);
      const chat = await startChatFromConfig(c, { logger, metrics: m, store, hostname: `msrp-relay-${k}` });
      assert.ok(chat?.roomMesh, 'the mesh is on');
      replicas.push(chat);
    }
  });

  after(async () => {
    for (const u of uacs) u.close();
    for (const r of replicas) await r.close();
    await store?.close();
    await database?.drop();
  });

  it('joins through either replica, binds over TLS on the entry replica, and reaches the room on the owner', async () => {
    const people = [new TlsParticipant('sip:alice@example.com'), new TlsParticipant('sip:bob@example.com')];
    for (const [k, p] of people.entries()) {
      const uac = await SipUac.open('TCP', replicas[k]!.focus.tcpPort!, p.sipUri.slice(4, p.sipUri.indexOf('@')));
      uacs.push(uac);
      const d = uac.newDialog(ROOM);
      const res = await uac.send(d, 'INVITE', { body: offerSdp(p.uri) });
      assert.equal(res.status, 200);
      await uac.send(d, 'ACK');
      p.focusUri = /^a=path:(\S+)$/m.exec(res.body.toString())![1]!;
      assert.match(p.focusUri, /^msrps:\/\/127\.0\.0\.1:\d+\/r0-/, 'the session is at the owner, replica 0');
      await p.connect(replicas[k]!.msrp.port, pki.caPem);
      const tid = p.send();
      await p.seen(`MSRP ${tid} 200`);
    }
    const [alice, bob] = people as [TlsParticipant, TlsParticipant];
    bob.send(formatCpim({ from: { uri: bob.sipUri }, to: [{ uri: ROOM }], contentType: 'text/plain', content: 'over TLS through replica 1' }).toString('latin1'));
    await alice.seen('over TLS through replica 1');
    assert.deepEqual([...replicas[0]!.roomMesh!.held], [ROOM]);
    assert.deepEqual([...replicas[1]!.roomMesh!.held], []);
    const [owner, other] = await Promise.all(metrics.map((m) => m.render()));
    assert.match(owner!, /^msrp_chat_rooms_owned 1$/m);
    assert.match(owner!, /^msrp_chat_msrp_handoffs_total\{outcome="here"\} 1$/m);
    assert.match(other!, /^msrp_chat_rooms_remote 1$/m);
    assert.match(other!, /^msrp_chat_room_resolutions_total\{outcome="remote"\} 1$/m);
    assert.match(other!, /^msrp_chat_msrp_handoffs_total\{outcome="spliced"\} 1$/m);
    for (const p of people) p.socket.destroy();
  });

  /** INVITE for `room` through replica `k`; sets the participant's session URI at the switch. */
  async function invite(p: TlsParticipant, room: string, k: number): Promise<void> {
    const uac = await SipUac.open('TCP', replicas[k]!.focus.tcpPort!, p.sipUri.slice(4, p.sipUri.indexOf('@')));
    uacs.push(uac);
    const d = uac.newDialog(room);
    const res = await uac.send(d, 'INVITE', { body: offerSdp(p.uri) });
    assert.equal(res.status, 200, `${p.sipUri} joins ${room} through replica ${k}`);
    await uac.send(d, 'ACK');
    p.focusUri = /^a=path:(\S+)$/m.exec(res.body.toString())![1]!;
  }

  for (const entry of [0, 1]) {
    it(`carries, on one connection to replica ${entry} (a relay's), sessions of rooms that different replicas own`, async () => {
      const HALL = 'sip:hall@chat.test';
      const erin = new TlsParticipant(`sip:erin${entry}@example.com`);
      const carol = new TlsParticipant(`sip:carol${entry}@example.com`);
      const dave = new TlsParticipant(`sip:dave${entry}@example.com`);
      const frank = new TlsParticipant(`sip:frank${entry}@example.com`);
      // hall belongs to replica 1 (its first join came there), lobby to replica 0.
      await invite(erin, HALL, 1);
      assert.match(erin.focusUri, /\/r1-/);
      await erin.connect(replicas[1]!.msrp.port, pki.caPem);
      erin.send();
      await invite(carol, ROOM, 0);
      await invite(dave, HALL, 0);
      assert.match(carol.focusUri, /\/r0-/);
      assert.match(dave.focusUri, /\/r1-/);
      await invite(frank, ROOM, 1);
      await frank.connect(replicas[0]!.msrp.port, pki.caPem);
      frank.send();
      // One connection, to replica `entry`: its first request decides where the listener
      // sends it (entry 1: spliced to replica 0, the owner of carol's session); the other
      // session's requests are passed on frame by frame.
      await carol.connect(replicas[entry]!.msrp.port, pki.caPem);
      const t1 = carol.send();
      await carol.seen(`MSRP ${t1} 200`);
      const t2 = dave.send('', carol);
      await carol.seen(`MSRP ${t2} 200`);
      // dave speaks in hall (owned by 1), carol in lobby (owned by 0), on the same connection.
      dave.send(formatCpim({ from: { uri: dave.sipUri }, to: [{ uri: HALL }], contentType: 'text/plain', content: `dave in hall via ${entry}` }).toString('latin1'), carol);
      carol.send(formatCpim({ from: { uri: carol.sipUri }, to: [{ uri: ROOM }], contentType: 'text/plain', content: `carol in lobby via ${entry}` }).toString('latin1'));
      await erin.seen(`dave in hall via ${entry}`);
      await frank.seen(`carol in lobby via ${entry}`);
      // And back: erin's message in hall reaches dave on the shared connection, addressed to dave.
      erin.send(formatCpim({ from: { uri: erin.sipUri }, to: [{ uri: HALL }], contentType: 'text/plain', content: `erin to hall ${entry}` }).toString('latin1'));
      await carol.seen(new RegExp(`To-Path: ${dave.uri.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}[\\s\\S]*erin to hall ${entry}`));
      assert.ok(!erin.text.includes(`carol in lobby via ${entry}`), 'lobby stays out of hall');
      for (const p of [erin, carol, frank]) p.socket.destroy();
    });
  }
});
