// Rate limits in bytes per second per session, per user and per realm: token buckets
// that pace a sender by pausing its connection (TCP flow control then slows the sender
// down; nothing is dropped or buffered). The deficit of the emptiest bucket decides how
// long the source stays paused.
//
// With replicas (docs/relay.md "Relay-wide limits and views"), the per-user and per-realm
// rates are relay-wide: each replica gives a user (realm) the configured rate divided by
// the number of replicas where that user (realm) has live sessions, as the registry tells
// it (live-sessions.ts: refreshed every few seconds, and at each AUTH). Exact relay-wide
// buckets would cost a round trip per chunk; this costs nothing per chunk.
import type { Connection } from '../transport/connection.ts';
import type { RelayMetrics } from './metrics.ts';
import type { RateLimit } from './options.ts';
import type { ShareSink } from './live-sessions.ts';
import type { RelaySession } from './sessions.ts';

export class TokenBucket {
  rate: number;
  burst: number;
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

  /** This replica's part of a relay-wide limit shared by `parts` replicas. */
  share(limit: RateLimit, parts: number): void {
    this.rate = limit.bytesPerSec / parts;
    this.burst = Math.max(limit.burstBytes / parts, 1);
    if (this.tokens > this.burst) this.tokens = this.burst;
  }
}

type Scope = 'session' | 'user' | 'realm';
const SCOPES: readonly Scope[] = ['session', 'user', 'realm'];

export class Throttle implements ShareSink {
  readonly #limits: Record<Scope, RateLimit>;
  readonly #metrics: RelayMetrics;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #timers = new Map<Connection, NodeJS.Timeout>();
  /** Each session's buckets, so a frame costs no key strings or map look-ups. */
  readonly #bySession = new WeakMap<RelaySession, (TokenBucket | undefined)[]>();
  readonly #enabled: boolean;
  /** Other replicas sharing a user's (realm NUL user) or a realm's rate; absent: none. */
  #userShares: ReadonlyMap<string, number> = new Map();
  #realmShares: ReadonlyMap<string, number> = new Map();

  constructor(limits: Record<Scope, RateLimit>, metrics: RelayMetrics) {
    this.#limits = limits;
    this.#metrics = metrics;
    this.#enabled = limits.session.bytesPerSec > 0 || limits.user.bytesPerSec > 0 || limits.realm.bytesPerSec > 0;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Whether a per-user or per-realm rate is set: only those are shared between replicas. */
  get sharedScopes(): boolean {
    return this.#limits.user.bytesPerSec > 0 || this.#limits.realm.bytesPerSec > 0;
  }

  /** The registry's full view (ShareSink): rates of existing buckets follow at once. */
  replace(users: ReadonlyMap<string, number>, realms: ReadonlyMap<string, number>): void {
    this.#userShares = users;
    this.#realmShares = realms;
    for (const [k, b] of this.#buckets) {
      if (k.startsWith('user:')) b.share(this.#limits.user, 1 + (users.get(k.slice(5)) ?? 0));
      else if (k.startsWith('realm:')) b.share(this.#limits.realm, 1 + (realms.get(k.slice(6)) ?? 0));
    }
  }

  /** One user's count, learnt at AUTH (ShareSink). */
  user(realm: string, username: string, otherReplicas: number): void {
    const key = `${realm}\u0000${username}`;
    if ((this.#userShares.get(key) ?? 0) === otherReplicas) return;
    const users = new Map(this.#userShares);
    if (otherReplicas > 0) users.set(key, otherReplicas);
    else users.delete(key);
    this.#userShares = users;
    this.#buckets.get(`user:${key}`)?.share(this.#limits.user, 1 + otherReplicas);
  }

  /** The rate this replica gives a user or realm now (bytes per second; 0: unlimited). */
  rateOf(scope: 'user' | 'realm', key: string): number {
    const limit = this.#limits[scope];
    if (limit.bytesPerSec <= 0) return 0;
    const others = (scope === 'user' ? this.#userShares : this.#realmShares).get(key) ?? 0;
    return limit.bytesPerSec / (1 + others);
  }

  /** Accounts `bytes` sent by `source` within `session`; pauses the source when a bucket runs dry. */
  account(session: RelaySession, bytes: number, source: Connection): void {
    if (!this.#enabled || bytes === 0) return;
    const now = performance.now();
    const buckets = this.#bucketsOf(session, now);
    let delay = 0;
    let worst: Scope | undefined;
    for (let i = 0; i < SCOPES.length; i++) {
      const b = buckets[i];
      if (b === undefined) continue;
      const d = b.take(bytes, now);
      if (d > delay) {
        delay = d;
        worst = SCOPES[i];
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

  /** The session's buckets by scope (undefined where unlimited), found once per session, not per frame. */
  #bucketsOf(session: RelaySession, now: number): (TokenBucket | undefined)[] {
    let buckets = this.#bySession.get(session);
    if (buckets !== undefined) return buckets;
    const keys = [session.id, `${session.realm}\u0000${session.user}`, session.realm];
    buckets = SCOPES.map((scope, i) => {
      const limit = this.#limits[scope];
      if (limit.bytesPerSec <= 0) return undefined;
      const k = `${scope}:${keys[i]!}`;
      let b = this.#buckets.get(k);
      if (b === undefined) {
        this.#buckets.set(k, (b = new TokenBucket(limit, now)));
        const others = scope === 'user' ? this.#userShares.get(keys[1]!) : scope === 'realm' ? this.#realmShares.get(keys[2]!) : undefined;
        if (others !== undefined && others > 0) {
          b.share(limit, 1 + others);
          b.tokens = b.burst;
        }
      }
      return b;
    });
    this.#bySession.set(session, buckets);
    return buckets;
  }

  forgetSession(session: RelaySession): void {
    this.#bySession.delete(session);
    this.#buckets.delete(`session:${session.id}`);
  }

  forgetConnection(conn: Connection): void {
    clearTimeout(this.#timers.get(conn));
    this.#timers.delete(conn);
  }
}
