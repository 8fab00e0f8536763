// The MSRP frame model (RFC 4975 §7, §9). Shared by parser, serializer, chunker,
// relay and chat: keep it small, plain and allocation-light.
//
// Paths are kept as the raw URI strings of the wire (split on SP); the relay only
// ever parses the first To-Path URI on the hot path (docs/architecture.md §3.3), so parsing
// every URI of every frame would be wasted work. `uri.ts` parses on demand.

/** End-line continuation flag (RFC 4975 §7.1.1): `$` last chunk, `+` more follow, `#` aborted. */
export type Continuation = '$' | '+' | '#';

/** One header field other than To-Path and From-Path, in wire order, name as received. */
export interface MsrpHeader {
  readonly name: string;
  readonly value: string;
}

interface FrameBase {
  /** RFC 4975 §9 transact-id = ident = ALPHANUM 3*31ident-char (4 to 32 chars of ALPHANUM / "." / "-" / "+" / "%" / "="). */
  readonly transactionId: string;
  /** To-Path URIs as written on the wire, first one is the next hop. */
  readonly toPath: readonly string[];
  /** From-Path URIs as written on the wire, last one is the original sender. */
  readonly fromPath: readonly string[];
  /** All other headers in wire order (never To-Path or From-Path). */
  readonly headers: readonly MsrpHeader[];
  /** Body as zero-copy slices of the received buffers; empty when the frame has no body. */
  readonly body: readonly Buffer[];
  readonly continuation: Continuation;
}

export interface MsrpRequest extends FrameBase {
  readonly kind: 'request';
  /** Method name, case-sensitive upper-case token (SEND, REPORT, AUTH, NICKNAME, ...). */
  readonly method: string;
}

export interface MsrpResponse extends FrameBase {
  readonly kind: 'response';
  readonly status: number;
  /** Reason phrase after the status code; may be empty. */
  readonly comment: string;
}

export type MsrpFrame = MsrpRequest | MsrpResponse;

/** A request without its body and end-line: what a streaming parser emits before the body segments. */
export type MsrpRequestHead = Omit<MsrpRequest, 'body' | 'continuation'>;
/** A response head (responses never carry a body; present for symmetry). */
export type MsrpResponseHead = Omit<MsrpResponse, 'body' | 'continuation'>;
/** Start line and headers of a frame, as emitted by `MsrpParser` `onHead` and written by `serializeHead`. */
export type MsrpHead = MsrpRequestHead | MsrpResponseHead;

/** Case-insensitive header lookup (RFC 4975 §9: header names are case-insensitive). First match wins. */
export function getHeader(frame: Pick<FrameBase, 'headers'>, name: string): string | undefined {
  // No allocation on the hot path: the parser shares the canonical spellings, so most names
  // match exactly or differ in length; only same-length names are compared ignoring case.
  const hs = frame.headers;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    if (h.name === name || (h.name.length === name.length && sameIgnoringAsciiCase(h.name, name))) return h.value;
  }
  return undefined;
}

function sameIgnoringAsciiCase(a: string, b: string): boolean {
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** Total body length in bytes across all slices. */
export function bodyLength(frame: Pick<FrameBase, 'body'>): number {
  let n = 0;
  for (const b of frame.body) n += b.length;
  return n;
}
