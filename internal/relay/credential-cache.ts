// Credentials for AUTH, cached in the engine (docs/architecture.md §4.1): config state lives in
// PostgreSQL, the engine keeps a copy, drops entries when the store's change feed says
// a user or realm changed, and keeps answering from the copy when the database is
// unreachable (a lookup that fails falls back to the last known answer; while the store
// is known to be down, a cached answer is used without trying the database first).
// A user the engine has no copy of cannot be checked then: the lookup throws
// CredentialsUnavailableError and AUTH answers 403 (docs/relay.md, "Database outages").
import type { Counter } from 'prom-client';
import type { Logger } from 'pino';
import type { ChangeEvent, Store } from '../store/store.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { CredentialSource } from './auth-handler.ts';
import { StoreHealth, type StoreAvailability } from './store-health.ts';

type Credentials = Awaited<ReturnType<CredentialSource['lookup']>>;

export type CredentialChange =
  | { table: 'realms'; key: { realm: string } }
  | { table: 'users'; key: { realm: string; username: string } }
  | { table: '*' };

/** The lookup failed (database unreachable) and nothing is cached for this user. */
export class CredentialsUnavailableError extends Error {
  override readonly name = 'CredentialsUnavailableError';
}

export interface CachedCredentialsOptions {
  /** How long an entry is used without asking the database (a safety net: the change feed invalidates). */
  ttlMs?: number;
  maxEntries?: number;
  /** Store up/down, fed by the lookups' outcomes (StoreHealth). */
  availability?: StoreAvailability;
  /** For `msrp_auth_cache_fallback_total`. */
  metrics?: Metrics;
}

export class CachedCredentials implements CredentialSource {
  readonly #source: CredentialSource;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #availability: StoreAvailability | undefined;
  readonly #fallbacks: Counter | undefined;
  readonly #cache = new Map<string, { value: Credentials; at: number }>();
  /** Bumped by every invalidation: a lookup that raced with one must not cache what it read. */
  #generation = 0;

  constructor(source: CredentialSource, o: CachedCredentialsOptions = {}) {
    this.#source = source;
    this.#ttlMs = o.ttlMs ?? 60_000;
    this.#max = o.maxEntries ?? 100_000;
    this.#availability = o.availability;
    this.#fallbacks = o.metrics?.counter({ name: 'auth_cache_fallback_total', help: 'AUTH credential lookups answered from the cache because the database was unreachable' });
  }

