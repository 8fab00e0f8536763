// One outbound link per peer, connected on first use and shared by the requests that wanted it
// meanwhile: the pod mesh (links.ts, replicas over mutual TLS) and the worker links
// (worker-links.ts, workers of one pod over Unix sockets) keep theirs here.
import type { Connection } from '../transport/connection.ts';

export class LinkPool {
  readonly #open = new Map<number, Connection>();
  readonly #pending = new Map<number, Promise<Connection>>();
  #closed = false;

  /** Open links. */
  get size(): number {
    return this.#open.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The open link to peer `k`, if there is one (no promise: the forwarder's common case). */
  open(k: number): Connection | undefined {
    const open = this.#open.get(k);
    return open !== undefined && !open.closed ? open : undefined;
  }

  /**
   * The attempt under way to peer `k`, or a new one made with `connect`: concurrent callers share
   * one attempt, and `onFailure` hears each failed attempt once.
   */
  connecting<E extends Error>(k: number, connect: () => Promise<Connection>, onFailure: (err: E) => void): Promise<Connection> {
    let p = this.#pending.get(k);
    if (p === undefined) {
      p = connect().then(
        (conn) => {
          this.#pending.delete(k);
          return conn;
        },
        (err: E) => {
          this.#pending.delete(k);
          onFailure(err);
          throw err;
        },
      );
      this.#pending.set(k, p);
    }
    return p;
  }

  /** `conn`, over `socket`, is the link to peer `k` until that socket closes. */
  add(k: number, conn: Connection, socket: { once(event: 'close', listener: () => void): unknown }): void {
    this.#open.set(k, conn);
    socket.once('close', () => {
      if (this.#open.get(k) === conn) this.#open.delete(k);
    });
  }

  closeAll(): void {
    this.#closed = true;
    for (const c of this.#open.values()) c.destroy();
    this.#open.clear();
  }
}
