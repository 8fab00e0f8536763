// A durable HistoryStore (history.ts) over the store's chat_messages table
// (internal/store/history.ts), built so the database never slows the room down:
//
// - append() returns at once. The entry goes into an in-memory mirror (MemoryHistory) and a
//   bounded write queue that one writer drains in order. When the queue is full the oldest
//   pending append is dropped (counted). A write failing with `unavailable` is retried with
//   backoff; any other error, or too many attempts, drops that entry (logged, counted).
// - recent() (a room loading its history) waits for this room's queued writes, then reads,
//   all under a short timeout; on timeout or error it answers from the memory mirror.
// - drop() (room deleted) clears the mirror and queues the delete behind pending writes.
// - close() flushes (bounded) and then ignores further writes and drops, so closing the
//   switch after it (ChatSwitch#close deletes every room) keeps the durable history.
//
// The mirror holds the same entry objects the rooms hold, so it costs references, not bytes.
import type { Logger } from 'pino';
import type { Counter, Gauge } from 'prom-client';
import { parseCpim } from '../../msrp/cpim.ts';
import { imdnMessageId } from '../../msrp/imdn.ts';
import type { ChatHistory, NewHistoryRecord } from '../../store/history.ts';
import { StoreError } from '../../store/errors.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import { MemoryHistory, type HistoryEntry, type HistoryStore } from './history.ts';

export interface DurableHistoryOptions {
  /** store.history */
  readonly table: ChatHistory;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Pending operations before the oldest append is dropped (default 1000). */
  readonly maxQueue?: number;
  /** A room's history load gives up on the database after this long (default 1000 ms). */
  readonly readTimeoutMs?: number;
  /** Attempts per write while the database is unavailable (default 10, backoff 100 ms doubling to 5 s). */
  readonly maxAttempts?: number;
  readonly backoffMs?: { readonly initial: number; readonly max: number };
}

export interface HistoryMetrics {
  writes: Counter<'result'>;
  reads: Counter<'result'>;
  queue: Gauge;
}

export function createHistoryMetrics(m: Metrics): HistoryMetrics {
  return {
    writes: m.counter({ name: 'chat_history_writes_total', help: 'Chat history writes to the database by result (ok, retry, error, dropped: queue full)', labelNames: ['result'] }),
    reads: m.counter({ name: 'chat_history_reads_total', help: 'Chat history loads by result (ok, timeout, error: served from memory)', labelNames: ['result'] }),
    queue: m.gauge({ name: 'chat_history_queue', help: 'Chat history writes waiting for the database' }),
  };
}

type Op =
  | { readonly kind: 'append'; readonly seq: number; readonly room: string; readonly record: NewHistoryRecord; readonly keep: number; attempts: number }
  | { readonly kind: 'drop'; readonly seq: number; readonly room: string; attempts: number };

/** Content type and imdn.Message-ID of a CPIM body, when it parses (the switch already checked it). */
export function describeCpim(cpim: Buffer): { contentType: string | undefined; messageId: string | undefined } {
  const r = parseCpim(cpim, { lenient: true });
  if (!r.ok) return { contentType: undefined, messageId: undefined };
  return { contentType: r.message.contentType, messageId: imdnMessageId(r.message) };
}

export class DurableHistory implements HistoryStore {
  readonly #table: ChatHistory;
  readonly #log: Logger;
  readonly #metrics: HistoryMetrics | undefined;
  readonly #memory = new MemoryHistory();
  readonly #queue: Op[] = [];
  readonly #maxQueue: number;
  readonly #readTimeoutMs: number;
  readonly #maxAttempts: number;
  readonly #backoff: { readonly initial: number; readonly max: number };
  #seq = 0;
  /** Every op with seq <= this is finished (written or given up). */
  #done = 0;
  #inFlight: Op | undefined;
  #draining = false;
  #failing = false;
  #closed = false;
  #backoffTimer: NodeJS.Timeout | undefined;
  #wakeBackoff: (() => void) | undefined;
  readonly #waiters: { seq: number; resolve: () => void }[] = [];
  /** Counters for tests and the admin view. */
  readonly stats = { written: 0, failed: 0, dropped: 0, retries: 0, readTimeouts: 0, readErrors: 0 };

