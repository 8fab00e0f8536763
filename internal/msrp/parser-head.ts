// The line grammar of an MSRP frame head (RFC 4975 §9): start line and header lines.
//
// `HeadBuilder` is fed one line at a time by `MsrpParser` (bytes without the CRLF)
// and accumulates the head of the current frame. It works on bytes and decodes
// only what it keeps: ASCII lines are decoded as latin1 (cheapest), lines with
// bytes >= 0x80 are validated as UTF-8 first (RFC 4975 §9 utf8text).
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
import { isIdent, parseByteRange, parseExpires, parseStatusHeader, splitPath } from './headers.ts';

/** Why a line was rejected; `fatal` when the framing itself is lost. */
function err(code: ParseErrorCode, detail: string | undefined, tid: string | undefined, fatal: boolean): MsrpParseError {
  return parseError(code, detail, tid, fatal);
}

// RFC 4975 §9 hname = ALPHA *token
const HNAME = /^[A-Za-z][!#-'*+\-.0-9A-Z^-~]*$/;

// Canonical spellings of the headers seen on nearly every frame: recognised without slicing.
const TO_PATH = 'To-Path';
const FROM_PATH = 'From-Path';
const KNOWN_NAMES = [TO_PATH, FROM_PATH, 'Message-ID', 'Byte-Range', 'Content-Type', 'Success-Report', 'Failure-Report', 'Status', 'Expires', 'Use-Path'];

/** The canonical name when line[0, colon) is one of KNOWN_NAMES (any case for the two paths). */
function knownName(line: string, colon: number): string | undefined {
  for (const n of KNOWN_NAMES) if (n.length === colon && line.startsWith(n)) return n;
  // RFC 4975 §9: header names are case-insensitive; To-Path and From-Path must be found in any case.
  if (colon === 7 && line.slice(0, 7).toLowerCase() === 'to-path') return TO_PATH;
  if (colon === 9 && line.slice(0, 9).toLowerCase() === 'from-path') return FROM_PATH;
  return undefined;
}

/** Anything but HTAB and printable ASCII: the slow path of `check`. */
const NOT_PRINTABLE = /[^\t\x20-\x7e]/;

export class HeadBuilder {
  transactionId = '';
  kind: 'request' | 'response' = 'request';
  method = '';
  status = 0;
  comment = '';
  toPath: string[] | undefined = undefined;
  fromPath: string[] | undefined = undefined;
  headers: MsrpHeader[] = [];
  /** Byte-Range start and end when the end is numeric, else rangeEnd = -1. */
  rangeStart = 0;
  rangeEnd = -1;
  rangeTotal = -1;
  /** Set by `text()` when it fails. */
  private textError: MsrpParseError | undefined = undefined;

  reset(): void {
    this.transactionId = '';
    this.kind = 'request';
    this.method = '';
    this.status = 0;
    this.comment = '';
    this.toPath = undefined;
    this.fromPath = undefined;
    this.headers = [];
    this.rangeStart = 0;
    this.rangeEnd = -1;
    this.rangeTotal = -1;
  }

  /**
   * Checks a line against RFC 4975 §9 utf8text (HTAB / %x20-7E / UTF8-NONASCII). `line` is the
   * latin1 decoding of buf[start, start + line.length), so char codes are the bytes.
   * Returns 0 for printable ASCII, 1 for valid UTF-8 with non-ASCII bytes, -1 with textError set.
   */
  private check(line: string, buf: Buffer, start: number): number {
    if (!NOT_PRINTABLE.test(line)) return 0;
    let high = false;
    for (let i = 0; i < line.length; i++) {
      const b = line.charCodeAt(i);
      if (b < 0x20 || b === 0x7f) {
        if (b === 9) continue;
        const tid = this.transactionId || undefined;
        this.textError =
          b === 13
            ? err('bad-line-ending', `bare CR at column ${i}`, tid, tid === undefined)
            : err('control-char', `0x${b.toString(16).padStart(2, '0')} at column ${i}`, tid, tid === undefined);
        return -1;
      }
      if (b >= 0x80) high = true;
    }
    if (high && !isUtf8(buf.subarray(start, start + line.length))) {
      const tid = this.transactionId || undefined;
      this.textError = err('invalid-utf8', undefined, tid, tid === undefined);
      return -1;
    }
    return high ? 1 : 0;
  }

  /** RFC 4975 §9 req-start / resp-start. Returns an error or undefined. */
  startLine(line: string, buf: Buffer, start: number, clean: boolean): MsrpParseError | undefined {
    const kind = clean ? 0 : this.check(line, buf, start);
    const e = line.length;
    // pMSRP = %x4D.53.52.50 (upper case only) followed by SP
    if (!line.startsWith('MSRP ')) {
      return kind < 0 ? { ...this.textError!, fatal: true } : err('bad-start-line', 'does not begin with "MSRP "', undefined, true);
    }
    let i = 5;
    while (i < e && line.charCodeAt(i) !== 0x20) i++;
    const tidEnd = i;
    if (tidEnd === 5) return err('bad-start-line', 'empty transaction id', undefined, true);
    // RFC 4975 §9 transact-id = ident = ALPHANUM 3*31ident-char
    const tid = line.slice(5, tidEnd);
    if (!isIdent(tid)) return kind < 0 ? { ...this.textError!, fatal: true } : err('bad-transaction-id', JSON.stringify(tid), undefined, true);
    this.transactionId = tid;
    if (kind < 0) return { ...this.textError!, transactionId: tid, fatal: false };
    if (tidEnd === e) return err('bad-start-line', 'no method or status after the transaction id', tid, false);
    const r = tidEnd + 1;
    const c0 = line.charCodeAt(r);
    if (c0 >= 0x30 && c0 <= 0x39) return this.responseLine(line, r, kind, buf, start);
    // method = 1*UPALPHA
    let k = r;
    for (let c = c0; k < e && c >= 0x41 && c <= 0x5a; c = line.charCodeAt(++k));
    if (k === r || k !== e) {
      // An empty method or a stray SP is a malformed line; anything else a malformed method.
      if (r === e || c0 === 0x20 || line.charCodeAt(k) === 0x20) return err('bad-start-line', JSON.stringify(line), tid, false);
      return err('bad-method', JSON.stringify(line.slice(r)), tid, false);
    }
    this.kind = 'request';
    this.method = line.slice(r);
    return undefined;
  }

  /** resp-start tail: status-code = 3DIGIT, then end or SP comment (utf8text). */
  private responseLine(line: string, r: number, kind: number, buf: Buffer, start: number): MsrpParseError | undefined {
    const e = line.length;
    let k = r;
    for (let c = line.charCodeAt(k); k < e && c >= 0x30 && c <= 0x39; c = line.charCodeAt(++k));
    if (k - r !== 3 || (k < e && line.charCodeAt(k) !== 0x20)) {
      return err('bad-status-code', JSON.stringify(line.slice(r)), this.transactionId, false);
    }
    this.kind = 'response';
    this.status = (line.charCodeAt(r) - 48) * 100 + (line.charCodeAt(r + 1) - 48) * 10 + (line.charCodeAt(r + 2) - 48);
    this.comment = k === e ? '' : kind === 1 ? buf.toString('utf8', start + k + 1, start + e) : line.slice(k + 1);
    return undefined;
  }

  /**
   * One header line (RFC 4975 §9 ext-header = hname ":" SP hval). To-Path and From-Path may
   * appear in any position but exactly once each; Byte-Range, Expires, Min-Expires, Max-Expires
   * and Status are validated here because their numbers must not overflow.
   */
  headerLine(line: string, buf: Buffer, start: number, clean: boolean): MsrpParseError | undefined {
    const kind = clean ? 0 : this.check(line, buf, start);
    if (kind < 0) return this.textError;
    const tid = this.transactionId;
    const e = line.length;
    const colon = line.indexOf(':');
    // hname = ALPHA *token; the usual names are recognised without slicing.
    let name = colon > 0 ? knownName(line, colon) : undefined;
    if (name === undefined) {
      name = line.slice(0, colon < 0 ? e : colon);
      if (colon < 0) return err('bad-header-line', JSON.stringify(line.slice(0, 64)), tid, false);
      if (!HNAME.test(name)) return err('bad-header-name', JSON.stringify(name), tid, false);
    }
    // Value: OWS after ":" and trailing SP/HTAB are dropped (see the leniency note above).
    let i = colon + 1;
    let c = line.charCodeAt(i);
    while (c === 0x20 || c === 0x09) c = line.charCodeAt(++i);
    let ve = e;
    c = line.charCodeAt(ve - 1);
    while (ve > i && (c === 0x20 || c === 0x09)) c = line.charCodeAt(--ve - 1);
    const value = kind === 1 ? buf.toString('utf8', start + i, start + ve) : line.slice(i, ve);
    if (name === TO_PATH || name === FROM_PATH) return this.path(value, name === TO_PATH);
    const checked = name.length <= 11 && name !== 'Message-ID' && name !== 'Use-Path' ? this.checkKnown(name, value) : undefined;
    if (checked) return checked;
    this.headers.push({ name, value });
    return undefined;
  }

  private path(value: string, to: boolean): MsrpParseError | undefined {
    const tid = this.transactionId;
    if ((to ? this.toPath : this.fromPath) !== undefined) return err(to ? 'duplicate-to-path' : 'duplicate-from-path', undefined, tid, false);
    const p = splitPath(value);
    if (p === undefined) return err(to ? 'empty-to-path' : 'empty-from-path', undefined, tid, false);
    if (!Array.isArray(p)) return err('bad-path-uri', JSON.stringify((p as { badUri: string }).badUri), tid, false);
    if (to) this.toPath = p;
    else this.fromPath = p;
    return undefined;
  }

  private checkKnown(name: string, value: string): MsrpParseError | undefined {
    const lower = name === 'Byte-Range' ? 'byte-range' : name.toLowerCase();
    if (lower === 'byte-range') {
      const r = parseByteRange(value);
      if (!r.ok) return { ...r.error, transactionId: this.transactionId };
      if (this.rangeStart === 0) {
        this.rangeStart = r.value.start;
        this.rangeEnd = r.value.end === '*' ? -1 : r.value.end;
        this.rangeTotal = r.value.total === '*' ? -1 : r.value.total;
      }
    } else if (lower === 'expires' || lower === 'min-expires' || lower === 'max-expires') {
      const r = parseExpires(value);
      if (!r.ok) return { ...r.error, transactionId: this.transactionId };
    } else if (lower === 'status') {
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

  head(): MsrpHead {
    const toPath = this.toPath ?? [];
    const fromPath = this.fromPath ?? [];
    return this.kind === 'request'
      ? { kind: 'request', transactionId: this.transactionId, method: this.method, toPath, fromPath, headers: this.headers }
      : { kind: 'response', transactionId: this.transactionId, status: this.status, comment: this.comment, toPath, fromPath, headers: this.headers };
  }

  frame(body: readonly Buffer[], continuation: Continuation): MsrpFrame {
    const toPath = this.toPath ?? [];
    const fromPath = this.fromPath ?? [];
    return this.kind === 'request'
      ? { kind: 'request', transactionId: this.transactionId, method: this.method, toPath, fromPath, headers: this.headers, body, continuation }
      : { kind: 'response', transactionId: this.transactionId, status: this.status, comment: this.comment, toPath, fromPath, headers: this.headers, body, continuation };
  }
}
