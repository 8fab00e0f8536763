// Accounting records (migration 006): written in batches by the engine when sessions and
// chat participations end, listed newest first for the admin API, pruned by age.
import type { AccountingKind, AccountingRecord } from '../telemetry/accounting.ts';
import type { Db } from './db.ts';
import { pageOf, type Page, type PageRequest } from './page.ts';

export interface StoredAccountingRecord extends AccountingRecord {
  id: number;
}

export interface AccountingFilter {
  kind?: AccountingKind | undefined;
  realm?: string | undefined;
  username?: string | undefined;
  /** Records that ended at or after this time. */
  since?: Date | undefined;
  /** Records that ended before this time. */
  until?: Date | undefined;
}

export interface Accounting {
  insert(records: readonly AccountingRecord[]): Promise<void>;
  /** Newest first; `after` is the id of the last record of the previous page. */
  list(filter: AccountingFilter, page: PageRequest<number>): Promise<Page<StoredAccountingRecord, number>>;
  /** Deletes records that ended before `endedBefore`; returns how many. */
  prune(endedBefore: Date): Promise<number>;
}

interface Row {
  id: string; kind: AccountingKind; session_id: string; realm: string; username: string; source: string; room: string | null;
  started_at: Date; ended_at: Date; bytes_in: string; bytes_out: string; messages_in: string; messages_out: string; close_reason: string;
}

const recordOf = (r: Row): StoredAccountingRecord => ({
  id: Number(r.id), kind: r.kind, sessionId: r.session_id, realm: r.realm, username: r.username, source: r.source,
  ...(r.room !== null ? { room: r.room } : {}),
  startedAt: r.started_at, endedAt: r.ended_at, bytesIn: Number(r.bytes_in), bytesOut: Number(r.bytes_out),
  messagesIn: Number(r.messages_in), messagesOut: Number(r.messages_out), closeReason: r.close_reason,
});

const COLUMNS = ['kind', 'session_id', 'realm', 'username', 'source', 'room', 'started_at', 'ended_at', 'bytes_in', 'bytes_out', 'messages_in', 'messages_out', 'close_reason'];

export function createAccounting(db: Db, run: <T>(what: string, fn: () => Promise<T>) => Promise<T>): Accounting {
  return {
    insert: (records) => run('accounting', async () => {
      if (records.length === 0) return;
      // One statement per batch: unnest of one array per column.
      await db.query(
        `INSERT INTO accounting_records (${COLUMNS.join(', ')})
          SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[],
                               $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::text[])`,
        [
          records.map((r) => r.kind), records.map((r) => r.sessionId), records.map((r) => r.realm), records.map((r) => r.username),
          records.map((r) => r.source), records.map((r) => r.room ?? null), records.map((r) => r.startedAt.toISOString()),
          records.map((r) => r.endedAt.toISOString()), records.map((r) => r.bytesIn), records.map((r) => r.bytesOut),
          records.map((r) => r.messagesIn), records.map((r) => r.messagesOut), records.map((r) => r.closeReason),
        ]);
    }),
    list: (filter, page) => run('accounting', async () => {
      const r = await db.query<Row>(
        `SELECT id, ${COLUMNS.join(', ')} FROM accounting_records
          WHERE ($1::bigint IS NULL OR id < $1) AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR realm = $3)
            AND ($4::text IS NULL OR username = $4) AND ($5::timestamptz IS NULL OR ended_at >= $5) AND ($6::timestamptz IS NULL OR ended_at < $6)
          ORDER BY id DESC LIMIT $7`,
        [page.after ?? null, filter.kind ?? null, filter.realm ?? null, filter.username ?? null,
          filter.since?.toISOString() ?? null, filter.until?.toISOString() ?? null, page.limit + 1]);
      return pageOf(r.rows.map(recordOf), page.limit, (x) => x.id);
    }),
    prune: (endedBefore) => run('accounting', async () => {
      return (await db.query('DELETE FROM accounting_records WHERE ended_at < $1', [endedBefore.toISOString()])).rowCount;
    }),
  };
}
