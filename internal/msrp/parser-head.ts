// The line grammar of an MSRP frame head (RFC 4975 §9): start line and header lines.
//
// `HeadBuilder` is fed one line at a time by `MsrpParser` as a position in latin1 text
// (char codes are the bytes; see parser-lines.ts) and accumulates the head of the current
// frame. It scans in place and creates only the strings the frame keeps (transaction id,
// method, names and values, path URIs); the common header names are shared strings, found
// by comparing characters, never by lower-casing. Lines with bytes >= 0x80 are validated as
// UTF-8 (RFC 4975 §9 utf8text) and their values decoded from the bytes.
//
// Leniency, decided once here:
// - after the ":" of a header, any run of SP/HTAB is accepted (RFC 4976 §3 and
//   RFC 7977 §8 examples use "From-Path:  msrps://..."); trailing SP/HTAB is dropped;
// - no whitespace is accepted between a header name and its ":" (ABNF hname ":");
// - path lists may be separated by runs of SP/HTAB.

import { isUtf8 } from 'node:buffer';
import { parseError } from './errors.ts';
import type { MsrpParseError, ParseErrorCode } from './errors.ts';
import type { Continuation, MsrpFrame, MsrpHead, MsrpHeader } from './frame.ts';
import { hasMsrpScheme, parseByteRange, parseExpires, parseStatusHeader, splitPath } from './headers.ts';

/** Why a line was rejected; `fatal` when the framing itself is lost. */
function err(code: ParseErrorCode, detail: string | undefined, tid: string | undefined, fatal: boolean): MsrpParseError {
  return parseError(code, detail, tid, fatal);
}

