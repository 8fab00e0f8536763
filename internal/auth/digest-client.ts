// Client side of HTTP Digest (RFC 7616 §3.3–3.5): answering a relay's AUTH challenge
// (RFC 4976 §5.1: the digest-uri is the relay URI exactly as written in the To-Path of the
// AUTH, the method "AUTH") or a SIP server's (RFC 3261 §22.4: the request's method and
// Request-URI). A server answers with one WWW-Authenticate per algorithm it offers; RFC 7616
// §3.7 lets the client take the first one it supports, so we prefer SHA-256 and fall back to
// MD5. The hashing is digest.ts, shared with the verifiers. Pure: the command-line client and
// the browser chat page (internal/web/page) both use it.
import { randomBytes } from 'node:crypto';
import { computeResponse, DIGEST_ALGORITHMS, ha1, hashOf, type DigestAlgorithm } from './digest.ts';
import { parseAuthParams, quote, splitScheme } from './params.ts';
import { AUTH_METHOD } from './verify.ts';

export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly algorithm: DigestAlgorithm;
  readonly opaque: string | undefined;
  /** RFC 7616 §3.3: the previous credentials were right but the nonce expired. */
  readonly stale: boolean;
}

/** Our order of preference (RFC 7616 §3.7: clients should prefer the strongest hash). */
const PREFERENCE: readonly DigestAlgorithm[] = ['SHA-256', 'SHA-256-sess', 'MD5', 'MD5-sess'];

/**
 * Parses one `WWW-Authenticate: Digest ...` value. Returns undefined for other schemes,
 * unknown algorithms, or challenges without qop=auth (RFC 4976 §5.1 challenges with qop="auth").
 */
export function parseDigestChallenge(value: string): DigestChallenge | undefined {
  const split = splitScheme(value);
  if (!split.ok || split.value.scheme.toLowerCase() !== 'digest') return undefined;
  const parsed = parseAuthParams(split.value.rest);
  if (!parsed.ok) return undefined;
  const p = parsed.value;
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  if (realm === undefined || nonce === undefined) return undefined;
  const algName = p.get('algorithm') ?? 'MD5';
  const algorithm = DIGEST_ALGORITHMS.find((a) => a.toLowerCase() === algName.toLowerCase());
  if (algorithm === undefined) return undefined;
  const qop = p.get('qop');
  if (qop === undefined || !qop.split(',').some((q) => q.trim().toLowerCase() === 'auth')) return undefined;
  return { realm, nonce, algorithm, opaque: p.get('opaque'), stale: p.get('stale')?.toLowerCase() === 'true' };
}

/** The challenge to answer among several WWW-Authenticate values, optionally for one realm only. */
export function chooseChallenge(values: readonly string[], realm?: string): DigestChallenge | undefined {
  const usable = values.map(parseDigestChallenge).filter((c): c is DigestChallenge => c !== undefined && (realm === undefined || c.realm === realm));
  usable.sort((a, b) => PREFERENCE.indexOf(a.algorithm) - PREFERENCE.indexOf(b.algorithm));
  return usable[0];
}

export interface DigestAnswer {
  /** The `Authorization` header value. */
  readonly authorization: string;
  /** What is needed to check the relay's rspauth (RFC 7616 §3.5). */
  readonly ha1: string;
  readonly cnonce: string;
  readonly nc: string;
  readonly uri: string;
  readonly algorithm: DigestAlgorithm;
}

export interface DigestAnswerInput {
  readonly challenge: DigestChallenge;
  readonly username: string;
  readonly password: string;
  /** The relay URI from the To-Path of the AUTH, verbatim. */
  readonly uri: string;
  /** Nonce count: 1 for the first use of a nonce (RFC 7616 §3.4). */
  readonly nc?: number;
  /** Fixed client nonce for tests; random otherwise. */
  readonly cnonce?: string;
  /** The method in A2: AUTH for MSRP (default), the request's method for SIP (RFC 3261 §22.4). */
  readonly method?: string;
}

/** Builds the Authorization value answering `challenge` (RFC 7616 §3.4, qop=auth). */
export function answerChallenge(input: DigestAnswerInput): DigestAnswer {
  const { challenge: c } = input;
  const hash = hashOf(c.algorithm);
  const h1 = ha1(hash, input.username, c.realm, input.password);
  const cnonce = input.cnonce ?? randomBytes(16).toString('hex');
  const nc = (input.nc ?? 1).toString(16).padStart(8, '0');
  const response = computeResponse({ algorithm: c.algorithm, ha1: h1, nonce: c.nonce, cnonce, nc, qop: 'auth', method: input.method ?? AUTH_METHOD, uri: input.uri });
  // RFC 7616 §3.4: a username that cannot travel in a quoted-string goes in username* (RFC 5987).
  const user = /^[\x20-\x7e]*$/.test(input.username) ? `username=${quote(input.username)}` : `username*=UTF-8''${encodeURIComponent(input.username)}`;
  const parts = [
    user, `realm=${quote(c.realm)}`, `nonce=${quote(c.nonce)}`, `uri=${quote(input.uri)}`,
    `response=${quote(response)}`, `algorithm=${c.algorithm}`, `cnonce=${quote(cnonce)}`, `nc=${nc}`, 'qop=auth',
  ];
  if (c.opaque !== undefined) parts.push(`opaque=${quote(c.opaque)}`);
  return { authorization: `Digest ${parts.join(', ')}`, ha1: h1, cnonce, nc, uri: input.uri, algorithm: c.algorithm };
}

/**
 * Checks the relay's `Authentication-Info` rspauth (RFC 7616 §3.5: A2 with an empty method),
 * which proves the relay knows our password too. Returns undefined when there is no rspauth.
 */
export function checkRspauth(authenticationInfo: string, answer: DigestAnswer, nonce: string): boolean | undefined {
  const p = parseAuthParams(authenticationInfo);
  if (!p.ok) return false;
  const rspauth = p.value.get('rspauth');
  if (rspauth === undefined) return undefined;
  const expected = computeResponse({ algorithm: answer.algorithm, ha1: answer.ha1, nonce, cnonce: answer.cnonce, nc: answer.nc, qop: 'auth', method: '', uri: answer.uri });
  return expected === rspauth.toLowerCase();
}
