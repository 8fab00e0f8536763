// Credentials for AUTH, cached in the engine (DESIGN.md §4): config state lives in
// PostgreSQL, the engine keeps a copy, drops entries when the store's change feed says
// a user or realm changed, and keeps answering from the copy when the database is briefly
// unreachable (a lookup that fails falls back to the last known answer).
import type { CredentialSource } from './auth-handler.ts';

type Credentials = Awaited<ReturnType<CredentialSource['lookup']>>;

export type CredentialChange =
  | { table: 'realms'; key: { realm: string } }
  | { table: 'users'; key: { realm: string; username: string } }
  | { table: '*' };

export class CachedCredentials implements CredentialSource {
  readonly #source: CredentialSource;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #cache = new Map<string, { value: Credentials; at: number }>();

  constructor(source: CredentialSource, o: { ttlMs?: number; maxEntries?: number } = {}) {
    this.#source = source;
    this.#ttlMs = o.ttlMs ?? 60_000;
    this.#max = o.maxEntries ?? 100_000;
  }

  async lookup(realm: string, username: string): Promise<Credentials> {
    const key = `${realm}\u0000${username}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined && Date.now() - hit.at < this.#ttlMs) return hit.value;
    try {
      const value = await this.#source.lookup(realm, username);
      if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(key, { value, at: Date.now() });
      return value;
    } catch (err) {
      if (hit !== undefined) return hit.value; // database down: serve the last known answer
      throw err;
    }
  }

  /** Applies a change-feed event (the store's LISTEN/NOTIFY). */
  invalidate(change: CredentialChange): void {
    if (change.table === '*') return this.#cache.clear();
    if (change.table === 'users') {
      this.#cache.delete(`${change.key.realm}\u0000${change.key.username}`);
      return;
    }
    for (const k of this.#cache.keys()) if (k.startsWith(`${change.key.realm}\u0000`)) this.#cache.delete(k);
  }
}
