// The Store contract on embedded PGlite. One PGlite instance for the whole file: a fresh
// one costs 3-5 s and ~750 MB (NOTES.md), so tests share it and use distinct realms.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../telemetry/logger.ts';
import { openPglite } from './db-pglite.ts';
import type { Db } from './db.ts';
import { migrate } from './migrate.ts';
import { openStore } from './open.ts';
import { createSqlStore, type Store } from './store.ts';
import { historyContract } from './testhistory.ts';
import { leasesContract } from './testleases.ts';
import { liveSessionsContract } from './testlivesessions.ts';
import { quietLogger, storeContract, uniqueRealm, type Subject } from './testcontract.ts';
import { operationsContract } from './testoperations.ts';

describe('Store on PGlite', () => {
  let dir: string;
  let db: Db;
  let subject: Subject;
  const key = randomBytes(32);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'store-pglite-'));
    db = await openPglite(join(dir, 'pglite'));
    await migrate(db, quietLogger);
    subject = { db, store: createSqlStore(db, { key }) };
  });
  after(async () => {
    await subject.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  storeContract(() => subject);
  operationsContract(() => subject);
  historyContract(() => subject);
  leasesContract(() => subject);
  liveSessionsContract(() => subject);

  // No advisory-lock test here: PGlite is one session, where pg_try_advisory_lock always
  // succeeds (a session re-enters its own lock), so such a test could not fail. The lock is
  // exercised where it can be contended: store.postgres.test.ts, two stores migrating one
  // empty database at once. (Opening this store already ran migrate(), lock and all.)

  it('reopens its data folder with the data and without re-applying migrations', async () => {
    // Runs last: closes the shared instance and reopens the same folder through openStore
    // (~0.6 s per NOTES.md, instead of another 3-5 s fresh database).
    const keyFile = join(dir, 'key.hex');
    writeFileSync(keyFile, key.toString('hex'));
    const realm = uniqueRealm();
    await subject.store.createRealm(realm);
    await subject.store.createUser(realm, 'gus', 'pw', { storeSecret: true });
    await subject.store.close();
    const lines: { msg?: string; applied?: number[] }[] = [];
    const logger = createLogger({ name: 't', level: 'info', env: {}, destination: new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(JSON.parse(chunk.toString()) as { msg?: string; applied?: number[] });
        done();
      },
    }) });
    const store: Store = await openStore({ dataDir: join(dir, 'pglite'), secretKeyFile: keyFile, logger });
    subject = { ...subject, store };
    assert.equal(store.kind, 'pglite');
    assert.deepEqual(lines.find((l) => l.msg === 'store ready')?.applied, []);
    assert.equal(await store.getUserSecret(realm, 'gus'), 'pw');
  });
});
