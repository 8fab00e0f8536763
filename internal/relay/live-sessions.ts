// Relay-wide live sessions (docs/relay.md "Relay-wide limits and views"): the replicas of
// one relay publish the sessions they hold in the store (internal/store/live-sessions.ts),
// so that the per-user session limit, the throttle's per-user and per-realm rates and the
// admin API's session list cover every replica, not one pod.
//
// The relay works without it (tests, a relay without a store): LiveSessionRegistry is an
// optional dependency (RelayDeps.liveSessions). StoreLiveSessions is the store's.
//
// - Writes never touch the forwarding path: added/refreshed/removed only note the change;
//   a queue writes them in batches (one statement each for upserts and deletes) soon after.
//   A write that fails (database down) marks the registry dirty, and the next write that
//   succeeds replaces all of this replica's rows with what it holds in memory.
// - AUTH of a new session under a per-user limit asks the store (admit: serialised per user
//   across replicas, the row inserted in the same transaction) for at most
//   `admitTimeoutMs`; when the store does not answer in time, or is known to be down, the
//   AUTH is decided by this replica's own count (logged once per outage, counted in
//   relay_live_registry_fallbacks_total): a user may then get up to replicas × limit.
// - A heartbeat every `heartbeatMs` keeps this replica's rows counting (others ignore rows
//   of a replica whose heartbeat is older than `staleAfterSec`), reports how many replicas
//   are live, and picks up sessions the admin API asked to close (also announced on the
//   change feed, which is how they usually arrive: at once).
// - On start the rows of our ordinal are deleted: a restarted replica lost its sessions.
import { randomBytes } from 'node:crypto';
import type { Counter, Gauge } from 'prom-client';
import type { Logger } from 'pino';
import type { LiveSessionRecord, LiveSessions } from '../store/live-sessions.ts';
import type { Store } from '../store/store.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { RelaySession } from './sessions.ts';

/** Who this replica is in the table. */
export interface ReplicaIdentity {
  /** The relay's public host:port, lower-case: the same on every replica. */
  relay: string;
  ordinal: number;
  /** Other replicas may exist (a mesh): only then is AUTH's count worth a round trip. */
  replicated: boolean;
}

/** What the registry may do with this replica's sessions. */
export interface LocalSessions {
  all(): Iterable<RelaySession>;
  has(id: string): boolean;
  /** Closes a session the admin API asked to close (through another replica's admin sidecar, say). */
  remove(id: string): boolean;
}

/** Where the throttle learns how many other replicas share a user's or realm's rate. */
export interface ShareSink {
  /** A full refresh: per user key (realm NUL user) and per realm, the other live replicas with sessions (absent: none). */
  replace(users: ReadonlyMap<string, number>, realms: ReadonlyMap<string, number>): void;
  /** One user's count, learnt at AUTH. */
  user(realm: string, username: string, otherReplicas: number): void;
  /** False while no rate is shared (the periodic refresh is skipped); rates may be switched on live. Default true. */
  readonly active?: boolean;
}

export type AdmitVerdict = 'admitted' | 'refused' | 'unknown';

export interface LiveSessionRegistry {
  /** Called by startRelay once its listeners are bound. */
  start(self: ReplicaIdentity, local: LocalSessions, shares?: ShareSink): Promise<void>;
  /**
   * May this user have one more session, relay-wide? `localCount` is this replica's count
   * (including AUTHs in flight). `unknown`: the store did not answer within the bound;
   * decide with the local count. When `admitted`, the session is already recorded.
   */
  admit(candidate: RelaySession, limit: number, localCount: number): Promise<AdmitVerdict>;
  added(session: RelaySession): void;
  refreshed(session: RelaySession): void;
  removed(session: RelaySession): void;
  /** Called by the relay's stop(): writes what is pending (bounded), our rows go. */
  stop(): Promise<void>;
}

export interface StoreLiveSessionsOptions {
  logger: Logger;
  metrics?: Metrics;
  heartbeatMs?: number;
  staleAfterSec?: number;
  admitTimeoutMs?: number;
  /** How often the throttle's shares are refreshed (when it has per-user or per-realm rates). */
  spreadRefreshMs?: number;
  /** Retry period for the writes while the store is unreachable. */
  retryMs?: number;
}

