// admin: the Fastify sidecar (docs/architecture.md §1.1). Wiring only: config, store, app, signals.
//
//   admin [--config FILE]        environment: MSRP_ADMIN_<SECTION>__<KEY> (internal/config/admin.ts)
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildAdminApp, setAdminCertificate } from '../internal/admin/app.ts';
import { createTokenReviewer } from '../internal/admin/tokenreview.ts';
import { loadAdminConfig, watchFile, type FileWatcher } from '../internal/config/index.ts';
import { openStore } from '../internal/store/index.ts';
import { createLogger } from '../internal/telemetry/logger.ts';
import { createMetrics } from '../internal/telemetry/metrics.ts';

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } } });
  const c = loadAdminConfig({ file: values.config, env: process.env });
  const logger = createLogger({ name: 'admin', level: c.log.level, pretty: c.log.pretty });
  const store = await openStore({
    url: c.database.url, dataDir: c.database.dataDir, secretKeyFile: c.database.secretKeyFile, sslCaFile: c.database.sslCaFile,
    previousSecretKeyFiles: c.database.previousSecretKeyFiles, passwordStorage: c.database.passwordStorage,
    statementTimeoutMs: c.database.statementTimeoutMs, poolMax: c.database.poolMax, logger,
  });
  const tokenFile = c.auth.bootstrapTokenFile;
  let bootstrapToken = tokenFile !== undefined ? readFileSync(tokenFile, 'utf8').trim() : undefined;
  if (bootstrapToken === undefined) logger.warn('no auth.bootstrapTokenFile: only tokens already in the database are accepted');
  // A rotated Secret reaches the mounted file (the kubelet's ..data swap): the new token works,
  // the old one stops working, without a restart. An unreadable file keeps the token we have.
  let tokenWatch: FileWatcher | undefined;
  if (tokenFile !== undefined) {
    tokenWatch = await watchFile({
      file: tokenFile,
      onChange(text) {
        bootstrapToken = text.trim();
        logger.info({ file: tokenFile, empty: bootstrapToken === '' }, 'bootstrap token file changed: the new token applies now');
      },
      onError(err) {
        logger.warn({ err, file: tokenFile }, 'bootstrap token file not readable: the last token read stays');
      },
    });
  }
  const tr = c.auth.tokenReview;
  const tokenReview = tr.enabled
    ? createTokenReviewer({
      apiServer: tr.apiServer, tokenFile: tr.tokenFile, audiences: tr.audiences, serviceAccounts: tr.serviceAccounts,
      caPem: existsSync(tr.caFile) ? readFileSync(tr.caFile, 'utf8') : undefined,
    })
    : undefined;
  const tls = c.http.tls;
  const readTls = () => (tls === undefined ? undefined : { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) });
  const https = readTls();
  const app = await buildAdminApp({
    ...(https === undefined ? {} : { https }),
    store, logger, metrics: createMetrics(), bootstrapToken: () => bootstrapToken, tokenReview, engineUrl: c.engine.controlUrl,
    liveStaleAfterSec: c.sessions.staleAfterSec, sessionDeleteWaitMs: c.sessions.deleteWaitMs,
    engineTimeoutMs: c.engine.timeoutMs, bodyLimit: c.http.bodyLimitBytes, tokenCacheTtlMs: c.auth.tokenCacheTtlMs,
  });
  const address = await app.listen({ host: c.http.host, port: c.http.port });
  logger.info({ address, database: store.kind, tls: tls !== undefined }, 'admin API listening');
  // A renewed certificate (the kubelet swaps the mounted Secret) applies to new connections.
  const certWatch = tls === undefined ? undefined : await watchFile({
    file: tls.certFile,
    onChange() {
      try {
        setAdminCertificate(app, readTls()!);
        logger.info({ file: tls.certFile }, 'admin certificate reloaded');
      } catch (err) {
        logger.warn({ err, file: tls.certFile }, 'admin certificate not reloaded: the last one stays');
      }
    },
    onError(err) {
      logger.warn({ err, file: tls.certFile }, 'admin certificate file not readable: the last one stays');
    },
  });

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    tokenWatch?.close();
    certWatch?.close();
    void app.close().then(() => store.close()).then(() => process.exit(0), (err: unknown) => {
      logger.error({ err }, 'stop failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`admin: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
