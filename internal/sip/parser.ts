// SIP message parsing for both kinds of transport (RFC 3261 §7.5, §18.3):
//
// - datagrams (UDP): one message per datagram; Content-Length may be absent (the body is
//   the rest of the datagram); a larger Content-Length is a 400, a smaller one truncates.
// - byte streams (TCP, TLS): `SipStreamFramer`, an incremental state machine in the
//   style of the `ws` Receiver:
//
//     HEAD ─ CRLF CRLF ─► parse head ─┬─ Content-Length ok ─► BODY ─► message ─► HEAD
//      ▲   (CRLF keep-alives skipped) ├─ body over limit (413) ─► SKIP ───────────► HEAD
//      │                              └─ Content-Length unusable ─► CLOSED (fatal)
//      └─ head over maxHeaderBytes ─► CLOSED (fatal, 413)
//
// Limits are checked as soon as they are known: the head before its end arrives, the
// body as soon as Content-Length is read.

import { sipError, type SipParseError, type SipResult } from './errors.ts';
import type { SipMessage } from './message.ts';
import { parseHead, validateMessage } from './parser-head.ts';

export type { SipParseError, SipErrorCode, SipResult } from './errors.ts';

export interface SipParserOptions {
  /** Bound on start line plus headers, in bytes (default 16384). */
  readonly maxHeaderBytes?: number;
  /** Bound on a body, in bytes (default 65536); a larger one is answered 413 and skipped. */
  readonly maxBodyBytes?: number;
}

const DEFAULT_MAX_HEADER = 16384;
const DEFAULT_MAX_BODY = 65536;
const END_OF_HEAD = Buffer.from('\r\n\r\n', 'latin1');
const CR = 13;
const LF = 10;

/**
 * Parses one UDP datagram. Returns undefined for a keep-alive (only CRLFs, RFC 5626 §3.5.1).
 * The result is either a validated message or an error whose `partial` (when present) lets a
 * UAS answer a request with the given status.
 */
export function parseDatagram(datagram: Buffer | string, options: SipParserOptions = {}): SipResult<SipMessage> | undefined {
  const bytes = typeof datagram === 'string' ? Buffer.from(datagram, 'utf8') : datagram;
  let start = 0;
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  while (start + 1 < bytes.length && bytes[start] === CR && bytes[start + 1] === LF) start += 2;
  if (start === bytes.length) return undefined;
  const end = bytes.indexOf(END_OF_HEAD, start);
  const maxHeader = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  if (end < 0) {
    return fail(sipError(bytes.length - start > maxHeader ? 'header-too-large' : 'bad-header-line', 'no empty line ends the header section'));
  }
  if (end - start > maxHeader) return fail(sipError('header-too-large', `${end - start} bytes`));
  const head = parseHead(bytes.subarray(start, end));
  if (head.error) return fail(head.error);
  const rest = bytes.subarray(end + 4);
  let body = rest;
  if (head.contentLength !== undefined) {
    // RFC 3261 §18.3: fewer bytes than Content-Length is a 400; extra bytes are discarded.
    if (head.contentLength > rest.length) {
      return fail(sipError('body-length-mismatch', `Content-Length ${head.contentLength}, ${rest.length} bytes`, { header: 'Content-Length', partial: head.message! }));
    }
    body = rest.subarray(0, head.contentLength);
  }
  if (body.length > (options.maxBodyBytes ?? DEFAULT_MAX_BODY)) {
    return fail(sipError('body-too-large', `${body.length} bytes`, { partial: head.message! }));
  }
  return finish(head.message!, Buffer.from(body));
}

function fail(error: SipParseError): SipResult<SipMessage> {
  return { ok: false, error };
}

function finish(message: SipMessage, body: Buffer): SipResult<SipMessage> {
  const full: SipMessage = { ...message, body };
  const invalid = validateMessage(full);
  return invalid ? { ok: false, error: invalid } : { ok: true, value: full };
}

export interface SipFramerCallbacks {
  /** A complete, validated message. */
  onMessage(message: SipMessage): void;
  /** A message that could not be used; when `fatal` the framer is closed and the connection must be. */
  onError(error: SipParseError): void;
  /** A CRLF CRLF keep-alive ping between messages (RFC 5626 §3.5.1): answer with CRLF. */
  onKeepAlive?(): void;
}

const HEAD = 0;
const BODY = 1;
const SKIP = 2;
const CLOSED = 3;

export class SipStreamFramer {
  readonly #cb: SipFramerCallbacks;
  readonly #maxHeaderBytes: number;
  readonly #maxBodyBytes: number;
  #state = HEAD;
  #buf: Buffer = Buffer.alloc(0);
  /** Where to resume the search for CRLF CRLF in `buf`. */
  #scanFrom = 0;
  /** CRLFs seen before the current start line (two make a keep-alive ping). */
  #crlfs = 0;
  #needed = 0;
  #pending: SipMessage | undefined;
  #pendingError: SipParseError | undefined;