  async lookup(realm: string, username: string): Promise<Credentials> {
    const key = `${realm}\u0000${username}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined && Date.now() - hit.at < this.#ttlMs) return hit.value;
    if (hit !== undefined && this.#availability?.up === false) {
      this.#fallbacks?.inc(); // known down: do not wait for the database to fail again
      return hit.value;
    }
    const generation = this.#generation;
    let value: Credentials;
    try {
      value = await this.#source.lookup(realm, username);
    } catch (err) {
      this.#availability?.reportFailure(err);
      if (hit !== undefined && this.#cache.get(key) === hit) {
        this.#fallbacks?.inc(); // database down: serve the last known answer
        return hit.value;
      }
      throw new CredentialsUnavailableError(`credentials for ${username}@${realm} unavailable`, { cause: err });
    }
    this.#availability?.reportSuccess();
    if (generation === this.#generation) {
      if (!this.#cache.has(key) && this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.delete(key); // re-insert: the oldest entries are evicted first
      this.#cache.set(key, { value, at: Date.now() });
    }
    return value;
  }

  /** Applies a change-feed event (the store's LISTEN/NOTIFY). */
  invalidate(change: CredentialChange): void {
    this.#generation++;
    if (change.table === '*') return this.#cache.clear();
    if (change.table === 'users') {
      this.#cache.delete(`${change.key.realm}\u0000${change.key.username}`);
      return;
    }
    for (const k of this.#cache.keys()) if (k.startsWith(`${change.key.realm}\u0000`)) this.#cache.delete(k);
  }

  get size(): number {
    return this.#cache.size;
  }
}

/** A second source of credentials: an existing subscriber table (store/subscribers.ts). */
export interface SubscriberCredentials {
  lookup: CredentialSource['lookup'];
  /** `alongside`: our users first, then the table; `instead`: the table only. */
  mode: 'alongside' | 'instead';
  /**
   * A round trip to the table's database when it is another one than the store's: the health
   * check then pings the database(s) credentials come from (connectStoreCredentials).
   */
  ping?: () => Promise<void>;
  /** The change feed of the table's database when it is another one than the store's. */
  listen?: (onChange: (event: ChangeEvent) => void) => Promise<() => Promise<void>>;
}

export interface StoreCredentials {
  credentials: CachedCredentials;
  health: StoreHealth;
  /** Stops the pinger and the change-feed subscription (not the store). */
  close(): Promise<void>;
}

/**
 * The engine's wiring of AUTH to the store: a CachedCredentials over
 * store.getUserCredentials, invalidated by store.listen (users, realms, and a full clear on
 * resync after the LISTEN connection came back), and a StoreHealth pinging the database(s)
 * the credentials come from: the store; with a subscriber table in a database of its own,
 * that database alone in `mode: instead` (our users are not read, so the store being up says
 * nothing about AUTH), both in `mode: alongside` (a lookup may need either).
 * Pass `health` to startRelay (deps.storeHealth) so /readyz reports it.
 */
export async function connectStoreCredentials(
  store: Pick<Store, 'getUserCredentials' | 'ping' | 'listen'>,
  o: { metrics?: Metrics; logger?: Logger; ttlMs?: number; maxEntries?: number; pingIntervalMs?: number; subscribers?: SubscriberCredentials } = {},
): Promise<StoreCredentials> {
  const sub = o.subscribers;
  const subPing = sub?.ping;
  const ping = subPing === undefined
    ? () => store.ping()
    : sub!.mode === 'instead'
      ? subPing
      : async () => {
        await store.ping();
        await subPing();
      };
  const health = new StoreHealth(ping, {
    ...(o.pingIntervalMs !== undefined ? { intervalMs: o.pingIntervalMs } : {}),
    ...(o.metrics !== undefined ? { metrics: o.metrics } : {}),
    ...(o.logger !== undefined ? { logger: o.logger } : {}),
  });
  const lookup: CredentialSource['lookup'] = sub === undefined
    ? (realm, user) => store.getUserCredentials(realm, user)
    : sub.mode === 'instead'
      ? sub.lookup
      : async (realm, user) => (await store.getUserCredentials(realm, user)) ?? sub.lookup(realm, user);
  const credentials = new CachedCredentials({ lookup }, {
    availability: health,
    ...(o.metrics !== undefined ? { metrics: o.metrics } : {}),
    ...(o.ttlMs !== undefined ? { ttlMs: o.ttlMs } : {}),
    ...(o.maxEntries !== undefined ? { maxEntries: o.maxEntries } : {}),
  });
  const onChange = (e: ChangeEvent): void => {
    if (e.table !== 'users' && e.table !== 'realms' && e.table !== '*') return; // not credentials
    if (e.table === '*') {
      health.noteResync();
      o.logger?.info('change feed resynced: credential cache cleared');
      credentials.invalidate({ table: '*' });
      return;
    }
    credentials.invalidate(e);
  };
  const unlisten = await store.listen(onChange);
  let unlistenSubscribers: (() => Promise<void>) | undefined;
  try {
    unlistenSubscribers = await sub?.listen?.(onChange);
  } catch (err) {
    await unlisten();
    throw err;
  }
  health.start();
  return {
    credentials,
    health,
    async close() {
      health.stop();
      await unlisten();
      await unlistenSubscribers?.();
    },
  };
}