  constructor(o: DurableHistoryOptions) {
    this.#table = o.table;
    this.#log = o.logger.child({ component: 'chat-history' });
    this.#metrics = o.metrics === undefined ? undefined : createHistoryMetrics(o.metrics);
    this.#maxQueue = o.maxQueue ?? 1000;
    this.#readTimeoutMs = o.readTimeoutMs ?? 1000;
    this.#maxAttempts = o.maxAttempts ?? 10;
    this.#backoff = o.backoffMs ?? { initial: 100, max: 5000 };
  }

  /** Operations not yet finished (queued and in flight). */
  get pending(): number {
    return this.#queue.length + (this.#inFlight === undefined ? 0 : 1);
  }

  append(room: string, entry: HistoryEntry, keep: number): Promise<void> {
    if (keep <= 0) return Promise.resolve();
    void this.#memory.append(room, entry, keep);
    if (this.#closed) return Promise.resolve();
    const { contentType, messageId } = describeCpim(entry.cpim);
    this.#enqueue({ kind: 'append', seq: ++this.#seq, room, keep, attempts: 0, record: { sender: entry.from, cpim: entry.cpim, at: entry.at, contentType, messageId } });
    return Promise.resolve();
  }

  async recent(room: string, limit: number): Promise<HistoryEntry[]> {
    if (limit <= 0) return [];
    const upTo = this.#lastSeqOf(room);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#readTimeoutMs);
    });
    const read = (async () => {
      // Our own queued writes for this room first, so a reload right after a message sees it.
      if (upTo > this.#done) await this.#until(upTo);
      return this.#table.recent(room, limit);
    })();
    try {
      const r = await Promise.race([read, timeout]);
      if (r === 'timeout') {
        read.catch(() => undefined);
        this.stats.readTimeouts++;
        this.#metrics?.reads.inc({ result: 'timeout' });
        this.#log.warn({ room, timeoutMs: this.#readTimeoutMs }, 'history load timed out: serving the in-memory history');
        return this.#memory.recent(room, limit);
      }
      this.#metrics?.reads.inc({ result: 'ok' });
      return r.map((x) => ({ cpim: x.cpim, from: x.sender, at: x.createdAt }));
    } catch (err) {
      this.stats.readErrors++;
      this.#metrics?.reads.inc({ result: 'error' });
      this.#log.warn({ err, room }, 'history load failed: serving the in-memory history');
      return this.#memory.recent(room, limit);
    } finally {
      clearTimeout(timer);
    }
  }

