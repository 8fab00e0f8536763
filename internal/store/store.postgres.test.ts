// The Store contract on a real PostgreSQL server (docs/architecture.md §6.2), plus what only a
// server can show: concurrent migration by several replicas, LISTEN reconnection,
// statement_timeout, and an unreachable server. Needs DATABASE_URL (an account that may
// CREATE DATABASE); .ci/peers.d/10-postgres.sh or e2e/postgres/start.sh provides one.
// Each run works in fresh databases it creates and drops.
import { freshDatabase } from './testdatabase.ts';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openPostgres } from './db-postgres.ts';
import type { Db } from './db.ts';
import { toStoreError } from './errors.ts';
import { migrate, readMigrations } from './migrate.ts';
import { openStore } from './open.ts';
import { createSqlStore, type ChangeEvent } from './store.ts';
import { historyContract } from './testhistory.ts';
import { leasesContract } from './testleases.ts';
import { liveSessionsContract } from './testlivesessions.ts';
import { quietLogger, rejectsWith, storeContract, uniqueRealm, type Subject } from './testcontract.ts';
import { operationsContract } from './testoperations.ts';

const adminUrl = process.env['DATABASE_URL'];
const skip = adminUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against (start one with e2e/postgres/start.sh)';

if (!adminUrl && process.env['CI'] === 'true') {
  it('has a PostgreSQL server under CI', () => {
    assert.fail('CI=true but DATABASE_URL is not set: .ci/peers.d/10-postgres.sh should have exported it');
  });
}

/** CREATE DATABASE with a random name; returns its URL and a dropper. */

describe('Store on PostgreSQL', { skip }, () => {
  let subject: Subject;
  let database: { url: string; drop: () => Promise<void> };

  before(async () => {
    database = await freshDatabase(adminUrl!);
    const db = openPostgres({ url: database.url, logger: quietLogger, statementTimeoutMs: 1500 });
    await migrate(db, quietLogger);
    subject = { db, store: createSqlStore(db, { key: randomBytes(32) }) };
  });
  after(async () => {
    await subject?.store.close();
    await database?.drop();
  });

  storeContract(() => subject);
  operationsContract(() => subject);
  historyContract(() => subject);
  leasesContract(() => subject);
  liveSessionsContract(() => subject);

  it('sets statement_timeout on pooled connections', async () => {
    const r = await subject.db.query<{ statement_timeout: string }>('SHOW statement_timeout');
    assert.equal(r.rows[0]!.statement_timeout, '1500ms');
    // A statement past the timeout is cancelled by the server (SQLSTATE 57014) and maps to unavailable.
    await assert.rejects(subject.db.query('SELECT pg_sleep(3)'), (e: unknown) => {
      assert.equal((e as { code?: string }).code, '57014');
      assert.equal(toStoreError(e, 'sleep').code, 'unavailable');
      return true;
    });
  });

  it('re-establishes LISTEN after the server drops the connection and reports a resync', async () => {
    const events: ChangeEvent[] = [];
    const unlisten = await subject.store.listen((e) => events.push(e));
    try {
      const killed = await subject.db.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`);
      assert.ok(killed.rows[0]!.n >= 1, 'a LISTEN backend was terminated');
      const deadline = Date.now() + 10_000;
      while (!events.some((e) => e.op === 'resync')) {
        assert.ok(Date.now() < deadline, 'no resync event within 10 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      const realm = uniqueRealm();
      await subject.store.createRealm(realm);
      while (!events.some((e) => e.table === 'realms' && e.key.realm === realm)) {
        assert.ok(Date.now() < deadline, 'no change event after reconnect');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await unlisten();
    }
  });

  it('lets two stores migrate the same empty database at once: both succeed, each migration applied once', async () => {
    const empty = await freshDatabase(adminUrl!);
    const dbs: Db[] = [openPostgres({ url: empty.url, logger: quietLogger }), openPostgres({ url: empty.url, logger: quietLogger })];
    try {
      const applied = await Promise.all(dbs.map((db) => migrate(db, quietLogger)));
      const all = readMigrations().map((m) => m.version);
      assert.deepEqual(applied.flat().sort((a, b) => a - b), all, `applied: ${JSON.stringify(applied)}`);
      const rows = await dbs[0]!.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      assert.equal(rows.rows[0]!.n, all.length);
      // And through openStore, as replicas do at start.
      const stores = await Promise.all([1, 2, 3].map(() => openStore({ url: empty.url, logger: quietLogger })));
      const realm = uniqueRealm();
      await stores[0]!.createRealm(realm);
      assert.equal((await stores[2]!.getRealm(realm))?.name, realm);
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
      await empty.drop();
    }
  });

  it('reports an unreachable server as unavailable', async () => {
    const u = new URL(adminUrl!);
    u.port = '1'; // nothing listens on port 1
    await rejectsWith(openStore({ url: u.toString(), logger: quietLogger }), 'unavailable');
  });
});
