// The admin API on embedded PGlite: the shared contract (testcontract.ts), plus the
// sessions view against the engine's real control server (internal/relay/http.ts); the
// relay-wide view over several replicas is internal/relay/relay-wide.test.ts.
// One PGlite instance for the file (3-5 s and ~750 MB each, NOTES.md).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlServer } from '../relay/http.ts';
import type { SessionTable } from '../relay/sessions.ts';
import { openStore } from '../store/open.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { adminContract, client, type AdminSubject } from './testcontract.ts';
import { buildAdminApp } from './app.ts';
import { startFakeEngine } from './testengine.ts';

const logger = createLogger({ name: 'admin-test', level: 'silent', env: {} });

describe('admin API on PGlite', () => {
  let dir: string;
  let subject: AdminSubject;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'admin-pglite-'));
    const store = await openStore({ dataDir: join(dir, 'pglite'), logger });
    const engine = await startFakeEngine();
    const bootstrap = 'bootstrap-token-for-tests-0123456789';
    const app = await buildAdminApp({ store, logger, metrics: createMetrics({ defaultMetrics: false }), bootstrapToken: bootstrap, engineUrl: engine.url });
    await app.ready();
    subject = { app, store, engine, bootstrap };
  });
  after(async () => {
    await subject?.app.close();
    await subject?.engine.close();
    await subject?.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  adminContract(() => subject);

  it('lists and deletes sessions through the engine\'s real control server', async () => {
    const sessions = new Map([['r0-abc', {
      id: 'r0-abc', uri: 'msrps://relay.example.com:2855/r0-abc;tcp', user: 'alice', realm: 'example.com',
      connection: { id: 'c1', remoteAddress: '10.1.2.3', remotePort: 40000 }, createdAt: 0, expiresAt: 3_600_000, bytesForwarded: 7,
    }]]);
    const table = { all: () => sessions.values(), remove: (id: string) => (sessions.delete(id) ? {} : undefined) } as unknown as SessionTable;
    const control = await startControlServer('127.0.0.1', 0, table);
    const app = await buildAdminApp({ store: subject.store, logger, metrics: createMetrics({ defaultMetrics: false }), bootstrapToken: 'b', engineUrl: `http://127.0.0.1:${control.address.port}`, listenForChanges: false });
    try {
      const call = client(() => ({ ...subject, app, bootstrap: 'b' }));
      const list = await call('GET', '/v1/sessions');
      assert.equal(list.status, 200, list.body);
      assert.deepEqual(list.json['items'], [{
        id: 'r0-abc', uri: 'msrps://relay.example.com:2855/r0-abc;tcp', user: 'alice', realm: 'example.com', connection: 'c1',
        peer: '10.1.2.3:40000', createdAt: '1970-01-01T00:00:00.000Z', expiresAt: '1970-01-01T01:00:00.000Z', bytesForwarded: 7,
      }]);
      assert.equal((await call('DELETE', '/v1/sessions/r0-abc')).status, 204);
      assert.equal((await call('DELETE', '/v1/sessions/r0-abc')).status, 404);
      await new Promise<void>((r) => control.server.close(() => r()));
      // The engine gone, the list still comes from the database (relay-wide; none here).
      const down = await call('GET', '/v1/sessions');
      assert.equal(down.status, 200, down.body);
      assert.deepEqual(down.json, { items: [], scope: 'relay' });
      assert.equal((await call('DELETE', '/v1/rooms/lobby/participants/p1')).json['type'], 'https://msrp.dev/problems/engine-unavailable');
    } finally {
      await app.close();
    }
  });
});
