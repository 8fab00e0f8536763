// Store errors carry stable codes; the admin API maps them to problem+json types
// (conflict -> 409, not-found -> 404, invalid -> 400, precondition -> 412, unavailable -> 503).

/** `precondition`: a conditional write (If-Match) found another version of the row. */
export type StoreErrorCode = 'conflict' | 'not-found' | 'invalid' | 'precondition' | 'unavailable' | 'migration';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** Maps a driver error (pg or PGlite, both carry SQLSTATE in `code`) to a StoreError. */
export function toStoreError(e: unknown, what: string): StoreError {
  if (e instanceof StoreError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (code === '23505') return new StoreError('conflict', `${what}: already exists`, { cause: e });
  if (code === '23503') return new StoreError('not-found', `${what}: referenced row does not exist`, { cause: e });
  if (code === '23514' || code === '22001' || code === '22P02') return new StoreError('invalid', `${what}: ${message}`, { cause: e });
  // Class 08 connection exceptions, 57P0x shutdown, 53xxx resources, 57014 statement timeout,
  // and socket errors from the driver: the database is not answering now.
  if (typeof code === 'string' && (/^(08|53|57P0)/.test(code) || code === '57014' || /^E[A-Z]+$/.test(code))) {
    return new StoreError('unavailable', `${what}: database unavailable (${message})`, { cause: e });
  }
  if (/Connection terminated|connection is closed|Client has encountered a connection error|PGlite is closed/i.test(message)) {
    return new StoreError('unavailable', `${what}: database unavailable (${message})`, { cause: e });
  }
  return new StoreError('unavailable', `${what}: ${message}`, { cause: e });
}
