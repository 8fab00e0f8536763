// openStore: PostgreSQL when a URL is given (Kubernetes), else embedded PGlite
// (`npm start`, tests). Migrations run before the store is handed out.
import type { Logger } from 'pino';
import { openPglite } from './db-pglite.ts';
import { openPostgres } from './db-postgres.ts';
import type { Db } from './db.ts';
import { toStoreError } from './errors.ts';
import { migrate } from './migrate.ts';
import { readSecretKey } from './secret.ts';
import { createSqlStore, type Store } from './store.ts';

export const DEFAULT_PGLITE_DIR = './data/pglite';

export interface OpenStoreOptions {
  url?: string | undefined;
  dataDir?: string | undefined;
  secretKeyFile?: string | undefined;
  sslCaFile?: string | undefined;
  statementTimeoutMs?: number;
  poolMax?: number;
  logger: Logger;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const logger = options.logger.child({ component: 'store' });
  const secretKey = options.secretKeyFile ? readSecretKey(options.secretKeyFile) : undefined;
  let db: Db;
  try {
    db = options.url
      ? openPostgres({ url: options.url, sslCaFile: options.sslCaFile, statementTimeoutMs: options.statementTimeoutMs ?? 5000, poolMax: options.poolMax ?? 10, logger })
      : await openPglite(options.dataDir ?? DEFAULT_PGLITE_DIR);
  } catch (e) {
    throw toStoreError(e, 'open database');
  }
  try {
    const applied = await migrate(db, logger);
    logger.info({ kind: db.kind, applied }, 'store ready');
  } catch (e) {
    await db.close().catch(() => undefined);
    throw toStoreError(e, 'migrate');
  }
  return createSqlStore(db, secretKey);
}
