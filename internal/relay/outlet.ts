// One writer at a time per connection: MSRP frames cannot interleave on a connection
// (RFC 4975 §7.1), so a streamed chunk owns its next hop's connection from head to
// end-line, and other frames for that connection wait their turn (their sources are
// paused meanwhile, so waiting costs no unbounded memory).
//
// Writes honour backpressure (DESIGN.md §3.4): when the connection's socket asks to
// wait, the source connection that produced the bytes is paused until 'drain'.
import type { Connection } from '../transport/connection.ts';

export class Outlet {
  readonly conn: Connection;
  #busy = false;
  readonly #waiting: (() => void)[] = [];

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
    this.#waiting.push(fn);
    return false;
  }

  release(): void {
    const next = this.#waiting.shift();
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
    const key = `queued:${this.conn.id}:${++queuedSeq}`;
    let queued = false;
    const ran = this.acquire(() => {
      this.write(bufs, source);
      if (queued) source?.resume(key);
      this.release();
      after?.();
    });
    if (!ran) {
      queued = true;
      source?.pause(key);
    }
  }
}

let queuedSeq = 0;
const outlets = new WeakMap<Connection, Outlet>();

export function outletOf(conn: Connection): Outlet {
  let o = outlets.get(conn);
  if (o === undefined) outlets.set(conn, (o = new Outlet(conn)));
  return o;
}
