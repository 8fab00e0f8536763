// SQL migrations: internal/store/migrations/NNN_name.sql, applied in order at start.
// Several replicas may start at once: everything runs while holding a session-level
// pg_advisory_lock on one connection, so exactly one applies each migration and the
// others wait, then find nothing left to do. Each migration runs in its own transaction
// together with its schema_migrations row. A changed file that was already applied is
// refused: migrations are append-only.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';

/** Arbitrary but fixed: bigint key of our advisory lock ("msrp" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x6d737270;
export const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) continue;
    const sql = readFileSync(join(dir, file), 'utf8');
    out.push({ version: Number(m[1]), name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new StoreError('migration', `migrations must be numbered 001, 002, ... without gaps; found ${m.version} at position ${i + 1}`);
  });
  return out;
}

/** Applies pending migrations; returns the versions this call applied. */
export async function migrate(db: Db, logger: Logger, migrations: Migration[] = readMigrations()): Promise<number[]> {
  return db.session(async (s) => {
    await s.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await s.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const applied = new Map(
        (await s.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations')).rows.map((r) => [r.version, r.checksum]),
      );
      const done: number[] = [];
      for (const m of migrations) {
        const seen = applied.get(m.version);
        if (seen !== undefined) {
          if (seen !== m.checksum) throw new StoreError('migration', `migration ${m.version}_${m.name} changed after it was applied`);
          continue;
        }
        await s.transaction(async (tx) => {
          await tx.exec(m.sql);
          await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        });
        logger.info({ version: m.version, name: m.name }, 'migration applied');
        done.push(m.version);
      }
      return done;
    } finally {
      await s.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  });
}
