// One writer at a time per connection: MSRP frames cannot interleave on a connection
// (RFC 4975 §7.1), so a streamed chunk owns its next hop's connection from head to
// end-line, and other frames for that connection wait their turn (their sources are
// paused meanwhile, so waiting costs no unbounded memory).
//
// A large streamed chunk does not keep the others waiting to its end: it is interrupted
// (RFC 4975 §7.1.1, inbound.ts) once writers wait here, and resumes behind them.
//
// Writes honour backpressure (docs/architecture.md §3.4): when the connection's socket asks to
// wait, the source connection that produced the bytes is paused until 'drain'.
import type { Connection } from '../transport/connection.ts';

export class Outlet {
  readonly conn: Connection;
  #busy = false;
  /** Writers waiting their turn; allocated when the first one has to wait. */
  #waiting: (() => void)[] | undefined;
  /** Set by the holder that can yield (an interruptible stream): told, in a microtask, that a writer waits. */
  onWait: (() => void) | undefined;

  constructor(conn: Connection) {
    this.conn = conn;
  }

  /** Runs `fn` when this outlet is free; `fn` must eventually call `release()`. Returns true when it ran now. */
  acquire(fn: () => void): boolean {
    if (!this.#busy) {
      this.#busy = true;
      fn();
      return true;
    }
    (this.#waiting ??= []).push(fn);
    this.#notify();
    return false;
  }

  /** True when writers wait for this outlet. */
  get waiting(): boolean {
    return this.#waiting !== undefined && this.#waiting.length > 0;
  }

  /** Takes the outlet when it is free (then the caller must `release()`); false when busy. */
  tryAcquire(): boolean {
    if (this.#busy) return false;
    this.#busy = true;
    return true;
  }

  release(): void {
    const next = this.#waiting?.shift();
    if (next === undefined) {
      this.#busy = false;
      return;
    }
    next();
  }

  /** Writes `bufs`; on a full socket pauses `source` (when given) until the socket drains. */
  write(bufs: readonly Buffer[], source?: Connection): boolean {
    const ok = this.conn.writeBuffers(bufs);
    if (!ok && source !== undefined && !this.conn.closed && source !== this.conn) {
      const reason = `bp:${this.conn.id}`;
      source.pause(reason);
      this.conn.onceDrained(() => source.resume(reason));
    }
    return ok;
  }

  /** A complete frame queued behind any stream in progress; `source` is paused while it waits. */
  writeFrame(bufs: readonly Buffer[], source?: Connection, after?: () => void): void {
    if (!this.#busy) {
      // Free: written at once (a synchronous write cannot be interleaved), no closure needed.
      this.write(bufs, source);
      after?.();
      return;
    }
    const key = `queued:${this.conn.id}:${++queuedSeq}`;
    (this.#waiting ??= []).push(() => {
      this.write(bufs, source);
      source?.resume(key);
      this.release();
      after?.();
    });
    source?.pause(key);
    this.#notify();
  }

  #notify(): void {
    // Deferred: the holder yields by releasing, which runs waiters; never inside acquire().
    const fn = this.onWait;
    if (fn !== undefined) queueMicrotask(fn);
  }
}

let queuedSeq = 0;
const outlets = new WeakMap<Connection, Outlet>();

/**
 * Writes a complete frame we generated to `conn`, behind any stream in progress there. A
 * connection that never carried a stream has no Outlet and needs none (most client
 * connections: an idle session keeps no writer state).
 */
export function writeFrameTo(conn: Connection, bufs: readonly Buffer[]): void {
  const o = outlets.get(conn);
  if (o === undefined) conn.writeBuffers(bufs);
  else o.writeFrame(bufs);
}

export function outletOf(conn: Connection): Outlet {
  let o = outlets.get(conn);
  if (o === undefined) outlets.set(conn, (o = new Outlet(conn)));
  return o;
}
