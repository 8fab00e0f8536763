// Test support for every folder of internal/: wait on a condition, never a fixed sleep.
// A sleep that gates an assertion is either too short under load (a flaky failure) or, before
// a negative assertion ("nothing arrived"), passes without checking anything. Poll the
// condition with a deadline instead; for "X did not happen", wait for an event ordered after X
// (a probe behind it on the same connection) or read a counter the code updates synchronously.
// No imports: a helper at the root of internal/ obeys every folder's layering.

/** Polls `cond` every 10 ms until it holds; fails after `timeoutMs` naming `what`. */
export async function eventually(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Polls `get` until it returns a value other than undefined; returns it, or fails after `timeoutMs`. */
export async function waitFor<T>(get: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  let v: T | undefined;
  await eventually(async () => (v = await get()) !== undefined, what, timeoutMs);
  return v!;
}
