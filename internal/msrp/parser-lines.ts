// Line reading for the head of an MSRP frame (start line and header lines, RFC 4975 §9).
//
// Decoding a string per line costs more than parsing it, so lines are located in a
// latin1 window decoded once over the first buffer and shared by the heads of the
// following frames. One sticky regex pass vouches for all plain-ASCII lines of a head at
// once, so only unusual lines are validated character by character. A line spanning
// buffers is joined (a copy bounded by the header limit). The limit is enforced before
// the LF arrives.

import type { BufferList } from './buffer-list.ts';

/**
 * Non-empty lines of printable ASCII, each ending in CRLF: need no further validation. HTAB, though
 * legal, is left to the careful path, so a clean path value splits on SP alone.
 */
const CLEAN_LINES = /(?:[\x20-\x7e]+\r\n)*/y;
const LF = 10;
const EMPTY = Buffer.alloc(0);

export const LINE = 1;
export const MORE = 0;
export const OVERFLOW = -1;
export const BARE_LF = -2;

export class LineReader {
  /**
   * The line read last is text[start, end), without CRLF; `text` is latin1-decoded (char codes
   * are bytes) and text[end] is its CR. Lines are located, not sliced: the head parser creates
   * only the strings the frame keeps.
   */
  text = '';
  start = 0;
  end = 0;
  /** Where its bytes are, for UTF-8 decoding of values: text[i] is buf[i + bufDelta]. */
  buf: Buffer = EMPTY;
  bufDelta = 0;
  /** The line holds only printable ASCII (no HTAB). */
  clean = false;
  /** Bytes consumed by the last successful read, CRLF included. */
  consumed = 0;

  /** The window: latin1 of winBuf[winStart, winStart + win.length). MsrpParser searches small bodies in it too. */
  win = '';
  winBuf: Buffer | undefined = undefined;
  winStart = 0;
  /** win[.., cleanUntil) is known to be clean lines. */
  #cleanUntil = 0;
  /** A line spanning buffers: chunks[1, scanIdx) hold no LF; `scanned` bytes seen so far. */
  #scanIdx = 0;
  #scanned = 0;

  readonly #windowSize: number;

  constructor(windowSize: number) {
    this.#windowSize = windowSize;
  }

  /** Forgets a partial scan (after an error or at a frame boundary). */
  reset(): void {
    this.#scanIdx = 0;
    this.#scanned = 0;
  }

  /**
   * Drops the references to the last chunk and its decoded window (call between frames with
   * nothing buffered), so an idle connection does not keep its last read alive.
   */
  release(): void {
    if (this.winBuf === undefined && this.buf.length === 0) return;
    this.text = '';
    this.buf = EMPTY;
    this.bufDelta = 0;
    this.win = '';
    this.winBuf = undefined;
    this.winStart = 0;
    this.#cleanUntil = 0;
    this.#scanIdx = 0;
    this.#scanned = 0;
  }

  /** Reads and consumes the next line if it is complete and within `allowance` bytes. */
  read(list: BufferList, allowance: number): number {
    if (list.length === 0) return MORE;
    const c0 = list.chunks[0]!;
    const o = list.offset;
    if (this.#scanIdx === 0) {
      let rel = o - this.winStart;
      let lf = this.winBuf === c0 && rel >= 0 && rel < this.win.length ? this.win.indexOf('\n', rel) : -2;
      if (lf === -2 || (lf < 0 && rel > 0 && this.winStart + this.win.length < c0.length)) {
        // (Re)decode a window starting at this line, long enough for any legal head line.
        this.winBuf = c0;
        this.winStart = o;
        this.win = c0.toString('latin1', o, Math.min(c0.length, o + this.#windowSize));
        this.#cleanUntil = 0;
        rel = 0;
        lf = this.win.indexOf('\n');
      }
      if (lf >= 0) {
        const n = lf - rel + 1;
        if (n > allowance) return OVERFLOW;
        if (rel >= this.#cleanUntil) {
          CLEAN_LINES.lastIndex = rel;
          CLEAN_LINES.test(this.win);
          this.#cleanUntil = CLEAN_LINES.lastIndex;
        }
        this.clean = lf < this.#cleanUntil;
        this.text = this.win;
        this.start = rel;
        this.buf = c0;
        this.bufDelta = this.winStart;
        this.consumed = n;
        list.advance(n);
        return this.#lineEnd(lf);
      }
      if (this.winStart + this.win.length < c0.length || this.win.length - rel >= allowance) return OVERFLOW;
    }
    return this.#readSpanning(list, allowance);
  }

  /** The slow path: the line continues beyond the first buffer. */
  #readSpanning(list: BufferList, allowance: number): number {
    const chunks = list.chunks;
    for (let i = Math.max(this.#scanIdx, 1); i < chunks.length; i++) {
      if (this.#scanIdx === 0) {
        this.#scanned = chunks[0]!.length - list.offset;
        this.#scanIdx = 1;
      }
      const c = chunks[i]!;
      const lf = c.subarray(0, Math.max(allowance - this.#scanned, 0)).indexOf(LF);
      if (lf < 0) {
        this.#scanned += c.length;
        this.#scanIdx = i + 1;
        if (this.#scanned >= allowance) return OVERFLOW;
        continue;
      }
      const total = this.#scanned + lf + 1;
      this.reset();
      const parts: Buffer[] = [chunks[0]!.subarray(list.offset)];
      for (let k = 1; k < i; k++) parts.push(chunks[k]!);
      parts.push(c.subarray(0, lf + 1));
      const joined = Buffer.concat(parts, total);
      this.text = joined.toString('latin1');
      this.clean = false;
      this.start = 0;
      this.buf = joined;
      this.bufDelta = 0;
      this.consumed = total;
      list.advance(total);
      return this.#lineEnd(total - 1);
    }
    return MORE;
  }

  /** RFC 4975 §9: lines end with CRLF; a bare LF (text[lf]) is not a line ending. */
  #lineEnd(lf: number): number {
    if (lf === this.start || this.text.charCodeAt(lf - 1) !== 13) {
      this.end = lf;
      return BARE_LF;
    }
    this.end = lf - 1;
    return LINE;
  }
}
