// Test support: the admin app on a given store, called in-process (app.inject) with a
// bootstrap token. Tests of other folders (the relay's change-feed and outage tests) write
// through it; test helpers of those folders do not import the admin app themselves
// (docs/architecture.md §2.2).
import type { Logger } from 'pino';
import type { Store } from '../store/store.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { buildAdminApp, type AdminApp } from './app.ts';

export const TEST_ADMIN_TOKEN = 'store-relay-test';

export interface TestAdmin {
  app: AdminApp;
  /** A request to the admin app with the bootstrap token. */
  call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; headers: Record<string, unknown>; body: string }>;
  close(): Promise<void>;
}

export async function startTestAdmin(store: Store, logger: Logger): Promise<TestAdmin> {
  const app = await buildAdminApp({ store, logger, metrics: createMetrics({ defaultMetrics: false }), bootstrapToken: TEST_ADMIN_TOKEN });
  await app.ready();
  return {
    app,
    async call(method, url, body) {
      const r = await app.inject({
        method, url, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      return { status: r.statusCode, headers: r.headers, body: r.body };
    },
    close: () => app.close(),
  };
}