export const LIVE_SESSION_DEFAULTS = { heartbeatMs: 10_000, staleAfterSec: 30, admitTimeoutMs: 500, spreadRefreshMs: 5000, retryMs: 2000 } as const;

interface RegistryMetrics {
  errors: Counter<'operation'>;
  fallbacks: Counter;
  up: Gauge;
  replicasLive: Gauge;
}

const recordOf = (relay: string, ordinal: number, s: RelaySession): LiveSessionRecord => ({
  relay, id: s.id, ordinal, realm: s.realm, username: s.user, uri: s.uri, clientUri: s.clientUri,
  peer: `${s.connection.remoteAddress}:${s.connection.remotePort}`,
  createdAt: new Date(s.createdAt), expiresAt: new Date(s.expiresAt),
});

export class StoreLiveSessions implements LiveSessionRegistry {
  readonly #store: LiveSessions;
  readonly #listen: Store['listen'] | undefined;
  readonly #log: Logger;
  readonly #o: Required<Omit<StoreLiveSessionsOptions, 'logger' | 'metrics'>>;
  readonly #m: RegistryMetrics | undefined;
  readonly #instance = randomBytes(6).toString('hex');
  #self: ReplicaIdentity | undefined;
  #local: LocalSessions | undefined;
  #shares: ShareSink | undefined;
  /** Writes not yet made: a row to upsert, or null to delete. */
  readonly #pending = new Map<string, RelaySession | null>();
  /** Rows admit() inserted: added() has nothing to write for them. */
  readonly #recorded = new Set<string>();
  /** Writes were lost: replace all our rows with what we hold. */
  #dirty = true;
  #down = false;
  #stopped = false;
  #flushing: Promise<void> | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #beating = false;
  #spreadTimer: NodeJS.Timeout | undefined;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(store: LiveSessions, listen: Store['listen'] | undefined, o: StoreLiveSessionsOptions) {
    this.#store = store;
    this.#listen = listen;
    this.#log = o.logger.child({ component: 'live-sessions' });
    this.#o = {
      heartbeatMs: o.heartbeatMs ?? LIVE_SESSION_DEFAULTS.heartbeatMs,
      staleAfterSec: o.staleAfterSec ?? LIVE_SESSION_DEFAULTS.staleAfterSec,
      admitTimeoutMs: o.admitTimeoutMs ?? LIVE_SESSION_DEFAULTS.admitTimeoutMs,
      spreadRefreshMs: o.spreadRefreshMs ?? LIVE_SESSION_DEFAULTS.spreadRefreshMs,
      retryMs: o.retryMs ?? LIVE_SESSION_DEFAULTS.retryMs,
    };
    const m = o.metrics;
    this.#m = m === undefined ? undefined : {
      errors: m.counter({ name: 'relay_live_registry_errors_total', help: 'Relay-wide live-session registry operations that failed or timed out (the database did not answer), by operation', labelNames: ['operation'] }),
      fallbacks: m.counter({ name: 'relay_live_registry_fallbacks_total', help: 'AUTHs under the per-user session limit decided by this replica\'s own count because the relay-wide registry did not answer in time' }),
      up: m.gauge({ name: 'relay_live_registry_up', help: 'Whether the relay-wide live-session registry answered its last operation (1) or not (0)' }),
      replicasLive: m.gauge({ name: 'relay_replicas_live', help: 'Replicas of this relay with a fresh heartbeat in the registry, this one included' }),
    };
    this.#m?.up.set(1);
  }

  /** The change-feed subscription is up (delete requests arrive at once; before, only with the heartbeat). */
  get subscribed(): boolean {
    return this.#unlisten !== undefined;
  }

  get down(): boolean {
    return this.#down;
  }

  async start(self: ReplicaIdentity, local: LocalSessions, shares?: ShareSink): Promise<void> {
    this.#self = self;
    this.#local = local;
    this.#shares = shares;
    this.#log.info({ relay: self.relay, replica: self.ordinal, staleAfterSec: this.#o.staleAfterSec }, 'relay-wide live sessions: registering this replica');
    // Delete requests usually arrive on the change feed; the heartbeat polls for them too, so
    // the start does not wait for the subscription.
    this.#listen?.((e) => {
      if (e.table === 'live_sessions' && e.key.relay === self.relay && e.key.ordinal === self.ordinal) this.#closeRequested([e.key.id]);
      else if (e.table === '*') void this.#beat(); // notifications were missed: poll now
    }).then((unlisten) => {
      if (this.#stopped) void unlisten().catch(() => undefined);
      else this.#unlisten = unlisten;
    }, (err: unknown) => this.#failed('listen', err));
    try {
      const removed = await this.#bounded(this.#store.claim(self.relay, self.ordinal, this.#instance), this.#o.admitTimeoutMs * 4);
      if (removed > 0) this.#log.info({ removed }, 'relay-wide live sessions: rows of the previous run of this replica removed');
      this.#dirty = false;
      this.#ok();
    } catch (err) {
      this.#failed('claim', err); // the next write replaces our rows
    }
    this.#heartbeat = setInterval(() => void this.#beat(), this.#o.heartbeatMs);
    this.#heartbeat.unref();
    void this.#beat(); // relay_replicas_live from the start
    if (shares !== undefined && self.replicated) {
      this.#spreadTimer = setInterval(() => void this.#refreshSpread(), this.#o.spreadRefreshMs);
      this.#spreadTimer.unref();
    }
  }

  async admit(candidate: RelaySession, limit: number, localCount: number): Promise<AdmitVerdict> {
    const self = this.#self;
    if (self === undefined || !self.replicated || limit <= 0) return 'unknown';
    if (this.#down) {
      this.#m?.fallbacks.inc();
      return 'unknown';
    }
    const attempt = this.#store.admit(recordOf(self.relay, self.ordinal, candidate), { limit, localCount, staleAfterSec: this.#o.staleAfterSec });
    try {
      const r = await this.#bounded(attempt, this.#o.admitTimeoutMs);
      this.#ok();
      if (r.admitted) this.#recorded.add(candidate.id);
      this.#shares?.user(candidate.realm, candidate.user, r.otherReplicas.length);
      return r.admitted ? 'admitted' : 'refused';
    } catch (err) {
      this.#failed('admit', err);
      this.#m?.fallbacks.inc();
      // The attempt may still commit later: a row for a session that was not created then goes again.
      attempt.then((r) => {
        if (r.admitted && this.#local?.has(candidate.id) !== true) this.#note(candidate.id, null);
      }, () => undefined);
      return 'unknown';
    }
  }

  added(session: RelaySession): void {
    if (this.#recorded.delete(session.id)) return;
    this.#note(session.id, session);
  }

  refreshed(session: RelaySession): void {
    this.#note(session.id, session);
  }

  removed(session: RelaySession): void {
    this.#recorded.delete(session.id);
    this.#note(session.id, null);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#spreadTimer);
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const self = this.#self;
    try {
      // Bounded: a write stuck on a frozen database must not hold up the relay's stop.
      if (this.#flushing !== undefined) await this.#bounded(this.#flushing, this.#o.admitTimeoutMs * 4);
      // Whatever is pending, our rows go: a stopped replica holds no session.
      if (self !== undefined) await this.#bounded(this.#store.replace(self.relay, self.ordinal, []), this.#o.admitTimeoutMs * 4);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'relay-wide live sessions: rows not removed at stop (they stop counting when the heartbeat goes stale)');
    }
    this.#pending.clear();
    try {
      await this.#unlisten?.();
    } catch {
      // closing anyway
    }
  }

  #note(id: string, session: RelaySession | null): void {
    if (this.#stopped) return;
    this.#pending.set(id, session);
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#flushTimer !== undefined || this.#flushing !== undefined || this.#stopped) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      void this.#flush();
    }, delayMs);
    this.#flushTimer.unref();
  }

  /** One batch of writes at a time, in order; a failure turns into a full replace on the next try. */
  #flush(): Promise<void> {
    const self = this.#self;
    if (self === undefined || this.#flushing !== undefined) return this.#flushing ?? Promise.resolve();
    const run = async (): Promise<void> => {
      if (this.#dirty) {
        this.#pending.clear();
        const rows = [...(this.#local?.all() ?? [])].map((s) => recordOf(self.relay, self.ordinal, s));
        await this.#store.replace(self.relay, self.ordinal, rows);
        this.#dirty = false;
        this.#log.info({ sessions: rows.length }, 'relay-wide live sessions: this replica\'s rows rewritten');
        return;
      }
      const batch = [...this.#pending];
      this.#pending.clear();
      const upserts = batch.flatMap(([, s]) => (s === null ? [] : [recordOf(self.relay, self.ordinal, s)]));
      const deletes = batch.flatMap(([id, s]) => (s === null ? [id] : []));
      try {
        if (upserts.length > 0) await this.#store.upsert(self.relay, upserts);
        if (deletes.length > 0) await this.#store.remove(self.relay, deletes);
      } catch (err) {
        this.#dirty = true;
        throw err;
      }
    };
    this.#flushing = run().then(
      () => {
        this.#flushing = undefined;
        this.#ok();
        if (this.#pending.size > 0 || this.#dirty) this.#schedule(0);
      },
      (err: unknown) => {
        this.#flushing = undefined;
        this.#dirty = true;
        this.#failed('write', err);
        this.#schedule(this.#o.retryMs);
      },
    );
    return this.#flushing;
  }

  async #beat(): Promise<void> {
    const self = this.#self;
    // One heartbeat at a time: on a database that hangs, they would pile up on the pool.
    if (self === undefined || this.#stopped || this.#beating) return;
    const call = this.#store.heartbeat(self.relay, self.ordinal, this.#instance, this.#o.staleAfterSec);
    // Until the call itself settles (it may outlive our bound), not before.
    this.#beating = true;
    call.then(() => (this.#beating = false), () => (this.#beating = false));
    try {
      // Not less than 2 s: a short heartbeat period (tests) must not turn a slow connect into an outage.
      const r = await this.#bounded(call, Math.max(this.#o.heartbeatMs, 2000));
      this.#ok();
      this.#m?.replicasLive.set(r.liveReplicas);
      this.#closeRequested(r.deleteRequested);
      if (this.#dirty) this.#schedule(0);
    } catch (err) {
      this.#failed('heartbeat', err);
    }
  }

  async #refreshSpread(): Promise<void> {
    const self = this.#self;
    const shares = this.#shares;
    if (self === undefined || shares === undefined || shares.active === false || this.#stopped || this.#down) return;
    const users = new Map<string, { realm: string; username: string }>();
    const realms = new Set<string>();
    for (const s of this.#local?.all() ?? []) {
      users.set(`${s.realm}\u0000${s.user}`, { realm: s.realm, username: s.user });
      realms.add(s.realm);
    }
    try {
      const r = await this.#bounded(this.#store.spread(self.relay, {
        excludeOrdinal: self.ordinal, staleAfterSec: this.#o.staleAfterSec, users: [...users.values()], realms: [...realms],
      }), this.#o.spreadRefreshMs);
      this.#ok();
      shares.replace(r.users, r.realms);
    } catch (err) {
      this.#failed('spread', err); // the shares stay as last known
    }
  }

  #closeRequested(ids: string[]): void {
    for (const id of ids) {
      if (this.#local?.remove(id) === true) this.#log.info({ session: id }, 'relay session closed at the admin API\'s request');
      else this.#note(id, null); // already gone here: the row goes too
    }
  }

  #bounded<T>(p: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from the database within ${ms} ms`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  #ok(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#m?.up.set(1);
    this.#log.info('relay-wide live sessions: the database answers again; limits are relay-wide again');
  }

  #failed(operation: string, err: unknown): void {
    this.#m?.errors.inc({ operation });
    // Whatever was written meanwhile is unknown: the next write that succeeds rewrites our rows.
    this.#dirty = true;
    if (this.#down) return;
    this.#down = true;
    this.#m?.up.set(0);
    this.#log.warn({ operation, error: err instanceof Error ? err.message : String(err) },
      'relay-wide live sessions: the database does not answer; per-user limits count this replica\'s sessions only until it does (a user may get up to replicas × limit)');
    this.#schedule(this.#o.retryMs);
  }
}

/**
 * The engine's relay-wide registry over the store (pass it as RelayDeps.liveSessions).
 * The relay starts and stops it.
 */
export function connectLiveSessions(store: Pick<Store, 'liveSessions' | 'listen'>, o: StoreLiveSessionsOptions): StoreLiveSessions {
  return new StoreLiveSessions(store.liveSessions, (cb) => store.listen(cb), o);
}