  constructor(callbacks: SipFramerCallbacks, options: SipParserOptions = {}) {
    this.#cb = callbacks;
    this.#maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
    this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  }

  get bufferedBytes(): number {
    return this.#buf.length;
  }

  get closed(): boolean {
    return this.#state === CLOSED;
  }

  /** Feeds bytes; any split is allowed. Returns false once the framer is closed. */
  push(chunk: Buffer): boolean {
    if (this.#state === CLOSED) return false;
    if (chunk.length > 0) this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    for (;;) {
      const more = this.#state === HEAD ? this.#head() : this.#state === BODY ? this.#body() : this.#state === SKIP ? this.#skip() : false;
      if (!more) break;
    }
    return this.#state !== CLOSED;
  }

  /** The stream ended: an unfinished message is a fatal error. */
  end(): void {
    if (this.#state === CLOSED) return;
    if (this.#state !== HEAD || this.#buf.length > 0) {
      this.#cb.onError(sipError('bad-header-line', 'stream ended inside a message', { fatal: true }));
    }
    this.#close();
  }

  #close(): void {
    this.#state = CLOSED;
    this.#buf = Buffer.alloc(0);
  }

  #head(): boolean {
    let i = 0;
    while (i + 1 < this.#buf.length && this.#buf[i] === CR && this.#buf[i + 1] === LF) {
      i += 2;
      if (++this.#crlfs === 2) {
        this.#crlfs = 0;
        this.#cb.onKeepAlive?.();
      }
    }
    if (i > 0) {
      this.#buf = this.#buf.subarray(i);
      this.#scanFrom = 0;
    }
    if (this.#buf.length === 0 || (this.#buf.length === 1 && this.#buf[0] === CR)) return false;
    const end = this.#buf.indexOf(END_OF_HEAD, this.#scanFrom);
    if (end < 0 || end > this.#maxHeaderBytes) {
      if (end > this.#maxHeaderBytes || this.#buf.length > this.#maxHeaderBytes + 3) {
        this.#cb.onError(sipError('header-too-large', `more than ${this.#maxHeaderBytes} bytes`, { fatal: true }));
        this.#close();
        return false;
      }
      this.#scanFrom = Math.max(0, this.#buf.length - 3);
      return false;
    }
    this.#crlfs = 0;
    const head = parseHead(this.#buf.subarray(0, end));
    this.#buf = this.#buf.subarray(end + 4);
    this.#scanFrom = 0;
    const length = head.contentLength;
    if (length !== undefined && Number.isNaN(length)) {
      // Without a usable Content-Length the next message cannot be found (RFC 3261 §18.3).
      this.#cb.onError({ ...(head.error ?? sipError('bad-content-length')), fatal: true });
      this.#close();
      return false;
    }
    this.#pending = head.message;
    this.#pendingError = head.error;
    if (length === undefined && !this.#pendingError) {
      // RFC 3261 §20.14: mandatory on streams. Framing survives (the body is taken as empty); the request gets a 400.
      this.#pendingError = head.message
        ? sipError('missing-content-length', undefined, { header: 'Content-Length', partial: head.message })
        : sipError('missing-content-length');
    }
    this.#needed = length ?? 0;
    if (this.#needed > this.#maxBodyBytes) {
      this.#cb.onError(sipError('body-too-large', `Content-Length ${this.#needed}`, head.message ? { partial: head.message } : {}));
      this.#pending = undefined;
      this.#state = SKIP;
      return true;
    }
    this.#state = BODY;
    return true;
  }

  #body(): boolean {
    if (this.#buf.length < this.#needed) return false;
    const body = Buffer.from(this.#buf.subarray(0, this.#needed));
    this.#buf = this.#buf.subarray(this.#needed);
    this.#state = HEAD;
    const message = this.#pending;
    const error = this.#pendingError;
    this.#pending = undefined;
    this.#pendingError = undefined;
    if (error) this.#cb.onError(error.partial ? { ...error, partial: { ...error.partial, body } } : error);
    else if (message) {
      const r = finish(message, body);
      if (r.ok) this.#cb.onMessage(r.value);
      else this.#cb.onError(r.error);
    }
    return this.#state === HEAD;
  }

  #skip(): boolean {
    const n = Math.min(this.#needed, this.#buf.length);
    this.#buf = this.#buf.subarray(n);
    this.#needed -= n;
    if (this.#needed > 0) return false;
    this.#state = HEAD;
    return true;
  }
}
