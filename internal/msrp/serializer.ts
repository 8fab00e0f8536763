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
