// startEngine over real sockets on loopback: the relay (TLS, Digest AUTH against the store)
// forwards a SEND between two clients, the chat server's SIP focus answers an INVITE for a
// room from the store and its MSRP switch takes the participant's connection, the metrics
// registry holds the relay's metrics (and the probe port serves the same registry), and
// stop()/drain() close every listener and the store only when the engine opened it.
// One fresh PGlite for the file: the first test lets the engine open it, later tests reopen
// the same data folder (~0.6 s) and hand it in, as `npm start` does.
import { eventually } from '../testwait.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { offerSdp, SipUac } from '../client/sip-uac.ts';
import { buildResponse } from '../msrp/transaction.ts';
import { loadEngineConfig, type EngineConfig } from '../config/index.ts';
import { TestClient, usePathOf } from '../relay/testclient.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/index.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { secretVolume, testPki, type TestPki } from '../transport/testcerts.ts';
import { EngineStartError, startEngine } from './engine.ts';
import { joinRoom } from './testjoin.ts';

const logger = createLogger({ name: 'engine-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent', env: {} });
const REALM = 'engine.test';
const ROOM_URI = 'sip:lobby@chat.test';

/** Whether a TCP connection to 127.0.0.1:port is refused (nothing listens any more). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function listening(port = 0): Promise<Server> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', resolve);
  });
  return s;
}

const portOf = (s: Server): number => (s.address() as { port: number }).port;

async function freePort(): Promise<number> {
  const s = await listening();
  const port = portOf(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('startEngine', { timeout: 180_000 }, () => {
  let dir: string;
  let pki: TestPki;
  const shared: Store[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'engine-'));
    pki = await testPki();
  });
  after(async () => {
    for (const s of shared) await s.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The engine config as msrpd loads it, then every port made ephemeral (the schema allows no 0 for most). */
  function config(): EngineConfig {
    const c = loadEngineConfig({
      env: {
        MSRP_RELAY__PUBLIC_HOST: 'localhost',
        MSRP_AUTH__REALMS: JSON.stringify([{ name: REALM, hosts: [] }]),
        MSRP_TLS__DIR: pki.server.dir,
        MSRP_DATABASE__DATA_DIR: join(dir, 'pglite'),
        MSRP_DRAIN__DEADLINE_SEC: '5',
        MSRP_CHAT__ENABLED: 'true',
        MSRP_CHAT__DOMAIN: 'chat.test',
        MSRP_CHAT__PUBLIC_HOST: '127.0.0.1',
        MSRP_CHAT__MSRP__TRANSPORT: 'tcp',
      },
    });
    return {
      ...c,
      relay: { ...c.relay, listen: [{ host: '127.0.0.1', port: 0, transport: 'tls' }] },
      http: { ...c.http, host: '127.0.0.1', port: 0, controlPort: 0 },
      chat: { ...c.chat, sip: { host: '127.0.0.1', udpPort: 0, tcpPort: 0 }, msrp: { ...c.chat.msrp, host: '127.0.0.1', port: 0 } },
    };
  }

  it('forwards a SEND between two authenticated clients, answers a room INVITE and its MSRP, counts in its registry, and stop() closes every listener and the store it opened', async () => {
    const engine = await startEngine(config(), { logger, metrics: createMetrics({ defaultMetrics: false }) });
    let stopped = false;
    try {
      assert.equal(engine.ownsStore, true);
      const { store } = engine;
      await store.createRealm(REALM);
      await store.createUser(REALM, 'alice', 'alice-pw');
      await store.createUser(REALM, 'bob', 'bob-pw');
      await store.rooms.put('lobby', { uri: ROOM_URI, subject: 'engine test', policy: {} });

      // The relay: AUTH against the store, then a SEND from alice to bob through it.
      const port = engine.addresses.msrp[0]!.port;
      assert.equal(engine.relay.uri, `msrps://localhost:${port};tcp`);
      const a = await TestClient.connect({ port, ca: pki.caPem });
      const b = await TestClient.connect({ port, ca: pki.caPem });
      const sa = usePathOf(await a.auth(engine.relay.uri, 'alice', 'alice-pw'));
      const sb = usePathOf(await b.auth(engine.relay.uri, 'bob', 'bob-pw'));
      const sent = a.sendMessage([sa, sb, b.uri], 'hello bob');
      const got = await b.request('SEND');
      assert.deepEqual(got.fromPath, [sb, sa, a.uri]);
      assert.equal(Buffer.concat(got.body).toString(), 'hello bob');
      b.write(buildResponse(got, 200));
      assert.equal((await a.response(sent.transactionId)).status, 200);

      // The chat server: the focus admits alice to the store's room, the switch takes her SEND.
      const chat = engine.addresses.chat;
      assert.ok(chat?.sipUdp !== undefined && chat.sipTcp !== undefined, 'SIP on UDP and TCP');
      assert.equal(chat.msrp, engine.chat?.msrp.port);
      const uac = await SipUac.open('UDP', chat.sipUdp, 'alice');
      const participant = 'msrp://127.0.0.1:7654/alice-engine;tcp';
      try {
        const { dialog: d, switchPath, p } = await joinRoom(uac, { room: ROOM_URI, offer: offerSdp(participant), participant, msrpPort: chat.msrp });
        try {
          assert.ok(switchPath.startsWith(`msrp://127.0.0.1:${chat.msrp}/`), `the answer points at the engine's switch: ${switchPath}`);
          // The control endpoint (for the admin sidecar) sees the chat server's rooms.
          const live = await fetch(`http://127.0.0.1:${engine.addresses.control!.port}/rooms/lobby/participants`);
          assert.equal(live.status, 200);
          const { participants } = (await live.json()) as { participants: { uri: string; connected: boolean }[] };
          assert.deepEqual(participants.map((x) => [x.uri, x.connected]), [['sip:alice@example.com', true]]);
        } finally {
          p.close();
        }
        assert.equal(engine.chat?.switch.room(ROOM_URI)?.participants().length, 1);
        // Leave before the engine stops: a BYE from the focus to a closed UDP client would be
        // retransmitted after the focus closed its socket.
        assert.equal((await uac.send(d, 'BYE', { inDialog: true })).status, 200);
      } finally {
        uac.close();
      }

      // Metrics: the relay's in the registry handed in, served on the probe port.
      const text = await engine.metrics.render();
      const forwarded = Number(/^msrp_relay_bytes_forwarded_total\{method="SEND"\} (\d+)$/m.exec(text)?.[1]);
      assert.ok(forwarded >= 'hello bob'.length, `SEND bytes forwarded: ${forwarded}`);
      assert.match(text, /^msrp_store_up 1$/m);
      const http = engine.addresses.http!;
      const served = await (await fetch(`http://127.0.0.1:${http.port}/metrics`)).text();
      assert.match(served, /^msrp_relay_bytes_forwarded_total\{method="SEND"\} \d+$/m);
      assert.equal((await fetch(`http://127.0.0.1:${http.port}/readyz`)).status, 200);

      const ports = [port, http.port, engine.addresses.control!.port, chat.sipTcp, chat.msrp];
      await engine.stop();
      stopped = true;
      await Promise.all([a.closed, b.closed]);
      for (const p of ports) assert.equal(await refused(p), true, `port ${p} is closed`);
      await assert.rejects(store.ping(), 'the store the engine opened is closed');
      await engine.stop(); // a second stop is a no-op
    } finally {
      if (!stopped) await engine.stop();
    }
  });

  it('leaves a store it was given open; drain() serves the sessions it has, refuses new AUTHs, keeps the chat server until the relay has drained, then closes the listeners', async () => {
    const store = await openStore({ dataDir: join(dir, 'pglite'), logger });
    shared.push(store);
    const engine = await startEngine(config(), { logger, store });
    assert.equal(engine.ownsStore, false);
    assert.equal(engine.store, store);
    const port = engine.addresses.msrp[0]!.port;
    const switchPort = engine.addresses.chat!.msrp;
    const a = await TestClient.connect({ port, ca: pki.caPem });
    assert.equal((await a.auth(engine.relay.uri, 'alice', 'alice-pw')).status, 200, 'alice from the first test, in the reopened store');
    let drained = false;
    const draining = engine.drain().then(() => void (drained = true));
    assert.equal(engine.relay.ready(), false, 'not ready as soon as the drain starts');
    const b = await TestClient.connect({ port, ca: pki.caPem });
    assert.equal((await b.auth(engine.relay.uri, 'bob', 'bob-pw')).status, 403, 'a new AUTH is refused while draining');
    b.close();
    assert.equal(await refused(switchPort), false, 'the chat server runs while the relay drains');
    assert.equal(drained, false, 'alice\'s session holds the drain');
    a.close();
    await draining;
    assert.equal(await refused(port), true);
    assert.equal(await refused(switchPort), true);
    await store.ping();
    assert.equal((await store.getRealm(REALM))?.name, REALM, 'the store still answers');
  });

  it('a part that fails to start closes what had started and says which part failed', async () => {
    const store = shared[0]!;
    const [relayPort, switchPort] = await Promise.all([freePort(), freePort()]);
    const taken = await listening();
    try {
      const c = config();
      const broken: EngineConfig = {
        ...c,
        relay: { ...c.relay, listen: [{ host: '127.0.0.1', port: relayPort, transport: 'tls' }] },
        chat: { ...c.chat, sip: { host: '127.0.0.1', tcpPort: portOf(taken) }, msrp: { ...c.chat.msrp, port: switchPort } },
      };
      const err = await startEngine(broken, { logger, store }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof EngineStartError, String(err));
      assert.equal(err.part, 'chat');
      assert.equal(err.code, 'EADDRINUSE');
      assert.match(err.message, /EADDRINUSE/, 'the message is the failing part\'s own');
      assert.equal(await refused(relayPort), true, 'the relay that had started is stopped');
      assert.equal(await refused(switchPort), true, 'the chat switch listener that had started is closed');
      await store.ping();
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });

  it('picks up a renewed certificate on the chat switch and SIP over TLS without dropping connections (as the relay does)', async () => {
    const vol = await secretVolume(pki.server);
    const c = config();
    const engine = await startEngine({
      ...c,
      tls: { ...c.tls, dir: vol.dir, pollIntervalMs: 100 },
      chat: { ...c.chat, sip: { ...c.chat.sip, tlsPort: 0 }, msrp: { ...c.chat.msrp, transport: 'tls' } },
    }, { logger, metrics: createMetrics({ defaultMetrics: false }) });
    const fingerprint = (port: number) => new Promise<{ fp: string; socket: TLSSocket }>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.caPem, servername: 'localhost' }, () => resolve({ fp: socket.getPeerCertificate().fingerprint256, socket }));
      socket.once('error', reject);
    });
    const open: TLSSocket[] = [];
    try {
      const switchPort = engine.chat!.msrp.port;
      const sipTls = engine.chat!.focus.tlsPort!;
      const before = await fingerprint(switchPort);
      const beforeSip = await fingerprint(sipTls);
      open.push(before.socket, beforeSip.socket);
      assert.equal(before.fp, beforeSip.fp);
      await vol.swap(pki.serverRotated);
      let now = before.fp;
      let nowSip = beforeSip.fp;
      // The watcher polls every 100 ms here: new handshakes until both listeners hand out the new one.
      await eventually(async () => {
        const a = await fingerprint(switchPort);
        const b = await fingerprint(sipTls);
        a.socket.destroy();
        b.socket.destroy();
        now = a.fp;
        nowSip = b.fp;
        return now !== before.fp && nowSip !== before.fp;
      }, 'the renewed certificate on new handshakes', 10_000).catch(() => undefined);
      assert.notEqual(now, before.fp, 'the switch hands out the renewed certificate');
      assert.notEqual(nowSip, before.fp, 'SIP over TLS hands out the renewed certificate');
      assert.equal(before.socket.destroyed || beforeSip.socket.destroyed, false, 'connections made before the renewal stay');
    } finally {
      for (const s of open) s.destroy();
      await engine.stop();
    }
  });
});
