// MSRP frame serializer, the mirror of parser.ts (RFC 4975 §9).
//
// Output order: start line, To-Path, From-Path, the other headers in their order,
// then, when there is a body, the blank line, the body slices and CRLF before the
// end-line (RFC 4975 §7.1). Bodies are passed through as the same Buffer objects,
// never copied, so a relay can hand `toBuffers(frame)` to one socket.writev/cork.
//
// The serializer trusts the frame's body not to contain its own end-line (RFC 4975
// §7.1 puts that duty on whoever picks the transaction id) but rejects head fields
// that would break the framing (CR, LF, other control characters, a bad tid): those
// are programming errors and are thrown as TypeError.

import type { Continuation, MsrpFrame, MsrpHead } from './frame.ts';
import { isIdent } from './headers.ts';
import type { FrameWire } from './parser.ts';

export interface SerializedFrame {
  /** Start line and headers, plus the blank line when a body follows. */
  readonly head: Buffer;
  /** The body slices, as given. */
  readonly body: readonly Buffer[];
  /** CRLF (only after a body) then "-------" transact-id flag CRLF. */
  readonly endLine: Buffer;
}

// utf8text without control characters (HTAB allowed), RFC 4975 §9.
const BAD_TEXT = /[\x00-\x08\x0a-\x1f\x7f]/;
const METHOD = /^[A-Z]+$/;
const HNAME = /^[A-Za-z][!#-'*+\-.0-9A-Z^-~]*$/;
const PATH_URI = /^msrps?:\/\/[^\s]+$/i;

function check(ok: boolean, what: string): void {
  if (!ok) throw new TypeError(`cannot serialize MSRP frame: ${what}`);
}

function pathValue(uris: readonly string[], name: string): string {
  check(uris.length > 0, `${name} is empty`);
  for (const u of uris) check(PATH_URI.test(u), `${name} entry ${JSON.stringify(u)} is not an msrp/msrps URI`);
  return uris.join(' ');
}

/**
 * The head as a string without any checks: only for heads that came out of our parser
 * (every field already validated there) with paths and transaction id set by us.
 * Same output as headText() for every head headText() accepts.
 */
function trustedHeadText(head: MsrpHead, hasBody: boolean): string {
  let s: string;
  if (head.kind === 'request') s = 'MSRP ' + head.transactionId + ' ' + head.method + '\r\nTo-Path: ';
  else {
    const code = head.status < 100 ? String(head.status).padStart(3, '0') : String(head.status);
    s = 'MSRP ' + head.transactionId + ' ' + code + (head.comment.length > 0 ? ' ' + head.comment : '') + '\r\nTo-Path: ';
  }
  const to = head.toPath;
  s += to[0];
  for (let i = 1; i < to.length; i++) s += ' ' + to[i]!;
  s += '\r\nFrom-Path: ';
  const from = head.fromPath;
  s += from[0];
  for (let i = 1; i < from.length; i++) s += ' ' + from[i]!;
  s += '\r\n';
  const hs = head.headers;
  for (let i = 0; i < hs.length; i++) s += hs[i]!.name + ': ' + hs[i]!.value + '\r\n';
  return hasBody ? s + '\r\n' : s;
}

/** The head as a string (RFC 4975 §9 req-start/resp-start, To-Path, From-Path, headers). */
function headText(head: MsrpHead, hasBody: boolean): string {
  check(isIdent(head.transactionId), `transaction id ${JSON.stringify(head.transactionId)} is not an ident`);
  let s: string;
  if (head.kind === 'request') {
    check(METHOD.test(head.method), `method ${JSON.stringify(head.method)} is not 1*UPALPHA`);
    s = `MSRP ${head.transactionId} ${head.method}\r\n`;
  } else {
    check(Number.isInteger(head.status) && head.status >= 0 && head.status <= 999, `status ${head.status} is not 3DIGIT`);
    check(!BAD_TEXT.test(head.comment), 'comment has a control character');
    check(!hasBody, 'a response cannot carry a body');
    const code = head.status < 100 ? String(head.status).padStart(3, '0') : String(head.status);
    s = head.comment.length > 0 ? `MSRP ${head.transactionId} ${code} ${head.comment}\r\n` : `MSRP ${head.transactionId} ${code}\r\n`;
  }
  s += `To-Path: ${pathValue(head.toPath, 'To-Path')}\r\nFrom-Path: ${pathValue(head.fromPath, 'From-Path')}\r\n`;
  for (const h of head.headers) {
    check(HNAME.test(h.name), `header name ${JSON.stringify(h.name)} is not ALPHA *token`);
    check(!BAD_TEXT.test(h.value), `header ${h.name} has a control character`);
    s += `${h.name}: ${h.value}\r\n`;
  }
  return hasBody ? s + '\r\n' : s;
}

/**
 * Start line and headers of a frame whose body will follow in segments (streaming forwarders).
 * With `hasBody` the blank line is included; finish with `endLine(tid, flag, true)`.
 */
export function serializeHead(head: MsrpHead, hasBody = true): Buffer {
  return Buffer.from(headText(head, hasBody), 'utf8');
}

/**
 * The trusted fast path for forwarders: the head of a frame that came out of our parser
 * (start line, paths and headers validated there) with only the transaction id and the
 * paths rewritten by us (ids we minted, URIs taken from validated paths). Skips the
 * checks of serializeHead(), which stays the entry point for anything else (frames built
 * by applications, tests, anything not parsed). Output is byte-identical to serializeHead().
 */
export function serializeForwardedHead(head: MsrpHead, hasBody: boolean): Buffer {
  return Buffer.from(trustedHeadText(head, hasBody), 'utf8');
}

/**
 * A forwarded frame without body (trusted, see serializeForwardedHead): head and end-line
 * in one Buffer, byte-identical to `Buffer.concat(toBuffers(frame))` for a body-less frame.
 */
export function serializeForwardedEmpty(head: MsrpHead, continuation: Continuation): Buffer {
  return Buffer.from(trustedHeadText(head, false) + '-------' + head.transactionId + continuation + '\r\n', 'utf8');
}

/** Bodies up to this size are copied next to head and end-line: one Buffer, one write. */
const COALESCE_BODY_BYTES = 4096;

/**
 * A whole forwarded frame (trusted, see serializeForwardedHead) as buffers for one write:
 * head, body slices and end-line. Small bodies are copied into a single Buffer with head and
 * end-line (cheaper than three socket writes); larger ones are passed through as slices.
 * The concatenation is byte-identical to `toBuffers()` of the same frame.
 */
export function serializeForwarded(head: MsrpHead, body: readonly Buffer[], continuation: Continuation): Buffer[] {
  let n = 0;
  for (const b of body) n += b.length;
  if (n === 0) return [serializeForwardedEmpty(head, continuation)];
  const text = trustedHeadText(head, true);
  const tail = END_PREFIX_BODY + head.transactionId + continuation + '\r\n';
  if (n > COALESCE_BODY_BYTES) {
    const out: Buffer[] = [Buffer.from(text, 'utf8')];
    for (const b of body) if (b.length > 0) out.push(b);
    out.push(Buffer.from(tail, 'latin1'));
    return out;
  }
  const headLen = Buffer.byteLength(text, 'utf8');
  const buf = Buffer.allocUnsafe(headLen + n + tail.length);
  let off = buf.write(text, 0, 'utf8');
  for (const b of body) off += b.copy(buf, off);
  buf.write(tail, off, 'latin1');
  return [buf];
}

const END_PREFIX_BODY = '\r\n-------';

/** Offsets of our URIs at the front of a To-Path value (a relay passes at most a few of its own). */
const ourStarts = new Int32Array(16);

/**
 * serializeForwardedRest() from the received bytes themselves (MsrpParser#wire) instead of
 * strings: the request passed `k` of our URIs at the front of its To-Path (toPath[0, k)); they
 * leave To-Path and go to the front of From-Path, last passed first (RFC 4976 §6.4, as
 * router.ts rewrite()), under our transaction id. Every byte is copied from `w.buf` except the
 * start line and the end-line. Same output as serializeForwarded() of the rewritten request (router.ts).
 */
export function serializeForwardedWire(transactionId: string, method: string, k: number, toPath: readonly string[], w: FrameWire, continuation: Continuation): Buffer[] {
  const src = w.buf;
  let p = w.toPathAt;
  let ours = 0;
  for (let j = 0; j < k; j++) {
    ourStarts[j] = p;
    const len = toPath[j]!.length;
    ours += len + 1;
    p += len;
    while (src[p] === 0x20) p++;
  }
  const toRestAt = p;
  const restLength = w.restEnd - w.restAt;
  const n = 5 + transactionId.length + 1 + method.length + 11 + (w.toPathEnd - toRestAt) + 13 + ours + (w.fromPathEnd - w.fromPathAt) + 2;
  const coalesce = restLength <= COALESCE_BODY_BYTES;
  const buf = Buffer.allocUnsafe(coalesce ? n + restLength + 7 + transactionId.length + 3 : n);
  let o = put(buf, 0, 'MSRP ');
  o = put(buf, o, transactionId);
  buf[o++] = 0x20;
  o = put(buf, o, method);
  o = put(buf, o, '\r\nTo-Path: ');
  o = copyBytes(buf, o, src, toRestAt, w.toPathEnd);
  o = put(buf, o, '\r\nFrom-Path: ');
  for (let j = k - 1; j >= 0; j--) {
    const at = ourStarts[j]!;
    o = copyBytes(buf, o, src, at, at + toPath[j]!.length);
    buf[o++] = 0x20;
  }
  o = copyBytes(buf, o, src, w.fromPathAt, w.fromPathEnd);
  buf[o++] = 0x0d;
  buf[o++] = 0x0a;
  if (!coalesce) return [buf, src.subarray(w.restAt, w.restEnd), Buffer.from('-------' + transactionId + continuation + '\r\n', 'latin1')];
  o = copyBytes(buf, o, src, w.restAt, w.restEnd);
  putEndLine(buf, o, transactionId, continuation);
  return [buf];
}

/**
 * serializeOk() from the received bytes (MsrpParser#wire): To-Path the first From-Path URI,
 * From-Path the first To-Path URI, both copied.
 */
export function serializeOkWire(transactionId: string, previousHopLength: number, selfLength: number, w: FrameWire): Buffer {
  const src = w.buf;
  const buf = Buffer.allocUnsafe(5 + transactionId.length + 18 + previousHopLength + 13 + selfLength + 2 + 7 + transactionId.length + 3);
  let o = put(buf, 0, 'MSRP ');
  o = put(buf, o, transactionId);
  o = put(buf, o, ' 200 OK\r\nTo-Path: ');
  o = copyBytes(buf, o, src, w.fromPathAt, w.fromPathAt + previousHopLength);
  o = put(buf, o, '\r\nFrom-Path: ');
  o = copyBytes(buf, o, src, w.toPathAt, w.toPathAt + selfLength);
  buf[o++] = 0x0d;
  buf[o++] = 0x0a;
  putEndLine(buf, o, transactionId, '$');
  return buf;
}

/** src[s, e) to dst[o]; returns the offset after it (short ranges by a loop, which costs less than the native call). */
function copyBytes(dst: Buffer, o: number, src: Buffer, s: number, e: number): number {
  if (e - s > 16) return o + src.copy(dst, o, s, e);
  for (let i = s; i < e; i++) dst[o++] = src[i]!;
  return o;
}

/** Writes the latin1 string `s` (here always printable ASCII) at buf[o]; returns the offset after it. */
function put(buf: Buffer, o: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[o++] = s.charCodeAt(i);
  return o;
}

/** "-------" tid flag CRLF at buf[o]. */
function putEndLine(buf: Buffer, o: number, tid: string, continuation: Continuation): number {
  for (let i = 0; i < 7; i++) buf[o++] = 0x2d;
  o = put(buf, o, tid);
  buf[o++] = continuation.charCodeAt(0);
  buf[o++] = 0x0d;
  buf[o++] = 0x0a;
  return o;
}

/**
 * The hop-by-hop 200 to a request (RFC 4975 §7.2; same frame as serializing
 * buildResponse(request, 200)): To-Path the previous hop, From-Path the URI it addressed us by.
 * `ascii` when both URIs are known to be printable ASCII (latin1 is then the same bytes, faster).
 */
export function serializeOk(transactionId: string, previousHop: string, self: string, ascii: boolean): Buffer {
  if (!ascii) {
    return Buffer.from('MSRP ' + transactionId + ' 200 OK\r\nTo-Path: ' + previousHop + '\r\nFrom-Path: ' + self + '\r\n-------' + transactionId + '$\r\n', 'utf8');
  }
  const buf = Buffer.allocUnsafe(5 + transactionId.length + 18 + previousHop.length + 13 + self.length + 2 + 7 + transactionId.length + 3);
  let o = put(buf, 0, 'MSRP ');
  o = put(buf, o, transactionId);
  o = put(buf, o, ' 200 OK\r\nTo-Path: ');
  o = put(buf, o, previousHop);
  o = put(buf, o, '\r\nFrom-Path: ');
  o = put(buf, o, self);
  buf[o++] = 0x0d;
  buf[o++] = 0x0a;
  putEndLine(buf, o, transactionId, '$');
  return buf;
}

/** The end-line after a body for a forwarded frame (trusted: tid minted by us, flag from our parser). */
export function forwardedEndLine(transactionId: string, continuation: Continuation, afterBody: boolean): Buffer {
  return Buffer.from((afterBody ? END_PREFIX_BODY : '-------') + transactionId + continuation + '\r\n', 'latin1');
}

/** RFC 4975 §9 end-line = "-------" transact-id continuation-flag CRLF, preceded by CRLF after a body. */
export function endLine(transactionId: string, continuation: Continuation, afterBody = false): Buffer {
  check(continuation === '$' || continuation === '+' || continuation === '#', `continuation ${JSON.stringify(continuation)}`);
  return Buffer.from(`${afterBody ? '\r\n' : ''}-------${transactionId}${continuation}\r\n`, 'latin1');
}

function hasBytes(body: readonly Buffer[]): boolean {
  for (const b of body) if (b.length > 0) return true;
  return false;
}

/** Serializes a frame into head, body slices (same objects) and end-line. */
export function serializeFrame(frame: MsrpFrame): SerializedFrame {
  const body = hasBytes(frame.body);
  return {
    head: serializeHead(frame, body),
    body: body ? frame.body : [],
    endLine: endLine(frame.transactionId, frame.continuation, body),
  };
}

/** The frame as a list ready for one `socket.writev` (or cork + write): head, body slices, end-line. */
export function toBuffers(frame: MsrpFrame): Buffer[] {
  const body = hasBytes(frame.body);
  const tail = `${body ? '\r\n' : ''}-------${frame.transactionId}${frame.continuation}\r\n`;
  check(frame.continuation === '$' || frame.continuation === '+' || frame.continuation === '#', 'continuation flag');
  if (!body) return [Buffer.from(headText(frame, false) + tail, 'utf8')];
  const out: Buffer[] = [Buffer.from(headText(frame, true), 'utf8')];
  for (const b of frame.body) if (b.length > 0) out.push(b);
  out.push(Buffer.from(tail, 'latin1'));
  return out;
}

/** The frame as one contiguous Buffer (tests, logging); copies the body. */
export function serializeToBuffer(frame: MsrpFrame): Buffer {
  return Buffer.concat(toBuffers(frame));
}
