// The engine's accounting sink (docs/relay.md "Accounting"): every record is logged at once
// ("accounting record") and queued for the database, written in batches (one INSERT per
// second at most, or sooner when 200 are waiting; after a failed write, only the retry
// timer tries again, every 5 s, however many records arrive). The queue is bounded: while the
// database is slow or down, records past `maxPending` are counted as dropped for the
// database (they are in the log). Old records are pruned by age at start and every hour.
import type { Accounting } from '../store/index.ts';
import type { AccountingRecord, AccountingSink } from '../telemetry/accounting.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';

export interface AccountingWriterOptions {
  logger: Logger;
  metrics: Metrics;
  /** The table; undefined: log lines only. */
  table: Accounting | undefined;
  retentionDays: number;
  maxPending: number;
  flushIntervalMs?: number;
  pruneIntervalMs?: number;
}

const BATCH = 200;
/** After a failed write, the next try (the database is down: one attempt and one warning per period). */
const RETRY_MS = 5000;

export class AccountingWriter implements AccountingSink {
  readonly #o: AccountingWriterOptions;
  readonly #log: Logger;
  readonly #records;
  readonly #pending: AccountingRecord[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #pruneTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  /** The last write failed: the next try waits for the retry timer, whatever arrives meanwhile. */
  #failing = false;
  /** Records dropped for the database since the queue last filled (one warning per episode). */
  #dropped = 0;
  #closed = false;

  constructor(o: AccountingWriterOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'accounting' });
    this.#records = o.metrics.counter<'kind' | 'outcome'>({
      name: 'accounting_records_total',
      help: 'Accounting records by kind (relay-session, chat-participation) and outcome (written to the database, dropped for the database while it was slow or down, logged only)',
      labelNames: ['kind', 'outcome'],
    });
    if (o.table !== undefined) {
      void this.prune();
      this.#pruneTimer = setInterval(() => void this.prune(), o.pruneIntervalMs ?? 3_600_000);
      this.#pruneTimer.unref();
    }
  }

  record(r: AccountingRecord): void {
    this.#log.info({
      kind: r.kind, session: r.sessionId, realm: r.realm, user: r.username, source: r.source, ...(r.room !== undefined ? { room: r.room } : {}),
      startedAt: r.startedAt.toISOString(), endedAt: r.endedAt.toISOString(),
      bytesIn: r.bytesIn, bytesOut: r.bytesOut, messagesIn: r.messagesIn, messagesOut: r.messagesOut, reason: r.closeReason,
    }, 'accounting record');
    if (this.#o.table === undefined || this.#closed) {
      this.#records.inc({ kind: r.kind, outcome: 'logged' });
      return;
    }
    if (this.#pending.length >= this.#o.maxPending) {
      this.#records.inc({ kind: r.kind, outcome: 'dropped' });
      if (this.#dropped++ === 0) this.#log.warn({ maxPending: this.#o.maxPending }, 'accounting queue full: new records are not written to the database (still logged)');
      return;
    }
    this.#pending.push(r);
    if (this.#pending.length >= BATCH && !this.#failing) this.#schedule(0);
    else this.#schedule(this.#o.flushIntervalMs ?? 1000);
  }

  /** Writes what is pending now (tests, close). */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    if (this.#pending.length === 0) return;
    this.#flushing = this.#write().finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  async #write(): Promise<void> {
    const table = this.#o.table!;
    while (this.#pending.length > 0) {
      const batch = this.#pending.slice(0, BATCH);
      try {
        await table.insert(batch);
      } catch (err) {
        // Kept for the next try (the queue stays bounded by maxPending).
        this.#log.warn({ err, pending: this.#pending.length }, 'accounting records not written; retrying');
        this.#failing = true;
        if (!this.#closed) this.#schedule(RETRY_MS);
        return;
      }
      this.#failing = false;
      if (this.#dropped > 0) {
        this.#log.info({ dropped: this.#dropped }, 'accounting records written again; some were dropped for the database meanwhile');
        this.#dropped = 0;
      }
      this.#pending.splice(0, batch.length);
      for (const r of batch) this.#records.inc({ kind: r.kind, outcome: 'written' });
    }
  }

  #schedule(ms: number): void {
    if (this.#flushTimer !== undefined) {
      if (ms > 0) return;
      clearTimeout(this.#flushTimer);
    }
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      void this.flush();
    }, ms);
    this.#flushTimer.unref();
  }

  /** Deletes records older than retentionDays; returns how many (0 when the database failed, logged). */
  async prune(now = Date.now()): Promise<number> {
    const table = this.#o.table;
    if (table === undefined) return 0;
    try {
      const n = await table.prune(new Date(now - this.#o.retentionDays * 86_400_000));
      if (n > 0) this.#log.info({ deleted: n, retentionDays: this.#o.retentionDays }, 'accounting records pruned');
      return n;
    } catch (err) {
      this.#log.warn({ err }, 'accounting records not pruned');
      return 0;
    }
  }

  /** Writes what is pending (one try), then stops. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#flushTimer);
    clearInterval(this.#pruneTimer);
    await this.flush();
  }
}
