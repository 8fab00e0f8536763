// End-line recognition for MsrpParser (RFC 4975 §7.1, §9 end-line = "-------" transact-id
// continuation-flag CRLF, preceded by a CRLF that is not part of the body).
//
// Candidates are found with a search for the constant needle CRLF "-------", then checked byte by
// byte, so body bytes that merely look like an end-line are kept. Small bodies are searched in
// the latin1 window the head was read from (a V8 string search, no call into C++), the rest
// with Buffer#indexOf. A candidate that straddles pushes is checked across the buffer list
// without concatenating.

import type { LineReader } from './parser-lines.ts';

const CR = 13;
const LF = 10;
export const NEEDLE_TEXT = '\r\n-------';
export const NEEDLE = Buffer.from(NEEDLE_TEXT, 'latin1');
export const NEEDLE_LEN = NEEDLE.length;

/**
 * The first CRLF "-------" in c0 at or after `from`, or -1. Small bodies are searched in the
 * latin1 window the head was read from (a string search, no call into C++); the rest of a
 * large chunk with Buffer#indexOf.
 */
export function findNeedle(c0: Buffer, from: number, l: LineReader): number {
  const rel = from - l.winStart;
  if (l.winBuf !== c0 || rel < 0 || rel > l.win.length) return c0.indexOf(NEEDLE, from);
  const idx = l.win.indexOf(NEEDLE_TEXT, rel);
  if (idx >= 0) return l.winStart + idx;
  const winEnd = l.winStart + l.win.length;
  // Not in the window: continue in the bytes, including a needle straddling the window's end.
  return winEnd < c0.length ? c0.indexOf(NEEDLE, Math.max(from, winEnd - NEEDLE_LEN + 1)) : -1;
}

/** The flag byte when c0[p, ...) is transact-id flag CRLF (the caller checked it fits), else 0. */
export function endLineAt(c0: Buffer, p: number, tid: string): number {
  const tl = tid.length;
  for (let k = 0; k < tl; k++) if (c0[p + k] !== tid.charCodeAt(k)) return 0;
  const flag = c0[p + tl]!;
  // RFC 4975 §9 continuation-flag = "+" / "$" / "#"
  if ((flag !== 0x24 && flag !== 0x2b && flag !== 0x23) || c0[p + tl + 1] !== CR || c0[p + tl + 2] !== LF) return 0;
  return flag;
}

/**
 * Compares the data at (chunk ci, position pos) with the end-line CRLF "-------" tid flag CRLF,
 * skipping the first `skip` bytes of the pattern. Returns the flag byte on a match, 0 on a
 * mismatch, -1 when more data is needed to decide.
 */
export function matchAt(chunks: readonly Buffer[], ci: number, pos: number, skip: number, tid: string): number {
  const tl = tid.length;
  const total = NEEDLE_LEN + tl + 3;
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
