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
  // Accounting (docs/relay.md "Accounting"), counted where the forwarder already accounts
  // bytes (inbound.ts): plain increments on this object, nothing allocated per frame.
  /** Body bytes received from the client on its connection. */
  bytesIn: number;
  /** Body bytes delivered to the client. */
  bytesOut: number;
  /** Complete SEND messages (last chunk) from the client, and delivered to it. */
  messagesIn: number;
  messagesOut: number;
  /**
   * A front session (docs/chat.md "Our relay in front of the switch"): no AUTH, handed to the
   * in-process chat server; its client may send only to this next hop (the own chat switch).
   */
  readonly onlyTo?: { host: string; port: number };
}

/** A front session handed out and not yet used: bound to the first connection that sends through it. */
export interface FrontReservation {
  readonly id: string;
  readonly uri: string;
  readonly onlyTo: { host: string; port: number };
  /** Unused until then, it cannot be bound any more. */
  readonly expiresAt: number;
}

export interface SessionTableEvents {
  onRemoved(session: RelaySession, reason: 'expired' | 'closed' | 'deleted' | 'replaced'): void;
}

/** The realm of front sessions (the relay's throttle and views): all of them share its realm limit. */
export const FRONT_REALM = 'chat-front';

/** A bound front session's expiry: a year, i.e. none in practice (it ends with its device). */
const FRONT_BOUND_LIFETIME_MS = 365 * 24 * 3600_000;

/** How often expired sessions are swept out (lookups check the expiry themselves, exactly). */
const SWEEP_INTERVAL_MS = 1000;

export class SessionTable {
  readonly #byId = new Map<string, RelaySession>();
  /** One session per connection is the rule: a Set only when a connection holds more. */
  readonly #byConnection = new Map<Connection, RelaySession | Set<RelaySession>>();
  readonly #byUser = new Map<string, Set<RelaySession>>();
  /** Front sessions not bound yet (bounded by the chat server's devices; they end with the device). */
  readonly #fronts = new Map<string, FrontReservation>();
  readonly #events: SessionTableEvents;
  readonly #now: () => number;
  /** One sweep timer for the whole table (not one per session), running while it is not empty. */
  #sweeper: NodeJS.Timeout | undefined;
  /** The earliest expiresAt in the table, or a lower bound of it: the sweep skips the scan before then. */
  #nextExpiry = Infinity;

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

  /** Reserves a front session (the engine's chat server, at admission). */
  reserveFront(r: FrontReservation): void {
    this.#fronts.set(r.id, r);
  }

  /**
   * Binds a reserved front session to the connection that first sends through it (RFC 4975
   * §5.4, as a switch session is bound), or undefined when `id` is no such reservation.
   */
  bindFront(id: string, conn: Connection, clientUri: string, towards: (onlyTo: FrontReservation['onlyTo']) => boolean): RelaySession | undefined {
    const r = this.#fronts.get(id);
    if (r === undefined || !towards(r.onlyTo)) return undefined;
    this.#fronts.delete(id);
    if (r.expiresAt <= this.#now()) return undefined;
    const session: RelaySession = {
      // Throttled as a user of its own in the realm `chat-front` (throttle.ts keys: session, user, realm).
      id, connection: conn, user: id, realm: FRONT_REALM, uri: r.uri, clientUri,
      // It ends with the device (the chat server ends it), not by time.
      createdAt: this.#now(), expiresAt: this.#now() + FRONT_BOUND_LIFETIME_MS, bytesForwarded: 0, bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, onlyTo: r.onlyTo,
    };
    this.add(session);
    return session;
  }

  /** Ends a front session, bound or not (the device left the room). */
  endFront(id: string): void {
    if (this.#fronts.delete(id)) return;
    this.remove(id, 'deleted');
  }

  /** Front sessions reserved and not bound yet. */
  get pendingFronts(): number {
    return this.#fronts.size;
  }

  all(): IterableIterator<RelaySession> {
    return this.#byId.values();
  }

  forConnection(conn: Connection): ReadonlySet<RelaySession> {
    const v = this.#byConnection.get(conn);
    if (v === undefined) return new Set();
    return v instanceof Set ? v : new Set([v]);
  }

  countForUser(realm: string, user: string): number {
    return this.#byUser.get(`${realm}\u0000${user}`)?.size ?? 0;
  }

  add(session: RelaySession): void {
    this.#byId.set(session.id, session);
    const held = this.#byConnection.get(session.connection);
    if (held === undefined) this.#byConnection.set(session.connection, session);
    else if (held instanceof Set) held.add(session);
    else if (held !== session) this.#byConnection.set(session.connection, new Set([held, session]));
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
    if (this.#byId.size === 0) this.#stopSweep();
    const held = this.#byConnection.get(s.connection);
    if (held === s) this.#byConnection.delete(s.connection);
    else if (held instanceof Set) {
      held.delete(s);
      if (held.size === 1) this.#byConnection.set(s.connection, held.values().next().value!);
      else if (held.size === 0) this.#byConnection.delete(s.connection);
    }
    const key = `${s.realm}\u0000${s.user}`;
    const u = this.#byUser.get(key);
    u?.delete(s);
    if (u?.size === 0) this.#byUser.delete(key);
    this.#events.onRemoved(s, reason);
    return s;
  }

  removeConnection(conn: Connection): void {
    const held = this.#byConnection.get(conn);
    if (held === undefined) return;
    for (const s of held instanceof Set ? [...held] : [held]) this.remove(s.id, 'closed');
  }

  clear(): void {
    this.#fronts.clear();
    for (const id of [...this.#byId.keys()]) this.remove(id, 'deleted');
  }

  #arm(session: RelaySession): void {
    if (session.expiresAt < this.#nextExpiry) this.#nextExpiry = session.expiresAt;
    if (this.#sweeper === undefined) {
      this.#sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      this.#sweeper.unref();
    }
  }

  #stopSweep(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#nextExpiry = Infinity;
  }

  /** Removes every expired session (run by the sweep timer; at most SWEEP_INTERVAL_MS late). */
  sweep(): void {
    const now = this.#now();
    if (now < this.#nextExpiry) return;
    let next = Infinity;
    // Deleting the entry being visited is safe while iterating a Map.
    for (const s of this.#byId.values()) {
      if (s.expiresAt <= now) this.remove(s.id, 'expired');
      else if (s.expiresAt < next) next = s.expiresAt;
    }
    if (this.#byId.size > 0) this.#nextExpiry = next;
  }
}
