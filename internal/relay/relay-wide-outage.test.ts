// Relay-wide sessions per user while the database is frozen, then stopped (docs/relay.md
// "Relay-wide limits and views"): AUTH never waits more than the registry's bound, is
// decided by the replica's own count meanwhile (so a user may get up to replicas × limit),
// says so once in the log and in metrics, and the replicas rewrite their rows when the
// database is back, so the limit is relay-wide again. Two replicas in this process over a
// throwaway PostgreSQL of the test's own (e2e/postgres/throwaway.ts).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startThrowawayPostgres, throwawayPostgresSkip, type ThrowawayPostgres } from '../../e2e/postgres/throwaway.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { connectLiveSessions, type StoreLiveSessions } from './live-sessions.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { eventually, startTestMesh, type TestMeshReplica } from './testrelay.ts';

const skip = throwawayPostgresSkip();
const logger = createLogger({ name: 'relay-wide-outage-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent', env: {} });
const ADMIT_TIMEOUT_MS = 300;

const metric = async (m: Metrics, name: string): Promise<number> => {
  const re = new RegExp(`^msrp_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm');
  let total = 0;
  for (const x of (await m.render()).matchAll(re)) total += Number(x[1]);
  return total;
};

/** The postmaster and its children (the backends holding our pool's connections). */
function clusterPids(pg: ThrowawayPostgres): number[] {
  const postmaster = Number(readFileSync(join(pg.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [postmaster];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('relay-wide sessions per user while the database does not answer', { skip, timeout: 180_000 }, () => {
  let pg: ThrowawayPostgres | undefined;
  let frozen: number[] = [];
  let store: Store;
  let replicas: TestMeshReplica[];
  let registries: StoreLiveSessions[];
  let metrics: Metrics[];
  let uri: string;
  const clients: TestClient[] = [];

  before(async () => {
    pg = startThrowawayPostgres();
    store = await openStore({ url: pg.url, logger, statementTimeoutMs: 2000 });
    metrics = [0, 1].map(() => createMetrics({ defaultMetrics: false }));
    registries = [0, 1].map((k) => connectLiveSessions(store, {
      logger, metrics: metrics[k]!, heartbeatMs: 200, staleAfterSec: 5, admitTimeoutMs: ADMIT_TIMEOUT_MS, retryMs: 200,
    }));
    ({ replicas, uri } = await startTestMesh(2, { maxSessionsPerUser: 2 }, (k) => ({ liveSessions: registries[k]!, metrics: metrics[k]! })));
    for (const m of metrics) await eventually(async () => (await metric(m, 'relay_replicas_live')) === 2, 'two live replicas', 20_000);
  });
  after(async () => {
    for (const pid of frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    for (const c of clients) c.close();
    for (const r of replicas ?? []) await r.relay.stop();
    await store?.close();
    await pg?.remove();
  });

  const auth = async (k: number, user: string): Promise<{ status: number; ms: number; c: TestClient; session: string | undefined }> => {
    const c = await TestClient.connect({ port: replicas[k]!.port, ca: replicas[k]!.ca });
    clients.push(c);
    const t0 = performance.now();
    const res = await c.auth(uri, user, `${user}-pw`);
    return { status: res.status, ms: performance.now() - t0, c, session: res.status === 200 ? usePathOf(res) : undefined };
  };
  const rows = async (): Promise<string[]> =>
    (await store.liveSessions.list({ staleAfterSec: 5 }, { limit: 100 })).items.map((s) => `${s.ordinal}:${s.username}`).sort();

  it('answers AUTH within the bound from the local count, and is relay-wide again once the database is back', async () => {
    assert.equal((await auth(0, 'alice')).status, 200);
    assert.equal((await auth(1, 'alice')).status, 200);
    assert.equal((await auth(1, 'alice')).status, 403, 'relay-wide: alice holds 2');

    // The database freezes: connections open, nothing answers.
    frozen = clusterPids(pg!);
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    const first = await auth(0, 'alice');
    assert.equal(first.status, 200, 'decided by replica 0\'s own count (1 < 2): the per-replica approximation');
    assert.ok(first.ms >= ADMIT_TIMEOUT_MS - 50, `waited for the registry first (${Math.round(first.ms)} ms)`);
    assert.ok(first.ms < ADMIT_TIMEOUT_MS + 700, `within the bound: ${Math.round(first.ms)} ms`);
    // Known down now: no more waiting.
    const next = await auth(0, 'bob');
    assert.equal(next.status, 200);
    assert.ok(next.ms < ADMIT_TIMEOUT_MS, `no wait once known down: ${Math.round(next.ms)} ms`);
    assert.equal((await auth(0, 'alice')).status, 403, 'the local limit still holds: replica 0 has 2 of alice\'s');
    assert.equal(await metric(metrics[0]!, 'relay_live_registry_up'), 0);
    assert.ok(await metric(metrics[0]!, 'relay_live_registry_fallbacks_total') >= 2);
    assert.ok(await metric(metrics[0]!, 'relay_live_registry_errors_total') >= 1);
    // Forwarding never waits on the registry: a SEND between two sessions of replica 0.
    const sent = first.c.sendMessage([first.session!, next.session!, next.c.uri], 'while frozen');
    assert.equal((await first.c.response(sent.transactionId)).status, 200);
    assert.equal(Buffer.concat((await next.c.request('SEND')).body).toString(), 'while frozen');

    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    frozen = [];
    // Back: replica 0 rewrites its rows (the session admitted during the outage included).
    await eventually(async () => (await metric(metrics[0]!, 'relay_live_registry_up')) === 1, 'replica 0 to reach the registry again', 15_000);
    await eventually(async () => JSON.stringify(await rows()) === JSON.stringify(['0:alice', '0:alice', '0:bob', '1:alice']), 'the rows of both replicas', 15_000);
    assert.equal((await auth(1, 'bob')).status, 200);
    assert.equal((await auth(1, 'bob')).status, 403, 'relay-wide again: bob holds 2 (one on each replica)');

    // The database stops: connections refused, AUTH is answered at once from the local count.
    await pg!.stop();
    replicas[1]!.credentials.add('example.test', 'carol', 'carol-pw');
    const stopped = await auth(1, 'carol');
    assert.equal(stopped.status, 200);
    assert.ok(stopped.ms < ADMIT_TIMEOUT_MS + 700, `within the bound: ${Math.round(stopped.ms)} ms`);
    await eventually(async () => (await metric(metrics[1]!, 'relay_live_registry_up')) === 0, 'replica 1 to note the outage');
    pg!.restart();
    await eventually(async () => (await metric(metrics[1]!, 'relay_live_registry_up')) === 1, 'replica 1 to reach the registry again', 20_000);
    await eventually(async () => (await rows()).includes('1:carol'), 'carol\'s session, admitted during the outage, to be written', 20_000);
  });
});
