// Incremental MSRP frame parser (RFC 4975 §7.1 framing, §9 syntax), modelled on the
// `ws` Receiver: an explicit state machine over a list of received buffers.
//
//   START_LINE ─► HEADERS ─┬─ end-line ──────────────────────────► frame (no body)
//                          └─ blank line ─► BODY ─ end-line ─────► frame / head+segments+end
//   any non-fatal error ─► SKIP (discard up to this transaction's end-line) ─► START_LINE
//   fatal error ─► CLOSED (refuses input)
//
// Bodies are never copied: a frame's body is a list of slices of the pushed buffers.
// The end of a body is found with Buffer#indexOf on the constant needle CRLF "-------"
// followed by a byte-wise check of transact-id, flag and CRLF, so body bytes that merely
// look like an end-line are kept. A candidate that straddles two pushes is checked
// across the buffer list without concatenating them.
//
// Memory is bounded: the head by `maxHeaderBytes`; a buffered body by `maxBufferedBody`
// (beyond it the frame is streamed when onHead/onBody/onEnd are given, or rejected with
// 413); a streamed or skipped body by the end-line tail (at most 44 bytes).

import { parseError } from './errors.ts';
import type { MsrpParseError, ParseErrorCode } from './errors.ts';
import type { Continuation, MsrpFrame, MsrpHead } from './frame.ts';
import { BufferList } from './buffer-list.ts';
import { HeadBuilder } from './parser-head.ts';
import { BARE_LF, LINE, LineReader, OVERFLOW } from './parser-lines.ts';

export type { MsrpParseError, ParseErrorCode } from './errors.ts';

export interface MsrpParserCallbacks {
  /** A complete frame; its body slices stay valid as long as the pushed buffers are not reused. */
  onFrame?(frame: MsrpFrame): void;
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
const LF = 10;
// RFC 4975 §7.1: the end-line is preceded by a CRLF that is not part of the body.
const NEEDLE = Buffer.from('\r\n-------', 'latin1');
const NEEDLE_LEN = NEEDLE.length;
/** Consecutive tiny body slices are merged (copied) below this size to keep slice counts sane on tiny pushes. */
const SMALL_SLICE = 1024;

export class MsrpParser {
  private readonly cb: MsrpParserCallbacks;
  private readonly maxHeaderBytes: number;
  private readonly maxNonSendBody: number;
  private readonly maxBufferedBody: number;
  private readonly streamAll: boolean;
  private readonly rangeCheck: number;
  private readonly canStream: boolean;

  private state = START_LINE;
  private readonly list = new BufferList();
  private running = false;
  private readonly lines: LineReader;
  private headBytes = 0;

  private readonly head = new HeadBuilder();
  // Body state (BODY, SKIP).
  private atLineStart = false;
  private streaming = false;
  private bodyLen = 0;
  private bodySlices: Buffer[] = [];
  private bodyBufferedLen = 0;

  constructor(callbacks: MsrpParserCallbacks, options: MsrpParserOptions = {}) {
    this.cb = callbacks;
    this.maxHeaderBytes = options.maxHeaderBytes ?? 16384;
    this.maxNonSendBody = options.maxNonSendBody ?? 10240;
    this.maxBufferedBody = options.maxBufferedBody ?? 65536;
    this.streamAll = options.streamBodies ?? false;
    const check = options.byteRangeCheck ?? 'overrun';
    this.rangeCheck = check === 'off' ? 0 : check === 'overrun' ? 1 : 2;
    this.lines = new LineReader(this.maxHeaderBytes + 2);
    this.canStream = callbacks.onHead !== undefined && callbacks.onBody !== undefined && callbacks.onEnd !== undefined;
  }

  /** Bytes held by the parser: unconsumed input plus a buffered (not yet emitted) body. */
  get bufferedBytes(): number {
    return this.list.length + this.bodyBufferedLen;
  }

  /** True after a fatal error or `end()`: further input is refused. */
  get closed(): boolean {
    return this.state === CLOSED;
  }

