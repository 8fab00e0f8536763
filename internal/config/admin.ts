// The admin sidecar (cmd/admin.ts) configuration schema. Load with
//   loadAdminConfig({ file, env: process.env })     // env prefix MSRP_ADMIN_
// e.g. MSRP_ADMIN_DATABASE__URL, MSRP_ADMIN_AUTH__BOOTSTRAP_TOKEN_FILE.
import Type, { type Static } from 'typebox';
import { ConfigError } from './errors.ts';
import { loadConfig, type LoadOptions } from './loader.ts';

const strict = { additionalProperties: false } as const;
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export const AdminConfigSchema = Type.Object({
  http: Type.Object({
    host: Type.String({ default: '0.0.0.0', description: 'Address the admin API binds.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'Port of the admin API, /docs, /metrics, /healthz and /readyz. 0 picks a free port.' }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 65536, description: 'Largest request body; larger ones get 413.' }),
    tls: Type.Optional(Type.Object({
      certFile: Type.String({ minLength: 1, description: 'Certificate chain (PEM) the admin API serves; watched, a renewed file applies to new connections.' }),
      keyFile: Type.String({ minLength: 1, description: 'Its private key (PEM).' }),
    }, { ...strict, description: 'Serve HTTPS (TLS 1.2+) instead of HTTP (docs/security.md "Admin API"). The operator renders it with the relay\'s operator-issued certificate.' })),
  }, { ...strict, default: {}, description: 'HTTP server.' }),

  database: Type.Object({
    url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL connection URL. When absent the embedded PGlite database in `dataDir` is used.' })),
    dataDir: Type.String({ default: './data/pglite', description: 'PGlite data folder (single-process use only).' }),
    sslCaFile: Type.Optional(Type.String({ description: 'CA bundle to verify the PostgreSQL server certificate; enables TLS.' })),
    statementTimeoutMs: Type.Integer({ minimum: 0, default: 5000, description: 'PostgreSQL statement_timeout for every connection; 0 = none.' }),
    poolMax: Type.Integer({ minimum: 1, default: 10, description: 'Largest number of pooled PostgreSQL connections.' }),
    passwordStorage: Type.Enum(['ha1', 'encrypted'], { default: 'ha1', description: '`ha1` (digests only) or `encrypted` (digests plus the password sealed with AES-256-GCM under secretKeyFile); as the engine\'s database.passwordStorage.' }),
    secretKeyFile: Type.Optional(Type.String({ description: 'File with a 32-byte key that seals passwords (AES-256-GCM); as the engine. Required by `encrypted`.' })),
    previousSecretKeyFiles: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Older keys still read after a rotation (POST /v1/password-storage/rotate re-seals with secretKeyFile).' }),
  }, { ...strict, default: {}, description: 'Where realms, users, rooms, tokens and the audit log live.' }),

  auth: Type.Object({
    bootstrapTokenFile: Type.Optional(Type.String({ description: 'File with the bootstrap admin token (a mounted Kubernetes Secret). It always has the admin role and works while the database is down.' })),
    tokenCacheTtlMs: Type.Integer({ minimum: 0, default: 5000, description: 'How long a verified stored token is trusted without a database lookup. Revocations through the change feed apply at once.' }),
    tokenReview: Type.Object({
      enabled: Type.Boolean({ default: false, description: 'Accept Kubernetes ServiceAccount tokens, verified with the TokenReview API.' }),
      apiServer: Type.String({ default: 'https://kubernetes.default.svc', description: 'Kubernetes API server URL.' }),
      caFile: Type.String({ default: `${SA_DIR}/ca.crt`, description: 'CA bundle of the API server.' }),
      tokenFile: Type.String({ default: `${SA_DIR}/token`, description: 'Token the admin calls the API server with (needs create on tokenreviews). Re-read on each call.' }),
      audiences: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Audiences presented tokens must carry; the API server default when empty.' }),
      serviceAccounts: Type.Array(Type.Object({
        namespace: Type.String({ minLength: 1 }),
        name: Type.String({ minLength: 1 }),
        role: Type.Enum(['admin', 'read-only']),
      }, strict), { default: [], description: 'ServiceAccounts allowed in, with their role. Everyone else gets 401.' }),
    }, { ...strict, default: {} }),
  }, { ...strict, default: {}, description: 'Who may call the API.' }),

  engine: Type.Object({
    controlUrl: Type.String({ default: 'http://127.0.0.1:9091', pattern: '^https?://', description: 'Engine control endpoint (same pod, loopback) for live sessions and participants.' }),
    timeoutMs: Type.Integer({ minimum: 100, default: 3000, description: 'Connect and answer timeout towards the engine.' }),
  }, { ...strict, default: {}, description: 'The engine in the same pod.' }),

  sessions: Type.Object({
    staleAfterSec: Type.Integer({ minimum: 2, default: 30, description: 'Relay sessions of a replica whose heartbeat is older than this are not listed nor deletable; keep it equal to the engine\'s liveSessions.staleAfterSec.' }),
    deleteWaitMs: Type.Integer({ minimum: 0, default: 3000, description: 'How long DELETE /v1/sessions/:id waits for another replica to close the session before answering 202.' }),
  }, { ...strict, default: {}, description: 'The relay-wide session list (docs/relay.md "Relay-wide limits and views").' }),

  log: Type.Object({
    level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'Least severe level written. `LOG_LEVEL` overrides it.' }),
    pretty: Type.Boolean({ default: false, description: 'Human-readable lines instead of JSON.' }),
  }, { ...strict, default: {}, description: 'Logging.' }),
}, { ...strict, description: 'admin sidecar configuration.' });

export type AdminConfig = Static<typeof AdminConfigSchema>;

export function loadAdminConfig(options: Omit<LoadOptions, 'envPrefix'> = {}): AdminConfig {
  const config = loadConfig(AdminConfigSchema, { ...options, envPrefix: 'MSRP_ADMIN_' });
  if (config.database.passwordStorage === 'encrypted' && config.database.secretKeyFile === undefined) {
    throw new ConfigError('config-invalid', [{ path: 'database.secretKeyFile', message: 'is required by database.passwordStorage: encrypted' }]);
  }
  const t = config.auth.tokenReview;
  if (t.enabled && t.serviceAccounts.length === 0) {
    throw new ConfigError('config-invalid', [{ path: 'auth.tokenReview.serviceAccounts', message: 'must name at least one ServiceAccount when tokenReview is enabled' }]);
  }
  return config;
}
