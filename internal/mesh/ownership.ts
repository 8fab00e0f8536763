// Which replica owns a session (docs/relay.md "Scale-out"): replica k of a relay's
// StatefulSet mints session ids that begin `r<k>-`, so any replica can tell, from the
// To-Path URI alone, where the client's connection lives. Pure: no I/O.
//
// RFC 4975 §9: session-id = 1*( unreserved / "+" / "=" / "/" ); `r`, digits and `-` are
// unreserved, so the prefix keeps the id valid and opaque to clients and foreign relays.

/** Replicas beyond this are not a StatefulSet we render (and bound the parse). */
export const MAX_ORDINAL = 9999;

/** The session-id prefix replica `ordinal` mints (`r2-`). */
export function replicaPrefix(ordinal: number): string {
  if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal > MAX_ORDINAL) throw new RangeError(`replica ordinal ${ordinal} out of range 0..${MAX_ORDINAL}`);
  return `r${ordinal}-`;
}

/** The StatefulSet ordinal of a pod name (`msrp-relay-2` → 2), or undefined. */
export function ordinalOfHostname(host: string): number | undefined {
  const m = /-(\d{1,4})$/.exec(host);
  return m === null ? undefined : Number(m[1]);
}

/**
 * The replica a session id names as its owner, or undefined when it names none (an id
 * minted without the mesh). Reads at most 6 characters: this runs for every forwarded frame.
 */
export function ownerOf(sessionId: string): number | undefined {
  if (sessionId.charCodeAt(0) !== 0x72 /* r */) return undefined;
  let n = 0;
  for (let i = 1; i < 6 && i < sessionId.length; i++) {
    const c = sessionId.charCodeAt(i);
    if (c === 0x2d /* - */) return i > 1 ? n : undefined;
    if (c < 0x30 || c > 0x39) return undefined;
    n = n * 10 + (c - 0x30);
  }
  return undefined;
}

/** `pattern` with `{ordinal}` replaced: the host name (and certificate name) of replica `ordinal`. */
export function peerHostOf(pattern: string, ordinal: number): string {
  return pattern.replaceAll('{ordinal}', String(ordinal));
}

// Workers (docs/relay.md "Workers"): the processes of one relay replica that share its
// listeners. Worker w (w >= 1) mints ids that carry `w<w>-` after the replica prefix
// (`r2-w1-…`, or `w1-…` without a mesh); an id without it belongs to worker 0, so a replica
// of one worker mints exactly the ids it always did, and the replica part (ownerOf) reads
// the same whatever the worker.

/** Workers of one replica beyond this are refused (and bound the parse): no pod has more cores. */
export const MAX_WORKERS = 256;

/** The session-id prefix worker `worker` of a replica whose own prefix is `replica` mints. */
export function workerPrefix(replica: string, worker: number): string {
  if (!Number.isInteger(worker) || worker < 0 || worker >= MAX_WORKERS) throw new RangeError(`worker ${worker} out of range 0..${MAX_WORKERS - 1}`);
  return worker === 0 ? replica : `${replica}w${worker}-`;
}

/**
 * The worker a session id names as its owner: the `w<n>-` after an optional `r<k>-`, else 0.
 * Reads at most 10 characters: this runs for every forwarded frame of a relay with workers.
 */
export function workerOf(sessionId: string): number {
  let i = 0;
  if (sessionId.charCodeAt(0) === 0x72 /* r */) {
    // Skip `r<k>-` (up to four digits, MAX_ORDINAL), as ownerOf reads it.
    i = 1;
    while (i < 5 && isDigit(sessionId.charCodeAt(i))) i++;
    if (i === 1 || sessionId.charCodeAt(i) !== 0x2d /* - */) return 0;
    i++;
  }
  if (sessionId.charCodeAt(i) !== 0x77 /* w */) return 0;
  let n = 0;
  for (let j = i + 1; j < i + 5; j++) {
    const c = sessionId.charCodeAt(j);
    if (c === 0x2d /* - */) return j > i + 1 ? n : 0;
    if (!isDigit(c)) return 0;
    n = n * 10 + (c - 0x30);
  }
  return 0;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * The number worker `worker` of replica `ordinal` goes by in the relay-wide registry (the
 * live_sessions table, docs/relay.md "Relay-wide limits and views"): each worker is a
 * replica there. Worker 0 keeps the replica's ordinal, so a replica of one worker is unchanged.
 */
export function registryOrdinal(ordinal: number, worker: number): number {
  return worker * (MAX_ORDINAL + 1) + ordinal;
}
