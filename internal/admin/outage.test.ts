// The database stops in the middle: the admin API answers 503 problem+json
// (database-unavailable) and /readyz fails, /healthz still answers; after the server
// is back the same app (not restarted) serves again. Runs its own throwaway PostgreSQL
// (e2e/postgres/start.sh) so that stopping it disturbs nobody.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { portOpen, sleep, startThrowawayPostgres, throwawayPostgresSkip, type ThrowawayPostgres } from '../../e2e/postgres/throwaway.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { client, type AdminSubject } from './testcontract.ts';
import { buildAdminApp, type AdminApp } from './app.ts';
import { startFakeEngine, type FakeEngine } from './testengine.ts';

const skip = throwawayPostgresSkip();
const logger = createLogger({ name: 'outage-test', level: 'silent', env: {} });

describe('admin API while the database goes away and comes back', { skip, timeout: 120_000 }, () => {
  let pg: ThrowawayPostgres | undefined;
  let store: Store;
  let app: AdminApp;
  let engine: FakeEngine;
  let subject: AdminSubject;
  const call = client(() => subject);

  before(async () => {
    pg = startThrowawayPostgres();
    store = await openStore({ url: pg.url, logger, statementTimeoutMs: 2000 });
    engine = await startFakeEngine();
    app = await buildAdminApp({ store, logger, metrics: createMetrics({ defaultMetrics: false }), bootstrapToken: 'outage', engineUrl: engine.url });
    await app.ready();
    subject = { app, store, engine, bootstrap: 'outage' };
  });
  after(async () => {
    await app?.close();
    await engine?.close();
    await store?.close();
    await pg?.remove();
  });

  it('answers 503 database-unavailable during the outage and recovers without a restart', async () => {
    assert.equal((await call('PUT', '/v1/rooms/before', { body: { uri: 'sip:before@example.com' } })).status, 201);

    await pg!.stop();
    assert.equal(await portOpen(pg!.port), false, 'postgres stopped');

    const started = Date.now();
    for (const [method, url, body] of [['GET', '/v1/rooms/before'], ['PUT', '/v1/rooms/during', { uri: 'sip:during@example.com' }], ['GET', '/v1/realms'], ['GET', '/readyz']] as const) {
      const r = await call(method, url, body ? { body } : {});
      assert.equal(r.status, 503, `${method} ${url}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
      assert.equal(r.json['type'], 'https://msrp.dev/problems/database-unavailable');
      assert.ok(!/127\.0\.0\.1|ECONNREFUSED/.test(r.body), 'no driver details leak');
    }
    assert.ok(Date.now() - started < 20_000, 'failures are quick, not hanging');
    assert.equal((await call('GET', '/healthz', { token: null })).status, 200);
    // The bootstrap token needs no database: the live view still works.
    assert.equal((await call('GET', '/v1/sessions')).status, 200);

    pg!.restart();

    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = (await call('GET', '/readyz', { token: null })).status;
      if (ready !== 200) await sleep(100);
    }
    assert.equal(ready, 200, 'ready again after the restart');
    assert.equal((await call('GET', '/v1/rooms/before')).json['generation'], 1);
    assert.equal((await call('PUT', '/v1/rooms/after', { body: { uri: 'sip:after@example.com' } })).status, 201);
    const m = await call('GET', '/metrics', { token: null });
    assert.match(m.body, /msrp_admin_requests_total\{method="GET",route="\/readyz",status="503"\} [1-9]/);
  });
});
