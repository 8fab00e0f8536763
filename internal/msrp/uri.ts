// MSRP URIs (RFC 4975 §6, §9; RFC 7977 §6 for the "ws" transport): parse, format, compare.
//
//   MSRP-URI      = msrp-scheme "://" authority ["/" session-id] ";" transport *( ";" URI-parameter )
//   authority     = [ userinfo "@" ] host [ ":" port ]              ; RFC 3986 §3.2
//   session-id    = 1*( unreserved / "+" / "=" / "/" )              ; no "%": never percent-encoded
//   transport     = "tcp" / 1*ALPHANUM                              ; RFC 7977 adds "ws"
//   URI-parameter = token ["=" token]
//
// The parser is a single left-to-right scan with per-character class checks: no regular
// expression, so its cost is linear in the (bounded) input and it cannot backtrack. The relay
// parses only the first To-Path URI on the hot path (docs/architecture.md §3.3).

import { parseIPv4, parseIPv6 } from './ip.ts';

export { parseIPv4, parseIPv6 };

/** RFC 4975 §6: the port used when a URI names none. */
export const MSRP_DEFAULT_PORT = 2855;
/** Upper bound on one URI; longer input is refused before any scanning. */
export const MAX_URI_LENGTH = 1024;
/** Upper bounds on a To-Path / From-Path / Use-Path header value. */
export const MAX_PATH_LENGTH = 16 * 1024;
export const MAX_PATH_URIS = 32;

export type MsrpScheme = 'msrp' | 'msrps';
export type HostKind = 'ipv4' | 'ipv6' | 'reg-name';

export interface UriParameter {
  readonly name: string;
  readonly value?: string;
}

export interface MsrpUri {
  /** Lower-cased; RFC 3986 §3.1: schemes are case-insensitive. */
  readonly scheme: MsrpScheme;
  /** Userinfo as written, without the "@"; not part of comparison (RFC 4975 §6.1). */
  readonly userinfo?: string;
  /** Host as written; an IPv6 literal without its brackets. */
  readonly host: string;
  readonly hostKind: HostKind;
  /** Only when written in the URI: see {@link effectivePort}. */
  readonly port?: number;
  readonly sessionId?: string;
  /** As written ("tcp", "ws", "TCP"...); compared case-insensitively. */
  readonly transport: string;
  readonly params: readonly UriParameter[];
}

export type UriErrorCode =
  | 'too-long'
  | 'bad-scheme'
  | 'bad-userinfo'
  | 'bad-host'
  | 'bad-port'
  | 'bad-session-id'
  | 'missing-transport'
  | 'bad-transport'
  | 'bad-parameter'
  | 'empty-path'
  | 'too-many-uris';

export interface UriError {
  readonly code: UriErrorCode;
  /** Says what is wrong and at which character offset of the input. */
  readonly message: string;
  readonly offset: number;
}

export type UriResult = { readonly ok: true; readonly uri: MsrpUri } | { readonly ok: false; readonly error: UriError };
export type PathResult =
  | { readonly ok: true; readonly uris: readonly MsrpUri[] }
  | { readonly ok: false; readonly error: UriError };

// ---- character classes (RFC 3986 §2, RFC 4975 §9), as 128-entry tables ----

function table(chars: string, ranges: readonly [number, number][] = []): Uint8Array {
  const t = new Uint8Array(128);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  for (const [a, b] of ranges) for (let i = a; i <= b; i++) t[i] = 1;
  return t;
}
const ALNUM: [number, number][] = [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]];
const UNRESERVED = table('-._~', ALNUM);
const SESSION_ID = table('-._~+=/', ALNUM);
const SUB_DELIMS = "!$&'()*+,;=";
// RFC 3986 userinfo and reg-name allow every sub-delim, but ";" starts the MSRP transport,
// so neither can contain it here without making the URI ambiguous.
const USERINFO = table(`-._~${SUB_DELIMS.replace(';', '')}:`, ALNUM);
const REG_NAME = table(`-._~${SUB_DELIMS.replace(';', '')}`, ALNUM);
const ALPHANUM = table('', ALNUM);
// RFC 4975 §9: token = 1*(%x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E)
const TOKEN = table('', [[0x21, 0x21], [0x23, 0x27], [0x2a, 0x2b], [0x2d, 0x2e], [0x30, 0x39], [0x41, 0x5a], [0x5e, 0x7e]]);

