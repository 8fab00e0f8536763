// Line reading for the head of an MSRP frame (start line and header lines, RFC 4975 §9).
//
// Decoding a string per line costs more than parsing it, so lines are sliced out of a
// latin1 window decoded once over the first buffer and shared by the heads of the
// following frames. One sticky regex pass vouches for all plain-ASCII lines of a head at
// once, so only unusual lines are validated character by character. A line spanning
// buffers is joined (a copy bounded by the header limit). The limit is enforced before
// the LF arrives.

import type { BufferList } from './buffer-list.ts';

/** Non-empty lines of HTAB and printable ASCII, each ending in CRLF: need no further validation. */
const CLEAN_LINES = /(?:[\t\x20-\x7e]+\r\n)*/y;
const LF = 10;

export const LINE = 1;
export const MORE = 0;
export const OVERFLOW = -1;
export const BARE_LF = -2;

export class LineReader {
  /** The line read last, latin1-decoded (char codes are bytes), without CRLF. */
  line = '';
  /** Where its bytes are, for UTF-8 decoding of values. */
  lineBuf: Buffer = Buffer.alloc(0);
  lineStart = 0;
  /** The line holds only HTAB and printable ASCII. */
  lineClean = false;
  /** Bytes consumed by the last successful read, CRLF included. */
  consumed = 0;

  private win = '';
  private winBuf: Buffer | undefined = undefined;
  private winStart = 0;
  /** win[.., cleanUntil) is known to be clean lines. */
  private cleanUntil = 0;
  /** A line spanning buffers: chunks[1, scanIdx) hold no LF; `scanned` bytes seen so far. */
  private scanIdx = 0;
  private scanned = 0;

  private readonly windowSize: number;

  constructor(windowSize: number) {
    this.windowSize = windowSize;
  }

  /** Forgets a partial scan (after an error or at a frame boundary). */
  reset(): void {
    this.scanIdx = 0;
    this.scanned = 0;
  }

  /** Reads and consumes the next line if it is complete and within `allowance` bytes. */
  read(list: BufferList, allowance: number): number {
    if (list.length === 0) return MORE;
    const c0 = list.chunks[0]!;
    const o = list.offset;
    if (this.scanIdx === 0) {
      let rel = o - this.winStart;
      let lf = this.winBuf === c0 && rel >= 0 && rel < this.win.length ? this.win.indexOf('\n', rel) : -2;
      if (lf === -2 || (lf < 0 && rel > 0 && this.winStart + this.win.length < c0.length)) {
        // (Re)decode a window starting at this line, long enough for any legal head line.
        this.winBuf = c0;
        this.winStart = o;
        this.win = c0.toString('latin1', o, Math.min(c0.length, o + this.windowSize));
        this.cleanUntil = 0;
        rel = 0;
        lf = this.win.indexOf('\n');
      }
      if (lf >= 0) {
        const n = lf - rel + 1;
        if (n > allowance) return OVERFLOW;
        if (rel >= this.cleanUntil) {
          CLEAN_LINES.lastIndex = rel;
          CLEAN_LINES.test(this.win);
          this.cleanUntil = CLEAN_LINES.lastIndex;
        }
        this.lineClean = lf < this.cleanUntil;
        this.line = this.win.slice(rel, lf);
        this.lineBuf = c0;
        this.lineStart = o;
        this.consumed = n;
        list.advance(n);
        return this.stripCr();
      }
      if (this.winStart + this.win.length < c0.length || this.win.length - rel >= allowance) return OVERFLOW;
    }
    return this.readSpanning(list, allowance);
  }

  /** The slow path: the line continues beyond the first buffer. */
  private readSpanning(list: BufferList, allowance: number): number {
    const chunks = list.chunks;
    for (let i = Math.max(this.scanIdx, 1); i < chunks.length; i++) {
      if (this.scanIdx === 0) {
        this.scanned = chunks[0]!.length - list.offset;
        this.scanIdx = 1;
      }
      const c = chunks[i]!;
      const lf = c.subarray(0, Math.max(allowance - this.scanned, 0)).indexOf(LF);
      if (lf < 0) {
        this.scanned += c.length;
        this.scanIdx = i + 1;
        if (this.scanned >= allowance) return OVERFLOW;
        continue;
      }
      const total = this.scanned + lf + 1;
      this.reset();
      const parts: Buffer[] = [chunks[0]!.subarray(list.offset)];
      for (let k = 1; k < i; k++) parts.push(chunks[k]!);
      parts.push(c.subarray(0, lf + 1));
      const joined = Buffer.concat(parts, total);
      this.line = joined.toString('latin1', 0, total - 1);
      this.lineClean = false;
      this.lineBuf = joined;
      this.lineStart = 0;
      this.consumed = total;
      list.advance(total);
      return this.stripCr();
    }
    return MORE;
  }

  /** RFC 4975 §9: lines end with CRLF; a bare LF is not a line ending. */
  private stripCr(): number {
    const line = this.line;
    if (line.length === 0 || line.charCodeAt(line.length - 1) !== 13) return BARE_LF;
    this.line = line.slice(0, -1);
    return LINE;
  }
}