// RFC 4975 §9 hname = ALPHA *token
const HNAME = /^[A-Za-z][!#-'*+\-.0-9A-Z^-~]*$/;

// What a header name means to the parser. Names are matched on the bytes, in any case
// (RFC 4975 §9: header names are case-insensitive), never by lower-casing a string.
const OTHER = 0;
const TO_PATH = 1;
const FROM_PATH = 2;
const BYTE_RANGE = 3;
const EXPIRES = 4;
const STATUS = 5;

interface KnownName {
  /** The canonical spelling, shared by every frame that uses it. */
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly kind: number;
}

// The headers seen on nearly every frame, and those the parser validates, by lower-cased first letter.
const KNOWN_BY_LETTER: ReadonlyArray<readonly KnownName[]> = (() => {
  const known: Array<[string, number]> = [
    ['To-Path', TO_PATH], ['From-Path', FROM_PATH], ['Message-ID', OTHER], ['Byte-Range', BYTE_RANGE],
    ['Content-Type', OTHER], ['Success-Report', OTHER], ['Failure-Report', OTHER], ['Status', STATUS],
    ['Expires', EXPIRES], ['Min-Expires', EXPIRES], ['Max-Expires', EXPIRES], ['Use-Path', OTHER],
  ];
  const byLetter: KnownName[][] = Array.from({ length: 128 }, () => []);
  for (const [name, kind] of known) byLetter[name.charCodeAt(0) | 0x20]!.push({ name, bytes: Buffer.from(name, 'latin1'), kind });
  return byLetter;
})();

/** Set by `knownName`: the name was spelled exactly as the canonical one. */
let exactName = false;

/**
 * The known header whose name, in any case, followed by ":" begins the line buf[p, q), or
 * undefined; sets `exactName`. Finds the colon of the usual headers without searching for it.
 */
function knownName(buf: Buffer, p: number, q: number): KnownName | undefined {
  const candidates = KNOWN_BY_LETTER[(buf[p]! | 0x20) & 0x7f]!;
  next: for (let k = 0; k < candidates.length; k++) {
    const known = candidates[k]!;
    const b = known.bytes;
    const n = b.length;
    if (p + n >= q || buf[p + n] !== 0x3a) continue;
    let exact = true;
    for (let i = 0; i < n; i++) {
      const c = buf[p + i]!;
      const w = b[i]!;
      if (c === w) continue;
      // ASCII letters only: flip the case bit of the canonical byte.
      if ((w | 0x20) < 0x61 || (w | 0x20) > 0x7a || c !== (w ^ 0x20)) continue next;
      exact = false;
    }
    exactName = exact;
    return known;
  }
  return undefined;
}

const TEXT_PLAIN = Buffer.from('text/plain', 'latin1');

/** Shared strings for the usual values of Success-Report, Failure-Report and Content-Type, else undefined. */
function commonValue(buf: Buffer, p: number, q: number): string | undefined {
  switch (q - p) {
    case 2:
      return buf[p] === 0x6e && buf[p + 1] === 0x6f ? 'no' : undefined;
    case 3:
      return buf[p] === 0x79 && buf[p + 1] === 0x65 && buf[p + 2] === 0x73 ? 'yes' : undefined;
    case 10:
      for (let i = 0; i < 10; i++) if (buf[p + i] !== TEXT_PLAIN[i]) return undefined;
      return 'text/plain';
    default:
      return undefined;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** buf[p, ...) begins with "msrp://" or "msrps://" (the usual lower-case spelling). */
function msrpScheme(buf: Buffer, p: number): boolean {
  if (buf[p] !== 0x6d || buf[p + 1] !== 0x73 || buf[p + 2] !== 0x72 || buf[p + 3] !== 0x70) return false;
  const q = buf[p + 4] === 0x73 ? p + 5 : p + 4;
  return buf[q] === 0x3a && buf[q + 1] === 0x2f && buf[q + 2] === 0x2f;
}

/**
 * splitPath for a clean (printable ASCII, no HTAB) value t[s, e), trimmed: URIs separated by runs
 * of SP, each an msrp: or msrps: URI. t[i] is buf[i + delta].
 */
function pathAt(t: string, s: number, e: number, buf: Buffer, delta: number): string[] | { readonly badUri: string } | undefined {
  if (s >= e) return undefined;
  // Collected in a scratch array and copied at its exact size: an array grown by push() from
  // empty reserves 17 slots, and most paths hold one to three URIs.
  const out = pathScratch;
  let n = 0;
  let i = s;
  for (;;) {
    let j = t.indexOf(' ', i);
    if (j < 0 || j > e) j = e;
    const uri = t.slice(i, j);
    if (!msrpScheme(buf, delta + i) && !hasMsrpScheme(uri)) return { badUri: uri };
    if (j === e) {
      if (n === 0) return [uri];
      let all: string[];
      if (n === 1) all = [out[0]!, uri];
      else if (n === 2) all = [out[0]!, out[1]!, uri];
      else {
        all = new Array<string>(n + 1);
        for (let k = 0; k < n; k++) all[k] = out[k]!;
        all[n] = uri;
      }
      // The scratch must not keep this frame's strings (and the buffer text they point into) alive.
      for (let k = 0; k < n; k++) out[k] = '';
      return all;
    }
    out[n++] = uri;
    // The value is trimmed, so a run of SP is followed by another URI.
    for (i = j + 1; buf[delta + i] === 0x20; i++);
  }
}

const pathScratch: string[] = [];

/** By byte: 1 for ALPHANUM, 2 for the other ident-chars (RFC 4975 §9: "." "-" "+" "%" "="), else 0. */
const IDENT_CHAR = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) {
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) t[c] = 1;
    else if (c === 46 || c === 45 || c === 43 || c === 37 || c === 61) t[c] = 2;
  }
  return t;
})();

/** Shared empty lists for frames without headers or body (frames are read-only). */
const NO_HEADERS: readonly MsrpHeader[] = Object.freeze([]);
const NO_HEADER: MsrpHeader = Object.freeze({ name: '', value: '' });

