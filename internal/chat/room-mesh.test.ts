// RoomMesh on two in-process replicas over one PostgreSQL database (DATABASE_URL, a fresh
// database per run), mesh channels on 127.0.1.0-1 with the test mesh certificate: a replica
// follows a room another owns only while it has a call in it or a subscription to it, then
// lets go (its event stream closes), and follows it again at the next INVITE.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { DurableHistory } from './switch/history-store.ts';
import { TestPeer } from './switch/testpeer.ts';
import { offerSdp, SipUac } from '../client/sip-uac.ts';
import { eventually, freePort } from '../relay/testrelay.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { freshDatabase } from '../store/testdatabase.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { loadTlsMaterial } from '../transport/tls-files.ts';
import { testPki } from '../transport/testcerts.ts';
import { startChatServer, type RunningChatServer } from './server.ts';
import { loopbackChatConfig } from './testchat.ts';

const adminUrl = process.env['DATABASE_URL'];
const skip = adminUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against';
const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const ROOM = 'sip:lobby@chat.test';

describe('rooms followed on another replica', { skip, timeout: 60_000 }, () => {
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined;
  let store: Store;
  const replicas: RunningChatServer[] = [];
  const metrics: Metrics[] = [];
  const histories: DurableHistory[] = [];
  const gauge = async (k: number, name: string): Promise<number> => {
    const m = new RegExp(`^msrp_${name} (\\d+)$`, 'm').exec(await metrics[k]!.render());
    return m === null ? Number.NaN : Number(m[1]);
  };

  before(async () => {
    database = await freshDatabase(adminUrl!, 'msrp_rooms_mesh');
    store = await openStore({ url: database.url, logger });
    await store.rooms.put('lobby', { policy: { history: { enabled: true, size: 5 } } });
    const pki = await testPki();
    const tls = await loadTlsMaterial(pki.mesh.dir);
    const port = await freePort('127.0.1.0');
    for (const k of [0, 1]) {
      const m = createMetrics({ defaultMetrics: false });
      const history = new DurableHistory({ table: store.history, logger });
      metrics.push(m);
      histories.push(history);
      replicas.push(await startChatServer({ ...loopbackChatConfig({ rooms: [], minExpires: 1 }), sip: { host: '127.0.0.1', tcpPort: 0 } }, {
        logger, metrics: m, store, history, sessionIdPrefix: `r${k}-`,
        mesh: {
          ordinal: k, peerHost: '127.0.1.{ordinal}', port, listenHosts: [`127.0.1.${k}`], tls, connectTimeoutMs: 1000,
          leaseTtlMs: 10_000, remoteRoomSweepMs: 50,
        },
      }));
    }
  });

  after(async () => {
    for (const r of replicas) await r.close();
    for (const h of histories) await h.close();
    await store?.close();
    await database?.drop();
  });

  /** INVITE through replica k, then connect and bind on that replica's switch. */
  async function join(name: string, k: number): Promise<{ uac: SipUac; peer: TestPeer; bye: () => Promise<number> }> {
    const uac = await SipUac.open('TCP', replicas[k]!.focus.tcpPort!, name);
    const peer = new TestPeer(`sip:${name}@example.com`);
    const d = uac.newDialog(ROOM);
    const res = await uac.send(d, 'INVITE', { body: offerSdp(peer.uri) });
    assert.equal(res.status, 200, `${name} joins through replica ${k}`);
    await uac.send(d, 'ACK');
    peer.focusUri = /^a=path:(\S+)$/m.exec(res.body.toString())![1]!;
    await peer.connect(replicas[k]!.msrp.port);
    assert.equal((await peer.bind()).status, 200);
    return { uac, peer, bye: async () => (await uac.send(d, 'BYE', { inDialog: true })).status };
  }

  it('lets go of a remote room when its last call here ends, and follows it again at the next INVITE', async () => {
    const alice = await join('alice', 0);
    let bob = await join('bob', 1);
    assert.match(bob.peer.focusUri, /\/r0-/);
    assert.equal(await gauge(1, 'chat_rooms_remote'), 1);
    assert.equal(await gauge(0, 'chat_rooms_owned'), 1);
    // A subscription alone keeps the room followed; when it ends too, the replica lets go.
    const watcher = await SipUac.open('TCP', replicas[1]!.focus.tcpPort!, 'watcher');
    const sub = watcher.newDialog(ROOM);
    assert.equal((await watcher.send(sub, 'SUBSCRIBE', { headers: [['Event', 'conference'], ['Expires', '60']] })).status, 200);
    assert.equal(await bob.bye(), 200);
    await bob.peer.closed;
    bob.uac.close();
    assert.equal((await watcher.send(sub, 'SUBSCRIBE', { headers: [['Event', 'conference'], ['Expires', '0']], inDialog: true })).status, 200);
    await eventually(async () => (await gauge(1, 'chat_rooms_remote')) === 0, 'replica 1 to let go of the room');
    watcher.close();
    // Still one room: bob comes back through replica 1 and hears alice.
    bob = await join('bob', 1);
    assert.equal(await gauge(1, 'chat_rooms_remote'), 1);
    alice.peer.send(alice.peer.cpim({ to: ROOM, text: 'welcome back bob' }));
    await bob.peer.nextText('welcome back bob');
    for (const p of [alice, bob]) {
      p.peer.close();
      p.uac.close();
    }
  });
});
