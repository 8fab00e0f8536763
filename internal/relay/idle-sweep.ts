// Two sweeps over connections, each one shared timer (no timer or listener per socket):
//  - UnauthenticatedIdleSweep: a connection that never authenticates and stays idle is
//    closed (`unauthenticatedIdleSec`, brief: 30 s). A connection idles from its last byte
//    read or written; the sweep runs every quarter of the idle time (20 ms to 5 s), and only
//    while some connection is watched.
//  - QuietReaderSweep: idle sessions are most of a chat relay's connections; one that stayed
//    quiet for a sweep period gives back its frame reader (parser state, about 0.7 kB) and
//    the next byte makes a new one.
// The clock is given, and sweep() can be called directly: tests need no sockets or waiting.

/** What the idle sweep looks at on a connection (transport/connection.ts Connection). */
export interface SweptConnection {
  readonly closed: boolean;
  readonly bytesIn: number;
  readonly bytesOut: number;
  destroy(): void;
}

export interface UnauthenticatedIdleSweepOptions<C extends SweptConnection> {
  /** 0 or less: connections are never closed for idling. */
  idleMs: number;
  /** The connection authenticated meanwhile (it holds a relay session): no longer watched. */
  authenticated: (conn: C) => boolean;
  /** Called for each connection the sweep closes, before it is destroyed (metrics). */
  onIdle: (conn: C) => void;
  now?: () => number;
}

export class UnauthenticatedIdleSweep<C extends SweptConnection> {
  readonly idleMs: number;
  readonly periodMs: number;
  readonly #authenticated: (conn: C) => boolean;
  readonly #onIdle: (conn: C) => void;
  readonly #now: () => number;
  /** Watched connections: bytes seen at `since`, when they last changed. */
  readonly #watched = new Map<C, { bytes: number; since: number }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(o: UnauthenticatedIdleSweepOptions<C>) {
    this.idleMs = o.idleMs;
    this.periodMs = Math.min(Math.max(o.idleMs / 4, 20), 5000);
    this.#authenticated = o.authenticated;
    this.#onIdle = o.onIdle;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Connections watched now. */
  get size(): number {
    return this.#watched.size;
  }

  /** A new connection: watched until it authenticates, closes or idles out. */
  watch(conn: C): void {
    if (!(this.idleMs > 0)) return;
    this.#watched.set(conn, { bytes: conn.bytesIn + conn.bytesOut, since: this.#now() });
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.sweep(), this.periodMs);
      this.#timer.unref();
    }
  }

  /** The connection authenticated or closed. */
  forget(conn: C): void {
    this.#watched.delete(conn);
  }

  /** One pass: closes the connections idle for idleMs; stops the timer when none is left. */
  sweep(): void {
    const now = this.#now();
    for (const [conn, w] of this.#watched) {
      if (conn.closed || this.#authenticated(conn)) {
        this.#watched.delete(conn);
        continue;
      }
      const bytes = conn.bytesIn + conn.bytesOut;
      if (bytes !== w.bytes) {
        w.bytes = bytes;
        w.since = now;
      } else if (now - w.since >= this.idleMs) {
        this.#watched.delete(conn);
        this.#onIdle(conn);
        conn.destroy();
      }
    }
    if (this.#watched.size === 0) this.#stopTimer();
  }

  /** Whether the shared timer runs (only while something is watched). */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  stop(): void {
    this.#stopTimer();
    this.#watched.clear();
  }

  #stopTimer(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** How often connections are checked for quiet (a reader is dropped after one to two periods without a byte). */
export const QUIET_READER_SWEEP_MS = 2000;

export class QuietReaderSweep {
  readonly #connections: Iterable<{ releaseIdleReader(): unknown }>;
  readonly #timer: NodeJS.Timeout;

  constructor(connections: Iterable<{ releaseIdleReader(): unknown }>, periodMs = QUIET_READER_SWEEP_MS) {
    this.#connections = connections;
    this.#timer = setInterval(() => this.sweep(), periodMs);
    this.#timer.unref();
  }

  /** One pass: each connection quiet since the previous pass drops its frame reader. */
  sweep(): void {
    for (const c of this.#connections) c.releaseIdleReader();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
