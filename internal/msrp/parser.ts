// Incremental MSRP frame parser (RFC 4975 §7.1 framing, §9 syntax), modelled on the
// `ws` Receiver: an explicit state machine over a list of received buffers.
//
//   START_LINE ─► HEADERS ─┬─ end-line ──────────────────────────► frame (no body)
//                          └─ blank line ─► BODY ─ end-line ─────► frame / head+segments+end
//   any non-fatal error ─► SKIP (discard up to this transaction's end-line) ─► START_LINE
//   fatal error ─► CLOSED (refuses input)
//
// Bodies are never copied: a frame's body is a list of slices of the pushed buffers.
// The end of a body is found by searching for the constant needle CRLF "-------", then
// checking transact-id, flag and CRLF byte by byte (parser-endline.ts).
//
// Callbacks may call back into the parser: push() from a callback only appends, and the
// running loop picks the bytes up before the outer push() returns; a callback always runs
// after the parser has consumed what it reports, so end() or a push from it is consistent.
//
// Memory is bounded: the head by `maxHeaderBytes`; a buffered body by `maxBufferedBody`
// (beyond it the frame is streamed when onHead/onBody/onEnd are given, or rejected with
// 413); a streamed or skipped body by the end-line tail (at most 44 bytes).

import { parseError } from './errors.ts';
import type { MsrpParseError, ParseErrorCode, ParseErrorHead } from './errors.ts';
import type { Continuation, MsrpFrame, MsrpHead } from './frame.ts';
import { BufferList } from './buffer-list.ts';
import { HeadBuilder } from './parser-head.ts';
import { BARE_LF, LINE, LineReader, OVERFLOW } from './parser-lines.ts';
import { endLineAt, findNeedle, matchAt, NEEDLE_LEN } from './parser-endline.ts';

export type { MsrpParseError, ParseErrorCode, ParseErrorHead } from './errors.ts';

export interface MsrpParserCallbacks {
  /**
   * A complete frame; its body slices stay valid as long as the pushed buffers are not reused.
   * `wire`, when given, is where the frame's paths and rest lie in the received buffer (see
   * MsrpParser#wire): valid for this call only, overwritten by the next frame.
   */
  onFrame?(frame: MsrpFrame, wire?: FrameWire): void;
  /** Streaming: start line and headers of a frame whose body follows as segments. */
  onHead?(head: MsrpHead): void;
  /** Streaming: the next slice of the current body. */
  onBody?(segment: Buffer): void;
  /** Streaming: the end-line was read. After onHead exactly one of onEnd or onError follows. */
  onEnd?(continuation: Continuation): void;
  /** A parse error. When `fatal`, the parser is closed and refuses further input. */
  onError?(error: MsrpParseError): void;
}

export interface MsrpParserOptions {
  /** Bound on start line plus headers, in bytes (default 16384); checked before the CRLF arrives. */
  readonly maxHeaderBytes?: number;
  /** RFC 4975 §7.1: a request other than SEND with a body above this many bytes is refused with 413 (default 10240). */
  readonly maxNonSendBody?: number;
  /** Whole-frame mode buffers bodies up to this many bytes, then streams (default 65536). */
  readonly maxBufferedBody?: number;
  /** Stream every body (onHead, onBody..., onEnd) instead of buffering it. */
  readonly streamBodies?: boolean;
  /**
   * How the body is checked against a numeric Byte-Range (RFC 4975 §7.1.1):
   * - 'overrun' (default): a body longer than range-end - range-start + 1 is 'byte-range-mismatch',
   *   detected as soon as the excess byte arrives;
   * - 'exact': also a `$` chunk shorter than announced, or whose range-end is not the total;
   * - 'off': no check.
   * Not 'exact' by default: RFC 4975's own examples (§4, §11.1, §11.4, §11.5) count the CRLF
   * before the end-line in Byte-Range, and peers written from them do the same. Two examples
   * (§11.2, §11.6) even print bodies longer than their Byte-Range; they need 'off'.
   */
  readonly byteRangeCheck?: 'off' | 'overrun' | 'exact';
}

