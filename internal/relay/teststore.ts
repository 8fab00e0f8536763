// Test support: a relay on loopback (TLS from testcerts.ts) whose AUTH credentials come
// from a real Store through connectStoreCredentials, the engine's own wiring (cache,
// change feed, health), with the probe/metrics port on. Writes through the admin API come
// from internal/admin/testadmin.ts in the tests themselves: a relay helper does not import
// the admin app (docs/architecture.md §2.2).
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { Store } from '../store/store.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { testPki } from '../transport/testcerts.ts';
import { connectStoreCredentials, type StoreCredentials } from './credential-cache.ts';
import { defaultRelayOptions } from './options.ts';
import { startRelay, type RunningRelay } from './relay.ts';
import { TestClient } from './testclient.ts';

export interface StoreRelay {
  relay: RunningRelay;
  port: number;
  ca: string;
  wiring: StoreCredentials;
  /** GET on the probe port; returns status and body text. */
  probe(path: string): Promise<{ status: number; body: string }>;
  /** AUTH on a fresh connection; returns the final status (and closes the connection). */
  authStatus(realmUser: string, password: string): Promise<number>;
  close(): Promise<void>;
}

export async function startStoreRelay(store: Store, realm: string, o: { ttlMs?: number; pingIntervalMs?: number } = {}): Promise<StoreRelay> {
  const pki = await testPki();
  const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const wiring = await connectStoreCredentials(store, { metrics, logger, ttlMs: o.ttlMs ?? 60_000, pingIntervalMs: o.pingIntervalMs ?? 250 });
  const relay = await startRelay(defaultRelayOptions({
    publicHost: '127.0.0.1',
    nonceSecret: randomBytes(32),
    listeners: [{ hosts: ['127.0.0.1'], port: 0, tls: true }],
    tlsDir: pki.server.dir,
    realms: { default: realm, byHost: [] },
    nextHops: { allow: [{ host: '127.0.0.1' }], allowPrivate: true, connectTimeoutMs: 2000 },
    http: { host: '127.0.0.1', port: 0 },
  }), { credentials: wiring.credentials, logger, metrics, storeHealth: wiring.health });
  const port = relay.addresses[0]!.port;
  return {
    relay, port, ca: pki.caPem, wiring,
    async probe(path) {
      const r = await fetch(`http://127.0.0.1:${relay.http!.port}${path}`);
      return { status: r.status, body: await r.text() };
    },
    async authStatus(user, password) {
      const c = await TestClient.connect({ port, ca: pki.caPem });
      try {
        return (await c.auth(relay.uri, user, password)).status;
      } finally {
        c.close();
      }
    },
    async close() {
      await relay.stop();
      await wiring.close();
    },
  };
}

/** Polls `f` until it returns `want` or `limitMs` passes; returns the elapsed ms and the last value. */
export async function pollUntil<T>(f: () => Promise<T>, want: T, limitMs: number, everyMs = 20): Promise<{ ms: number; last: T }> {
  const started = performance.now();
  let last = await f();
  while (last !== want && performance.now() - started < limitMs) {
    await new Promise((r) => setTimeout(r, everyMs));
    last = await f();
  }
  return { ms: performance.now() - started, last };
}
