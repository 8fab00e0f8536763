// Whether the engine can reach its database: a periodic store.ping(), plus what the
// credential lookups themselves observe (a failed lookup marks the store down at once, a
// successful one marks it up). Exported as `msrp_store_up` (1/0) and in the /readyz
// body; readiness itself does not fail on it (docs/relay.md, "Database outages").
import type { Gauge } from 'prom-client';
import type { Logger } from 'pino';
import type { Metrics } from '../telemetry/metrics.ts';

export interface StoreHealthSnapshot {
  up: boolean;
  /** When the current state began (ISO 8601). */
  since: string;
  /** The last error's message while down (no driver details beyond the message). */
  error?: string;
  /** Change-feed resyncs seen (the LISTEN connection was lost and re-established). */
  resyncs: number;
}

export interface StoreAvailability {
  readonly up: boolean;
  reportFailure(err: unknown): void;
  reportSuccess(): void;
}

export class StoreHealth implements StoreAvailability {
  readonly #ping: () => Promise<void>;
  readonly #intervalMs: number;
  readonly #log: Logger | undefined;
  readonly #gauge: Gauge | undefined;
  #up = true;
  #since = Date.now();
  #error: string | undefined;
  #resyncs = 0;
  #timer: NodeJS.Timeout | undefined;
  #pinging = false;

  constructor(ping: () => Promise<void>, o: { intervalMs?: number; metrics?: Metrics; logger?: Logger } = {}) {
    this.#ping = ping;
    this.#intervalMs = o.intervalMs ?? 5000;
    this.#log = o.logger;
    this.#gauge = o.metrics?.gauge({ name: 'store_up', help: 'Whether the engine reached its database on the last check (1) or not (0); AUTH falls back to cached credentials while 0' });
    this.#gauge?.set(1);
  }

  get up(): boolean {
    return this.#up;
  }

  /** Starts the periodic ping (unref'd timer); the first one runs now. */
  start(): this {
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.check(), this.#intervalMs);
      this.#timer.unref();
      void this.check();
    }
    return this;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One ping now (overlapping calls are skipped). */
  async check(): Promise<boolean> {
    if (this.#pinging) return this.#up;
    this.#pinging = true;
    try {
      await this.#ping();
      this.reportSuccess();
    } catch (err) {
      this.reportFailure(err);
    } finally {
      this.#pinging = false;
    }
    return this.#up;
  }

  reportFailure(err: unknown): void {
    this.#error = err instanceof Error ? err.message : String(err);
    if (!this.#up) return;
    this.#up = false;
    this.#since = Date.now();
    this.#gauge?.set(0);
    this.#log?.warn({ error: this.#error }, 'database unreachable: AUTH answers from cached credentials');
  }

  reportSuccess(): void {
    if (this.#up) return;
    this.#up = true;
    this.#since = Date.now();
    this.#error = undefined;
    this.#gauge?.set(1);
    this.#log?.info('database reachable again');
  }

  /** Counts a change-feed resync (for the snapshot; the cache clears itself). */
  noteResync(): void {
    this.#resyncs++;
  }

  snapshot(): StoreHealthSnapshot {
    return {
      up: this.#up, since: new Date(this.#since).toISOString(), resyncs: this.#resyncs,
      ...(this.#error !== undefined ? { error: this.#error } : {}),
    };
  }
}
