// Password storage as a switch (docs/admin-api.md "Password storage"), against real
// PostgreSQL (DATABASE_URL), in a fresh database: users are created and changed through
// every door the switch covers (the store as the engine opens it, the admin API, `msrpd
// users` as a child process), then every column of every table is scanned for the clear
// passwords (as text and as the hex of their bytes): in `encrypted` mode the password is
// recoverable with the key and is nowhere in clear; in `ha1` mode nothing is recoverable.
// Key rotation: a new key with the old one still readable, re-seal, the old key dropped.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startTestAdmin } from '../internal/admin/testadmin.ts';
import { loadEngineConfig } from '../internal/config/index.ts';
import { ConfigError } from '../internal/config/errors.ts';
import { openStore, type OpenStoreOptions } from '../internal/store/open.ts';
import type { Store } from '../internal/store/store.ts';
import { freshDatabase } from '../internal/store/testdatabase.ts';
import { createLogger } from '../internal/telemetry/logger.ts';

const logger = createLogger({ name: 'password-storage-test', level: 'silent', env: {} });
const databaseUrl = process.env['DATABASE_URL'];
const skip = databaseUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against';
if (!databaseUrl && process.env['CI'] === 'true') {
  it('has a PostgreSQL server under CI', () => assert.fail('CI=true but DATABASE_URL is not set'));
}
const MSRPD = join(import.meta.dirname, 'msrpd.ts');
const REALM = 'vault.example.com';

/** Every table's rows as text (bytea shows as \x hex): where a clear password would show. */
async function dumpDatabase(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables = await c.query<{ t: string }>(`SELECT format('%I.%I', table_schema, table_name) AS t FROM information_schema.tables
      WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`);
    let out = '';
    for (const { t } of tables.rows) out += (await c.query<{ r: string }>(`SELECT x::text AS r FROM ${t} x`)).rows.map((r) => r.r).join('\n');
    return out;
  } finally {
    await c.end();
  }
}

function assertNoClearPassword(dump: string, passwords: string[]): void {
  assert.ok(dump.includes('vault.example.com'), 'the dump holds the user rows');
  for (const p of passwords) {
    assert.ok(!dump.includes(p), `clear password ${p} found in the database`);
    assert.ok(!dump.toLowerCase().includes(Buffer.from(p).toString('hex')), `password ${p} found as bytes in the database`);
  }
}