/** 1*DIGIT in buf[p, q) as a number, -1 when empty, not digits or beyond 2^53 (left to headers.ts to explain). */
function digitsAt(buf: Buffer, p: number, q: number): number {
  if (q <= p || q - p > 15) return -1;
  let n = 0;
  for (let i = p; i < q; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

export class HeadBuilder {
  transactionId = '';
  kind: 'request' | 'response' = 'request';
  method = '';
  status = 0;
  comment = '';
  toPath: string[] | undefined = undefined;
  fromPath: string[] | undefined = undefined;
  /** Headers of the frame being read: headers[0, headerCount) (reused; frames get an exact-size copy). */
  #headers: MsrpHeader[] = [];
  #headerCount = 0;
  /** Byte-Range start and end when the end is numeric, else rangeEnd = -1. */
  rangeStart = 0;
  rangeEnd = -1;
  rangeTotal = -1;
  /** The byte range of the To-Path and From-Path values in the line's buffer, when the line was clean. */
  toPathAt = 0;
  toPathEnd = 0;
  fromPathAt = 0;
  fromPathEnd = 0;
  /** Set by `check()` when it fails. */
  #textError: MsrpParseError | undefined = undefined;

  /** Gives back the grown header list (between frames, when the connection goes quiet). */
  releaseScratch(): void {
    if (this.#headerCount === 0 && this.#headers.length > 0) this.#headers = [];
  }

  reset(): void {
    this.transactionId = '';
    this.kind = 'request';
    this.method = '';
    this.status = 0;
    this.comment = '';
    this.toPath = undefined;
    this.fromPath = undefined;
    // Cleared so a reused slot does not keep an old frame's strings (and their buffers) alive.
    for (let i = 0; i < this.#headerCount; i++) this.#headers[i] = NO_HEADER;
    this.#headerCount = 0;
    this.rangeStart = 0;
    this.rangeEnd = -1;
    this.rangeTotal = -1;
  }

  /**
   * Checks the line t[s, e) against RFC 4975 §9 utf8text (HTAB / %x20-7E / UTF8-NONASCII). `t` is
   * latin1-decoded, so char codes are the bytes; t[i] is buf[i + delta].
   * Returns 0 for printable ASCII, 1 for valid UTF-8 with non-ASCII bytes, -1 with textError set.
   */
  #check(t: string, s: number, e: number, buf: Buffer, delta: number): number {
    let high = false;
    for (let i = s; i < e; i++) {
      const b = t.charCodeAt(i);
      if (b < 0x20 || b === 0x7f) {
        if (b === 9) continue;
        const tid = this.transactionId || undefined;
        this.#textError =
          b === 13
            ? err('bad-line-ending', `bare CR at column ${i - s}`, tid, tid === undefined)
            : err('control-char', `0x${b.toString(16).padStart(2, '0')} at column ${i - s}`, tid, tid === undefined);
        return -1;
      }
      if (b >= 0x80) high = true;
    }
    if (high && !isUtf8(buf.subarray(delta + s, delta + e))) {
      const tid = this.transactionId || undefined;
      this.#textError = err('invalid-utf8', undefined, tid, tid === undefined);
      return -1;
    }
    return high ? 1 : 0;
  }

  /** RFC 4975 §9 req-start / resp-start in t[s, e). Returns an error or undefined. */
  startLine(t: string, s: number, e: number, buf: Buffer, delta: number, clean: boolean): MsrpParseError | undefined {
    const kind = clean ? 0 : this.#check(t, s, e, buf, delta);
    // pMSRP = %x4D.53.52.50 (upper case only) followed by SP. buf[delta + e] is the CR.
    const p = delta + s;
    if (buf[p] !== 0x4d || buf[p + 1] !== 0x53 || buf[p + 2] !== 0x52 || buf[p + 3] !== 0x50 || buf[p + 4] !== 0x20) {
      return kind < 0 ? { ...this.#textError!, fatal: true } : err('bad-start-line', 'does not begin with "MSRP "', undefined, true);
    }
    // RFC 4975 §9 transact-id = ident = ALPHANUM 3*31ident-char, checked on the bytes while
    // looking for its end (the string is made once it is known to be good).
    let tidEnd = s + 5;
    let identOk = true;
    for (let c = buf[delta + tidEnd]; tidEnd < e && c !== 0x20; c = buf[delta + ++tidEnd]) {
      if (!(IDENT_CHAR[c!] === 1 || (IDENT_CHAR[c!] === 2 && tidEnd > s + 5))) identOk = false;
    }
    if (tidEnd === s + 5) return err('bad-start-line', 'empty transaction id', undefined, true);
    const tid = t.slice(s + 5, tidEnd);
    if (!identOk || tidEnd - s - 5 < 4 || tidEnd - s - 5 > 32) {
      return kind < 0 ? { ...this.#textError!, fatal: true } : err('bad-transaction-id', JSON.stringify(tid), undefined, true);
    }
    this.transactionId = tid;
    if (kind < 0) return { ...this.#textError!, transactionId: tid, fatal: false };
    if (tidEnd === e) return err('bad-start-line', 'no method or status after the transaction id', tid, false);
    const r = tidEnd + 1;
    const c0 = r < e ? buf[delta + r]! : -1;
    if (c0 >= 0x30 && c0 <= 0x39) return this.#responseLine(t, r, e, kind, buf, delta);
    // method = 1*UPALPHA
    let k = r;
    while (k < e && buf[delta + k]! >= 0x41 && buf[delta + k]! <= 0x5a) k++;
    if (k === r || k !== e) {
      // An empty method or a stray SP is a malformed line; anything else a malformed method.
      if (r === e || c0 === 0x20 || buf[delta + k] === 0x20) return err('bad-start-line', JSON.stringify(t.slice(s, e)), tid, false);
      return err('bad-method', JSON.stringify(t.slice(r, e)), tid, false);
    }
    this.kind = 'request';
    // The usual methods are shared strings.
    const m = delta + r;
    if (e - r === 4 && c0 === 0x53 && buf[m + 1] === 0x45 && buf[m + 2] === 0x4e && buf[m + 3] === 0x44) this.method = 'SEND';
    else if (e - r === 6 && c0 === 0x52 && t.startsWith('REPORT', r)) this.method = 'REPORT';
    else this.method = t.slice(r, e);
    return undefined;
  }

  /** resp-start tail t[r, e): status-code = 3DIGIT, then end or SP comment (utf8text). */
  #responseLine(t: string, r: number, e: number, kind: number, buf: Buffer, delta: number): MsrpParseError | undefined {
    let k = r;
    for (let c = t.charCodeAt(k); k < e && c >= 0x30 && c <= 0x39; c = t.charCodeAt(++k));
    if (k - r !== 3 || (k < e && t.charCodeAt(k) !== 0x20)) {
      return err('bad-status-code', JSON.stringify(t.slice(r, e)), this.transactionId, false);
    }
    this.kind = 'response';
    this.status = (t.charCodeAt(r) - 48) * 100 + (t.charCodeAt(r + 1) - 48) * 10 + (t.charCodeAt(r + 2) - 48);
    if (k === e) this.comment = '';
    else if (kind === 1) this.comment = buf.toString('utf8', delta + k + 1, delta + e);
    else this.comment = e - k === 3 && t.startsWith('OK', k + 1) ? 'OK' : t.slice(k + 1, e);
    return undefined;
  }

  /**
   * One header line t[s, e) (RFC 4975 §9 ext-header = hname ":" SP hval). To-Path and From-Path
   * may appear in any position but exactly once each; Byte-Range, Expires, Min-Expires,
   * Max-Expires and Status are validated here because their numbers must not overflow.
   */
  headerLine(t: string, s: number, e: number, buf: Buffer, delta: number, clean: boolean): MsrpParseError | undefined {
    const kind = clean ? 0 : this.#check(t, s, e, buf, delta);
    if (kind < 0) return this.#textError;
    const tid = this.transactionId;
    const known = knownName(buf, delta + s, delta + e);
    let colon = known === undefined ? t.indexOf(':', s) : s + known.bytes.length;
    if (colon >= e) colon = -1;
    if (colon < 0) return err('bad-header-line', JSON.stringify(t.slice(s, Math.min(e, s + 64))), tid, false);
    const which = known === undefined ? OTHER : known.kind;
    let name = '';
    if (which !== TO_PATH && which !== FROM_PATH) {
      // hname = ALPHA *token. The canonical spellings are shared strings; others are kept as received.
      if (known !== undefined && exactName) name = known.name;
      else {
        name = t.slice(s, colon);
        if (!HNAME.test(name)) return err('bad-header-name', JSON.stringify(name), tid, false);
      }
    }
    // Value: OWS after ":" and trailing SP/HTAB are dropped (see the leniency note above).
    let i = colon + 1;
    while (i < e && isSpace(buf[delta + i]!)) i++;
    let ve = e;
    while (ve > i && isSpace(buf[delta + ve - 1]!)) ve--;
    if (which === TO_PATH || which === FROM_PATH) {
      const to = which === TO_PATH;
      if ((to ? this.toPath : this.fromPath) !== undefined) return err(to ? 'duplicate-to-path' : 'duplicate-from-path', undefined, tid, false);
      // A clean line has no HTAB: URIs are separated by SP only, found with indexOf.
      if (clean) {
        // Where the value's bytes are (for forwarders that copy them, see MsrpParser#wire).
        if (to) {
          this.toPathAt = delta + i;
          this.toPathEnd = delta + ve;
        } else {
          this.fromPathAt = delta + i;
          this.fromPathEnd = delta + ve;
        }
        return this.#path(pathAt(t, i, ve, buf, delta), to);
      }
      return this.#path(splitPath(kind === 1 ? buf.toString('utf8', delta + i, delta + ve) : t.slice(i, ve)), to);
    }
    if (which === BYTE_RANGE && kind === 0 && this.#rangeAt(buf, delta + i, delta + ve)) {
      this.#headers[this.#headerCount++] = { name, value: t.slice(i, ve) };
      return undefined;
    }
    const value = kind === 1 ? buf.toString('utf8', delta + i, delta + ve) : (commonValue(buf, delta + i, delta + ve) ?? t.slice(i, ve));
    const checked = which === OTHER ? undefined : this.#checkKnown(which, value);
    if (checked) return checked;
    this.#headers[this.#headerCount++] = { name, value };
    return undefined;
  }

  /**
   * Byte-Range buf[p, q) when it is plain numbers that parseByteRange would accept: stores it
   * and returns true. Anything else ("*", overflow, errors) is left to parseByteRange.
   */
  #rangeAt(buf: Buffer, p: number, q: number): boolean {
    let dash = p;
    while (dash < q && buf[dash] !== 0x2d) dash++;
    let slash = dash + 1;
    while (slash < q && buf[slash] !== 0x2f) slash++;
    if (slash >= q) return false;
    const start = digitsAt(buf, p, dash);
    const end = digitsAt(buf, dash + 1, slash);
    const total = digitsAt(buf, slash + 1, q);
    // RFC 4975 §7.1.1: 1-based start; end >= start - 1 (empty chunk); end <= total.
    if (start < 1 || end < start - 1 || total < end) return false;
    if (this.rangeStart === 0) {
      this.rangeStart = start;
      this.rangeEnd = end;
      this.rangeTotal = total;
    }
    return true;
  }

  #path(p: string[] | { readonly badUri: string } | undefined, to: boolean): MsrpParseError | undefined {
    const tid = this.transactionId;
    if (p === undefined) return err(to ? 'empty-to-path' : 'empty-from-path', undefined, tid, false);
    if (!Array.isArray(p)) return err('bad-path-uri', JSON.stringify((p as { badUri: string }).badUri), tid, false);
    if (to) this.toPath = p;
    else this.fromPath = p;
    return undefined;
  }

  #checkKnown(which: number, value: string): MsrpParseError | undefined {
    if (which === BYTE_RANGE) {
      const r = parseByteRange(value);
      if (!r.ok) return { ...r.error, transactionId: this.transactionId };
      if (this.rangeStart === 0) {
        this.rangeStart = r.value.start;
        this.rangeEnd = r.value.end === '*' ? -1 : r.value.end;
        this.rangeTotal = r.value.total === '*' ? -1 : r.value.total;
      }
    } else if (which === EXPIRES) {
      const r = parseExpires(value);
      if (!r.ok) return { ...r.error, transactionId: this.transactionId };
    } else if (which === STATUS) {
      const r = parseStatusHeader(value);
      if (!r.ok) return { ...r.error, transactionId: this.transactionId };
    }
    return undefined;
  }

  /** Called when the header section is complete (blank line or end-line): both paths are mandatory. */
  finish(): MsrpParseError | undefined {
    if (this.toPath === undefined) return err('missing-to-path', undefined, this.transactionId, false);
    if (this.fromPath === undefined) return err('missing-from-path', undefined, this.transactionId, false);
    return undefined;
  }

  /** The headers for a frame: an exact-size copy of the reused list, or the shared empty one. */
  #takeHeaders(): readonly MsrpHeader[] {
    const n = this.#headerCount;
    if (n === 0) return NO_HEADERS;
    const hs = this.#headers;
    if (n === 1) return [hs[0]!];
    if (n === 2) return [hs[0]!, hs[1]!];
    if (n === 3) return [hs[0]!, hs[1]!, hs[2]!];
    return hs.slice(0, n);
  }

  head(): MsrpHead {
    const toPath = this.toPath ?? [];
    const fromPath = this.fromPath ?? [];
    const headers = this.#takeHeaders();
    return this.kind === 'request'
      ? { kind: 'request', transactionId: this.transactionId, method: this.method, toPath, fromPath, headers }
      : { kind: 'response', transactionId: this.transactionId, status: this.status, comment: this.comment, toPath, fromPath, headers };
  }

  frame(body: readonly Buffer[], continuation: Continuation): MsrpFrame {
    const toPath = this.toPath ?? [];
    const fromPath = this.fromPath ?? [];
    const headers = this.#takeHeaders();
    return this.kind === 'request'
      ? { kind: 'request', transactionId: this.transactionId, method: this.method, toPath, fromPath, headers, body, continuation }
      : { kind: 'response', transactionId: this.transactionId, status: this.status, comment: this.comment, toPath, fromPath, headers, body, continuation };
  }
}
