// The transactions the relay opened on its next-hop connections (RFC 4975 §7.2: responses are
// hop-by-hop, matched by our transaction id), and their timeouts (§7.1: no response within
// the transaction timeout fails the request with 408). One timer per connection, not one per
// transaction: every transaction has the same timeout, so arming order is deadline order.

/** What is tracked of a transaction: our transaction id downstream and when its answer is due. */
export interface AwaitedTransaction {
  /** Our transaction id on the next hop. */
  readonly outTid: string;
  /** When the next hop's response is due (the clock's ms); 0 when not waiting for it. */
  deadline: number;
}

/** The in-progress transactions opened on one next-hop connection. */
class Downstream<T extends AwaitedTransaction> {
  /** By our transaction id (to match responses). */
  readonly pending = new Map<string, T>();
  /** Armed transactions, oldest first from `head`; entries answered meanwhile are skipped. */
  queue: (T | undefined)[] = [];
  head = 0;
  timer: NodeJS.Timeout | undefined;

  /** Drops answered entries from the front (answers mostly come in order, so this stays short). */
  trim(): void {
    const q = this.queue;
    let h = this.head;
    while (h < q.length && q[h]!.deadline === 0) q[h++] = undefined;
    if (h === q.length) {
      q.length = 0;
      h = 0;
    } else if (h > 1024 && h * 2 > q.length) {
      this.queue = q.slice(h);
      h = 0;
    }
    this.head = h;
  }
}

export interface DownstreamTransactionsOptions<T> {
  /** Read when a transaction is armed: the option may change while the relay runs. */
  timeoutMs: () => number;
  /** A transaction got no response in time (already forgotten here). */
  expired: (t: T) => void;
  now?: () => number;
}

export class DownstreamTransactions<T extends AwaitedTransaction, C extends object = object> {
  readonly #byConnection = new WeakMap<C, Downstream<T>>();
  readonly #timeoutMs: () => number;
  readonly #expired: (t: T) => void;
  readonly #now: () => number;

  constructor(o: DownstreamTransactionsOptions<T>) {
    this.#timeoutMs = o.timeoutMs;
    this.#expired = o.expired;
    this.#now = o.now ?? (() => performance.now());
  }

  /** `t` goes out on `conn` under our transaction id `tid`: its response is expected there. */
  register(t: T, conn: C, tid: string): void {
    let ds = this.#byConnection.get(conn);
    if (ds === undefined) this.#byConnection.set(conn, (ds = new Downstream()));
    ds.pending.set(tid, t);
  }

  /** The transaction `tid` we opened on `conn`, if still open. */
  pending(conn: C, tid: string): T | undefined {
    return this.#byConnection.get(conn)?.pending.get(tid);
  }

  /** `t` is completely written to `conn`: its response is due within the transaction timeout. */
  arm(t: T, conn: C): void {
    const ds = this.#byConnection.get(conn);
    if (ds === undefined) return; // closed meanwhile: closed() has answered it
    const timeoutMs = this.#timeoutMs();
    t.deadline = this.#now() + timeoutMs;
    ds.queue.push(t);
    if (ds.timer === undefined) this.#schedule(ds, timeoutMs);
  }

  /** `t` on `conn` is answered, or given up before our end-line: forgotten, its timer entry too. */
  settle(t: T, conn: C, tid: string): void {
    const ds = this.#byConnection.get(conn);
    if (ds === undefined) return;
    ds.pending.delete(tid);
    if (t.deadline !== 0) {
      t.deadline = 0;
      ds.trim();
    }
  }

  /** Forgets transaction `tid` on `conn` without touching its owner's timer (an interrupted piece, answered). */
  forget(conn: C, tid: string): void {
    this.#byConnection.get(conn)?.pending.delete(tid);
  }

  /** `conn` closed: its open transactions, forgotten here (deadlines cleared), for the caller to fail. */
  closed(conn: C): IterableIterator<T> | undefined {
    const ds = this.#byConnection.get(conn);
    if (ds === undefined) return undefined;
    this.#byConnection.delete(conn);
    clearTimeout(ds.timer);
    ds.timer = undefined;
    ds.queue = [];
    ds.head = 0;
    for (const t of ds.pending.values()) t.deadline = 0;
    return ds.pending.values();
  }

  #schedule(ds: Downstream<T>, delayMs: number): void {
    ds.timer = setTimeout(() => this.#expire(ds), Math.max(0, delayMs));
    ds.timer.unref();
  }

  /** The per-connection timer: fails every transaction past its deadline, re-arms for the next. */
  #expire(ds: Downstream<T>): void {
    ds.timer = undefined;
    const now = this.#now();
    const q = ds.queue;
    while (ds.head < q.length) {
      const t = q[ds.head]!;
      if (t.deadline === 0) {
        q[ds.head++] = undefined;
        continue;
      }
      if (t.deadline > now) break;
      q[ds.head++] = undefined;
      t.deadline = 0;
      ds.pending.delete(t.outTid);
      this.#expired(t);
    }
    ds.trim();
    if (ds.head < ds.queue.length) this.#schedule(ds, ds.queue[ds.head]!.deadline - now);
  }
}