const START_LINE = 0;
const HEADERS = 1;
const BODY = 2;
const SKIP = 3;
const CLOSED = 4;

const CR = 13;
/** Shared empty body of frames without one (frames are read-only). */
const NO_BODY: readonly Buffer[] = Object.freeze([]);
/** Consecutive tiny body slices are merged (copied) below this size to keep slice counts sane on tiny pushes. */
const SMALL_SLICE = 1024;

const EMPTY = Buffer.alloc(0);

/**
 * Where a whole frame's bytes are in the buffer it arrived in (MsrpParser#wire): the values of
 * To-Path and From-Path (printable ASCII, URIs separated by runs of SP) and the rest, from the
 * end of the From-Path line to the "-------" of the end-line. Offsets index `buf`.
 */
export class FrameWire {
  buf: Buffer = EMPTY;
  toPathAt = 0;
  toPathEnd = 0;
  fromPathAt = 0;
  fromPathEnd = 0;
  restAt = 0;
  restEnd = 0;

  set(buf: Buffer, h: { toPathAt: number; toPathEnd: number; fromPathAt: number; fromPathEnd: number }, restAt: number, restEnd: number): void {
    this.buf = buf;
    this.toPathAt = h.toPathAt;
    this.toPathEnd = h.toPathEnd;
    this.fromPathAt = h.fromPathAt;
    this.fromPathEnd = h.fromPathEnd;
    this.restAt = restAt;
    this.restEnd = restEnd;
  }
}

export class MsrpParser {
  readonly #cb: MsrpParserCallbacks;
  readonly #maxHeaderBytes: number;
  readonly #maxNonSendBody: number;
  readonly #maxBufferedBody: number;
  readonly #streamAll: boolean;
  readonly #rangeCheck: number;
  readonly #canStream: boolean;

  #state = START_LINE;
  readonly #list = new BufferList();
  /** run() is on the stack; push() then only appends and sets `pushed` (the `ws` Receiver's `_loop`). */
  #running = false;
  #pushed = false;
  readonly #lines: LineReader;
  #headBytes = 0;

  readonly #head = new HeadBuilder();
  // Body state (BODY, SKIP).
  #atLineStart = false;
  #streaming = false;
  #bodyLen = 0;
  /**
   * Body slices of the frame being buffered: the first, then any others (most bodies are one
   * slice; an array grown from empty by push() would reserve 17 slots for it).
   */
  #bodyFirst: Buffer | undefined = undefined;
  #bodyMore: Buffer[] | undefined = undefined;
  #bodyBufferedLen = 0;

  /**
   * The wire bytes of the current frame after its From-Path line, for forwarders (see `rest`):
   * tracked while every line and the body lie back to back in one received buffer and the first
   * two header lines are To-Path and From-Path in printable ASCII. `rawPos` is where the next
   * byte of the frame must be for the run to continue.
   */
  #rawBuf: Buffer | undefined = undefined;
  #rawPos = 0;
  #rawStart = 0;
  #rawLines = 0;

  /**
   * During onFrame only (undefined otherwise): the frame's exact bytes between the end of its
   * From-Path line and the "-------" of its end-line (the other header lines, the blank line,
   * the body and the CRLF before the end-line), when To-Path and From-Path are its first two
   * header lines (printable ASCII) and the whole frame came in one buffer. A relay writes its
   * own start line and paths followed by these bytes instead of serializing the headers again.
   * A slice of the received buffer: valid as long as the frame's body slices are.
   */
  get rest(): Buffer | undefined {
    const w = this.wire;
    return w?.buf.subarray(w.restAt, w.restEnd);
  }

