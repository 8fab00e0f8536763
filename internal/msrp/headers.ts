// Typed parsing of MSRP header values (RFC 4975 §9, RFC 4976 §4, §10).
//
// Every function takes the value as the parser stored it (leading and trailing
// SP/HTAB already removed) and returns a result value, never throws. ABNF quoted
// strings are case-insensitive (RFC 5234 §2.3), so "yes"/"YES" both match and
// results are lower-cased. Numbers above Number.MAX_SAFE_INTEGER are rejected with
// 'number-overflow' rather than silently rounded.

import { parseError } from './errors.ts';
import type { MsrpParseError, ParseErrorCode } from './errors.ts';

export type HeaderResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: MsrpParseError };

/** RFC 4975 §9 Byte-Range: range-start is 1-based; '*' means "not known yet". */
export interface ByteRange {
  readonly start: number;
  readonly end: number | '*';
  readonly total: number | '*';
}

/** RFC 4975 §9 Status header of a REPORT: namespace (always "000" today), code and comment. */
export interface StatusHeader {
  readonly namespace: number;
  readonly code: number;
  readonly comment: string;
}

export interface ContentType {
  /** Lower-cased type, e.g. "text". */
  readonly type: string;
  /** Lower-cased subtype, e.g. "plain". */
  readonly subtype: string;
  /** Parameters with lower-cased names, values unquoted (RFC 4975 §9 gen-param). */
  readonly params: ReadonlyMap<string, string>;
}

export type SuccessReport = 'yes' | 'no';
export type FailureReport = 'yes' | 'no' | 'partial';

function fail<T>(code: ParseErrorCode, detail: string): HeaderResult<T> {
  return { ok: false, error: parseError(code, detail) };
}

function ok<T>(value: T): HeaderResult<T> {
  return { ok: true, value };
}

/** Result of `digits`: the number, -1 when not 1*DIGIT, -2 when above MAX_SAFE_INTEGER. */
export const NOT_DIGITS = -1;
export const OVERFLOW = -2;

/** Parses s[from, to) as 1*DIGIT without allocating. */
export function digits(s: string, from: number, to: number): number {
  if (to <= from) return NOT_DIGITS;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NOT_DIGITS;
    n = n * 10 + c;
  }
  return n > Number.MAX_SAFE_INTEGER ? OVERFLOW : n;
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** RFC 4975 §9 ident-char = ALPHANUM / "." / "-" / "+" / "%" / "=". */
export function isIdentChar(c: number): boolean {
  return isAlnum(c) || c === 46 || c === 45 || c === 43 || c === 37 || c === 61;
}

/** RFC 4975 §9 ident = ALPHANUM 3*31ident-char, i.e. 4 to 32 characters (transact-id, Message-ID). */
export function isIdent(s: string): boolean {
  const n = s.length;
  if (n < 4 || n > 32 || !isAlnum(s.charCodeAt(0))) return false;
  for (let i = 1; i < n; i++) if (!isIdentChar(s.charCodeAt(i))) return false;
  return true;
}

/** RFC 4975 §9 Byte-Range = "Byte-Range:" SP range-start "-" range-end "/" total. */
export function parseByteRange(value: string): HeaderResult<ByteRange> {
  const dash = value.indexOf('-');
  const slash = value.indexOf('/', dash + 1);
  if (dash <= 0 || slash < 0) return fail('bad-byte-range', value);
  const start = digits(value, 0, dash);
  const end = slash === dash + 2 && value.charCodeAt(dash + 1) === 42 ? '*' : digits(value, dash + 1, slash);
  const total = value.length === slash + 2 && value.charCodeAt(slash + 1) === 42 ? '*' : digits(value, slash + 1, value.length);
  if (start === OVERFLOW || end === OVERFLOW || total === OVERFLOW) return fail('number-overflow', value);
  if (start === NOT_DIGITS || end === NOT_DIGITS || total === NOT_DIGITS) return fail('bad-byte-range', value);
  // RFC 4975 §7.1.1: range-start is the 1-based position of the first byte of the chunk.
  if (start < 1) return fail('bad-byte-range', `range-start must be >= 1: ${value}`);
  // An empty chunk has range-end = range-start - 1; anything lower is inverted.
  if (end !== '*' && end < start - 1) return fail('bad-byte-range', `range-end before range-start: ${value}`);
  if (total !== '*' && end !== '*' && end > total) return fail('bad-byte-range', `range-end beyond total: ${value}`);
  return ok({ start, end, total });
}

