// Admin API benchmark: `node bench/admin.bench.ts` (npm run bench:admin).
//
// Over a real HTTP listener on loopback, driven by undici with CONCURRENCY requests in
// flight, for BENCH_SECONDS each:
//   GET /v1/rooms/{name}              (token verified from the cache, one SELECT)
//   PUT /v1/rooms/{name}, same spec   (idempotent: one INSERT .. ON CONFLICT .. WHERE, one SELECT)
// on PGlite (in-process WASM, one connection) and, when DATABASE_URL is set, PostgreSQL
// (a fresh database, dropped afterwards).
// Prints a table, then as the very last line one JSON object:
//   { getRps: {pglite, postgres}, putRps: {...}, p99Ms: {...} }
// where p99Ms is the larger of the GET and PUT p99 latencies; null when not measured.
// Figures are informative only (docs/architecture.md §6.4: benchmarks never gate CI on absolute times).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { newToken } from '../internal/admin/auth.ts';
import { buildAdminApp } from '../internal/admin/app.ts';
import { openStore, type Store } from '../internal/store/index.ts';
import { createLogger } from '../internal/telemetry/logger.ts';
import { createMetrics } from '../internal/telemetry/metrics.ts';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 16);
const logger = createLogger({ name: 'bench', level: 'silent', env: {} });

interface Result { rps: number; p50: number; p99: number; errors: number }

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function load(pool: Pool, method: 'GET' | 'PUT', path: string, headers: Record<string, string>, body?: string): Promise<Result> {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const r = await pool.request({ method, path, headers, ...(body !== undefined ? { body } : {}) });
      await r.body.dump();
      if (r.statusCode !== 200) errors++;
      lat.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rps: lat.length / elapsed, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), errors };
}

async function measure(store: Store): Promise<{ get: Result; put: Result }> {
  const { id, secret, hash } = newToken();
  await store.tokens.create({ id, hash, name: 'bench', role: 'admin', createdBy: 'bench' });
  const app = await buildAdminApp({ store, logger, metrics: createMetrics({ defaultMetrics: false }), tokenCacheTtlMs: 5000 });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const pool = new Pool(base, { connections: CONCURRENCY, pipelining: 1 });
  try {
    const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
    const spec = JSON.stringify({
      uri: 'sips:bench@chat.example.com', subject: 'Benchmark room',
      policy: { maxParticipants: 500, allow: ['sip:*@example.com'], moderators: ['sips:alice@example.com'], welcome: 'Hello' },
    });
    const first = await pool.request({ method: 'PUT', path: '/v1/rooms/bench', headers, body: spec });
    await first.body.dump();
    // Warm-up: JIT, pool connections, token cache.
    await load(pool, 'GET', '/v1/rooms/bench', headers).catch(() => undefined);
    const get = await load(pool, 'GET', '/v1/rooms/bench', headers);
    const put = await load(pool, 'PUT', '/v1/rooms/bench', headers, spec);
    return { get, put };
  } finally {
    await pool.close();
    await app.close();
  }
}

async function pgliteRun(): Promise<{ get: Result; put: Result }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-admin-'));
  const store = await openStore({ dataDir: join(dir, 'pglite'), logger });
  try {
    return await measure(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgresRun(url: string): Promise<{ get: Result; put: Result }> {
  const name = `msrp_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const store = await openStore({ url: u.toString(), logger, poolMax: CONCURRENCY });
  try {
    return await measure(store);
  } finally {
    await store.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

const results: Record<'pglite' | 'postgres', { get: Result; put: Result } | undefined> = { pglite: undefined, postgres: undefined };
results.pglite = await pgliteRun();
const url = process.env['DATABASE_URL'];
if (url) results.postgres = await postgresRun(url);
else process.stderr.write('DATABASE_URL not set: PostgreSQL column skipped\n');

const fmt = (n: number | undefined, d = 0) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d));
const rows: string[][] = [['database', 'request', 'req/s', 'p50 ms', 'p99 ms', 'errors']];
for (const db of ['pglite', 'postgres'] as const) {
  for (const kind of ['get', 'put'] as const) {
    const r = results[db]?.[kind];
    rows.push([db, kind === 'get' ? 'GET /v1/rooms/{name}' : 'PUT /v1/rooms/{name} (same spec)', fmt(r?.rps), fmt(r?.p50, 2), fmt(r?.p99, 2), fmt(r?.errors)]);
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
process.stdout.write(`admin API, ${CONCURRENCY} in flight, ${SECONDS} s per row, loopback\n`);
for (const r of rows) process.stdout.write(r.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ') + '\n');

const round = (n: number | undefined, d: number) => (n === undefined ? null : Number(n.toFixed(d)));
const pick = (f: (x: { get: Result; put: Result }) => number, d: number) => ({
  pglite: round(results.pglite && f(results.pglite), d), postgres: round(results.postgres && f(results.postgres), d),
});
process.stdout.write(JSON.stringify({
  getRps: pick((x) => x.get.rps, 0),
  putRps: pick((x) => x.put.rps, 0),
  p99Ms: pick((x) => Math.max(x.get.p99, x.put.p99), 2),
}) + '\n');
