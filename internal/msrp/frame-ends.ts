// Where MSRP frames end in a byte stream that is written in arbitrary pieces.
//
// RFC 7977 §4.2 carries each MSRP frame in exactly one WebSocket message, while the relay
// writes a frame as pieces (head, body slices as they arrive, end-line) and gathers the small
// writes of one read, several frames at a time, into one buffer (docs/architecture.md §3.4).
// The WebSocket side of a connection feeds what is written through this scanner to learn where
// each message ends. Only frames this process serialized are scanned: a start line
// "MSRP" SP transact-id SP ... CRLF, then headers and maybe a body, then the first
// CRLF "-------" transact-id flag CRLF (RFC 4975 §7.1: the body never holds its own end-line).

import { NEEDLE_TEXT } from './parser-endline.ts';

const LF = 10;
const CR = 13;
/** A start line longer than this is not one we wrote. */
const MAX_START_LINE = 1024;

export class FrameEndScanner {
  /** Start-line bytes held while its LF has not arrived (between frames). */
  #line = '';
  /** CRLF "-------" transact-id of the frame in progress; undefined between frames. */
  #needle: Buffer | undefined;
  /** The last bytes of the frame so far (at most needle + 2) where its end-line may have begun. */
  #tail: Buffer | undefined;
  /** Room for CRLF "-------" and a transaction id of up to 32 characters; starts with the former. */
  readonly #needleSpace = Buffer.from(NEEDLE_TEXT + ' '.repeat(32), 'latin1');

  /** Between frames: every byte scanned so far belongs to a complete frame. */
  get idle(): boolean {
    return this.#needle === undefined && this.#line === '';
  }

  /**
   * Scans `b`, the next bytes of the stream, and puts into `ends` (emptied first) the offsets in
   * `b` just past each frame that ends in it, in order. Throws on bytes that do not start a frame.
   */
  scan(b: Buffer, ends: number[]): void {
    ends.length = 0;
    let pos = 0;
    while (pos < b.length) {
      if (this.#needle === undefined) {
        const lf = b.indexOf(LF, pos);
        if (lf === -1) {
          this.#line += b.toString('latin1', pos);
          if (this.#line.length > MAX_START_LINE) throw new Error('not an MSRP start line');
          return;
        }
        let from = lf + 1;
        if (this.#line === '') {
          // The whole start line is in b (the common case): read from the bytes, no strings.
          // RFC 4975 §9: req-start = pMSRP SP transact-id SP method CRLF (responses alike)
          const sp = b.indexOf(SP, pos + 5);
          if (lf - pos < 7 || !startsMsrp(b, pos) || sp === -1 || sp <= pos + 5 || sp > lf) throw new Error('not an MSRP start line');
          // The needle is written into this scanner's own buffer (one frame is scanned at a
          // time): no allocation per frame for transaction ids up to 32 characters (RFC 4975 §9).
          const n = NEEDLE.length + sp - pos - 5;
          const into = n <= this.#needleSpace.length ? this.#needleSpace : Buffer.allocUnsafe(n);
          for (let i = pos + 5, k = NEEDLE.length; i < sp; i++, k++) into[k] = b[i]!;
          this.#needle = into.subarray(0, n);
          // The end-line's leading CRLF may be the start line's own (a frame without headers): here, in b.
          from = lf - 1;
        } else {
          const line = this.#line + b.toString('latin1', pos, lf);
          this.#line = '';
          const sp = line.indexOf(' ', 5);
          if (!line.startsWith('MSRP ') || sp <= 5) throw new Error('not an MSRP start line');
          this.#needle = Buffer.from(NEEDLE_TEXT + line.slice(5, sp), 'latin1');
          // The end-line's leading CRLF may be the start line's own, split from b.
          this.#tail = CRLF;
        }
        pos = from;
        continue;
      }
      const end = this.#findEnd(b, pos);
      if (end === -1) return;
      ends.push(end);
      this.#needle = undefined;
      this.#tail = undefined;
      pos = end;
    }
  }

  /** The offset just past the end-line in b (searching from pos), or -1 after keeping the tail. */
  #findEnd(b: Buffer, pos: number): number {
    const needle = this.#needle!;
    const n = needle.length;
    const tail = this.#tail;
    if (tail !== undefined && tail.length > 0) {
      // An end-line that began in an earlier piece: look across the seam.
      const joined = Buffer.concat([tail, b.subarray(pos, Math.min(b.length, pos + n + 3))]);
      for (let i = 0; i < tail.length; i++) {
        if (endLineAt(joined, i, needle)) return pos + i + n + 3 - tail.length;
      }
    }
    for (let i = b.indexOf(needle, pos); i !== -1 && i + n + 3 <= b.length; i = b.indexOf(needle, i + 1)) {
      if (endLineAt(b, i, needle)) return i + n + 3;
    }
    // Not ended yet: keep the last n + 2 bytes, where an end-line may have begun (copied:
    // a slice would hold the whole written buffer).
    const keep = n + 2;
    const rest = b.length - pos;
    if (rest >= keep) this.#tail = Buffer.from(b.subarray(b.length - keep));
    else {
      const joined = tail === undefined ? b.subarray(pos) : Buffer.concat([tail, b.subarray(pos)]);
      this.#tail = Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
    }
    return -1;
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');
const NEEDLE = Buffer.from(NEEDLE_TEXT, 'latin1');
const SP = 0x20;

/** b[pos..] begins with "MSRP " (RFC 4975 §9 pMSRP SP), compared byte by byte (no native call). */
function startsMsrp(b: Buffer, pos: number): boolean {
  return b[pos] === 0x4d && b[pos + 1] === 0x53 && b[pos + 2] === 0x52 && b[pos + 3] === 0x50 && b[pos + 4] === SP;
}

/** True when buf[i, ...) is needle, a continuation flag and CRLF (RFC 4975 §9). */
function endLineAt(buf: Buffer, i: number, needle: Buffer): boolean {
  const n = needle.length;
  if (i + n + 3 > buf.length) return false;
  for (let k = 0; k < n; k++) if (buf[i + k] !== needle[k]) return false;
  const flag = buf[i + n];
  // RFC 4975 §9 continuation-flag = "+" / "$" / "#"
  return (flag === 0x24 || flag === 0x2b || flag === 0x23) && buf[i + n + 1] === CR && buf[i + n + 2] === LF;
}