/** RFC 4976 §10 Expires / Min-Expires / Max-Expires = 1*DIGIT (seconds). */
export function parseExpires(value: string): HeaderResult<number> {
  const n = digits(value, 0, value.length);
  if (n === OVERFLOW) return fail('number-overflow', value);
  if (n === NOT_DIGITS) return fail('bad-expires', value);
  return ok(n);
}

/** RFC 4975 §9 Status = "Status:" SP namespace SP status-code [SP comment]; namespace = 3DIGIT. */
export function parseStatusHeader(value: string): HeaderResult<StatusHeader> {
  if (value.length < 7 || value.charCodeAt(3) !== 32) return fail('bad-status-header', value);
  const namespace = digits(value, 0, 3);
  const code = digits(value, 4, 7);
  if (namespace < 0 || code < 0) return fail('bad-status-header', value);
  if (value.length === 7) return ok({ namespace, code, comment: '' });
  if (value.charCodeAt(7) !== 32) return fail('bad-status-header', value);
  return ok({ namespace, code, comment: value.slice(8) });
}

/** RFC 4975 §9 Success-Report = "yes" / "no". */
export function parseSuccessReport(value: string): HeaderResult<SuccessReport> {
  const v = value.toLowerCase();
  return v === 'yes' || v === 'no' ? ok(v) : fail('bad-report-value', `Success-Report: ${value}`);
}

/** RFC 4975 §9 Failure-Report = "yes" / "no" / "partial". */
export function parseFailureReport(value: string): HeaderResult<FailureReport> {
  const v = value.toLowerCase();
  return v === 'yes' || v === 'no' || v === 'partial' ? ok(v) : fail('bad-report-value', `Failure-Report: ${value}`);
}

/** RFC 4975 §9 Message-ID = "Message-ID:" SP ident. */
export function parseMessageId(value: string): HeaderResult<string> {
  return isIdent(value) ? ok(value) : fail('bad-message-id', value);
}

