// The audit log: who changed what and when, newest first. Append-only: nothing in the
// code updates or deletes its rows.
import type { Db } from './db.ts';
import { pageOf, type Page, type PageRequest } from './page.ts';

export interface AuditEntry {
  id: number;
  at: Date;
  /** Who: `token:<id>`, `bootstrap`, `serviceaccount:<ns>/<name>`. */
  actor: string;
  /** What was done: `realm.create`, `room.update`, `token.revoke`, ... */
  action: string;
  /** The API path of the object, e.g. `/v1/rooms/lobby`. */
  resource: string;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  actor?: string | undefined;
  /** Resources that start with this path. */
  resource?: string | undefined;
  action?: string | undefined;
}

export interface AuditLog {
  record(e: { actor: string; action: string; resource: string; details?: Record<string, unknown> }): Promise<void>;
  /** Newest first; `after` is the id of the last entry of the previous page. */
  list(filter: AuditFilter, page: PageRequest<number>): Promise<Page<AuditEntry, number>>;
}

interface AuditRow { id: string | number; at: Date; actor: string; action: string; resource: string; details: Record<string, unknown> }

export function createAuditLog(db: Db, run: <T>(what: string, fn: () => Promise<T>) => Promise<T>): AuditLog {
  return {
    record: (e) => run('audit', async () => {
      await db.query('INSERT INTO audit_log (actor, action, resource, details) VALUES ($1, $2, $3, $4::jsonb)',
        [e.actor, e.action, e.resource, JSON.stringify(e.details ?? {})]);
    }),
    list: (filter, page) => run('audit', async () => {
      const r = await db.query<AuditRow>(
        `SELECT id, at, actor, action, resource, details FROM audit_log
          WHERE ($1::bigint IS NULL OR id < $1) AND ($2::text IS NULL OR actor = $2)
            AND ($3::text IS NULL OR left(resource, length($3)) = $3) AND ($4::text IS NULL OR action = $4)
          ORDER BY id DESC LIMIT $5`,
        [page.after ?? null, filter.actor ?? null, filter.resource ?? null, filter.action ?? null, page.limit + 1]);
      const items = r.rows.map((x) => ({ ...x, id: Number(x.id) }));
      return pageOf(items, page.limit, (x) => x.id);
    }),
  };
}
