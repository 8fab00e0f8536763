// HTTP Digest (RFC 7616) as MSRP relays use it (RFC 4976 §5.1, §6, §9.1):
// - the request is AUTH, so A2 = "AUTH:" digest-uri, where digest-uri is the relay URI
//   from the To-Path of the AUTH request (RFC 4976 §5.1);
// - qop=auth only: RFC 7616 §3.3 makes qop mandatory and RFC 4976 §5.1 challenges
//   with qop="auth"; the RFC 2069 no-qop form and auth-int are refused;
// - stored secrets are HA1 digests, never clear passwords (RFC 7616 §3.4.2, §5.2).
import { createHash, timingSafeEqual } from 'node:crypto';
import { authError, type AuthResult } from './errors.ts';
import { parseAuthParams, quote, splitScheme } from './params.ts';

export const DIGEST_ALGORITHMS = ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];
/** The hash behind an algorithm; `-sess` variants reuse the same stored HA1. */
export type HashName = 'MD5' | 'SHA-256';

export function hashOf(algorithm: DigestAlgorithm): HashName {
  return algorithm.startsWith('SHA-256') ? 'SHA-256' : 'MD5';
}

function h(hash: HashName, data: string): string {
  return createHash(hash === 'MD5' ? 'md5' : 'sha256').update(data, 'utf8').digest('hex');
}

/** HA1 = H(username ":" realm ":" password), lower-case hex (RFC 7616 §3.4.2). UTF-8 per §4. */
export function ha1(hash: HashName, username: string, realm: string, password: string): string {
  return h(hash, `${username}:${realm}:${password}`);
}

/** Equal-time comparison of hex digests; a length difference is not a secret. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

export interface ResponseInput {
  algorithm: DigestAlgorithm;
  /** H(username:realm:password) for the algorithm's hash. */
  ha1: string;
  nonce: string;
  cnonce: string;
  nc: string;
  qop: 'auth';
  /** "AUTH" for MSRP (RFC 4976 §5.1); empty for rspauth (RFC 7616 §3.5). */
  method: string;
  uri: string;
}

/**
 * request-digest = KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2)) (RFC 7616 §3.4.1),
 * with A1 for -sess = H(user:realm:pass) ":" nonce ":" cnonce (§3.4.2) and A2 = method ":" uri (§3.4.3).
 */
export function computeResponse(input: ResponseInput): string {
  const hash = hashOf(input.algorithm);
  const a1 = input.algorithm.endsWith('-sess') ? h(hash, `${input.ha1}:${input.nonce}:${input.cnonce}`) : input.ha1;
  const ha2 = h(hash, `${input.method}:${input.uri}`);
  return h(hash, `${a1}:${input.nonce}:${input.nc}:${input.cnonce}:${input.qop}:${ha2}`);
}

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  /** digest-uri; RFC 4976 §7.1's example omits it, so it is optional here. */
  uri: string | undefined;
  response: string;
  /** RFC 7616 §3.4: absent means MD5. */
  algorithm: DigestAlgorithm;
  cnonce: string;
  nc: string;
  qop: 'auth';
  opaque: string | undefined;
  /** Every directive as received, lower-case names. */
  params: ReadonlyMap<string, string>;
}

const NC = /^[0-9a-fA-F]{8}$/;