function inClass(t: Uint8Array, s: string, from: number, to: number, allowPct: boolean): number {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 128 && t[c] === 1) continue;
    if (allowPct && c === 0x25 && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2)) && i + 2 < to) {
      i += 2;
      continue;
    }
    return i;
  }
  return -1;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

interface Where {
  /** Offset of the URI inside the value being parsed (a path), added to every error offset. */
  readonly base: number;
  /** Prefix naming the URI inside a path ("URI 2 of the path: "), empty for a lone URI. */
  readonly label: string;
}
const LONE: Where = { base: 0, label: '' };

function fail(where: Where, code: UriErrorCode, offset: number, what: string): { ok: false; error: UriError } {
  const at = where.base + offset;
  return { ok: false, error: { code, offset: at, message: `${where.label}${what} (at offset ${at})` } };
}

function show(s: string, i: number): string {
  return JSON.stringify(s.charAt(i));
}

// ---- parse ----

/** Parses one MSRP URI. Never throws; errors are values. */
export function parseMsrpUri(s: string): UriResult {
  return parseUri(s, LONE);
}

function parseUri(s: string, where: Where): UriResult {
  if (s.length > MAX_URI_LENGTH) return fail(where, 'too-long', MAX_URI_LENGTH, `URI is longer than ${MAX_URI_LENGTH} characters`);
  const sep = s.indexOf('://');
  if (sep === -1) return fail(where, 'bad-scheme', 0, 'URI does not start with "msrp://" or "msrps://"');
  const schemeText = s.slice(0, sep).toLowerCase();
  if (schemeText !== 'msrp' && schemeText !== 'msrps') {
    return fail(where, 'bad-scheme', 0, `scheme ${JSON.stringify(s.slice(0, sep))} is not "msrp" or "msrps"`);
  }
  const scheme: MsrpScheme = schemeText;
  let i = sep + 3;

  // userinfo: RFC 4975 §9 tokens exclude "@", so an "@" anywhere before the first ";"
  // can only end a userinfo.
  const semi = s.indexOf(';', i);
  const authEnd = semi === -1 ? s.length : semi;
  let userinfo: string | undefined;
  const at = s.indexOf('@', i);
  if (at !== -1 && at < authEnd) {
    const bad = inClass(USERINFO, s, i, at, true);
    if (bad !== -1) return fail(where, 'bad-userinfo', bad, `character ${show(s, bad)} is not allowed in userinfo`);
    userinfo = s.slice(i, at);
    i = at + 1;
  }

  // host
  let host: string;
  let hostKind: HostKind;
  if (s.charCodeAt(i) === 0x5b /* [ */) {
    const close = s.indexOf(']', i);
    if (close === -1 || close > authEnd) return fail(where, 'bad-host', i, 'IPv6 literal has no closing "]"');
    host = s.slice(i + 1, close);
    if (parseIPv6(host) === null) {
      return fail(where, 'bad-host', i + 1, `${JSON.stringify(host)} is not a valid IPv6 address (IPvFuture and zone ids are not supported)`);
    }
    hostKind = 'ipv6';
    i = close + 1;
  } else {
    let j = i;
    while (j < authEnd) {
      const c = s.charCodeAt(j);
      if (c === 0x3a /* : */ || c === 0x2f /* / */) break;
      j++;
    }
    if (j === i) return fail(where, 'bad-host', i, 'host is empty');
    const bad = inClass(REG_NAME, s, i, j, true);
    if (bad !== -1) return fail(where, 'bad-host', bad, `character ${show(s, bad)} is not allowed in a host name`);
    host = s.slice(i, j);
    if (isDigitsAndDots(host)) {
      // Formally a reg-name, but a host of only digits and dots is an attempted IPv4 address.
      if (parseIPv4(host) === null) return fail(where, 'bad-host', i, `${JSON.stringify(host)} is not a valid IPv4 address`);
      hostKind = 'ipv4';
    } else {
      hostKind = 'reg-name';
    }
    i = j;
  }

  // port
  let port: number | undefined;
  if (s.charCodeAt(i) === 0x3a) {
    const start = ++i;
    let n = 0;
    while (i < authEnd && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) {
      n = n * 10 + (s.charCodeAt(i) - 0x30);
      if (n > 65535) return fail(where, 'bad-port', start, 'port is greater than 65535');
      i++;
    }
    if (i === start) return fail(where, 'bad-port', start, 'port is empty or not a number');
    if (n === 0) return fail(where, 'bad-port', start, 'port 0 cannot be connected to');
    const next = s.charCodeAt(i);
    if (i < authEnd && next !== 0x2f) return fail(where, 'bad-port', i, `character ${show(s, i)} is not allowed in a port`);
    port = n;
  }

  // session-id
  let sessionId: string | undefined;
  if (s.charCodeAt(i) === 0x2f) {
    const start = i + 1;
    if (start === authEnd) return fail(where, 'bad-session-id', start, 'session-id after "/" is empty');
    const bad = inClass(SESSION_ID, s, start, authEnd, false);
    if (bad !== -1) return fail(where, 'bad-session-id', bad, `character ${show(s, bad)} is not allowed in a session-id`);
    sessionId = s.slice(start, authEnd);
    i = authEnd;
  }
  if (i < authEnd) return fail(where, 'bad-host', i, `unexpected ${show(s, i)} after the host`);

  // transport, mandatory (RFC 4975 §9)
  if (semi === -1) return fail(where, 'missing-transport', s.length, 'URI has no ";transport" (e.g. ";tcp")');
  const tStart = semi + 1;
  let tEnd = s.indexOf(';', tStart);
  if (tEnd === -1) tEnd = s.length;
  if (tEnd === tStart) return fail(where, 'missing-transport', tStart, 'transport after ";" is empty');
  const badT = inClass(ALPHANUM, s, tStart, tEnd, false);
  if (badT !== -1) return fail(where, 'bad-transport', badT, `character ${show(s, badT)} is not allowed in a transport`);
  const transport = s.slice(tStart, tEnd);

  const params: UriParameter[] = [];
  i = tEnd;
  while (i < s.length) {
    const pStart = i + 1;
    let pEnd = s.indexOf(';', pStart);
    if (pEnd === -1) pEnd = s.length;
    const eq = s.indexOf('=', pStart);
    const nameEnd = eq !== -1 && eq < pEnd ? eq : pEnd;
    if (nameEnd === pStart) return fail(where, 'bad-parameter', pStart, 'URI parameter has an empty name');
    const badN = inClass(TOKEN, s, pStart, nameEnd, false);
    if (badN !== -1) return fail(where, 'bad-parameter', badN, `character ${show(s, badN)} is not allowed in a parameter name`);
    if (nameEnd < pEnd) {
      if (nameEnd + 1 === pEnd) return fail(where, 'bad-parameter', pEnd, 'URI parameter has "=" but no value');
      const badV = inClass(TOKEN, s, nameEnd + 1, pEnd, false);
      if (badV !== -1) return fail(where, 'bad-parameter', badV, `character ${show(s, badV)} is not allowed in a parameter value`);
      params.push({ name: s.slice(pStart, nameEnd), value: s.slice(nameEnd + 1, pEnd) });
    } else {
      params.push({ name: s.slice(pStart, nameEnd) });
    }
    i = pEnd;
  }

  const uri: MsrpUri = { scheme, host, hostKind, transport, params };
  return { ok: true, uri: withOptional(uri, userinfo, port, sessionId) };
}

