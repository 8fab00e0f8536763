// The engine's credential cache against a real store (admin-API issue, requirement a):
// every write emits NOTIFY msrp_changes, the engine listens and drops its cached entry, so
// a password change or a disabled user applies to the next AUTH within 1 s. Real sockets
// (TLS, Digest from testclient.ts); writes go through the admin API (app.inject) on the
// same store (internal/admin/testadmin.ts). Runs on one file-level PGlite instance and on PostgreSQL (DATABASE_URL).
// The cache TTL is 60 s here, as in production: only the change feed can explain a
// change applied well before it. The tests count the feed's invalidations of the user (the
// mechanism, an operation count) and poll up to FEED_LIMIT_MS, a sixth of the TTL, instead of
// timing the change against 1 s: a stopwatch fails on a loaded machine and proves nothing more.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestAdmin, type TestAdmin } from '../admin/testadmin.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { createLogger } from '../telemetry/logger.ts';
import type { CredentialChange } from './credential-cache.ts';
import { eventually } from '../testwait.ts';
import { pollUntil, startStoreRelay, type StoreRelay } from './teststore.ts';

const logger = createLogger({ name: 'credentials-live-test', level: 'silent', env: {} });
const databaseUrl = process.env['DATABASE_URL'];
const skipPostgres = databaseUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against (start one with e2e/postgres/start.sh)';
if (!databaseUrl && process.env['CI'] === 'true') {
  it('has a PostgreSQL server under CI', () => assert.fail('CI=true but DATABASE_URL is not set'));
}

const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;

/** Far below the 60 s TTL, so a change applied within it was applied by the change feed. */
const FEED_LIMIT_MS = 10_000;

/** Counts change-feed invalidations that drop `username`'s cached entry, until `t` ends. */
function feedInvalidations(t: { after(fn: () => void): void }, r: StoreRelay, realm: string, username: string): (() => number) & { ofUser(): number } {
  const creds = r.wiring.credentials;
  const invalidate = creds.invalidate.bind(creds);
  let n = 0;
  let ofUser = 0;
  creds.invalidate = (change: CredentialChange) => {
    if (change.table === '*' || change.key.realm === realm && (change.table === 'realms' || change.key.username === username)) n++;
    if (change.table === 'users' && change.key.realm === realm && change.key.username === username) ofUser++;
    invalidate(change);
  };
  t.after(() => {
    creds.invalidate = invalidate;
  });
  return Object.assign(() => n, { ofUser: () => ofUser });
}

function liveCases(subject: () => { store: Store; realm: string; r: StoreRelay; admin: TestAdmin }): void {
  void it('a password changed through the admin API applies to the next AUTH through the change feed (old fails, new succeeds)', async (t) => {
    const { realm, r, admin } = subject();
    const feed = feedInvalidations(t, r, realm, 'alice');
    assert.equal((await admin.call('POST', `/v1/realms/${realm}/users`, { username: 'alice', password: 'alice-old-pw' })).status, 201);
    // The creation's own change event: PostgreSQL delivers a NOTIFY whenever its connection is
    // next read, so under load it could land after the AUTH below and drop the entry it cached.
    await eventually(() => feed.ofUser() >= 1, 'the change feed to deliver alice\'s creation', FEED_LIMIT_MS);
    assert.equal(await r.authStatus('alice', 'alice-old-pw'), 200);
    const lookupsCached = r.wiring.credentials.size;
    assert.ok(lookupsCached >= 1, 'alice is cached');
    assert.equal(await r.authStatus('alice', 'alice-old-pw'), 200, 'served from the cache');

    const invalidations = feed();
    assert.equal((await admin.call('PUT', `/v1/realms/${realm}/users/alice/password`, { password: 'alice-new-pw' })).status, 204);
    const old = await pollUntil(() => r.authStatus('alice', 'alice-old-pw'), 403, FEED_LIMIT_MS);
    assert.equal(old.last, 403, `old password still accepted after ${Math.round(old.ms)} ms`);
    assert.equal(await r.authStatus('alice', 'alice-new-pw'), 200);
    assert.ok(feed() > invalidations, 'the change feed dropped alice\'s entry');
  });

  void it('a user disabled through the admin API gets 403 on the next AUTH through the change feed, and 200 again once enabled', async (t) => {
    const { realm, r, admin } = subject();
    const feed = feedInvalidations(t, r, realm, 'bob');
    assert.equal((await admin.call('POST', `/v1/realms/${realm}/users`, { username: 'bob', password: 'bob-password' })).status, 201);
    assert.equal(await r.authStatus('bob', 'bob-password'), 200);
    assert.equal(await r.authStatus('bob', 'bob-password'), 200);

    const beforeDisable = feed();
    assert.equal((await admin.call('POST', `/v1/realms/${realm}/users/bob/disable`)).status, 200);
    const d = await pollUntil(() => r.authStatus('bob', 'bob-password'), 403, FEED_LIMIT_MS);
    assert.equal(d.last, 403, `disabled user still accepted after ${Math.round(d.ms)} ms`);
    assert.ok(feed() > beforeDisable, 'the change feed dropped bob\'s entry (disable)');

    const beforeEnable = feed();
    assert.equal((await admin.call('POST', `/v1/realms/${realm}/users/bob/enable`)).status, 200);
    const e = await pollUntil(() => r.authStatus('bob', 'bob-password'), 200, FEED_LIMIT_MS);
    assert.equal(e.last, 200);
    assert.ok(feed() > beforeEnable, 'the change feed dropped bob\'s entry (enable)');
  });

  void it('a password set with the store directly (msrpd users passwd) applies through the change feed too; deleting the user refuses the next AUTH', async (t) => {
    const { store, realm, r } = subject();
    const feed = feedInvalidations(t, r, realm, 'carol');
    await store.createUser(realm, 'carol', 'carol-pw-1');
    assert.equal(await r.authStatus('carol', 'carol-pw-1'), 200);
    const beforeSet = feed();
    await store.setPassword(realm, 'carol', 'carol-pw-2');
    const p = await pollUntil(() => r.authStatus('carol', 'carol-pw-2'), 200, FEED_LIMIT_MS);
    assert.equal(p.last, 200, `new password refused after ${Math.round(p.ms)} ms`);
    assert.ok(feed() > beforeSet, 'the change feed dropped carol\'s entry');
    assert.equal(await r.authStatus('carol', 'carol-pw-1'), 403);

    await store.deleteUser(realm, 'carol');
    const g = await pollUntil(() => r.authStatus('carol', 'carol-pw-2'), 403, FEED_LIMIT_MS);
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
