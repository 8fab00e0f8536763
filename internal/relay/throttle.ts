// Rate limits in bytes per second per session, per user and per realm: token buckets
// that pace a sender by pausing its connection (TCP flow control then slows the sender
// down; nothing is dropped or buffered). The deficit of the emptiest bucket decides how
// long the source stays paused.
import type { Connection } from '../transport/connection.ts';
import type { RelayMetrics } from './metrics.ts';
import type { RateLimit } from './options.ts';
import type { RelaySession } from './sessions.ts';

export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  tokens: number;
  last: number;

  constructor(limit: RateLimit, now: number) {
    this.rate = limit.bytesPerSec;
    this.burst = Math.max(limit.burstBytes, 1);
    this.tokens = this.burst;
    this.last = now;
  }

  /** Takes `n` tokens (may go negative); returns how many ms until the bucket is non-negative. */
  take(n: number, now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }
}

type Scope = 'session' | 'user' | 'realm';

export class Throttle {
  readonly #limits: Record<Scope, RateLimit>;
  readonly #metrics: RelayMetrics;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #timers = new Map<Connection, NodeJS.Timeout>();

  constructor(limits: Record<Scope, RateLimit>, metrics: RelayMetrics) {
    this.#limits = limits;
    this.#metrics = metrics;
  }

  get enabled(): boolean {
    return this.#limits.session.bytesPerSec > 0 || this.#limits.user.bytesPerSec > 0 || this.#limits.realm.bytesPerSec > 0;
  }

  /** Accounts `bytes` sent by `source` within `session`; pauses the source when a bucket runs dry. */
  account(session: RelaySession, bytes: number, source: Connection): void {
    if (!this.enabled || bytes === 0) return;
    const now = performance.now();
    let delay = 0;
    let worst: Scope | undefined;
    for (const [scope, key] of [['session', session.id], ['user', `${session.realm}\u0000${session.user}`], ['realm', session.realm]] as const) {
      const limit = this.#limits[scope];
      if (limit.bytesPerSec <= 0) continue;
      const k = `${scope}:${key}`;
      let b = this.#buckets.get(k);
      if (b === undefined) this.#buckets.set(k, (b = new TokenBucket(limit, now)));
      const d = b.take(bytes, now);
      if (d > delay) {
        delay = d;
        worst = scope;
      }
    }
    if (delay === 0 || worst === undefined) return;
    this.#metrics.throttledBytes.inc({ scope: worst }, bytes);
    if (!this.#timers.has(source)) this.#metrics.throttlePauses.inc({ scope: worst });
    source.pause('throttle');
    clearTimeout(this.#timers.get(source));
    this.#timers.set(source, setTimeout(() => {
      this.#timers.delete(source);
      source.resume('throttle');
    }, delay));
  }

  forgetSession(session: RelaySession): void {
    this.#buckets.delete(`session:${session.id}`);
  }

  forgetConnection(conn: Connection): void {
    clearTimeout(this.#timers.get(conn));
    this.#timers.delete(conn);
  }
}
