// The relay session table (RFC 4976 §6.3): a session id handed out in Use-Path maps to
// the connection that authenticated it, the user and realm, and its expiry. The URI is
// honoured for traffic leaving the client only on that connection (router.ts); the
// session is removed at expiry, when its connection closes, or by the control endpoint.
import type { Connection } from '../transport/connection.ts';

export interface RelaySession {
  readonly id: string;
  readonly connection: Connection;
  readonly user: string;
  readonly realm: string;
  /** The URI handed out in Use-Path, as written. */
  readonly uri: string;
  /** The client's own URI from the From-Path of its AUTH (where inbound traffic goes). */
  readonly clientUri: string;
  readonly createdAt: number;
  expiresAt: number;
  bytesForwarded: number;
}

export interface SessionTableEvents {
  onRemoved(session: RelaySession, reason: 'expired' | 'closed' | 'deleted' | 'replaced'): void;
}

export class SessionTable {
  readonly #byId = new Map<string, RelaySession>();
  readonly #byConnection = new Map<Connection, Set<RelaySession>>();
  readonly #byUser = new Map<string, Set<RelaySession>>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #events: SessionTableEvents;
  readonly #now: () => number;

  constructor(events: SessionTableEvents, now: () => number = Date.now) {
    this.#events = events;
    this.#now = now;
  }

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): RelaySession | undefined {
    const s = this.#byId.get(id);
    if (s !== undefined && s.expiresAt <= this.#now()) {
      this.remove(id, 'expired');
      return undefined;
    }
    return s;
  }

  all(): IterableIterator<RelaySession> {
    return this.#byId.values();
  }

  forConnection(conn: Connection): ReadonlySet<RelaySession> {
    return this.#byConnection.get(conn) ?? new Set();
  }

  countForUser(realm: string, user: string): number {
    return this.#byUser.get(`${realm}\u0000${user}`)?.size ?? 0;
  }

  add(session: RelaySession): void {
    this.#byId.set(session.id, session);
    let set = this.#byConnection.get(session.connection);
    if (set === undefined) this.#byConnection.set(session.connection, (set = new Set()));
    set.add(session);
    const key = `${session.realm}\u0000${session.user}`;
    let u = this.#byUser.get(key);
    if (u === undefined) this.#byUser.set(key, (u = new Set()));
    u.add(session);
    this.#arm(session);
  }

  /** Refresh (RFC 4976 §5.1: a new AUTH on the same connection extends the URI's lifetime). */
  refresh(session: RelaySession, expiresAt: number): void {
    session.expiresAt = expiresAt;
    this.#arm(session);
  }

  remove(id: string, reason: 'expired' | 'closed' | 'deleted' | 'replaced'): RelaySession | undefined {
    const s = this.#byId.get(id);
    if (s === undefined) return undefined;
    this.#byId.delete(id);
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
    const set = this.#byConnection.get(s.connection);
    set?.delete(s);
    if (set?.size === 0) this.#byConnection.delete(s.connection);
    const key = `${s.realm}\u0000${s.user}`;
    const u = this.#byUser.get(key);
    u?.delete(s);
    if (u?.size === 0) this.#byUser.delete(key);
    this.#events.onRemoved(s, reason);
    return s;
  }

  removeConnection(conn: Connection): void {
    for (const s of [...(this.#byConnection.get(conn) ?? [])]) this.remove(s.id, 'closed');
  }

  clear(): void {
    for (const id of [...this.#byId.keys()]) this.remove(id, 'deleted');
  }

  #arm(session: RelaySession): void {
    clearTimeout(this.#timers.get(session.id));
    // setTimeout is limited to 2^31-1 ms; expiries are bounded by config (hours at most).
    const delay = Math.max(0, Math.min(session.expiresAt - this.#now(), 2 ** 31 - 1));
    const t = setTimeout(() => this.remove(session.id, 'expired'), delay);
    t.unref();
    this.#timers.set(session.id, t);
  }
}