function withOptional(uri: MsrpUri, userinfo?: string, port?: number, sessionId?: string): MsrpUri {
  // Optional fields are left out rather than set to undefined, so parse results compare
  // structurally with hand-written values.
  const out: { -readonly [K in keyof MsrpUri]: MsrpUri[K] } = { scheme: uri.scheme, host: uri.host, hostKind: uri.hostKind, transport: uri.transport, params: uri.params };
  if (userinfo !== undefined) out.userinfo = userinfo;
  if (port !== undefined) out.port = port;
  if (sessionId !== undefined) out.sessionId = sessionId;
  return out;
}

function isDigitsAndDots(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x2e && (c < 0x30 || c > 0x39)) return false;
  }
  return true;
}

/**
 * Parses a To-Path / From-Path / Use-Path value: MSRP-URI *( SP MSRP-URI ) (RFC 4975 §9,
 * RFC 4976 §5). Runs of spaces are tolerated; error offsets are relative to the whole value.
 */
export function parsePath(value: string): PathResult {
  if (value.length > MAX_PATH_LENGTH) return fail(LONE, 'too-long', MAX_PATH_LENGTH, `path is longer than ${MAX_PATH_LENGTH} characters`);
  const uris: MsrpUri[] = [];
  let i = 0;
  while (i < value.length) {
    if (value.charCodeAt(i) === 0x20) {
      i++;
      continue;
    }
    let end = value.indexOf(' ', i);
    if (end === -1) end = value.length;
    if (uris.length === MAX_PATH_URIS) return fail(LONE, 'too-many-uris', i, `path has more than ${MAX_PATH_URIS} URIs`);
    const r = parseUri(value.slice(i, end), { base: i, label: `URI ${uris.length + 1} of the path: ` });
    if (!r.ok) return r;
    uris.push(r.uri);
    i = end;
  }
  if (uris.length === 0) return fail(LONE, 'empty-path', 0, 'path contains no URI');
  return { ok: true, uris };
}

