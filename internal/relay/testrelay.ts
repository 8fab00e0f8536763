// Test support: a relay on loopback with TLS from testcerts.ts and an in-memory
// CredentialSource holding real HA1 digests (the same interface the store implements).
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { ha1 } from '../auth/digest.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { testPki, type TestCertDir } from '../transport/testcerts.ts';
import type { CredentialSource } from './auth-handler.ts';
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

export async function startTestRelay(overrides: Partial<RelayOptions> = {}, certs?: TestCertDir, deps: { logger?: Logger } = {}): Promise<TestRelay> {
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
  const relay = await startRelay(o, { credentials, logger, metrics: createMetrics({ defaultMetrics: false }) });
  return { relay, port: relay.addresses[0]!.port, ca: pki.caPem, credentials };
}
