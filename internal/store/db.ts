// The narrow SQL surface the store needs, implemented twice: node-postgres (a Pool)
// and PGlite (embedded PostgreSQL in WASM, one connection in this process).

export interface Rows<T> {
  rows: T[];
  rowCount: number;
}

/** One connection: statements run in order on it. */
export interface Session {
  query<T>(sql: string, params?: unknown[]): Promise<Rows<T>>;
  /** Several statements separated by `;`, no parameters (migrations). */
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
}

/** node-postgres Pool counters (pg.Pool totalCount / idleCount / waitingCount). */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface Db extends Session {
  readonly kind: 'postgres' | 'pglite';
  /** Runs fn on one dedicated connection (needed for session-level advisory locks). */
  session<T>(fn: (s: Session) => Promise<T>): Promise<T>;
  /**
   * LISTEN on a channel. `onResync` is called after the listening connection was lost and
   * re-established: notifications sent meanwhile are gone, so caches must reload.
   */
  listen(channel: string, onPayload: (payload: string) => void, onResync: () => void): Promise<() => Promise<void>>;
  /** Pool counters; undefined for PGlite (one in-process connection, no pool). */
  poolStats(): PoolStats | undefined;
  close(): Promise<void>;
}
