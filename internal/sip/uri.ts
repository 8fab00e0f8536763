// SIP and SIPS URIs (RFC 3261 §19.1): parse, format and compare.
//   sip:user:password@host:port;uri-parameters?headers
// Components keep their escaped form, so format(parse(s)) is s up to case of the scheme;
// comparison (§19.1.4) unescapes and applies the per-component case rules.

import { parseHostPort } from './fields.ts';

export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  /** userinfo user part, escaped as received; undefined when there is no "@". */
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** hostname, IPv4 address or bracketed IPv6 reference. */
  readonly host: string;
  readonly port: number | undefined;
  /** uri-parameters, names lower-cased, values escaped; null for a parameter without "=". */
  readonly params: ReadonlyMap<string, string | null>;
  /** headers after "?", in order. */
  readonly headers: ReadonlyMap<string, string>;
}

// RFC 3261 §25.1 character classes (escaped = "%" HEXDIG HEXDIG).
const USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const PASSWORD = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;
const PARAM_CHARS = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+$/;
const HEADER_CHARS = /^(?:[A-Za-z0-9\-_.!~*'()[\]/?:+$]|%[0-9A-Fa-f]{2})*$/;

export function parseSipUri(text: string): SipUri | undefined {
  const m = /^(sips?):(.+)$/i.exec(text.trim());
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase() as 'sip' | 'sips';
  let rest = m[2]!;
  let user: string | undefined;
  let password: string | undefined;
  // "@" can only appear as the userinfo delimiter: it is not allowed unescaped elsewhere.
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    password = colon < 0 ? undefined : userinfo.slice(colon + 1);
    if (!USER.test(user) || (password !== undefined && !PASSWORD.test(password))) return undefined;
  }
  const q = rest.indexOf('?');
  const headerText = q < 0 ? undefined : rest.slice(q + 1);
  if (q >= 0) rest = rest.slice(0, q);
  const semi = rest.indexOf(';');
  const hostPort = parseHostPort(semi < 0 ? rest : rest.slice(0, semi));
  if (!hostPort) return undefined;
  const params = new Map<string, string | null>();
  if (semi >= 0) {
    for (const p of rest.slice(semi + 1).split(';')) {
      const eq = p.indexOf('=');
      const name = eq < 0 ? p : p.slice(0, eq);
      const value = eq < 0 ? null : p.slice(eq + 1);
      if (!PARAM_CHARS.test(name) || (value !== null && !PARAM_CHARS.test(value))) return undefined;
      params.set(name.toLowerCase(), value);
    }
  }
  const headers = new Map<string, string>();
  if (headerText !== undefined) {
    for (const h of headerText.split('&')) {
      const eq = h.indexOf('=');
      if (eq <= 0) return undefined;
      const name = h.slice(0, eq);
      const value = h.slice(eq + 1);
      if (!HEADER_CHARS.test(name) || !HEADER_CHARS.test(value)) return undefined;
      headers.set(name, value);
    }
  }
  return { scheme, user, password, host: hostPort.host, port: hostPort.port, params, headers };
}

export function formatSipUri(uri: SipUri): string {
  let out = `${uri.scheme}:`;
  if (uri.user !== undefined) out += `${uri.user}${uri.password === undefined ? '' : `:${uri.password}`}@`;
  out += uri.host;
  if (uri.port !== undefined) out += `:${uri.port}`;
  for (const [name, value] of uri.params) out += value === null ? `;${name}` : `;${name}=${value}`;
  if (uri.headers.size > 0) out += '?' + [...uri.headers].map(([n, v]) => `${n}=${v}`).join('&');
  return out;
}

/** %HH escapes decoded (RFC 3261 §19.1.2); text whose escapes are not UTF-8 (`%FF`) stays as written. */
export function unescapeUri(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parameters that must match when either URI has them (RFC 3261 §19.1.4). */
const STRICT_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'];

/**
 * URI equality per RFC 3261 §19.1.4: userinfo case-sensitive, host case-insensitive,
 * escapes equal to their characters, no default port, parameters compared when both carry
 * them (user/ttl/method/maddr/transport even when only one does), headers all compared.
 */
export function sipUriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if ((a.user === undefined) !== (b.user === undefined)) return false;
  if (a.user !== undefined && unescapeUri(a.user) !== unescapeUri(b.user!)) return false;
  if (unescapeUri(a.password ?? '') !== unescapeUri(b.password ?? '')) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false;
  const norm = (v: string | null | undefined) => (v === undefined ? undefined : v === null ? '' : unescapeUri(v).toLowerCase());
  for (const name of STRICT_PARAMS) {
    if (norm(a.params.get(name)) !== norm(b.params.get(name))) return false;
  }
  for (const [name, value] of a.params) {
    if (b.params.has(name) && norm(value) !== norm(b.params.get(name))) return false;
  }
  if (a.headers.size !== b.headers.size) return false;
  const bHeaders = new Map([...b.headers].map(([n, v]) => [unescapeUri(n).toLowerCase(), unescapeUri(v)]));
  for (const [name, value] of a.headers) {
    if (bHeaders.get(unescapeUri(name).toLowerCase()) !== unescapeUri(value)) return false;
  }
  return true;
}

/** Compares two URI strings; anything that is not sip/sips compares by exact text. */
export function uriEquals(a: string, b: string): boolean {
  const pa = parseSipUri(a);
  const pb = parseSipUri(b);
  return pa && pb ? sipUriEquals(pa, pb) : a === b;
}
