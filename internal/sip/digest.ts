// Digest authentication of SIP requests (RFC 3261 §22.4) on top of internal/auth: the
// same credentials grammar, nonces and HA1 storage as MSRP AUTH, but A2 is the SIP method
// and the digest-uri must be the Request-URI (RFC 3261 §22.4 item 8; RFC 8760 for
// SHA-256). internal/auth's verifyDigest fixes the method to AUTH, so the comparison is
// redone here with the request's method.

import {
  computeResponse, constantTimeEqual, digestChallenge, hashOf, ha1For, parseDigestCredentials,
  type AuthResult, type DigestAlgorithm, type DigestCredentials, type NonceManager, type StoredHa1,
} from '../auth/index.ts';
import { authError } from '../auth/errors.ts';
import { uriEquals } from './uri.ts';

export interface SipDigestOptions {
  readonly realm: string;
  readonly nonces: NonceManager;
  /** HA1 digests of a user, or undefined when unknown. */
  lookup(username: string): StoredHa1 | undefined;
  /** Algorithms offered and accepted (default SHA-256 then MD5: RFC 8760 §2.4, one challenge each). */
  readonly algorithms?: readonly DigestAlgorithm[];
  /**
   * What the nonce is bound to (e.g. the request's source address): a nonce sent to one
   * address is refused from another, so a valid answer also proves the sender received our
   * 401 (return routability, against spoofed UDP sources).
   */
  readonly binding?: string;
}

/** WWW-Authenticate values for a 401, one per algorithm (RFC 8760 §2.4: preferred first). */
export function sipChallenges(options: SipDigestOptions, stale = false): string[] {
  const nonce = options.nonces.issue(options.realm, options.binding);
  return (options.algorithms ?? ['SHA-256', 'MD5']).map((algorithm) => digestChallenge({ realm: options.realm, nonce, algorithm, stale }));
}

/**
 * The checks that need no user record: algorithm, realm, digest-uri and our nonce (bound to
 * `binding`). A caller whose user lookup is costly (a database) runs them first, so that a
 * made-up nonce costs no lookup; the value is the nonce's state (valid or stale).
 */
export function precheckSipDigest(options: Omit<SipDigestOptions, 'lookup'>, c: DigestCredentials, requestUri: string): AuthResult<'valid' | 'stale'> {
  if (options.algorithms && !options.algorithms.includes(c.algorithm)) return authError('unsupported-algorithm', `${c.algorithm} is not offered`);
  if (c.realm !== options.realm) return authError('realm-mismatch', `realm ${JSON.stringify(c.realm)}`);
  if (c.uri === undefined || !uriEquals(c.uri, requestUri)) return authError('uri-mismatch', 'digest-uri is not the Request-URI (RFC 3261 §22.4)');
  const nonceState = options.nonces.check(c.nonce, options.realm, options.binding);
  if (nonceState === 'invalid') return authError('invalid-nonce', 'nonce was not issued here');
  return { ok: true, value: nonceState };
}

/** Verifies an Authorization header value for `method` and `requestUri`; the value is the authenticated username. */
export function verifySipDigest(options: SipDigestOptions, header: string, method: string, requestUri: string): AuthResult<string> {
  const parsed = parseDigestCredentials(header);
  if (!parsed.ok) return parsed;
  const c = parsed.value;
  const pre = precheckSipDigest(options, c, requestUri);
  if (!pre.ok) return pre;
  const nonceState = pre.value;
  const stored = options.lookup(c.username);
  const hash = hashOf(c.algorithm);
  // An unknown user is checked against a dummy HA1 so that timing does not reveal which users exist.
  const ha1 = stored ? ha1For(hash, stored) : '0'.repeat(hash === 'MD5' ? 32 : 64);
  const expected = computeResponse({ algorithm: c.algorithm, ha1, nonce: c.nonce, cnonce: c.cnonce, nc: c.nc, qop: c.qop, method, uri: c.uri! }); // precheck: a digest-uri equal to the Request-URI
  if (!constantTimeEqual(expected, c.response) || stored === undefined) return authError('wrong-response', 'the digest response does not match');
  if (nonceState === 'stale') return authError('stale-nonce', 'nonce expired');
  const counted = options.nonces.useCount(c.nonce, c.nc);
  if (counted === 'replayed') return authError('replayed-nonce-count', `nc ${c.nc} was already used`);
  if (counted === 'stale') return authError('stale-nonce', 'nonce history was forgotten');
  return { ok: true, value: c.username };
}
