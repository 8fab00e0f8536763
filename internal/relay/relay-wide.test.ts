// Relay-wide limits and views (issue 11, requirement 2; docs/relay.md "Relay-wide limits and
// views"): three replicas of one relay in this process (startTestMesh), each with its own
// registry over one shared store (real PostgreSQL when DATABASE_URL is set, else PGlite),
// as three pods share the database. Sessions per user count on every replica; a session
// that ends frees its slot; a replica that stops heartbeating stops counting; the admin
// API lists the sessions of every replica and closes one held by another replica; the
// throttle's per-user rate is shared by the replicas where the user has sessions.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { buildAdminApp, type AdminApp } from '../admin/app.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { connectLiveSessions, type StoreLiveSessions } from './live-sessions.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { eventually, startTestMesh, type TestMeshReplica } from './testrelay.ts';

const logger = createLogger({ name: 'relay-wide-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent', env: {} });
const adminUrl = process.env['DATABASE_URL'];
const STALE_SEC = 1;
const BOOTSTRAP = 'relay-wide-test-token';

/** A database of its own on the PostgreSQL server, or a PGlite folder. */
async function openSharedStore(): Promise<{ store: Store; close(): Promise<void> }> {
  if (adminUrl !== undefined) {
    const name = `msrp_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    const store = await openStore({ url: u.toString(), logger });
    return {
      store,
      async close() {
        await store.close();
        const c = new pg.Client({ connectionString: adminUrl });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'relay-wide-'));
  const store = await openStore({ dataDir: join(dir, 'pglite'), logger });
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const metricValue = async (m: Metrics, name: string): Promise<number> => {
  const m1 = new RegExp(`^msrp_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm');
  let total = 0;
  for (const x of (await m.render()).matchAll(m1)) total += Number(x[1]);
  return total;
};

describe(`relay-wide limits and views over one ${adminUrl !== undefined ? 'PostgreSQL' : 'PGlite'} database`, { timeout: 120_000 }, () => {
  let shared: { store: Store; close(): Promise<void> };
  let replicas: TestMeshReplica[];
  let registries: StoreLiveSessions[];
  let metrics: Metrics[];
  let uri: string;
  let admin: AdminApp;
  const clients: TestClient[] = [];

  before(async () => {
    shared = await openSharedStore();
    metrics = [0, 1, 2].map(() => createMetrics({ defaultMetrics: false }));
    registries = [0, 1, 2].map((k) => connectLiveSessions(shared.store, {
      logger, metrics: metrics[k]!, heartbeatMs: 200, staleAfterSec: STALE_SEC, spreadRefreshMs: 200, retryMs: 200,
    }));
    ({ replicas, uri } = await startTestMesh(3, {
      maxSessionsPerUser: 2,
      throttle: {
        session: { bytesPerSec: 0, burstBytes: 0 },
        user: { bytesPerSec: 600_000, burstBytes: 600_000 },
        realm: { bytesPerSec: 0, burstBytes: 0 },
      },
      control: { host: '127.0.0.1', port: 0 },
    }, (k) => ({ liveSessions: registries[k]!, metrics: metrics[k]! })));
    // Every replica has heartbeaten and sees the other two (its pool connections are open).
    for (const m of metrics) await eventually(async () => (await metricValue(m, 'relay_replicas_live')) === 3, 'three live replicas', 20_000);
    // The admin sidecar of pod 0: the shared database, and replica 0's control endpoint.
    admin = await buildAdminApp({
      store: shared.store, logger, metrics: createMetrics({ defaultMetrics: false }), bootstrapToken: BOOTSTRAP,
      engineUrl: `http://127.0.0.1:${replicas[0]!.relay.control!.port}`, liveStaleAfterSec: STALE_SEC,
    });
    await admin.ready();
  });
  after(async () => {
    for (const c of clients) c.close();
    await admin?.close();
    for (const r of replicas ?? []) await r.relay.stop();
    await shared?.close();
  });

  const connect = async (k: number): Promise<TestClient> => {
    const c = await TestClient.connect({ port: replicas[k]!.port, ca: replicas[k]!.ca });
    clients.push(c);
    return c;
  };
  const call = async (method: 'GET' | 'DELETE', url: string): Promise<{ status: number; json: Record<string, unknown> }> => {
    const r = await admin.inject({ method, url, headers: { authorization: `Bearer ${BOOTSTRAP}` } });
    return { status: r.statusCode, json: r.body.length > 0 ? JSON.parse(r.body) as Record<string, unknown> : {} };
  };

  it('counts a user\'s sessions on every replica: 200 on replicas 0 and 1, then 403 on replica 2; an ended session frees its slot', async () => {
    const a0 = await connect(0);
    const a1 = await connect(1);
    const a2 = await connect(2);
    assert.equal((await a0.auth(uri, 'alice', 'alice-pw')).status, 200);
    assert.equal((await a1.auth(uri, 'alice', 'alice-pw')).status, 200);
    const refused = await a2.auth(uri, 'alice', 'alice-pw');
    assert.equal(refused.status, 403);
    assert.match(refused.comment ?? '', /too many sessions/);
    assert.equal(replicas[2]!.relay.sessions.size, 0);
    // bob is another user: not affected.
    const b2 = await connect(2);
    assert.equal((await b2.auth(uri, 'bob', 'bob-pw')).status, 200);
    b2.close();

    // alice's session on replica 0 ends (its connection closes): replica 2 admits her.
    a0.close();
    await eventually(() => replicas[0]!.relay.sessions.size === 0, 'replica 0 to drop the session');
    let status = 0;
    await eventually(async () => (status = (await a2.auth(uri, 'alice', 'alice-pw')).status) === 200, `AUTH on replica 2 to be admitted (last ${status})`);
    a1.close();
    a2.close();
    await eventually(async () => (await shared.store.liveSessions.list({ staleAfterSec: STALE_SEC }, { limit: 10 })).items.length === 0, 'every row to go');
  });

  it('counts AUTHs in flight on one replica: three at once for a user with a limit of 2, two admitted', async () => {
    const cs = await Promise.all([0, 0, 0].map((k) => connect(k)));
    const statuses = await Promise.all(cs.map(async (c) => (await c.auth(uri, 'alice', 'alice-pw')).status));
    assert.deepEqual(statuses.sort(), [200, 200, 403]);
    for (const c of cs) c.close();
    await eventually(async () => (await shared.store.liveSessions.list({ staleAfterSec: STALE_SEC }, { limit: 10 })).items.length === 0, 'every row to go');
  });

  it('stops counting the sessions of a replica that stops heartbeating', async () => {
    // What a killed pod leaves: its rows, and a heartbeat that no longer moves. Replica 5
    // never existed here; it held two sessions of carol's.
    const relay = replicas[0]!.relay.identity.relay;
    const ls = shared.store.liveSessions;
    await ls.claim(relay, 5, 'ghost');
    const now = Date.now();
    await ls.upsert(relay, ['r5-a', 'r5-b'].map((id) => ({
      relay, id, ordinal: 5, realm: 'example.test', username: 'carol', uri: `msrps://${relay}/${id};tcp`, clientUri: 'msrps://10.9.9.9:1/x;tcp',
      peer: '10.9.9.9:1', createdAt: new Date(now), expiresAt: new Date(now + 600_000),
    })));
    replicas[1]!.credentials.add('example.test', 'carol', 'carol-pw');
    const c = await connect(1);
    assert.equal((await c.auth(uri, 'carol', 'carol-pw')).status, 403, 'two sessions on the ghost replica count');
    const t0 = Date.now();
    let status = 0;
    await eventually(async () => (status = (await c.auth(uri, 'carol', 'carol-pw')).status) === 200, `carol admitted once replica 5 is stale (last ${status})`, 10_000);
    assert.ok(Date.now() - t0 >= STALE_SEC * 1000 - 300, `admitted after ${Date.now() - t0} ms, before the heartbeat went stale`);
    c.close();
    await ls.replace(relay, 5, []);
  });

  it('lists the sessions of every replica in the admin API, and closes one held by another replica', async () => {
    const held = await Promise.all([0, 1].map(async (k) => {
      const c = await connect(k);
      return { c, session: usePathOf(await c.auth(uri, 'bob', 'bob-pw')), k };
    }));
    const c2 = await connect(2);
    const s2 = usePathOf(await c2.auth(uri, 'alice', 'alice-pw'));
    const ids = [...held.map((h) => h.session), s2].map((u) => /\/([^/;]+);tcp$/.exec(u)![1]!);

    let items: Record<string, unknown>[] = [];
    await eventually(async () => {
      const r = await call('GET', '/v1/sessions?limit=100');
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json['scope'], 'relay');
      items = r.json['items'] as Record<string, unknown>[];
      return ids.every((id) => items.some((i) => i['id'] === id));
    }, 'the three sessions to be listed');
    const mine = items.filter((i) => ids.includes(i['id'] as string)).sort((a, b) => (a['replica'] as number) - (b['replica'] as number));
    assert.deepEqual(mine.map((i) => [i['replica'], i['user'], i['realm']]), [[0, 'bob', 'example.test'], [1, 'bob', 'example.test'], [2, 'alice', 'example.test']]);
    assert.equal(mine[2]!['uri'], s2);
    assert.equal(typeof mine[0]!['bytesForwarded'], 'number', 'replica 0 is the local engine: its live details are merged in');

    // Delete the session on replica 2 through pod 0's admin API: replica 2 closes it.
    const del = await call('DELETE', `/v1/sessions/${ids[2]!}`);
    assert.equal(del.status, 204, JSON.stringify(del.json));
    await eventually(() => replicas[2]!.relay.sessions.get(ids[2]!) === undefined, 'replica 2 to close the session');
    const sent = c2.sendMessage([s2, 'msrps://127.0.0.1:9/nobody;tcp'], 'after deletion');
    assert.equal((await c2.response(sent.transactionId)).status, 481);
    assert.equal((await call('DELETE', `/v1/sessions/${ids[2]!}`)).status, 404);
    // The local replica's own session goes through its control endpoint.
    assert.equal((await call('DELETE', `/v1/sessions/${ids[0]!}`)).status, 204);
    assert.equal(replicas[0]!.relay.sessions.get(ids[0]!), undefined);
    for (const h of held) h.c.close();
    c2.close();
    await eventually(async () => (await shared.store.liveSessions.list({ staleAfterSec: STALE_SEC }, { limit: 10 })).items.length === 0, 'every row to go');
  });

  it('tells the owner of a session to close it through the change feed, without waiting for its heartbeat', async () => {
    // Another relay (public port 2856) on the same database, whose replicas heartbeat once a minute.
    const slow = [0, 1].map(() => connectLiveSessions(shared.store, { logger, heartbeatMs: 60_000, staleAfterSec: 120 }));
    const other = await startTestMesh(2, { publicPort: 2856 }, (k) => ({ liveSessions: slow[k]! }));
    try {
      const c = await TestClient.connect({ port: other.replicas[1]!.port, ca: other.replicas[1]!.ca });
      clients.push(c);
      const s = usePathOf(await c.auth(other.uri.replace(':2855', ':2856'), 'bob', 'bob-pw'));
      const id = /\/([^/;]+);tcp$/.exec(s)![1]!;
      await eventually(async () => shared.store.liveSessions.exists(other.replicas[1]!.relay.identity.relay, id), 'the row');
      // The owner subscribes to the change feed after it starts (it does not wait for it); a
      // request made before that would only reach it with the heartbeat, which this test rules out.
      await eventually(() => slow[1]!.subscribed, 'the owner\'s change-feed subscription', 10_000);
      const t0 = Date.now();
      // 204 when the owner confirmed within deleteWaitMs (3 s), 202 when it was slower (a loaded
      // machine); either way the owner must close it long before its next heartbeat (60 s).
      const status = (await call('DELETE', `/v1/sessions/${id}`)).status;
      assert.ok(status === 204 || status === 202, `DELETE answered ${status}`);
      await eventually(() => other.replicas[1]!.relay.sessions.get(id) === undefined, 'the owner to close the session', 30_000);
      assert.ok(Date.now() - t0 < 30_000, `closed in ${Date.now() - t0} ms, before any heartbeat`);
    } finally {
      for (const r of other.replicas) await r.relay.stop();
    }
  });

  it('shares a user\'s rate between the replicas where the user has sessions', async () => {
    const key = 'example.test\u0000bob';
    const b0 = await connect(0);
    const b1 = await connect(1);
    await eventually(() => replicas[0]!.relay.throttle.rateOf('user', key) === 600_000, 'bob alone: the whole rate');
    assert.equal((await b0.auth(uri, 'bob', 'bob-pw')).status, 200);
    assert.equal((await b1.auth(uri, 'bob', 'bob-pw')).status, 200);
    // Replica 1 learnt at AUTH that bob is on replica 0 too; replica 0 at its next refresh.
    assert.equal(replicas[1]!.relay.throttle.rateOf('user', key), 300_000);
    await eventually(() => replicas[0]!.relay.throttle.rateOf('user', key) === 300_000, 'replica 0 to halve bob\'s rate');
    b1.close();
    await eventually(() => replicas[0]!.relay.throttle.rateOf('user', key) === 600_000, 'replica 0 to give bob the whole rate again');
    b0.close();
    assert.ok(await metricValue(metrics[0]!, 'relay_replicas_live') === 3);
    assert.equal(await metricValue(metrics[0]!, 'relay_live_registry_errors_total'), 0);
  });
});
