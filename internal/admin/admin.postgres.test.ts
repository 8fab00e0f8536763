// The admin API on a real PostgreSQL server (docs/architecture.md §6.2): the shared contract, a real
// HTTP listener driven with undici, and two `node cmd/admin.ts` processes migrating the
// same empty database at once. Needs DATABASE_URL (an account that may CREATE DATABASE).
import { freshDatabase } from '../store/testdatabase.ts';
import { eventually } from '../testwait.ts';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { readMigrations } from '../store/migrate.ts';
import { openStore } from '../store/open.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { adminContract, unique, type AdminSubject } from './testcontract.ts';
import { buildAdminApp } from './app.ts';
import { startFakeEngine } from './testengine.ts';

const adminUrl = process.env['DATABASE_URL'];
const skip = adminUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against (start one with e2e/postgres/start.sh)';
if (!adminUrl && process.env['CI'] === 'true') {
  it('has a PostgreSQL server under CI', () => assert.fail('CI=true but DATABASE_URL is not set'));
}

const logger = createLogger({ name: 'admin-test', level: 'silent', env: {} });
const ROOT = join(import.meta.dirname, '..', '..');


describe('admin API on PostgreSQL', { skip }, () => {
  let subject: AdminSubject;
  let database: { url: string; drop: () => Promise<void> };

  before(async () => {
    database = await freshDatabase(adminUrl!);
    const store = await openStore({ url: database.url, logger, statementTimeoutMs: 3000 });
    const engine = await startFakeEngine();
    const bootstrap = randomBytes(24).toString('base64url');
    const app = await buildAdminApp({ store, logger, metrics: createMetrics({ defaultMetrics: false }), bootstrapToken: bootstrap, engineUrl: engine.url });
    await app.ready();
    subject = { app, store, engine, bootstrap };
  });
  after(async () => {
    await subject?.app.close();
    await subject?.engine.close();
    await subject?.store.close();
    await database?.drop();
  });

  adminContract(() => subject);

  it('serves over a real HTTP listener (undici), keep-alive and all', async () => {
    const store = await openStore({ url: database.url, logger });
    const app = await buildAdminApp({ store, logger, metrics: createMetrics({ defaultMetrics: false }), bootstrapToken: 'listen-token', listenForChanges: false });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const name = unique('http');
      const headers = { authorization: 'Bearer listen-token', 'content-type': 'application/json' };
      const put = await request(`${base}/v1/rooms/${name}`, { method: 'PUT', headers, body: JSON.stringify({ uri: `sip:${name}@example.com` }) });
      assert.equal(put.statusCode, 201);
      assert.equal(put.headers['etag'], '"1"');
      assert.equal((await put.body.json() as { generation: number }).generation, 1);
      const get = await request(`${base}/v1/rooms/${name}`, { headers });
      assert.equal(get.statusCode, 200);
      await get.body.dump();
      const big = await request(`${base}/v1/realms`, { method: 'POST', headers, body: JSON.stringify({ name: 'x'.repeat(100_000) }) });
      assert.equal(big.statusCode, 413);
      assert.match(String(big.headers['content-type']), /application\/problem\+json/);
      assert.equal((await big.body.json() as { type: string }).type, 'https://msrp.dev/problems/payload-too-large');
      const docs = await request(`${base}/docs/json`);
      assert.equal(docs.statusCode, 200);
      await docs.body.dump();
    } finally {
      await app.close();
      await store.close();
    }
  });

  it('lets two admin processes migrate the same empty database at once', async () => {
    const empty = await freshDatabase(adminUrl!);
    const dir = mkdtempSync(join(tmpdir(), 'admin-procs-'));
    const tokenFile = join(dir, 'bootstrap');
    writeFileSync(tokenFile, 'proc-token\n', { mode: 0o600 });
    const procs: ChildProcess[] = [];
    try {
      const started = [0, 1].map(() => new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [join(ROOT, 'cmd', 'admin.ts')], {
          env: {
            PATH: process.env['PATH'], MSRP_ADMIN_DATABASE__URL: empty.url, MSRP_ADMIN_HTTP__HOST: '127.0.0.1', MSRP_ADMIN_HTTP__PORT: '0',
            MSRP_ADMIN_AUTH__BOOTSTRAP_TOKEN_FILE: tokenFile, MSRP_ADMIN_LOG__LEVEL: 'info',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        procs.push(child);
        let out = '';
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`admin exited ${code}: ${err}\n${out}`)));
        setTimeout(() => reject(new Error(`admin did not start in 30 s: ${err}\n${out}`)), 30_000).unref();
      }));
      const bases = await Promise.all(started);
      for (const base of bases) {
        const ready = await request(`${base}/readyz`);
        assert.equal(ready.statusCode, 200);
        await ready.body.dump();
        const list = await request(`${base}/v1/rooms`, { headers: { authorization: 'Bearer proc-token' } });
        assert.equal(list.statusCode, 200);
        await list.body.dump();
      }
      // The Secret rotated: the kubelet swaps the mounted file's target; each process reads the new token without a restart.
      writeFileSync(`${tokenFile}.new`, 'proc-token-rotated\n', { mode: 0o600 });
      renameSync(`${tokenFile}.new`, tokenFile);
      for (const base of bases) {
        const status = async (token: string) => {
          const res = await request(`${base}/v1/rooms`, { headers: { authorization: `Bearer ${token}` } });
          await res.body.dump();
          return res.statusCode;
        };
        await eventually(async () => (await status('proc-token-rotated')) === 200, 'the rotated token to be accepted', 10_000);
        assert.equal(await status('proc-token'), 401, 'the old token no longer works');
      }
      const c = new pg.Client({ connectionString: empty.url });
      await c.connect();
      const rows = await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      await c.end();
      assert.deepEqual(rows.rows.map((r) => r.version), readMigrations().map((m) => m.version));
    } finally {
      await Promise.all(procs.map((p) => new Promise<void>((r) => {
        if (p.exitCode !== null) return r();
        p.once('exit', () => r());
        p.kill('SIGTERM');
      })));
      rmSync(dir, { recursive: true, force: true });
      await empty.drop();
    }
  });
});
