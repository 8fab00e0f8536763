// openStore: PostgreSQL when a URL is given (Kubernetes), else embedded PGlite
// (`npm start`, tests). Migrations run before the store is handed out.
import type { Logger } from 'pino';
import { openPglite } from './db-pglite.ts';
import { openPostgres } from './db-postgres.ts';
import type { Db } from './db.ts';
import { StoreError, toStoreError } from './errors.ts';
import { migrate } from './migrate.ts';
import { readSecretKey } from './secret.ts';
import { createSqlStore, listenChanges, type ChangeEvent, type PasswordStorage, type Store } from './store.ts';
import { openSubscriberSource, type SubscriberSource, type SubscriberTable } from './subscribers.ts';

export const DEFAULT_PGLITE_DIR = './data/pglite';

export interface OpenStoreOptions {
  url?: string | undefined;
  dataDir?: string | undefined;
  secretKeyFile?: string | undefined;
  /** Older keys, still read (key rotation); see Store.rotateSecretKey. */
  previousSecretKeyFiles?: readonly string[] | undefined;
  /** `ha1` (default) or `encrypted` (needs secretKeyFile). */
  passwordStorage?: PasswordStorage | undefined;
  sslCaFile?: string | undefined;
  statementTimeoutMs?: number;
  poolMax?: number;
  logger: Logger;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const logger = options.logger.child({ component: 'store' });
  const secretKey = options.secretKeyFile ? readSecretKey(options.secretKeyFile) : undefined;
  const previousKeys = (options.previousSecretKeyFiles ?? []).map(readSecretKey);
  const passwordStorage = options.passwordStorage ?? 'ha1';
  if (passwordStorage === 'encrypted' && secretKey === undefined) {
    throw new StoreError('invalid', 'passwordStorage "encrypted" needs a secret key file (database.secretKeyFile)');
  }
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
  return createSqlStore(db, { key: secretKey, previousKeys, passwordStorage });
}

export interface SubscriberDatabase {
  readonly source: SubscriberSource;
  /** One round trip to that database (SELECT 1): the credential health check of `mode: instead`. */
  ping(): Promise<void>;
  /** The change feed of that database (the trigger of docs/relay.md "Existing subscriber tables"). */
  listen(onChange: (event: ChangeEvent) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * A subscriber table in another PostgreSQL database (the SIP proxy's): its own small pool on
 * which every transaction is read-only, so the server itself refuses any write.
 */
export async function openSubscriberDatabase(o: { url: string; sslCaFile?: string | undefined; spec: SubscriberTable; logger: Logger }): Promise<SubscriberDatabase> {
  const logger = o.logger.child({ component: 'subscribers' });
  const db = openPostgres({ url: o.url, sslCaFile: o.sslCaFile, poolMax: 4, readOnly: true, logger });
  try {
    return {
      source: await openSubscriberSource(db, o.spec),
      ping: async () => {
        try {
          await db.query('SELECT 1');
        } catch (e) {
          throw toStoreError(e, `ping subscriber database`);
        }
      },
      listen: (onChange) => listenChanges(db, onChange),
      close: () => db.close(),
    };
  } catch (e) {
    await db.close().catch(() => undefined);
    throw toStoreError(e, `subscriber table ${o.spec.table}`);
  }
}
