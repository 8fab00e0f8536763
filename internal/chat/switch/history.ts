// Room history (beyond RFC 7701): the last N public messages, replayed to a device when it
// joins. Entries are the CPIM bodies exactly as the sender wrote them, so a replayed
// message is byte-identical to the live one. The store is an interface so a
// PostgreSQL-backed one can replace the in-memory one without touching the switch.

export interface HistoryEntry {
  /** The message/cpim body as received. */
  readonly cpim: Buffer;
  /** Participant URI of the sender (for moderation views). */
  readonly from: string;
  readonly at: Date;
}

export interface HistoryStore {
  append(room: string, entry: HistoryEntry, keep: number): Promise<void>;
  /** Up to `limit` latest entries, oldest first. */
  recent(room: string, limit: number): Promise<HistoryEntry[]>;
  /** The room is deleted. */
  drop(room: string): Promise<void>;
}

/** A ring per room; `keep` bounds it at append time. */
export class MemoryHistory implements HistoryStore {
  readonly #rooms = new Map<string, HistoryEntry[]>();

  append(room: string, entry: HistoryEntry, keep: number): Promise<void> {
    if (keep <= 0) return Promise.resolve();
    let list = this.#rooms.get(room);
    if (list === undefined) this.#rooms.set(room, (list = []));
    list.push(entry);
    if (list.length > keep) list.splice(0, list.length - keep);
    return Promise.resolve();
  }

  recent(room: string, limit: number): Promise<HistoryEntry[]> {
    const list = this.#rooms.get(room) ?? [];
    return Promise.resolve(limit <= 0 ? [] : list.slice(-limit));
  }

  drop(room: string): Promise<void> {
    this.#rooms.delete(room);
    return Promise.resolve();
  }
}
