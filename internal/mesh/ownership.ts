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
