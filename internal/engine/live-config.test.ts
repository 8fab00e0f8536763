// The engine's config file changed while it runs, over real sockets on loopback: the file
// sits in a folder laid out as the kubelet mounts a ConfigMap (`..data` symlink swapped
// atomically), the engine watches it, and the next AUTH or forward obeys the new limits,
// next hops and realms on the connections the clients already hold. A listener port change
// is not applied (msrp_config_restart_required 1), an invalid file is ignored.
// One engine (one fresh PGlite) for the file; the steps run in order.
import { eventually } from '../testwait.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadEngineConfig } from '../config/index.ts';
import { getHeader } from '../msrp/frame.ts';
import { TestClient, usePathOf } from '../relay/testclient.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { startEngine, type RunningEngine } from './engine.ts';

const logger = createLogger({ name: 'live-config-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent', env: {} });
const REALM = 'live.test';

/** A folder as the kubelet mounts a ConfigMap: `msrpd.yaml -> ..data/msrpd.yaml`, `..data -> ..<version>`. */
async function configVolume(text: string): Promise<{ file: string; swap(text: string): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'msrp-configvol-'));
  let n = 0;
  const stage = async (t: string): Promise<string> => {
    const name = `..2026_12_06_${++n}`;
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'msrpd.yaml'), t);
    return name;
  };
  await symlink(await stage(text), join(dir, '..data'));
  await symlink(join('..data', 'msrpd.yaml'), join(dir, 'msrpd.yaml'));
  return {
    file: join(dir, 'msrpd.yaml'),
    async swap(t) {
      const next = await stage(t);
      await symlink(next, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    },
  };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The watcher reacts to fs events, or polls every 200 ms here: wait on the condition with a deadline. */
const until = (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> => eventually(cond, what, timeoutMs);

describe('live configuration', { timeout: 180_000 }, () => {
  let dir: string;
  let pki: TestPki;
  let engine: RunningEngine;
  let volume: Awaited<ReturnType<typeof configVolume>>;
  let file: Record<string, Record<string, unknown>>;
  let port: number;
  let peer: Server;
  let peerPort: number;
  const peerData: Buffer[] = [];
  const peerSockets: Socket[] = [];
  let alice1: TestClient;
  let alice2: TestClient;
  let sa: string;

  const metric = async (name: string): Promise<number> => {
    const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(await engine.metrics.render());
    return m === null ? 0 : Number(m[1]);
  };
  /** Writes the file with `change` applied and waits until the engine has seen it (by the reload counter). */
  const rewrite = async (change: (f: Record<string, Record<string, unknown>>) => void, result: string): Promise<void> => {
    const before = await metric(`msrp_config_reloads_total{result="${result}"}`);
    change(file);
    await volume.swap(stringify(file));
    await until(`a config reload with result ${result}`, async () => (await metric(`msrp_config_reloads_total{result="${result}"}`)) > before);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'live-config-'));
    pki = await testPki();
    [port] = [await freePort()];
    peer = createServer((s) => {
      peerSockets.push(s);
      s.on('data', (d: Buffer) => peerData.push(d));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    peerPort = (peer.address() as { port: number }).port;
    file = {
      relay: { listen: [{ host: '127.0.0.1', port, transport: 'tls' }], publicHost: 'localhost' },
      tls: { dir: pki.server.dir },
      auth: { realms: [{ name: REALM, hosts: [] }] },
      limits: { sessionsPerUser: 1 },
      nextHops: { allow: [], allowPrivate: true },
      database: { dataDir: join(dir, 'pglite') },
      http: { host: '127.0.0.1', port: await freePort(), controlPort: await freePort() },
    };
    volume = await configVolume(stringify(file));
    const config = loadEngineConfig({ file: volume.file, env: {} });
    engine = await startEngine(config, {
      logger, metrics: createMetrics({ defaultMetrics: false }),
      configFile: { file: volume.file, env: {}, pollIntervalMs: 200 },
    });
    await engine.store.createRealm(REALM);
    await engine.store.createUser(REALM, 'alice', 'alice-pw');
    await engine.store.createRealm('other.test');
    alice1 = await TestClient.connect({ port, ca: pki.caPem });
    alice2 = await TestClient.connect({ port, ca: pki.caPem });
    sa = usePathOf(await alice1.auth(engine.relay.uri, 'alice', 'alice-pw'));
  });
  after(async () => {
    alice1?.close();
    alice2?.close();
    for (const s of peerSockets) s.destroy();
    await new Promise<void>((r) => peer.close(() => r()));
    await engine?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a raised limits.sessionsPerUser lets the next AUTH on an open connection through', async () => {
    const refused = await alice2.auth(engine.relay.uri, 'alice', 'alice-pw');
    assert.equal(refused.status, 403, 'one session per user: the second is refused');
    await rewrite((f) => (f['limits']!.sessionsPerUser = 2), 'applied');
    assert.equal(engine.liveConfig?.current.limits.sessionsPerUser, 2);
    assert.equal((await alice2.auth(engine.relay.uri, 'alice', 'alice-pw')).status, 200, 'the same connection, the new limit');
    assert.equal(await metric('msrp_config_restart_required'), 0);
  });

  it('nextHops.allow: a peer added is forwarded to at once; removed, its connection closes and the next SEND gets 403', async () => {
    const peerUri = `msrp://127.0.0.1:${peerPort}/peer-session;tcp`;
    const first = alice1.sendMessage([sa, peerUri], 'not yet');
    assert.equal((await alice1.response(first.transactionId)).status, 403, 'the peer is not in nextHops.allow');

    await rewrite((f) => (f['nextHops']!.allow = [{ host: '127.0.0.1', port: peerPort }]), 'applied');
    alice1.sendMessage([sa, peerUri], 'now allowed');
    await until('the SEND at the peer', () => Buffer.concat(peerData).toString().includes('now allowed'));

    await rewrite((f) => (f['nextHops']!.allow = []), 'applied');
    await until('the relay to close its connection to the peer', () => peerSockets.every((s) => s.destroyed || s.readableEnded));
    const last = alice1.sendMessage([sa, peerUri], 'refused again');
    assert.equal((await alice1.response(last.transactionId)).status, 403);
    assert.equal(alice1.socket.destroyed, false, 'the client stayed connected throughout');
  });

  it('a realm host added maps the next AUTH to that realm (and names this relay)', async () => {
    const target = `msrps://alias.test:${port};tcp`;
    const before = alice1.send('AUTH', [target]);
    assert.notEqual((await alice1.response(before.transactionId)).status, 401, 'alias.test is nobody we know yet');

    await rewrite((f) => (f['auth']!.realms = [{ name: REALM, hosts: [] }, { name: 'other.test', hosts: ['alias.test'] }]), 'applied');
    const challenge = alice1.send('AUTH', [target]);
    const res = await alice1.response(challenge.transactionId);
    assert.equal(res.status, 401);
    assert.match(getHeader(res, 'WWW-Authenticate') ?? '', /realm="other\.test"/);
    assert.equal((await alice2.auth(engine.relay.uri, 'alice', 'alice-pw')).status, 200, 'the first realm still answers for the relay URI');
  });

  it('a listener port change is not applied: logged as needing a restart, msrp_config_restart_required 1, and it clears when the file is put back', async () => {
    const newPort = await freePort();
    const restartsBefore = await metric('msrp_config_reloads_total{result="restart-required"}');
    await rewrite((f) => (f['relay']!.listen = [{ host: '127.0.0.1', port: newPort, transport: 'tls' }]), 'restart-required');
    assert.equal(await metric('msrp_config_restart_required'), 1);
    assert.deepEqual(engine.liveConfig?.restartPaths, ['relay.listen']);
    assert.equal(engine.addresses.msrp[0]!.port, port);
    assert.equal((await alice1.auth(engine.relay.uri, 'alice', 'alice-pw')).status, 200, 'still serving on the old port');
    await assert.rejects(TestClient.connect({ port: newPort, ca: pki.caPem }), 'nothing listens on the new port');
    assert.ok((await metric('msrp_config_reloads_total{result="restart-required"}')) > restartsBefore);

    await rewrite((f) => (f['relay']!.listen = [{ host: '127.0.0.1', port, transport: 'tls' }]), 'unchanged');
    assert.equal(await metric('msrp_config_restart_required'), 0);
    assert.deepEqual(engine.liveConfig?.restartPaths, []);
  });

  it('an invalid file is ignored: the running configuration stays', async () => {
    const current = engine.liveConfig?.current;
    await rewrite((f) => (f['limits']!.sessionsPerUser = -1), 'invalid');
    assert.equal(engine.liveConfig?.current, current);
    assert.equal(engine.liveConfig?.current.limits.sessionsPerUser, 2);
    await rewrite((f) => ((f as Record<string, unknown>)['limits'] = 'not a mapping'), 'invalid');
    assert.equal(engine.liveConfig?.current, current);
    const bob = await TestClient.connect({ port, ca: pki.caPem });
    try {
      assert.equal((await bob.auth(engine.relay.uri, 'alice', 'alice-pw')).status, 403, 'sessionsPerUser is still 2 (alice holds two)');
    } finally {
      bob.close();
    }
  });
});
