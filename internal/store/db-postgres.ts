// node-postgres: a Pool for queries, plus one dedicated Client for LISTEN that
// reconnects with backoff (docs/architecture.md §4.1: the engine keeps serving from cache while
// the database is briefly down, and reloads on resync).
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Db, Rows, Session } from './db.ts';

export interface PostgresOptions {
  url: string;
  /** CA bundle (PEM) to verify the server; turns TLS on. sslmode in the URL also works. */
  sslCaFile?: string | undefined;
  statementTimeoutMs?: number;
  poolMax?: number;
  /** Every transaction read-only (default_transaction_read_only): the server refuses any write. */
  readOnly?: boolean;
  logger: Logger;
}

function clientConfig(o: PostgresOptions): pg.ClientConfig {
  return {
    connectionString: o.url,
    statement_timeout: o.statementTimeoutMs ?? 5000,
    application_name: 'msrp',
    connectionTimeoutMillis: 5000,
    ...(o.readOnly === true ? { options: '-c default_transaction_read_only=on' } : {}),
    ...(o.sslCaFile ? { ssl: { ca: readFileSync(o.sslCaFile, 'utf8'), rejectUnauthorized: true } } : {}),
  };
}

function clientSession(c: pg.PoolClient | pg.Client): Session {
  const s: Session = {
    async query<T>(sql: string, params: unknown[] = []): Promise<Rows<T>> {
      const r = await c.query(sql, params);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql) {
      await c.query(sql);
    },
    async transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
      await c.query('BEGIN');
      try {
        const out = await fn(s);
        await c.query('COMMIT');
        return out;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    },
  };
  return s;
}

export function openPostgres(o: PostgresOptions): Db {
  const log = o.logger;
  const pool = new pg.Pool({ ...clientConfig(o), max: o.poolMax ?? 10, idleTimeoutMillis: 30_000 });
  // An idle client that loses its connection emits on the pool; without a handler it would crash the process.
  pool.on('error', (err) => log.warn({ err }, 'idle postgres connection failed'));
  let closed = false;
  const stoppers = new Set<() => Promise<void>>();

  const session = async <T>(fn: (s: Session) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      return await fn(clientSession(client));
    } finally {
      client.release();
    }
  };

  const db: Db = {
    kind: 'postgres',
    async query<T>(sql: string, params: unknown[] = []): Promise<Rows<T>> {
      const r = await pool.query(sql, params);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql) {
      await pool.query(sql);
    },
    transaction: (fn) => session((s) => s.transaction(fn)),
    session,
    async listen(channel, onPayload, onResync) {
      let client: pg.Client | undefined;
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      let delay = 250;
      const connect = async (isRetry: boolean): Promise<void> => {
        const c = new pg.Client({ ...clientConfig(o), statement_timeout: 0 });
        c.on('notification', (n) => {
          if (n.channel === channel && n.payload !== undefined) onPayload(n.payload);
        });
        c.on('error', (err) => {
          log.warn({ err, channel }, 'postgres LISTEN connection lost');
          retry(c);
        });
        c.on('end', () => retry(c));
        await c.connect();
        await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        client = c;
        delay = 250;
        if (isRetry) {
          log.info({ channel }, 'postgres LISTEN re-established');
          onResync();
        }
      };
      const retry = (c: pg.Client): void => {
        if (stopped || closed || client !== c || timer) return;
        client = undefined;
        c.end().catch(() => undefined);
        const attempt = (): void => {
          timer = undefined;
          if (stopped || closed) return;
          connect(true).catch((err: unknown) => {
            log.warn({ err, channel, retryInMs: delay }, 'postgres LISTEN reconnect failed');
            delay = Math.min(delay * 2, 10_000);
            timer = setTimeout(attempt, delay);
          });
        };
        timer = setTimeout(attempt, delay);
      };
      await connect(false);
      const stop = async (): Promise<void> => {
        stopped = true;
        stoppers.delete(stop);
        if (timer) clearTimeout(timer);
        const c = client;
        client = undefined;
        await c?.end().catch(() => undefined);
      };
      stoppers.add(stop);
      return stop;
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async close() {
      closed = true;
      await Promise.all([...stoppers].map((s) => s()));
      await pool.end();
    },
  };
  return db;
}