/** RFC 4975 §9 token characters. */
export function isTokenChar(c: number): boolean {
  return (
    c === 0x21 ||
    (c >= 0x23 && c <= 0x27) ||
    c === 0x2a ||
    c === 0x2b ||
    c === 0x2d ||
    c === 0x2e ||
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x5e && c <= 0x7e)
  );
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/** RFC 4975 §9 Content-Type = type "/" subtype *( ";" gen-param ); OWS around ";" and "=" tolerated. */
export function parseContentType(value: string): HeaderResult<ContentType> {
  const semi = value.indexOf(';');
  const media = (semi < 0 ? value : value.slice(0, semi)).trim();
  const slash = media.indexOf('/');
  const type = media.slice(0, slash).toLowerCase();
  const subtype = media.slice(slash + 1).toLowerCase();
  if (slash <= 0 || !isToken(type) || !isToken(subtype)) return fail('bad-content-type', value);
  const params = new Map<string, string>();
  let i = semi < 0 ? value.length : semi;
  while (i < value.length) {
    i++; // past ';'
    while (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9) i++;
    let j = i;
    while (j < value.length && isTokenChar(value.charCodeAt(j))) j++;
    const name = value.slice(i, j).toLowerCase();
    if (name.length === 0) return fail('bad-content-type', value);
    while (value.charCodeAt(j) === 32 || value.charCodeAt(j) === 9) j++;
    let pval = '';
    if (value.charCodeAt(j) === 61 /* = */) {
      j++;
      while (value.charCodeAt(j) === 32 || value.charCodeAt(j) === 9) j++;
      if (value.charCodeAt(j) === 34 /* " */) {
        // quoted-string with qd-esc = "\\" / "\"" (RFC 4975 §9)
        j++;
        let out = '';
        for (;;) {
          if (j >= value.length) return fail('bad-content-type', `unterminated quoted-string: ${value}`);
          const c = value.charCodeAt(j);
          if (c === 34) break;
          if (c === 92) {
            const n = value.charCodeAt(j + 1);
            if (n !== 92 && n !== 34) return fail('bad-content-type', value);
            out += value[j + 1];
            j += 2;
          } else {
            out += value[j];
            j++;
          }
        }
        pval = out;
        j++;
      } else {
        const k = j;
        while (j < value.length && isTokenChar(value.charCodeAt(j))) j++;
        if (j === k) return fail('bad-content-type', value);
        pval = value.slice(k, j);
      }
      while (value.charCodeAt(j) === 32 || value.charCodeAt(j) === 9) j++;
    }
    if (j < value.length && value.charCodeAt(j) !== 59) return fail('bad-content-type', value);
    params.set(name, pval);
    i = j;
  }
  return ok({ type, subtype, params });
}

/**
 * RFC 4975 §8.6: does a format list (a=accept-types or a=accept-wrapped-types) admit the media
 * type `type/subtype`? "*" admits anything, "type/*" any subtype of that type; parameters of
 * a format entry do not restrict the match ("a format-entry with one or more parameters is
 * assumed to match the same format-entry with no parameters"). Both sides case-insensitive.
 */
export function formatListAdmits(formats: readonly string[], type: string, subtype: string): boolean {
  for (const f of formats) {
    if (f === '*') return true;
    const semi = f.indexOf(';');
    const entry = (semi < 0 ? f : f.slice(0, semi)).trim().toLowerCase();
    const slash = entry.indexOf('/');
    if (slash <= 0 || entry.slice(0, slash) !== type) continue;
    const sub = entry.slice(slash + 1);
    if (sub === '*' || sub === subtype) return true;
  }
  return false;
}

/** True when the URI's scheme is msrp or msrps (RFC 4975 §6, case-insensitive scheme). */
export function hasMsrpScheme(uri: string): boolean {
  if (uri.startsWith('msrps://') || uri.startsWith('msrp://')) return true;
  const lower = uri.slice(0, 8).toLowerCase();
  return lower.startsWith('msrps://') || lower.startsWith('msrp://');
}

/**
 * Splits a path value (To-Path, From-Path, Use-Path: MSRP-URI *( SP MSRP-URI )) into URIs.
 * Runs of SP/HTAB are accepted as separators (RFC 4976 and RFC 7977 examples use them).
 * Returns undefined when the list is empty, the offending entry when one is not msrp/msrps.
 */
export function splitPath(value: string): string[] | { readonly badUri: string } | undefined {
  if (value.length === 0) return undefined;
  // Common case: single SP separators, split natively.
  const out = value.includes('\t') || value.includes('  ') || value.endsWith(' ') || value.startsWith(' ') ? value.split(/[ \t]+/).filter((u) => u.length > 0) : value.split(' ');
  for (const uri of out) if (!hasMsrpScheme(uri)) return { badUri: uri };
  return out.length === 0 ? undefined : out;
}

/** RFC 4976 §4.2 Use-Path: the URIs a relay hands to the client after AUTH. */
export function parseUsePath(value: string): HeaderResult<readonly string[]> {
  const p = splitPath(value);
  if (p === undefined) return fail('bad-path-uri', 'Use-Path is empty');
  if (!Array.isArray(p)) return fail('bad-path-uri', (p as { badUri: string }).badUri);
  return ok(p);
}