function msrpd(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MSRPD, 'users', ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('password storage', { skip, timeout: 120_000 }, () => {
  let dir: string;
  const keyFile = (name: string): string => {
    const f = join(dir, name);
    writeFileSync(f, randomBytes(32).toString('base64'));
    return f;
  };
  const cleanup: (() => Promise<void>)[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pwstore-'));
  });
  after(async () => {
    for (const c of cleanup) await c().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const open = async (o: Omit<OpenStoreOptions, 'logger'>): Promise<Store> => {
    const s = await openStore({ ...o, logger });
    cleanup.unshift(() => s.close());
    return s;
  };

  it('encrypted: passwords set by the store, the admin API and `msrpd users` are recoverable with the key and never in the database in clear', async () => {
    const db = await freshDatabase(databaseUrl!, 'msrp_pw');
    cleanup.push(db.drop);
    const key1 = keyFile('key1');
    const store = await open({ url: db.url, passwordStorage: 'encrypted', secretKeyFile: key1 });
    await store.createRealm(REALM);
    await store.createUser(REALM, 'alice', 'Alice-Clear-1');
    const admin = await startTestAdmin(store, logger);
    cleanup.unshift(() => admin.close());
    assert.equal((await admin.call('POST', `/v1/realms/${REALM}/users`, { username: 'bob', password: 'Bob-Clear-2' })).status, 201);
    assert.equal((await admin.call('PUT', `/v1/realms/${REALM}/users/alice/password`, { password: 'Alice-Clear-3' })).status, 204);
    const env = { MSRP_DATABASE__URL: db.url, MSRP_DATABASE__PASSWORD_STORAGE: 'encrypted', MSRP_DATABASE__SECRET_KEY_FILE: key1, LOG_LEVEL: 'silent' };
    const added = await msrpd(['add', '--realm', REALM, '--user', 'carol', '--password', 'Carol-Clear-4'], env);
    assert.equal(added.code, 0, added.stderr);

    assert.equal(await store.getUserSecret(REALM, 'alice'), 'Alice-Clear-3');
    assert.equal(await store.getUserSecret(REALM, 'bob'), 'Bob-Clear-2');
    assert.equal(await store.getUserSecret(REALM, 'carol'), 'Carol-Clear-4');
    const info = await admin.call('GET', '/v1/password-storage');
    assert.deepEqual(JSON.parse(info.body), { mode: 'encrypted', keyConfigured: true, previousKeys: 0, usersWithSecret: 3, usersWithoutSecret: 0 });
    assert.ok(!/Clear/.test(info.body));
    assertNoClearPassword(await dumpDatabase(db.url), ['Alice-Clear-1', 'Alice-Clear-3', 'Bob-Clear-2', 'Carol-Clear-4']);
  });

  it('ha1 (the default): only digests; nothing is recoverable, and `msrpd users --password-storage encrypted` overrides it for one command', async () => {
    const db = await freshDatabase(databaseUrl!, 'msrp_pw');
    cleanup.push(db.drop);
    const key = keyFile('key-ha1');
    const store = await open({ url: db.url, secretKeyFile: key });
    await store.createRealm(REALM);
    await store.createUser(REALM, 'dave', 'Dave-Clear-5');
    assert.equal(await store.getUserSecret(REALM, 'dave'), undefined);
    const env = { MSRP_DATABASE__URL: db.url, MSRP_DATABASE__SECRET_KEY_FILE: key, LOG_LEVEL: 'silent' };
    assert.equal((await msrpd(['add', '--realm', REALM, '--user', 'erin', '--password', 'Erin-Clear-6'], env)).code, 0);
    assert.equal(await store.getUserSecret(REALM, 'erin'), undefined);
    assert.equal((await msrpd(['passwd', '--realm', REALM, '--user', 'erin', '--password', 'Erin-Clear-7', '--password-storage', 'encrypted'], env)).code, 0);
    assert.equal(await store.getUserSecret(REALM, 'erin'), 'Erin-Clear-7');
    const storage = await msrpd(['storage'], env);
    assert.match(storage.stdout, /^mode\tha1$/m);
    assert.match(storage.stdout, /^usersWithSecret\t1$/m);
    assertNoClearPassword(await dumpDatabase(db.url), ['Dave-Clear-5', 'Erin-Clear-6', 'Erin-Clear-7']);
  });

  it('key rotation: a new key with the old one as previous reads every password, rotate re-seals them, and then the old key is no longer needed', async () => {
    const db = await freshDatabase(databaseUrl!, 'msrp_pw');
    cleanup.push(db.drop);
    const oldKey = keyFile('old');
    const newKey = keyFile('new');
    const before = await openStore({ url: db.url, passwordStorage: 'encrypted', secretKeyFile: oldKey, logger });
    await before.createRealm(REALM);
    for (let i = 0; i < 3; i++) await before.createUser(REALM, `u${i}`, `Rotate-Clear-${i}`);
    await before.close();

    const rotating = await open({ url: db.url, passwordStorage: 'encrypted', secretKeyFile: newKey, previousSecretKeyFiles: [oldKey] });
    assert.equal(await rotating.getUserSecret(REALM, 'u0'), 'Rotate-Clear-0', 'the old key is still readable');
    await rotating.createUser(REALM, 'u3', 'Rotate-Clear-3'); // sealed with the new key
    const admin = await startTestAdmin(rotating, logger);
    cleanup.unshift(() => admin.close());
    const r = await admin.call('POST', '/v1/password-storage/rotate');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { reencrypted: 3, current: 1, unreadable: 0 });
    const audit = await admin.call('GET', '/v1/audit?action=password-storage.rotate');
    assert.equal((JSON.parse(audit.body) as { items: unknown[] }).items.length, 1);
    // Again: nothing left to do (the CLI does the same).
    const env = { MSRP_DATABASE__URL: db.url, MSRP_DATABASE__PASSWORD_STORAGE: 'encrypted', MSRP_DATABASE__SECRET_KEY_FILE: newKey, MSRP_DATABASE__PREVIOUS_SECRET_KEY_FILES: oldKey, LOG_LEVEL: 'silent' };
    const again = await msrpd(['rotate-key'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^reencrypted\t0\ncurrent\t4\nunreadable\t0$/m);

    const after = await open({ url: db.url, passwordStorage: 'encrypted', secretKeyFile: newKey });
    for (let i = 0; i < 4; i++) assert.equal(await after.getUserSecret(REALM, `u${i}`), `Rotate-Clear-${i}`);
    const stale = await open({ url: db.url, secretKeyFile: oldKey });
    await assert.rejects(stale.getUserSecret(REALM, 'u0'), /does not open with this key/, 'the old key opens nothing any more');
    // A key that opens nothing is reported, not silently skipped: the CLI exits 1.
    const wrong = await msrpd(['rotate-key'], { ...env, MSRP_DATABASE__SECRET_KEY_FILE: keyFile('unrelated'), MSRP_DATABASE__PREVIOUS_SECRET_KEY_FILES: '' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /^unreadable\t4$/m);
    assertNoClearPassword(await dumpDatabase(db.url), ['Rotate-Clear-0', 'Rotate-Clear-1', 'Rotate-Clear-2', 'Rotate-Clear-3']);
  });

  it('encrypted without a key file is refused: by the engine config and by the store', async () => {
    assert.throws(() => loadEngineConfig({ env: { MSRP_DATABASE__PASSWORD_STORAGE: 'encrypted' } }),
      (e: unknown) => e instanceof ConfigError && /database\.secretKeyFile/.test(JSON.stringify(e.issues)));
    await assert.rejects(openStore({ url: databaseUrl!, passwordStorage: 'encrypted', logger }), /needs a secret key file/);
  });
});