// ---- format ----

/** Writes a URI back; `formatMsrpUri(parseMsrpUri(s).uri)` is `s` for any s in canonical form. */
export function formatMsrpUri(uri: MsrpUri): string {
  let s = uri.scheme + '://';
  if (uri.userinfo !== undefined) s += uri.userinfo + '@';
  s += uri.hostKind === 'ipv6' ? `[${uri.host}]` : uri.host;
  if (uri.port !== undefined) s += ':' + String(uri.port);
  if (uri.sessionId !== undefined) s += '/' + uri.sessionId;
  s += ';' + uri.transport;
  for (const p of uri.params) s += p.value === undefined ? `;${p.name}` : `;${p.name}=${p.value}`;
  return s;
}

/** RFC 4975 §6: the port to connect to; 2855 when the URI names none. */
export function effectivePort(uri: MsrpUri): number {
  return uri.port ?? MSRP_DEFAULT_PORT;
}

/** RFC 4975 §6: "msrps" means the hop is protected with TLS. */
export function isSecure(uri: MsrpUri): boolean {
  return uri.scheme === 'msrps';
}

// ---- compare ----

/**
 * RFC 4975 §6.1 URI comparison:
 *  1. schemes match, case-insensitively;
 *  2. hosts match: IP addresses by address equivalence (so [::1] = [0:0:0:0:0:0:0:1]),
 *     names case-insensitively after decoding percent-encoded unreserved characters;
 *     userinfo is NOT considered;
 *  3. if either URI has an explicit port, both must have the same one: §6.1 says a URI with
 *     an explicit port is never equivalent to one without, so the default 2855 is NOT applied;
 *  4. session-ids match case-sensitively, and a URI without one never matches one with one;
 *  5. transports match case-insensitively.
 * Other URI parameters are not part of the comparison.
 */
export function uriEquals(a: MsrpUri, b: MsrpUri): boolean {
  return (
    a.scheme === b.scheme &&
    a.port === b.port &&
    a.sessionId === b.sessionId &&
    a.transport.toLowerCase() === b.transport.toLowerCase() &&
    comparableHost(a) === comparableHost(b)
  );
}

/** The host in the form §6.1 compares: canonical address for IP literals, folded name otherwise. */
export function comparableHost(uri: MsrpUri): string {
  if (uri.hostKind === 'ipv6') {
    const g = parseIPv6(uri.host);
    return g === null ? uri.host.toLowerCase() : '[' + g.map((x) => x.toString(16)).join(':') + ']';
  }
  if (uri.hostKind === 'ipv4' || uri.host.indexOf('%') === -1) return uri.host.toLowerCase();
  return decodeUnreserved(uri.host).toLowerCase();
}

/** RFC 3986 §6.2.2.2: percent-encoded unreserved characters are equivalent to the characters. */
function decodeUnreserved(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length) {
      const v = parseInt(s.slice(i + 1, i + 3), 16);
      if (v < 128 && UNRESERVED[v] === 1) {
        out += String.fromCharCode(v);
        i += 2;
        continue;
      }
      out += s.slice(i, i + 3).toUpperCase();
      i += 2;
      continue;
    }
    out += s.charAt(i);
  }
  return out;
}