  /** Feeds bytes; any split is allowed. Returns false when the parser is closed and the input was refused. */
  push(chunk: Buffer): boolean {
    if (this.state === CLOSED) return false;
    if (chunk.length === 0) return true;
    this.list.push(chunk);
    if (!this.running) this.run();
    return this.state !== CLOSED;
  }

  /** Signals the end of the byte stream: an unfinished frame is reported as 'missing-end-line' (fatal). */
  end(): void {
    if (this.state === CLOSED) return;
    if (this.state !== START_LINE || this.list.length > 0) {
      this.fail('missing-end-line', this.state === BODY || this.state === SKIP ? 'stream ended inside the body' : 'stream ended inside the head', true);
    }
    this.close();
  }

  private run(): void {
    this.running = true;
    try {
      for (;;) {
        let more: boolean;
        switch (this.state) {
          case START_LINE:
            more = this.getStartLine();
            break;
          case HEADERS:
            more = this.getHeaderLine();
            break;
          case BODY:
          case SKIP:
            more = this.getBody();
            break;
          default:
            return;
        }
        if (!more) break;
      }
      this.list.compact(this.maxHeaderBytes);
    } finally {
      this.running = false;
    }
  }

  // ---- START_LINE / HEADERS ------------------------------------------------------------

  private getStartLine(): boolean {
    if (!this.readLine()) return this.state === SKIP;
    const l = this.lines;
    const error = this.head.startLine(l.line, l.lineBuf, l.lineStart, l.lineClean);
    if (error !== undefined) return this.reject(error);
    this.state = HEADERS;
    return true;
  }

  private getHeaderLine(): boolean {
    // false: more data needed, or an error moved the parser to SKIP or CLOSED.
    if (!this.readLine()) return this.state === SKIP;
    const l = this.lines;
    const line = l.line;
    if (line.length === 0) return this.blankLine();
    if (line.startsWith('-------')) return this.headEndLine(line);
    const error = this.head.headerLine(line, l.lineBuf, l.lineStart, l.lineClean);
    if (error !== undefined) return this.reject(error);
    return true;
  }

  /** An end-line right after the headers: a frame without body (RFC 4975 §9 msrp-response, bodiless request). */
  private headEndLine(line: string): boolean {
    const tid = this.head.transactionId;
    const flag = line.charCodeAt(line.length - 1);
    if (line.length !== 8 + tid.length || !line.startsWith(tid, 7) || (flag !== 0x24 && flag !== 0x2b && flag !== 0x23)) {
      // The frame's own end-line is broken: where the next frame starts is unknown.
      this.fail('bad-end-line', JSON.stringify(line.slice(0, 64)), true);
      this.close();
      return false;
    }
    const error = this.head.finish();
    if (error !== undefined) {
      this.report(error);
    } else if (this.cb.onFrame) {
      this.cb.onFrame(this.head.frame([], String.fromCharCode(flag) as Continuation));
    }
    this.nextFrame();
    return true;
  }

  private blankLine(): boolean {
    const error = this.head.finish();
    if (error !== undefined) return this.reject(error);
    if (this.head.kind === 'response') return this.reject(parseError('response-with-body', undefined, this.head.transactionId));
    this.state = BODY;
    this.atLineStart = true;
    if (this.streamAll && this.canStream) this.startStreaming();
    return true;
  }

  /** Reads the next head line into the line reader; false when more data is needed or on error. */
  private readLine(): boolean {
    const r = this.lines.read(this.list, this.maxHeaderBytes - this.headBytes);
    if (r === LINE) {
      this.headBytes += this.lines.consumed;
      return true;
    }
    if (r === OVERFLOW) this.overflowHead();
    else if (r === BARE_LF) {
      // RFC 4975 §9: lines end with CRLF.
      const tid = this.head.transactionId || undefined;
      this.fail('bad-line-ending', 'LF without CR', tid === undefined);
      if (tid === undefined) this.close();
      else this.enterSkip(true);
    }
    return false;
  }