  /**
   * During onFrame only, when `rest` is available: where the frame's paths and rest are in the
   * received buffer, so a forwarder can copy bytes instead of encoding strings. One object per
   * parser, overwritten for every frame: read it inside onFrame, never keep it.
   */
  get wire(): FrameWire | undefined {
    return this.#wireSet ? this.#wireBytes : undefined;
  }

  /** Made on the first whole frame that has one (an idle connection keeps none). */
  #wireBytes: FrameWire | undefined = undefined;
  #wireSet = false;

  constructor(callbacks: MsrpParserCallbacks, options: MsrpParserOptions = {}) {
    this.#cb = callbacks;
    this.#maxHeaderBytes = options.maxHeaderBytes ?? 16384;
    this.#maxNonSendBody = options.maxNonSendBody ?? 10240;
    this.#maxBufferedBody = options.maxBufferedBody ?? 65536;
    this.#streamAll = options.streamBodies ?? false;
    const check = options.byteRangeCheck ?? 'overrun';
    this.#rangeCheck = check === 'off' ? 0 : check === 'overrun' ? 1 : 2;
    this.#lines = new LineReader(this.#maxHeaderBytes + 2);
    this.#canStream = callbacks.onHead !== undefined && callbacks.onBody !== undefined && callbacks.onEnd !== undefined;
  }

  /** Bytes held by the parser: unconsumed input plus a buffered (not yet emitted) body. */
  get bufferedBytes(): number {
    return this.#list.length + this.#bodyBufferedLen;
  }

  /**
   * Between frames with nothing held (not closed, not inside a callback): a new parser would
   * carry on exactly where this one is, so a quiet connection may drop it.
   */
  get idle(): boolean {
    return this.#state === START_LINE && this.#list.length === 0 && !this.#running;
  }

  /** True after a fatal error or `end()`: further input is refused. */
  get closed(): boolean {
    return this.#state === CLOSED;
  }

