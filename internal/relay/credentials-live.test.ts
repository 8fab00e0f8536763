// The engine's credential cache against a real store (admin-API issue, requirement a):
// every write emits NOTIFY msrp_changes, the engine listens and drops its cached entry, so
// a password change or a disabled user applies to the next AUTH within 1 s. Real sockets
// (TLS, Digest from testclient.ts); writes go through the admin API (app.inject) on the
// same store (internal/admin/testadmin.ts). Runs on one file-level PGlite instance and on PostgreSQL (DATABASE_URL).
// The cache TTL is 60 s here, as in production: only the change feed can explain a
// change applied within 1 s.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestAdmin, type TestAdmin } from '../admin/testadmin.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { createLogger } from '../telemetry/logger.ts';
import { pollUntil, startStoreRelay, type StoreRelay } from './teststore.ts';

const logger = createLogger({ name: 'credentials-live-test', level: 'silent', env: {} });
const databaseUrl = process.env['DATABASE_URL'];
const skipPostgres = databaseUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against (start one with e2e/postgres/start.sh)';
if (!databaseUrl && process.env['CI'] === 'true') {
  it('has a PostgreSQL server under CI', () => assert.fail('CI=true but DATABASE_URL is not set'));
}

const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;

function liveCases(subject: () => { store: Store; realm: string; r: StoreRelay; admin: TestAdmin }): void {
  void it('a password changed through the admin API applies to the next AUTH within 1 s (old fails, new succeeds)', async () => {
    const { realm, r, admin } = subject();
    assert.equal((await admin.call('POST', `/v1/realms/${realm}/users`, { username: 'alice', password: 'alice-old-pw' })).status, 201);
    assert.equal(await r.authStatus('alice', 'alice-old-pw'), 200);
    const lookupsCached = r.wiring.credentials.size;
    assert.ok(lookupsCached >= 1, 'alice is cached');
    assert.equal(await r.authStatus('alice', 'alice-old-pw'), 200, 'served from the cache');

    const changed = performance.now();
    assert.equal((await admin.call('PUT', `/v1/realms/${realm}/users/alice/password`, { password: 'alice-new-pw' })).status, 204);
    const old = await pollUntil(() => r.authStatus('alice', 'alice-old-pw'), 403, 1000);
    assert.equal(old.last, 403, `old password still accepted after ${Math.round(old.ms)} ms`);
    assert.equal(await r.authStatus('alice', 'alice-new-pw'), 200);
    const latency = performance.now() - changed;
    assert.ok(latency < 1000, `applied in ${Math.round(latency)} ms`);
  });

  void it('a user disabled through the admin API gets 403 on the next AUTH within 1 s, and 200 again once enabled', async () => {
    const { realm, r, admin } = subject();
    assert.equal((await admin.call('POST', `/v1/realms/${realm}/users`, { username: 'bob', password: 'bob-password' })).status, 201);
    assert.equal(await r.authStatus('bob', 'bob-password'), 200);
    assert.equal(await r.authStatus('bob', 'bob-password'), 200);

    const disabled = performance.now();
    assert.equal((await admin.call('POST', `/v1/realms/${realm}/users/bob/disable`)).status, 200);
    const d = await pollUntil(() => r.authStatus('bob', 'bob-password'), 403, 1000);
    assert.equal(d.last, 403, `disabled user still accepted after ${Math.round(d.ms)} ms`);
    assert.ok(performance.now() - disabled < 1000, `applied in ${Math.round(performance.now() - disabled)} ms`);

    const enabled = performance.now();
    assert.equal((await admin.call('POST', `/v1/realms/${realm}/users/bob/enable`)).status, 200);
    const e = await pollUntil(() => r.authStatus('bob', 'bob-password'), 200, 1000);
    assert.equal(e.last, 200);
    assert.ok(performance.now() - enabled < 1000, `applied in ${Math.round(performance.now() - enabled)} ms`);
  });

  void it('a password set with the store directly (msrpd users passwd) applies within 1 s too; deleting the user refuses the next AUTH', async () => {
    const { store, realm, r } = subject();
    await store.createUser(realm, 'carol', 'carol-pw-1');
    assert.equal(await r.authStatus('carol', 'carol-pw-1'), 200);
    const t0 = performance.now();
    await store.setPassword(realm, 'carol', 'carol-pw-2');
    const p = await pollUntil(() => r.authStatus('carol', 'carol-pw-2'), 200, 1000);
    assert.equal(p.last, 200, `new password refused after ${Math.round(p.ms)} ms`);
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(await r.authStatus('carol', 'carol-pw-1'), 403);

    await store.deleteUser(realm, 'carol');
    const g = await pollUntil(() => r.authStatus('carol', 'carol-pw-2'), 403, 1000);
    assert.equal(g.last, 403);
  });

  void it('reports the store as up in /readyz and msrp_store_up', async () => {
    const { r } = subject();
    const ready = await r.probe('/readyz');
    assert.equal(ready.status, 200);
    assert.equal((JSON.parse(ready.body) as { store: { up: boolean } }).store.up, true);
    assert.match((await r.probe('/metrics')).body, /^msrp_store_up 1$/m);
  });
}

describe('relay AUTH with credentials from PGlite, live through the change feed', { timeout: 120_000 }, () => {
  let dir = '';
  let store: Store;
  let r: StoreRelay;
  let admin: TestAdmin;
  const realm = `live-${run}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'credentials-live-'));
    store = await openStore({ dataDir: join(dir, 'pglite'), logger });
    await store.createRealm(realm);
    r = await startStoreRelay(store, realm);
    admin = await startTestAdmin(store, logger);
  });
  after(async () => {
    await admin?.close();
    await r?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  liveCases(() => ({ store, realm, r, admin }));
});

describe('relay AUTH with credentials from PostgreSQL, live through LISTEN/NOTIFY', { skip: skipPostgres, timeout: 120_000 }, () => {
  let store: Store;
  let r: StoreRelay;
  let admin: TestAdmin;
  const realm = `live-${run}`;

  before(async () => {
    store = await openStore({ url: databaseUrl!, logger });
    await store.createRealm(realm);
    r = await startStoreRelay(store, realm);
    admin = await startTestAdmin(store, logger);
  });
  after(async () => {
    await admin?.close();
    await r?.close();
    await store?.accounts.deleteRealm(realm, { cascade: true }).catch(() => undefined);
    await store?.close();
  });

  liveCases(() => ({ store, realm, r, admin }));
});