  private overflowHead(): void {
    const tid = this.head.transactionId || undefined;
    this.fail('header-too-large', `more than ${this.maxHeaderBytes} bytes`, tid === undefined);
    this.lines.reset();
    if (tid === undefined) this.close();
    else this.enterSkip(true);
  }

  // ---- BODY / SKIP ---------------------------------------------------------------------

  /**
   * Scans for CRLF "-------" transact-id flag CRLF. Bytes before any possible end-line are body
   * (emitted or discarded); only the last endLineLength-1 bytes of the data may be held back.
   */
  private getBody(): boolean {
    if (this.list.length === 0) return false;
    const tid = this.head.transactionId;
    const markLen = NEEDLE_LEN + tid.length + 3;
    if (this.atLineStart) {
      // An end-line directly after the blank line (empty body) or after a rejected header line.
      const m = this.matchAt(0, this.list.offset, 2);
      if (m < 0) return false;
      this.atLineStart = false;
      if (m > 0) {
        this.list.advance(markLen - 2);
        return this.bodyEnd(m);
      }
    }
    const c0 = this.list.chunks[0]!;
    const o = this.list.offset;
    const len = c0.length;
    let from = o;
    for (;;) {
      const idx = c0.indexOf(NEEDLE, from);
      if (idx < 0 || idx > len - markLen) break;
      const m = this.matchAt(0, idx, 0);
      if (m > 0) {
        this.bodyData(c0, o, idx);
        this.list.advance(idx - o + markLen);
        return this.bodyEnd(m);
      }
      from = idx + 1;
    }
    // Only a candidate starting in the last markLen-1 bytes can still complete with later data.
    const tailStart = Math.max(o, len - (markLen - 1));
    for (let q = tailStart; q < len; q++) {
      if (c0[q] !== CR) continue;
      const m = this.matchAt(0, q, 0);
      if (m === 0) continue;
      this.bodyData(c0, o, q);
      this.list.advance(q - o);
      if (m < 0) return false;
      this.list.advance(markLen);
      return this.bodyEnd(m);
    }
    this.bodyData(c0, o, len);
    this.list.advance(len - o);
    return this.state === BODY || this.state === SKIP ? this.list.length > 0 : true;
  }

  /**
   * Compares the data at (chunk ci, position pos) with the end-line CRLF "-------" tid flag CRLF,
   * skipping the first `skip` bytes of the pattern. Returns the flag byte on a match, 0 on a
   * mismatch, -1 when more data is needed to decide.
   */
  private matchAt(ci: number, pos: number, skip: number): number {
    const tid = this.head.transactionId;
    const tl = tid.length;
    const total = NEEDLE_LEN + tl + 3;
    const chunks = this.list.chunks;
    let buf = chunks[ci]!;
    let flag = 0;
    for (let k = skip; k < total; k++) {
      while (pos >= buf.length) {
        if (++ci >= chunks.length) return -1;
        buf = chunks[ci]!;
        pos = 0;
      }
      const b = buf[pos++]!;
      if (k < NEEDLE_LEN) {
        if (b !== NEEDLE[k]) return 0;
      } else if (k < NEEDLE_LEN + tl) {
        if (b !== tid.charCodeAt(k - NEEDLE_LEN)) return 0;
      } else if (k === NEEDLE_LEN + tl) {
        // RFC 4975 §9 continuation-flag = "+" / "$" / "#"
        if (b !== 0x24 && b !== 0x2b && b !== 0x23) return 0;
        flag = b;
      } else if (b !== (k === total - 2 ? CR : LF)) {
        return 0;
      }
    }
    return flag;
  }

