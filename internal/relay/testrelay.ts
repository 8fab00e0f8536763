// Test support: a relay on loopback with TLS from testcerts.ts and an in-memory
// CredentialSource holding real HA1 digests (the same interface the store implements).
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { Counter } from 'prom-client';
import { ha1 } from '../auth/digest.ts';
import type { GuessLimiter } from '../auth/guesses.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { testPki, type TestCertDir } from '../transport/testcerts.ts';
import type { CredentialSource } from './auth-handler.ts';
import type { LiveSessionRegistry } from './live-sessions.ts';
import { defaultRelayOptions, type RelayOptions } from './options.ts';
import { startRelay, type RunningRelay } from './relay.ts';

export class MemoryCredentials implements CredentialSource {
  readonly #users = new Map<string, { ha1Md5: string; ha1Sha256: string; disabled: boolean }>();
  lookups = 0;

  add(realm: string, username: string, password: string, disabled = false): this {
    this.#users.set(`${realm}\u0000${username}`, {
      ha1Md5: ha1('MD5', username, realm, password),
      ha1Sha256: ha1('SHA-256', username, realm, password),
      disabled,
    });
    return this;
  }

  lookup(realm: string, username: string): Promise<{ ha1Md5: string; ha1Sha256: string; disabled: boolean } | undefined> {
    this.lookups++;
    return Promise.resolve(this.#users.get(`${realm}\u0000${username}`));
  }
}

export interface TestRelay {
  relay: RunningRelay;
  port: number;
  ca: string;
  credentials: MemoryCredentials;
}

export interface TestRelayDeps {
  logger?: Logger;
  metrics?: Metrics;
  guesses?: GuessLimiter;
  liveSessions?: LiveSessionRegistry;
}

export async function startTestRelay(overrides: Partial<RelayOptions> = {}, certs?: TestCertDir, deps: TestRelayDeps = {}): Promise<TestRelay> {
  const pki = await testPki();
  const credentials = new MemoryCredentials().add('example.test', 'alice', 'alice-pw').add('example.test', 'bob', 'bob-pw');
  const o = defaultRelayOptions({
    publicHost: '127.0.0.1',
    nonceSecret: randomBytes(32),
    listeners: [{ hosts: ['127.0.0.1'], port: 0, tls: true }],
    tlsDir: (certs ?? pki.server).dir,
    realms: { default: 'example.test', byHost: [] },
    nextHops: { allow: [{ host: '127.0.0.1' }, { host: 'localhost' }], allowPrivate: true, connectTimeoutMs: 2000 },
    ...overrides,
  });
  const logger = deps.logger ?? pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  const relay = await startRelay(o, {
    credentials, logger, metrics: deps.metrics ?? createMetrics({ defaultMetrics: false }),
    ...(deps.liveSessions !== undefined ? { liveSessions: deps.liveSessions } : {}),
    ...(deps.guesses !== undefined ? { guesses: deps.guesses } : {}),
  });
  return { relay, port: relay.addresses[0]!.port, ca: pki.caPem, credentials };
}

export interface TestMeshReplica extends TestRelay {
  ordinal: number;
}

/**
 * `n` replicas of one relay in this process (docs/relay.md "Scale-out"): they share the public
 * URI msrps://relay.msrp.test:2855;tcp (a certificate naming it, pki.named) while each listens
 * for clients on its own loopback port, and replica k listens for the mesh on 127.0.1.k:port,
 * as pod k behind the headless Service would.
 */
export async function startTestMesh(n: number, overrides: Partial<RelayOptions> = {}, depsOf: (ordinal: number) => TestRelayDeps = () => ({})): Promise<{ replicas: TestMeshReplica[]; uri: string; meshPort: number }> {
  const pki = await testPki();
  const meshPort = await freePort('127.0.1.0');
  const replicas: TestMeshReplica[] = [];
  for (let k = 0; k < n; k++) {
    const r = await startTestRelay({
      publicHost: PUBLIC_HOST,
      publicPort: 2855,
      realms: { default: 'example.test', byHost: [{ host: PUBLIC_HOST, realm: 'example.test' }] },
      sessionIdPrefix: `r${k}-`,
      mesh: { ordinal: k, peerHost: '127.0.1.{ordinal}', port: meshPort, listenHosts: [`127.0.1.${k}`], tlsDir: pki.mesh.dir, connectTimeoutMs: 2000 },
      ...overrides,
    }, pki.named, depsOf(k));
    replicas.push({ ...r, ordinal: k });
  }
  return { replicas, uri: `msrps://${PUBLIC_HOST}:2855;tcp`, meshPort };
}

const PUBLIC_HOST = 'relay.msrp.test';

/** A port free on `host` a moment ago (the mesh needs one port for every replica address). */
export async function freePort(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((resolve, reject) => s.listen(0, host, resolve).once('error', reject));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** The sum of a counter's values whose labels include `labels`. */
export async function count<L extends string>(c: Counter<L>, labels: Partial<Record<L, string>>): Promise<number> {
  const { values } = await c.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k as L] === x)).reduce((n, v) => n + v.value, 0);
}

/** Shared by every internal/ test (internal/testwait.ts); re-exported for the relay's tests. */
export { eventually } from '../testwait.ts';