  /** Feeds bytes; any split is allowed. Returns false when the parser is closed and the input was refused. */
  push(chunk: Buffer): boolean {
    if (this.#state === CLOSED) return false;
    if (chunk.length === 0) return true;
    this.#list.push(chunk);
    // A callback pushing (loopback, test harness) must not start a second loop over the same
    // state: the running loop re-checks after every step and parses these bytes before the
    // outer push() returns.
    if (this.#running) this.#pushed = true;
    else this.#run();
    return this.#state !== CLOSED;
  }

  /** Signals the end of the byte stream: an unfinished frame is reported as 'missing-end-line' (fatal). */
  end(): void {
    if (this.#state === CLOSED) return;
    if (this.#state !== START_LINE || this.#list.length > 0) {
      this.#fail('missing-end-line', this.#state === BODY || this.#state === SKIP ? 'stream ended inside the body' : 'stream ended inside the head', true);
    } else {
      this.#close();
    }
  }

  /**
   * The state machine loop. Every step either makes progress (true) or needs more data (false);
   * a step that ran a callback which pushed is run again, since what it saw before the callback
   * ("need more data") may no longer hold. Callbacks run only after the parser's own state is
   * consistent (bytes consumed, frame boundary reached), so they may push, end() or read
   * bufferedBytes.
   */
  #run(): void {
    this.#running = true;
    try {
      for (;;) {
        this.#pushed = false;
        let more: boolean;
        switch (this.#state) {
          case START_LINE:
            more = this.#getStartLine();
            break;
          case HEADERS:
            more = this.#getHeaderLine();
            break;
          case BODY:
          case SKIP:
            more = this.#getBody();
            break;
          default:
            return;
        }
        if (!more && !this.#pushed) break;
      }
      // Between frames with nothing buffered: let the last chunk (and its window) be collected.
      if (this.#state === START_LINE && this.#list.length === 0) this.#quiet();
      else this.#list.compact(this.#maxHeaderBytes);
    } finally {
      this.#running = false;
    }
  }

  // ---- START_LINE / HEADERS ------------------------------------------------------------

  #getStartLine(): boolean {
    if (!this.#readLine()) return this.#state === SKIP;
    const l = this.#lines;
    const error = this.#head.startLine(l.text, l.start, l.end, l.buf, l.bufDelta, l.clean);
    if (error !== undefined) return this.#reject(error);
    this.#state = HEADERS;
    this.#rawBuf = l.buf === l.winBuf ? l.buf : undefined;
    this.#rawPos = l.bufDelta + l.start + l.consumed;
    this.#rawLines = 0;
    return this.#getHeaderLine();
  }

  /** Reads header lines up to the blank line or end-line; no callback runs before that unless on error. */
  #getHeaderLine(): boolean {
    const l = this.#lines;
    for (;;) {
      // false: more data needed, or an error moved the parser to SKIP or CLOSED.
      if (!this.#readLine()) return this.#state === SKIP;
      if (l.end === l.start) {
        if (this.#rawBuf !== undefined) this.#rawLine(false);
        return this.#blankLine();
      }
      // hname starts with ALPHA, so "-" can only begin an end-line (or a bad line); t[end] is CR.
      if (l.buf[l.bufDelta + l.start] === 0x2d && l.text.startsWith('-------', l.start)) {
        // The end-line is not part of the rest: it starts where the run must have got to.
        if (this.#rawBuf !== undefined && (l.buf !== this.#rawBuf || l.bufDelta + l.start !== this.#rawPos || this.#rawLines < 2)) this.#rawBuf = undefined;
        return this.#headEndLine(l.text, l.start, l.end);
      }
      const error = this.#head.headerLine(l.text, l.start, l.end, l.buf, l.bufDelta, l.clean);
      if (error !== undefined) return this.#reject(error);
      if (this.#rawBuf !== undefined) this.#rawLine(true);
    }
  }

  /** Continues (or ends) the run of contiguous wire bytes with the line just read (see `rest`). */
  #rawLine(header: boolean): void {
    const l = this.#lines;
    const p = l.bufDelta + l.start;
    if (l.buf !== this.#rawBuf || p !== this.#rawPos) {
      this.#rawBuf = undefined;
      return;
    }
    this.#rawPos = p + l.consumed;
    if (!header) {
      if (this.#rawLines < 2) this.#rawBuf = undefined;
      return;
    }
    if (++this.#rawLines > 2) return;
    // The first two header lines must be the paths, in printable ASCII (written again by the forwarder).
    if (!l.clean) this.#rawBuf = undefined;
    else if (this.#rawLines === 2) {
      if (this.#head.toPath === undefined || this.#head.fromPath === undefined) this.#rawBuf = undefined;
      else this.#rawStart = this.#rawPos;
    }
  }

  /** The body ended at buf[bodyEnd] and its end-line's "-------" starts at buf[dashAt]: closes the run. */
  #rawEnd(buf: Buffer, bodyEnd: number, dashAt: number): void {
    if (this.#rawBuf !== buf || bodyEnd !== this.#rawPos || dashAt > buf.length) this.#rawBuf = undefined;
    else this.#rawPos = dashAt;
  }

  /** An end-line right after the headers: a frame without body (RFC 4975 §9 msrp-response, bodiless request). */
  #headEndLine(t: string, s: number, e: number): boolean {
    const tid = this.#head.transactionId;
    const flag = t.charCodeAt(e - 1);
    if (e - s !== 8 + tid.length || !t.startsWith(tid, s + 7) || (flag !== 0x24 && flag !== 0x2b && flag !== 0x23)) {
      // The frame's own end-line is broken: where the next frame starts is unknown.
      this.#fail('bad-end-line', JSON.stringify(t.slice(s, Math.min(e, s + 64))), true);
      return false;
    }
    const error = this.#head.finish();
    const frame = error === undefined && this.#cb.onFrame ? this.#head.frame(NO_BODY, String.fromCharCode(flag) as Continuation) : undefined;
    const rest = this.#rawBuf;
    if (rest !== undefined) (this.#wireBytes ??= new FrameWire()).set(rest, this.#head, this.#rawStart, this.#rawPos);
    this.#nextFrame();
    if (error !== undefined) this.#report(error);
    else if (frame !== undefined) this.#emitFrame(frame, rest);
    return true;
  }

  /** onFrame, with `wire` (and `rest`) available for its duration when `buf` is given. */
  #emitFrame(frame: MsrpFrame, buf: Buffer | undefined): void {
    this.#wireSet = buf !== undefined;
    try {
      this.#cb.onFrame!(frame, this.wire);
    } finally {
      this.#wireSet = false;
      if (this.#wireBytes !== undefined) this.#wireBytes.buf = EMPTY;
    }
  }

  #blankLine(): boolean {
    const error = this.#head.finish();
    if (error !== undefined) return this.#reject(error);
    if (this.#head.kind === 'response') return this.#reject(parseError('response-with-body', undefined, this.#head.transactionId));
    this.#state = BODY;
    this.#atLineStart = true;
    if (this.#streamAll && this.#canStream) this.#startStreaming();
    return true;
  }

  /** Reads the next head line into the line reader; false when more data is needed or on error. */
  #readLine(): boolean {
    const r = this.#lines.read(this.#list, this.#maxHeaderBytes - this.#headBytes);
    if (r === LINE) {
      this.#headBytes += this.#lines.consumed;
      return true;
    }
    // RFC 4975 §9: lines end with CRLF. Without a transaction id there is no end-line to skip to.
    if (r === OVERFLOW) this.#overflowHead();
    else if (r === BARE_LF) this.#fail('bad-line-ending', 'LF without CR', this.#head.transactionId === '');
    return false;
  }

  #overflowHead(): void {
    this.#lines.reset();
    this.#fail('header-too-large', `more than ${this.#maxHeaderBytes} bytes`, this.#head.transactionId === '');
  }

  // ---- BODY / SKIP ---------------------------------------------------------------------

  /**
   * Scans for CRLF "-------" transact-id flag CRLF. Bytes before any possible end-line are body
   * (emitted or discarded); only the last endLineLength-1 bytes of the data may be held back.
   */
  #getBody(): boolean {
    if (this.#list.length === 0) return false;
    const tid = this.#head.transactionId;
    const markLen = NEEDLE_LEN + tid.length + 3;
    if (this.#atLineStart) {
      // An end-line directly after the blank line (empty body) or after a rejected header line.
      const m = matchAt(this.#list.chunks, 0, this.#list.offset, 2, tid);
      if (m < 0) return false;
      this.#atLineStart = false;
      if (m > 0) {
        if (this.#rawBuf !== undefined) this.#rawEnd(this.#list.chunks[0]!, this.#list.offset, this.#list.offset);
        this.#list.advance(markLen - 2);
        return this.#bodyEnd(m);
      }
    }
    const c0 = this.#list.chunks[0]!;
    const o = this.#list.offset;
    const len = c0.length;
    let from = o;
    for (;;) {
      const idx = findNeedle(c0, from, this.#lines);
      if (idx < 0 || idx > len - markLen) break;
      const m = endLineAt(c0, idx + NEEDLE_LEN, tid);
      if (m > 0) {
        this.#list.advance(idx - o + markLen);
        this.#bodyData(c0, o, idx);
        if (this.#rawBuf !== undefined) this.#rawEnd(c0, idx, idx + 2);
        return this.#bodyEnd(m);
      }
      from = idx + 1;
    }
    // Only a candidate starting in the last markLen-1 bytes can still complete with later data.
    const tailStart = Math.max(o, len - (markLen - 1));
    for (let q = tailStart; q < len; q++) {
      if (c0[q] !== CR) continue;
      const m = matchAt(this.#list.chunks, 0, q, 0, tid);
      if (m === 0) continue;
      // Consume first, then emit: a callback sees (and may push onto) a consistent list.
      // On m < 0 ("need more data") the run loop retries if the callback pushed.
      this.#list.advance(m < 0 ? q - o : q - o + markLen);
      this.#bodyData(c0, o, q);
      if (m < 0) return false;
      if (this.#rawBuf !== undefined) this.#rawEnd(c0, q, q + 2);
      return this.#bodyEnd(m);
    }
    this.#list.advance(len - o);
    this.#bodyData(c0, o, len);
    return this.#list.length > 0;
  }

  /** Accounts body bytes buf[s, e): limits first, then emit, buffer or discard. */
  #bodyData(buf: Buffer, s: number, e: number): void {
    const n = e - s;
    if (n <= 0 || this.#state === SKIP) return;
    this.#bodyLen += n;
    const h = this.#head;
    if (h.method !== 'SEND' && this.#bodyLen > this.#maxNonSendBody) {
      // RFC 4975 §7.1: non-SEND requests with bodies over 10 KB may be rejected (413).
      this.#reject(parseError('body-too-large', `${h.method} body over ${this.#maxNonSendBody} bytes`, h.transactionId));
      return;
    }
    if (this.#rangeCheck > 0 && h.rangeEnd >= 0 && this.#bodyLen > h.rangeEnd - h.rangeStart + 1) {
      this.#reject(parseError('byte-range-mismatch', `body longer than Byte-Range ${h.rangeStart}-${h.rangeEnd}`, h.transactionId));
      return;
    }
    if (!this.#streaming && this.#bodyBufferedLen + n > this.#maxBufferedBody) {
      if (!this.#canStream) {
        this.#reject(parseError('body-too-large', `body over ${this.#maxBufferedBody} bytes and no streaming callbacks`, h.transactionId));
        return;
      }
      this.#startStreaming();
    }
    if (this.#streaming) {
      if (this.#state === BODY) this.#cb.onBody!(buf.subarray(s, e));
      return;
    }
    if (this.#rawBuf !== undefined) {
      if (buf === this.#rawBuf && s === this.#rawPos) this.#rawPos = e;
      else this.#rawBuf = undefined;
    }
    this.#bodyBufferedLen += n;
    const first = this.#bodyFirst;
    if (first === undefined) {
      this.#bodyFirst = buf.subarray(s, e);
      return;
    }
    const more = this.#bodyMore;
    const last = more === undefined ? first : more[more.length - 1]!;
    if (last.length + n <= SMALL_SLICE) {
      const joined = Buffer.concat([last, buf.subarray(s, e)]);
      if (more === undefined) this.#bodyFirst = joined;
      else more[more.length - 1] = joined;
    } else if (more === undefined) this.#bodyMore = [buf.subarray(s, e)];
    else more.push(buf.subarray(s, e));
  }

  #startStreaming(): void {
    this.#streaming = true;
    this.#rawBuf = undefined;
    this.#cb.onHead!(this.#head.head());
    const slices = this.#takeBody();
    this.#clearBody();
    for (const s of slices) if (this.#state === BODY) this.#cb.onBody!(s);
  }

  /** The buffered body slices as a frame's body list. */
  #takeBody(): readonly Buffer[] {
    const first = this.#bodyFirst;
    if (first === undefined) return NO_BODY;
    const more = this.#bodyMore;
    return more === undefined ? [first] : [first, ...more];
  }

  #clearBody(): void {
    this.#bodyFirst = undefined;
    this.#bodyMore = undefined;
    this.#bodyBufferedLen = 0;
  }

  /** The end-line was consumed: check Byte-Range against what was received, then emit. */
  #bodyEnd(flag: number): boolean {
    if (this.#state !== BODY) {
      // SKIP: the rejected transaction is over. CLOSED: a callback ended the parser.
      if (this.#state === CLOSED) return false;
      this.#nextFrame();
      return true;
    }
    const h = this.#head;
    const continuation = String.fromCharCode(flag) as Continuation;
    if (this.#rangeCheck === 2 && h.rangeEnd >= 0 && continuation === '$') {
      const expected = h.rangeEnd - h.rangeStart + 1;
      if (this.#bodyLen !== expected || (h.rangeTotal >= 0 && h.rangeEnd !== h.rangeTotal)) {
        const error = this.#withHead(parseError('byte-range-mismatch', `${this.#bodyLen} body bytes for Byte-Range ${h.rangeStart}-${h.rangeEnd}/${h.rangeTotal}`, h.transactionId));
        this.#nextFrame();
        this.#report(error);
        return true;
      }
    }
    // The frame boundary is reached before the callback runs, so it may push or end().
    const streaming = this.#streaming;
    const frame = !streaming && this.#cb.onFrame ? h.frame(this.#takeBody(), continuation) : undefined;
    const rest = this.#rawBuf;
    if (rest !== undefined) (this.#wireBytes ??= new FrameWire()).set(rest, this.#head, this.#rawStart, this.#rawPos);
    this.#nextFrame();
    if (streaming) this.#cb.onEnd!(continuation);
    else if (frame !== undefined) this.#emitFrame(frame, rest);
    return true;
  }

  // ---- errors and frame boundaries ---------------------------------------------------------

  #report(error: MsrpParseError): void {
    this.#cb.onError?.(this.#withHead(error));
  }

  /**
   * The error with what is known of the frame's head (start line and both paths), so the
   * receiver can address a response. Runs on the error path only; call it before nextFrame()
   * resets the head.
   */
  #withHead(error: MsrpParseError): MsrpParseError {
    const h = this.#head;
    if (error.head !== undefined || h.toPath === undefined || h.fromPath === undefined || h.transactionId === '') return error;
    // Paths are only read in HEADERS, after a valid start line, so kind and method are set.
    const head: ParseErrorHead =
      h.kind === 'request' ? { kind: 'request', method: h.method, toPath: h.toPath, fromPath: h.fromPath } : { kind: 'response', toPath: h.toPath, fromPath: h.fromPath };
    return { ...error, head };
  }

  /** Reports an error once the parser is CLOSED (fatal) or skipping to this transaction's end-line. */
  #fail(code: ParseErrorCode, detail: string, fatal: boolean): void {
    const error = parseError(code, detail, this.#head.transactionId || undefined, fatal);
    if (fatal) this.#close();
    else this.#enterSkip(true);
    this.#report(error);
  }

  /** Reports an error; a fatal one closes the parser, others skip to this transaction's end-line. */
  #reject(error: MsrpParseError): boolean {
    if (error.fatal) {
      this.#close();
      this.#report(error);
      return false;
    }
    const inHead = this.#state === START_LINE || this.#state === HEADERS;
    this.#enterSkip(inHead || this.#atLineStart);
    this.#report(error);
    return true;
  }

  #enterSkip(atLineStart: boolean): void {
    this.#state = SKIP;
    this.#atLineStart = atLineStart;
    this.#clearBody();
  }

  #nextFrame(): void {
    this.#state = START_LINE;
    this.#rawBuf = undefined;
    this.#head.reset();
    this.#headBytes = 0;
    this.#lines.reset();
    this.#atLineStart = false;
    this.#streaming = false;
    this.#bodyLen = 0;
    this.#clearBody();
  }

  /**
   * Between frames with nothing buffered: let the last chunk and its decoded window be
   * collected, and drop the grown scratch lists (an idle connection keeps no read state).
   */
  #quiet(): void {
    this.#lines.release();
    this.#list.clear();
    this.#head.releaseScratch();
  }

  #close(): void {
    this.#state = CLOSED;
    this.#rawBuf = undefined;
    this.#list.clear();
    this.#lines.release();
    this.#clearBody();
  }
}
