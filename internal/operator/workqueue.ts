// A work queue of object keys ("namespace/name") with the guarantees controllers rely on
// (the contract of client-go's workqueue, written from its documentation):
//  - deduplication: a key waiting in the queue is held once, however often it is added;
//  - in-flight tracking: a key is handed to at most one worker at a time; a key added
//    while it is being processed is queued again when that worker calls done();
//  - delayed adds (addAfter), keeping the earliest due time per key;
//  - per-key exponential backoff for failures (addRateLimited), reset by forget().
//
// Reconcilers are level-based, so losing the reason a key was added is fine: only the
// key matters, and processing it once more is always safe.

/** Per-key failure delay: base * 2^failures, capped (client-go: 5 ms to 1000 s). */
export class ExponentialBackoff {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly #failures = new Map<string, number>();

  constructor(baseMs = 5, maxMs = 1_000_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  /** The delay before the next retry of `key`, counting this failure. */
  when(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    // 2^n overflows to Infinity long after the cap, so Math.min is enough.
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  retries(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }
}

export interface WorkQueueOptions {
  backoff?: ExponentialBackoff;
  /** Called whenever the number of waiting keys changes (for a queue-depth gauge). */
  onDepth?: (depth: number) => void;
}

export class WorkQueue {
  readonly #queue: string[] = [];
  /** Keys that need processing: waiting in `queue`, or re-added while in `processing`. */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #delayed = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  readonly #drainWaiters: (() => void)[] = [];
  #shuttingDown = false;
  readonly backoff: ExponentialBackoff;
  readonly #onDepth: ((depth: number) => void) | undefined;

  constructor(options: WorkQueueOptions = {}) {
    this.backoff = options.backoff ?? new ExponentialBackoff();
    this.#onDepth = options.onDepth;
  }

  /** Keys waiting to be handed out. */
  get length(): number {
    return this.#queue.length;
  }

  /** Keys currently held by workers. */
  get inFlight(): number {
    return this.#processing.size;
  }

  get isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  add(key: string): void {
    if (this.#shuttingDown) return;
    if (this.#dirty.has(key)) return;
    this.#dirty.add(key);
    // Processing now: done() queues it again, so no two workers ever hold the same key.
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queue.push(key);
    this.#onDepth?.(this.#queue.length);
  }

  /** Add after `delayMs`; a key already scheduled keeps the earlier of the two times. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const due = Date.now() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing && existing.due <= due) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#delayed.set(key, { due, timer });
  }

  /** Add after this key's next backoff delay; returns the delay used. */
  addRateLimited(key: string): number {
    const delay = this.backoff.when(key);
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  /** Wait for the next key; undefined once the queue is shut down and empty. */
  get(): Promise<string | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#onDepth?.(this.#queue.length);
      return Promise.resolve(key);
    }
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The worker finished `key`; if it was added meanwhile, it is queued again now. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      this.#dirty.delete(key);
      this.add(key);
    }
    if (this.#processing.size === 0) for (const w of this.#drainWaiters.splice(0)) w();
  }

  /** Stop handing out keys; waiting get() calls resolve undefined; pending delays are dropped. */
  shutDown(): void {
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  /** shutDown(), then wait until every key in flight is done. */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return;
    await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }
}