  drop(room: string): Promise<void> {
    void this.#memory.drop(room);
    if (this.#closed) return Promise.resolve();
    // Pending appends of the room are moot.
    for (let i = this.#queue.length - 1; i >= 0; i--) if (this.#queue[i]!.room === room) this.#queue.splice(i, 1);
    this.#enqueue({ kind: 'drop', seq: ++this.#seq, room, attempts: 0 });
    return Promise.resolve();
  }

  /** Resolves true once everything queued so far is finished, false after `timeoutMs`. */
  async flush(timeoutMs = 5000): Promise<boolean> {
    if (this.#seq <= this.#done) return true;
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      this.#until(this.#seq).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return r;
  }

  /**
   * Flushes (up to `timeoutMs`), then stops writing: later appends and drops only touch
   * memory. Call it before ChatSwitch#close, which deletes every room.
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.#wakeBackoff?.(); // retry now rather than after the backoff
    const flushed = await this.flush(timeoutMs);
    this.#closed = true;
    if (!flushed) this.#log.warn({ pending: this.pending }, 'history writes still pending at close: abandoned');
    this.#queue.length = 0;
    this.#metrics?.queue.set(0);
    clearTimeout(this.#backoffTimer);
    this.#wakeBackoff?.();
  }

  #lastSeqOf(room: string): number {
    for (let i = this.#queue.length - 1; i >= 0; i--) if (this.#queue[i]!.room === room) return this.#queue[i]!.seq;
    return this.#inFlight?.room === room ? this.#inFlight.seq : 0;
  }

  #enqueue(op: Op): void {
    this.#queue.push(op);
    if (this.#queue.length > this.#maxQueue) {
      const i = this.#queue.findIndex((x) => x.kind === 'append');
      if (i >= 0) {
        this.#queue.splice(i, 1);
        this.stats.dropped++;
        this.#metrics?.writes.inc({ result: 'dropped' });
        if (this.stats.dropped === 1 || this.stats.dropped % 1000 === 0) this.#log.warn({ dropped: this.stats.dropped, maxQueue: this.#maxQueue }, 'history write queue full: oldest writes dropped');
      }
    }
    this.#metrics?.queue.set(this.pending);
    if (!this.#draining) void this.#drain();
  }

  /** Resolves once every op with seq <= `seq` is finished (or the store is closed). */
  #until(seq: number): Promise<void> {
    if (seq <= this.#done || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ seq, resolve }));
  }

  #finished(op: Op): void {
    this.#done = Math.max(this.#done, op.seq);
    // Ops removed from the queue (dropped, or moot after a drop) are finished too: everything
    // below the next pending seq is done.
    const next = this.#queue[0]?.seq;
    if (next === undefined) this.#done = this.#seq;
    else this.#done = Math.max(this.#done, next - 1);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (w.seq <= this.#done) {
        this.#waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (!this.#closed && this.#queue.length > 0) {
        const op = this.#queue.shift()!;
        this.#inFlight = op;
        const ok = await this.#write(op);
        this.#inFlight = undefined;
        if (ok === 'retry' && !this.#closed) {
          this.#queue.unshift(op);
          await this.#sleep(Math.min(this.#backoff.max, this.#backoff.initial * 2 ** (op.attempts - 1)));
          continue;
        }
        this.#finished(op);
        this.#metrics?.queue.set(this.pending);
      }
    } finally {
      this.#draining = false;
      if (this.#closed) {
        this.#done = this.#seq;
        for (const w of this.#waiters.splice(0)) w.resolve();
      }
    }
  }

  async #write(op: Op): Promise<'ok' | 'retry' | 'failed'> {
    op.attempts++;
    try {
      if (op.kind === 'append') await this.#table.append(op.room, op.record, op.keep);
      else await this.#table.drop(op.room);
      this.stats.written++;
      this.#metrics?.writes.inc({ result: 'ok' });
      if (this.#failing) {
        this.#failing = false;
        this.#log.info({ pending: this.pending }, 'history writes to the database resumed');
      }
      return 'ok';
    } catch (err) {
      const retryable = err instanceof StoreError ? err.code === 'unavailable' : true;
      if (!this.#failing) {
        this.#failing = true;
        this.#log.warn({ err, room: op.room, op: op.kind }, 'history write failed: serving history from memory meanwhile');
      }
      if (retryable && op.attempts < this.#maxAttempts) {
        this.stats.retries++;
        this.#metrics?.writes.inc({ result: 'retry' });
        return 'retry';
      }
      this.stats.failed++;
      this.#metrics?.writes.inc({ result: 'error' });
      this.#log.warn({ err, room: op.room, op: op.kind, attempts: op.attempts }, 'history write given up');
      return 'failed';
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wakeBackoff = () => {
        clearTimeout(this.#backoffTimer);
        this.#wakeBackoff = undefined;
        resolve();
      };
      this.#backoffTimer = setTimeout(() => this.#wakeBackoff?.(), ms);
      this.#backoffTimer.unref();
    });
  }
}
