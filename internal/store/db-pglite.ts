// PGlite: embedded PostgreSQL (WASM) for `npm start` and tests. One connection per
// instance; a data folder is opened by one process only. LISTEN/NOTIFY works inside the
// instance (NOTES.md), which is all a single-process deployment needs.
import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Db, Rows, Session } from './db.ts';

function txSession(tx: Transaction): Session {
  return {
    query: async <T>(sql: string, params: unknown[] = []) => {
      const r = await tx.query<T>(sql, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    exec: async (sql) => {
      await tx.exec(sql);
    },
    transaction: (fn) => fn(txSession(tx)), // already inside one
  };
}

export async function openPglite(dataDir: string): Promise<Db> {
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const pg = await PGlite.create(dataDir);
  const db: Db = {
    kind: 'pglite',
    async query<T>(sql: string, params: unknown[] = []): Promise<Rows<T>> {
      const r = await pg.query<T>(sql, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql) {
      await pg.exec(sql);
    },
    transaction: (fn) => pg.transaction((tx) => fn(txSession(tx))),
    // A single connection: the instance itself is the session.
    session: (fn) => fn(db),
    async listen(channel, onPayload, _onResync) {
      const unlisten = await pg.listen(channel, onPayload);
      return () => unlisten();
    },
    poolStats: () => undefined,
    close: () => pg.close(),
  };
  return db;
}