/** Parses an `Authorization: Digest ...` value (the header name is not included). */
export function parseDigestCredentials(header: string): AuthResult<DigestCredentials> {
  const split = splitScheme(header);
  if (!split.ok) return split;
  if (split.value.scheme.toLowerCase() !== 'digest') return authError('unsupported-scheme', `expected Digest, got ${split.value.scheme}`);
  const parsed = parseAuthParams(split.value.rest);
  if (!parsed.ok) return parsed;
  const p = parsed.value;

  if (p.get('userhash')?.toLowerCase() === 'true') {
    // RFC 7616 §3.4.4: only when the server offered userhash=true, which we never do.
    return authError('unsupported-userhash', 'userhash was not offered');
  }
  let username = p.get('username');
  const extended = p.get('username*');
  if (username !== undefined && extended !== undefined) return authError('malformed', 'username and username* are mutually exclusive (RFC 7616 §3.4)');
  if (extended !== undefined) {
    const decoded = decodeExtValue(extended);
    if (decoded === undefined) return authError('malformed', 'username* is not a UTF-8 ext-value (RFC 5987)');
    username = decoded;
  }
  for (const [name, value] of [['username', username], ['realm', p.get('realm')], ['nonce', p.get('nonce')], ['response', p.get('response')]] as const) {
    if (value === undefined) return authError('missing-param', `${name} is required`);
  }
  const algName = p.get('algorithm') ?? 'MD5';
  const algorithm = DIGEST_ALGORITHMS.find((a) => a.toLowerCase() === algName.toLowerCase());
  if (algorithm === undefined) return authError('unsupported-algorithm', `algorithm ${algName} is not supported`);
  const qop = p.get('qop');
  if (qop === undefined) return authError('unsupported-qop', 'qop=auth is required (RFC 7616 §3.3, RFC 4976 §5.1)');
  if (qop.toLowerCase() !== 'auth') return authError('unsupported-qop', `qop ${qop} is not supported, only auth`);
  const nc = p.get('nc');
  const cnonce = p.get('cnonce');
  if (nc === undefined || cnonce === undefined) return authError('missing-param', 'nc and cnonce are required with qop (RFC 7616 §3.4)');
  if (!NC.test(nc)) return authError('bad-nonce-count', `nc must be 8 hex digits, got ${JSON.stringify(nc)}`);
  return {
    ok: true,
    value: {
      username: username!, realm: p.get('realm')!, nonce: p.get('nonce')!, uri: p.get('uri'),
      response: p.get('response')!.toLowerCase(), algorithm, cnonce, nc: nc.toLowerCase(), qop: 'auth',
      opaque: p.get('opaque'), params: p,
    },
  };
}

/** RFC 5987 ext-value, UTF-8 only: `UTF-8'lang'pct-encoded`. */
function decodeExtValue(value: string): string | undefined {
  const m = /^utf-8'[^']*'(.*)$/i.exec(value);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
}

export interface ChallengeInput {
  realm: string;
  nonce: string;
  algorithm: DigestAlgorithm;
  opaque?: string;
  /** RFC 7616 §3.3: the nonce was stale but the credentials were right; retry without asking the user. */
  stale?: boolean;
}

/** A `WWW-Authenticate` value (RFC 7616 §3.3); RFC 4976 §5.1 puts it in the 401 to AUTH. */
export function digestChallenge(c: ChallengeInput): string {
  const parts = [`realm=${quote(c.realm)}`, `qop="auth"`, `algorithm=${c.algorithm}`, `nonce=${quote(c.nonce)}`];
  if (c.opaque !== undefined) parts.push(`opaque=${quote(c.opaque)}`);
  if (c.stale === true) parts.push('stale=true');
  return `Digest ${parts.join(', ')}`;
}

export interface AuthenticationInfoInput {
  algorithm: DigestAlgorithm;
  ha1: string;
  nonce: string;
  cnonce: string;
  nc: string;
  uri: string;
  nextnonce?: string;
}

/** `Authentication-Info` (RFC 7616 §3.5): rspauth uses A2 = ":" digest-uri (empty method). */
export function authenticationInfo(i: AuthenticationInfoInput): string {
  const rspauth = computeResponse({ algorithm: i.algorithm, ha1: i.ha1, nonce: i.nonce, cnonce: i.cnonce, nc: i.nc, qop: 'auth', method: '', uri: i.uri });
  const parts = [`rspauth=${quote(rspauth)}`, 'qop=auth', `nc=${i.nc}`, `cnonce=${quote(i.cnonce)}`];
  if (i.nextnonce !== undefined) parts.push(`nextnonce=${quote(i.nextnonce)}`);
  return parts.join(', ');
}
