// Chat room history (migration 003): the last N public messages of each room, keyed by
// the room URI the chat switch uses. `append` inserts and trims to the newest `keep` rows
// of that room in one statement (the trim walks the (room, id DESC) index), so a room
// never holds more than N rows for long and nothing periodic is needed. The CPIM body is
// stored and returned byte for byte. internal/chat/switch/history-store.ts puts a write queue
// and a read timeout in front of this for the switch.
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';

export interface HistoryRecord {
  room: string;
  /** From the message, when it carries one (e.g. CPIM imdn.Message-ID); not unique. */
  messageId: string | undefined;
  /** Sender (participant URI). */
  sender: string;
  /** Content type of the message inside the CPIM body, when known. */
  contentType: string | undefined;
  /** The message/cpim body exactly as received. */
  cpim: Buffer;
  createdAt: Date;
}

export interface NewHistoryRecord {
  messageId?: string | undefined;
  sender: string;
  contentType?: string | undefined;
  cpim: Buffer;
  /** Defaults to the database's now(). */
  at?: Date | undefined;
}

export interface ChatHistory {
  /** Appends one message and trims the room to its newest `keep`; `keep` <= 0 stores nothing. */
  append(room: string, entry: NewHistoryRecord, keep: number): Promise<void>;
  /** The newest `n` messages of the room, oldest first. */
  recent(room: string, n: number): Promise<HistoryRecord[]>;
  /** Deletes a room's history; resolves to the number of messages deleted. */
  drop(room: string): Promise<number>;
}

interface Row {
  room: string;
  message_id: string | null;
  sender: string;
  content_type: string | null;
  cpim: Uint8Array;
  created_at: Date;
}

// node-postgres hands back a Buffer, PGlite a Uint8Array: view either as a Buffer without copying.
const bytes = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

const recordOf = (r: Row): HistoryRecord => ({
  room: r.room,
  messageId: r.message_id ?? undefined,
  sender: r.sender,
  contentType: r.content_type ?? undefined,
  cpim: bytes(r.cpim),
  createdAt: r.created_at,
});

export function createChatHistory(db: Db, run: <T>(what: string, fn: () => Promise<T>) => Promise<T>): ChatHistory {
  return {
    append: (room, entry, keep) => run(`history of ${room}`, async () => {
      if (keep <= 0) return;
      if (!Number.isSafeInteger(keep)) throw new StoreError('invalid', `history size must be an integer, got ${keep}`);
      // The WITH insert always runs; the DELETE sees the rows from before it (one snapshot),
      // so keeping keep-1 old rows plus the new one leaves exactly `keep`.
      await db.query(
        `WITH ins AS (
           INSERT INTO chat_messages (room, message_id, sender, content_type, cpim, created_at)
           VALUES ($1, $2, $3, $4, $5, COALESCE($6::timestamptz, now())) RETURNING id)
         DELETE FROM chat_messages
          WHERE room = $1
            AND id <= (SELECT id FROM chat_messages WHERE room = $1 ORDER BY id DESC OFFSET $7 LIMIT 1)`,
        [room, entry.messageId ?? null, entry.sender, entry.contentType ?? null, entry.cpim, entry.at ?? null, keep - 1]);
    }),

    recent: (room, n) => run(`history of ${room}`, async () => {
      if (n <= 0) return [];
      const r = await db.query<Row>(
        `SELECT room, message_id, sender, content_type, cpim, created_at FROM (
           SELECT id, room, message_id, sender, content_type, cpim, created_at FROM chat_messages
            WHERE room = $1 ORDER BY id DESC LIMIT $2) newest
          ORDER BY id`, [room, n]);
      return r.rows.map(recordOf);
    }),

    drop: (room) => run(`history of ${room}`, async () => {
      return (await db.query('DELETE FROM chat_messages WHERE room = $1', [room])).rowCount;
    }),
  };
}
