// Identifiers and transaction responses (RFC 4975 §7.2, §9; RFC 4976 §7.1).
//
// Transaction ids, Message-IDs and session ids are unguessable: RFC 4975 §7.1 asks for at
// least 64 bits of randomness in a transaction id and §6 for at least 80 in a session-id
// (the session URI is a capability: whoever knows it can send into the session). All three
// come from one pooled CSPRNG buffer, so minting an id costs a few table look-ups rather
// than a system call.

import { randomFillSync } from 'node:crypto';
import type { MsrpRequest, MsrpResponse } from './frame.ts';
import { isValidStatusCode, reasonPhrase } from './status.ts';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// 62 * 4 = 248: bytes >= 248 are rejected so every character is exactly uniform.
const REJECT_FROM = 248;
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** Character codes of BASE62, indexed by a random byte below REJECT_FROM (byte % 62). */
const BASE62_BY_BYTE = Uint8Array.from({ length: REJECT_FROM }, (_, b) => BASE62.charCodeAt(b % 62));
/** Scratch space for one id: the string is made in one step (no per-character concatenation). */
const scratch = Buffer.allocUnsafe(64);

/** `length` uniformly random base62 characters (5.95 bits each). */
export function randomBase62(length: number): string {
  return randomAscii('', length);
}

/**
 * `prefix` (ASCII) followed by `length` uniformly random base62 characters, as one flat
 * string made in one step: ids live as long as their transaction or session, and a string
 * built by concatenation is a tree of 32-byte nodes.
 */
function randomAscii(prefix: string, length: number): string {
  const total = prefix.length + length;
  const out = total <= scratch.length ? scratch : Buffer.allocUnsafe(total);
  let n = prefix.length === 0 ? 0 : out.write(prefix, 0, 'latin1');
  while (n < total) {
    if (poolOffset === POOL_SIZE) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const b = pool[poolOffset++]!;
    if (b < REJECT_FROM) out[n++] = BASE62_BY_BYTE[b]!;
  }
  return out.toString('latin1', 0, total);
}

/** 16 base62 characters = 95 bits, above the 64 of RFC 4975 §7.1. */
export const TRANSACTION_ID_LENGTH = 16;
/** 20 base62 characters = 119 bits, above the 80 of RFC 4975 §6. */
export const SESSION_ID_LENGTH = 20;

/** Transaction ids are cut from a batch string made in one step (a relay mints one per forwarded frame). */
const TID_BATCH = 256;
let tidBatch = '';
let tidNext = TID_BATCH;

/** A new transaction id (RFC 4975 §9 transact-id = ident; base62 is a subset of ident-char). */
export function newTransactionId(): string {
  if (tidNext === TID_BATCH) {
    tidBatch = randomBase62(TID_BATCH * TRANSACTION_ID_LENGTH);
    tidNext = 0;
  }
  const at = tidNext++ * TRANSACTION_ID_LENGTH;
  return tidBatch.slice(at, at + TRANSACTION_ID_LENGTH);
}

/** A new Message-ID value (RFC 4975 §9 Message-ID = ident; unique per sender, §7.1.1). */
export function newMessageId(): string {
  return randomBase62(TRANSACTION_ID_LENGTH);
}

/**
 * A new session-id for session URIs and Use-Path (RFC 4975 §9 session-id, RFC 4976 §5).
 * `prefix` lets the mesh encode the owning replica (docs/architecture.md §4.2); it must itself consist
 * of session-id characters and is not counted towards the random part.
 */
export function newSessionId(prefix = ''): string {
  if (prefix !== '' && !/^[A-Za-z0-9\-._~+=/]{1,64}$/.test(prefix)) {
    throw new RangeError(`session-id prefix ${JSON.stringify(prefix)} has characters outside RFC 4975 §9 session-id`);
  }
  return randomAscii(prefix, SESSION_ID_LENGTH);
}

/**
 * The transaction response to `request`, hop-by-hop (RFC 4975 §7.2, RFC 4976 §7.1):
 *
 *  - same transaction id; no headers other than the paths, no body, end-line flag "$";
 *  - To-Path holds ONLY the previous hop, which is the FIRST From-Path URI of the request:
 *    each relay puts its own URI at the front of From-Path when forwarding (RFC 4976 §7.1),
 *    so the front is always the hop the request came from, and the last URI the original
 *    sender. Responses are never forwarded, so the rest of the path is of no use;
 *  - From-Path holds ONLY this hop, which is the first To-Path URI of the request: the
 *    URI the previous hop addressed us by (a relay removes it before forwarding).
 *
 * Whether a response is sent at all is decided by `reportPolicy` (reports.ts): never for
 * REPORT requests, never for Failure-Report "no", only non-200 for "partial".
 *
 * `localUri` overrides the From-Path URI when this hop answers under another URI (e.g. a
 * relay answering an AUTH sent to its public URI with an internal one).
 */
export function buildResponse(request: MsrpRequest, status: number, comment?: string, localUri?: string): MsrpResponse {
  const previousHop = request.fromPath[0];
  const self = localUri ?? request.toPath[0];
  // A parsed request always has both paths (RFC 4975 §7.1: they are mandatory), so this is
  // a programming error, not a protocol one.
  if (previousHop === undefined || self === undefined) {
    throw new RangeError('buildResponse: the request has an empty To-Path or From-Path');
  }
  if (!isValidStatusCode(status)) throw new RangeError(`buildResponse: ${status} is not a three-digit status code`);
  return {
    kind: 'response',
    transactionId: request.transactionId,
    status,
    comment: sanitizeComment(comment ?? reasonPhrase(status)),
    toPath: [previousHop],
    fromPath: [self],
    headers: [],
    body: [],
    continuation: '$',
  };
}

/** RFC 4975 §9: comment = utf8text, a single line: line breaks would end the start line. */
export function sanitizeComment(comment: string): string {
  return comment.replace(/[\r\n]+/g, ' ');
}
