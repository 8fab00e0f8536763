// The database stops in the middle (admin-API issue, requirements b and c): the engine
// keeps authenticating the users it has cached and says the database is down in /readyz
// (still 200: see docs/relay.md, "Database outages") and in metrics; a user it has no copy
// of gets 403 "credentials unavailable" (MSRP has no 5xx), without counting as a failed
// attempt; the admin app on the same database answers 503 problem+json. After the server
// is back, both recover by themselves, and a password change applies within 1 s again
// through the re-established LISTEN. Runs its own throwaway PostgreSQL
// (e2e/postgres/start.sh), the approach of internal/admin/outage.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { portOpen, sleep, startThrowawayPostgres, throwawayPostgresSkip, type ThrowawayPostgres } from '../../e2e/postgres/throwaway.ts';
import { startTestAdmin, type TestAdmin } from '../admin/testadmin.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { createLogger } from '../telemetry/logger.ts';
import { TestClient } from './testclient.ts';
import { pollUntil, startStoreRelay, type StoreRelay } from './teststore.ts';

const skip = throwawayPostgresSkip();
const logger = createLogger({ name: 'relay-outage-test', level: 'silent', env: {} });
const metric = (text: string, name: string): number => {
  const m = new RegExp(`^${name.replace(/[{}"=]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
};

// The cache TTL is short (1.5 s) so that the AUTH during the outage takes the fallback path
// (entry expired, database unreachable); the change after the restart still has to apply
// faster than the TTL, which only the change feed can do.
const TTL_MS = 1500;

describe('relay AUTH while the database goes away and comes back', { skip, timeout: 120_000 }, () => {
  let pg: ThrowawayPostgres | undefined;
  let store: Store;
  let r: StoreRelay;
  let admin: TestAdmin;
  const realm = 'outage.test';

  before(async () => {
    pg = startThrowawayPostgres();
    store = await openStore({ url: pg.url, logger, statementTimeoutMs: 2000 });
    await store.createRealm(realm);
    await store.createUser(realm, 'alice', 'alice-password');
    await store.createUser(realm, 'dave', 'dave-password');
    r = await startStoreRelay(store, realm, { ttlMs: TTL_MS, pingIntervalMs: 200 });
    admin = await startTestAdmin(store, logger);
  });
  after(async () => {
    await admin?.close();
    await r?.close();
    await store?.close();
    await pg?.remove();
  });

  it('keeps authenticating cached users, reports the outage, and recovers without a restart', async () => {
    assert.equal(await r.authStatus('alice', 'alice-password'), 200);
    const cachedAt = performance.now();

    await pg!.stop();
    assert.equal(await portOpen(pg!.port), false, 'postgres stopped');

    // Readiness stays 200 (the relay still serves), its body and msrp_store_up say the database is down.
    const down = await pollUntil(async () => metric((await r.probe('/metrics')).body, 'msrp_store_up'), 0, 5000, 100);
    assert.equal(down.last, 0, 'msrp_store_up 0 during the outage');
    const ready = await r.probe('/readyz');
    assert.equal(ready.status, 200, ready.body);
    const body = JSON.parse(ready.body) as { status: string; store: { up: boolean; error?: string } };
    assert.equal(body.status, 'ready');
    assert.equal(body.store.up, false);
    assert.ok(body.store.error !== undefined && body.store.error.length > 0);

    // alice's entry has expired: the database is asked no more, the last known answer is used.
    // (Waiting out a TTL is a wait on the clock itself; the fallback counter checked below
    // proves the entry had expired.)
    await sleep(Math.max(0, TTL_MS + 100 - (performance.now() - cachedAt)));
    const t0 = performance.now();
    assert.equal(await r.authStatus('alice', 'alice-password'), 200, 'cached user still authenticates');
    assert.equal(await r.authStatus('alice', 'wrong-password'), 403, 'and a wrong password is still refused');
    assert.ok(performance.now() - t0 < 2000, 'without waiting for the database');

    // dave was never looked up: 403 "credentials unavailable", not counted as a failure
    // (maxAuthFailures is 3: four on one connection and it is still open).
    const c = await TestClient.connect({ port: r.port, ca: r.ca });
    for (let i = 0; i < 4; i++) {
      const res = await c.auth(r.relay.uri, 'dave', 'dave-password');
      assert.equal(res.status, 403);
      assert.match(res.comment ?? '', /credentials unavailable/);
    }
    assert.equal((await c.auth(r.relay.uri, 'alice', 'alice-password')).status, 200, 'the connection stayed open');
    c.close();

    const metrics = (await r.probe('/metrics')).body;
    assert.ok(metric(metrics, 'msrp_auth_cache_fallback_total') >= 2, metrics);
    assert.equal(metric(metrics, 'msrp_relay_auth_total{result="credentials-unavailable"}'), 4);

    // The admin app on the same database: 503 problem+json.
    for (const [method, url] of [['GET', `/v1/realms/${realm}/users/alice`], ['PUT', `/v1/realms/${realm}/users/alice/password`]] as const) {
      const a = await admin.call(method, url, method === 'PUT' ? { password: 'during-outage' } : undefined);
      assert.equal(a.status, 503, `${method} ${url}: ${a.body}`);
      assert.match(String(a.headers['content-type']), /^application\/problem\+json/);
      assert.equal((JSON.parse(a.body) as { type: string }).type, 'https://msrp.dev/problems/database-unavailable');
    }

    // Restart the same server (same data folder and port).
    pg!.restart();

    const up = await pollUntil(async () => metric((await r.probe('/metrics')).body, 'msrp_store_up'), 1, 10_000, 100);
    assert.equal(up.last, 1, 'msrp_store_up 1 after the restart');
    assert.equal((JSON.parse((await r.probe('/readyz')).body) as { store: { up: boolean } }).store.up, true);
    const served = await pollUntil(async () => (await admin.call('GET', `/v1/realms/${realm}/users/alice`)).status, 200, 10_000, 100);
    assert.equal(served.last, 200, 'admin API serves again');
    assert.equal(await r.authStatus('dave', 'dave-password'), 200, 'uncached users authenticate again');

    // The LISTEN connection comes back by itself (backoff up to 10 s) and resyncs...
    const resynced = await pollUntil(() => Promise.resolve(r.wiring.health.snapshot().resyncs >= 1), true, 20_000, 100);
    assert.equal(resynced.last, true, 'the change feed resynced');
    // ...so a password change is pushed by the feed again: counted where the feed lands (the
    // cache's invalidate), not timed against the 1.5 s TTL, which a loaded machine would blur.
    assert.equal(await r.authStatus('alice', 'alice-password'), 200);
    const creds = r.wiring.credentials;
    const invalidate = creds.invalidate.bind(creds);
    let pushed = 0;
    creds.invalidate = (change) => {
      if (change.table === '*' || change.key.realm === realm && (change.table === 'realms' || change.key.username === 'alice')) pushed++;
      invalidate(change);
    };
    try {
      assert.equal((await admin.call('PUT', `/v1/realms/${realm}/users/alice/password`, { password: 'alice-after-outage' })).status, 204);
      const old = await pollUntil(() => r.authStatus('alice', 'alice-password'), 403, 10_000);
      assert.equal(old.last, 403, `old password still accepted after ${Math.round(old.ms)} ms`);
      assert.equal(await r.authStatus('alice', 'alice-after-outage'), 200);
      const fed = await pollUntil(() => Promise.resolve(pushed > 0), true, 10_000);
      assert.equal(fed.last, true, 'the change feed delivered the password change after the outage');
    } finally {
      creds.invalidate = invalidate;
    }
  });
});