  /** Accounts body bytes buf[s, e): limits first, then emit, buffer or discard. */
  private bodyData(buf: Buffer, s: number, e: number): void {
    const n = e - s;
    if (n <= 0 || this.state === SKIP) return;
    this.bodyLen += n;
    const h = this.head;
    if (h.method !== 'SEND' && this.bodyLen > this.maxNonSendBody) {
      // RFC 4975 §7.1: non-SEND requests with bodies over 10 KB may be rejected (413).
      this.reject(parseError('body-too-large', `${h.method} body over ${this.maxNonSendBody} bytes`, h.transactionId));
      return;
    }
    if (this.rangeCheck > 0 && h.rangeEnd >= 0 && this.bodyLen > h.rangeEnd - h.rangeStart + 1) {
      this.reject(parseError('byte-range-mismatch', `body longer than Byte-Range ${h.rangeStart}-${h.rangeEnd}`, h.transactionId));
      return;
    }
    if (!this.streaming && this.bodyBufferedLen + n > this.maxBufferedBody) {
      if (!this.canStream) {
        this.reject(parseError('body-too-large', `body over ${this.maxBufferedBody} bytes and no streaming callbacks`, h.transactionId));
        return;
      }
      this.startStreaming();
    }
    if (this.streaming) {
      this.cb.onBody!(buf.subarray(s, e));
      return;
    }
    const slices = this.bodySlices;
    const last = slices.length > 0 ? slices[slices.length - 1]! : undefined;
    if (last !== undefined && last.length + n <= SMALL_SLICE) slices[slices.length - 1] = Buffer.concat([last, buf.subarray(s, e)]);
    else slices.push(buf.subarray(s, e));
    this.bodyBufferedLen += n;
  }

  private startStreaming(): void {
    this.streaming = true;
    this.cb.onHead!(this.head.head());
    const slices = this.bodySlices;
    this.bodySlices = [];
    this.bodyBufferedLen = 0;
    for (const s of slices) this.cb.onBody!(s);
  }

  /** The end-line was consumed: check Byte-Range against what was received, then emit. */
  private bodyEnd(flag: number): boolean {
    if (this.state === SKIP) {
      this.nextFrame();
      return true;
    }
    const h = this.head;
    const continuation = String.fromCharCode(flag) as Continuation;
    if (this.rangeCheck === 2 && h.rangeEnd >= 0 && continuation === '$') {
      const expected = h.rangeEnd - h.rangeStart + 1;
      if (this.bodyLen !== expected || (h.rangeTotal >= 0 && h.rangeEnd !== h.rangeTotal)) {
        this.report(parseError('byte-range-mismatch', `${this.bodyLen} body bytes for Byte-Range ${h.rangeStart}-${h.rangeEnd}/${h.rangeTotal}`, h.transactionId));
        this.nextFrame();
        return true;
      }
    }
    if (this.streaming) this.cb.onEnd!(continuation);
    else if (this.cb.onFrame) this.cb.onFrame(h.frame(this.bodySlices, continuation));
    this.nextFrame();
    return true;
  }

  // ---- errors and frame boundaries ---------------------------------------------------------

  private report(error: MsrpParseError): void {
    this.cb.onError?.(error);
  }

  private fail(code: ParseErrorCode, detail: string, fatal: boolean): void {
    this.report(parseError(code, detail, this.head.transactionId || undefined, fatal));
  }

  /** Reports an error; a fatal one closes the parser, others skip to this transaction's end-line. */
  private reject(error: MsrpParseError): boolean {
    if (error.fatal) {
      this.report(error);
      this.close();
      return false;
    }
    const inHead = this.state === START_LINE || this.state === HEADERS;
    this.enterSkip(inHead || this.atLineStart);
    this.report(error);
    return true;
  }

  private enterSkip(atLineStart: boolean): void {
    this.state = SKIP;
    this.atLineStart = atLineStart;
    this.bodySlices = [];
    this.bodyBufferedLen = 0;
  }

  private nextFrame(): void {
    this.state = START_LINE;
    this.head.reset();
    this.headBytes = 0;
    this.lines.reset();
    this.atLineStart = false;
    this.streaming = false;
    this.bodyLen = 0;
    this.bodySlices = [];
    this.bodyBufferedLen = 0;
  }

  private close(): void {
    this.state = CLOSED;
    this.list.clear();
    this.bodySlices = [];
    this.bodyBufferedLen = 0;
  }
}
