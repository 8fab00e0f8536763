// Server-side verification of an AUTH request's Digest credentials (RFC 4976 §5.1, §6;
// RFC 7616 §3.4). Order matters for stale=true: RFC 7616 §3.3 says stale is only set
// when the digest itself is right, so the response is checked before the nonce age.
import { authError, type AuthResult } from './errors.ts';
import { computeResponse, constantTimeEqual, hashOf, type DigestAlgorithm, type DigestCredentials, type HashName } from './digest.ts';
import type { NonceManager } from './nonce.ts';

/** RFC 4976 §5.1: the Digest "method" for A2 is the MSRP method name, AUTH. */
export const AUTH_METHOD = 'AUTH';

/** An empty string means "not known for this hash" (a subscriber table without that column): never matches. */
export interface StoredHa1 {
  ha1Md5: string;
  ha1Sha256: string;
}

export function ha1For(hash: HashName, stored: StoredHa1): string {
  return hash === 'MD5' ? stored.ha1Md5 : stored.ha1Sha256;
}

export interface VerifyInput {
  credentials: DigestCredentials;
  /** The realm this relay serves for the request; must equal credentials.realm. */
  realm: string;
  /** The first To-Path URI of the AUTH request: the relay's own URI (RFC 4976 §5.1 digest-uri). */
  uri: string;
  /** HA1 digests for credentials.username, or undefined when the user is unknown or disabled. */
  stored: StoredHa1 | undefined;
  nonces: NonceManager;
  /** The binding the nonce was issued with (e.g. connection id), if any. */
  binding?: string;
  /** Algorithms this relay accepts (default: all). */
  algorithms?: readonly DigestAlgorithm[];
}

export interface Verified {
  username: string;
  algorithm: DigestAlgorithm;
  /** The HA1 used, for building Authentication-Info. */
  ha1: string;
}

export function verifyDigest(input: VerifyInput): AuthResult<Verified> {
  const c = input.credentials;
  if (input.algorithms && !input.algorithms.includes(c.algorithm)) {
    return authError('unsupported-algorithm', `algorithm ${c.algorithm} is not offered here`);
  }
  if (c.realm !== input.realm) return authError('realm-mismatch', `realm ${JSON.stringify(c.realm)} is not ${JSON.stringify(input.realm)}`);
  // RFC 4976 §7.1's example sends no uri directive; when present it must name this relay.
  if (c.uri !== undefined && c.uri !== input.uri) return authError('uri-mismatch', `digest-uri ${JSON.stringify(c.uri)} is not the To-Path URI`);
  const nonceState = input.nonces.check(c.nonce, input.realm, input.binding);
  if (nonceState === 'invalid') return authError('invalid-nonce', 'nonce was not issued here');

  // An unknown user is checked against a dummy HA1 so that timing does not reveal which users exist.
  // An empty stored HA1 (no digest of that hash for the user) is checked the same way and
  // refused: a response computed over an empty HA1 must never pass.
  const known = input.stored ? ha1For(hashOf(c.algorithm), input.stored) : '';
  const ha1 = known !== '' ? known : '0'.repeat(hashOf(c.algorithm) === 'MD5' ? 32 : 64);
  const expected = computeResponse({ algorithm: c.algorithm, ha1, nonce: c.nonce, cnonce: c.cnonce, nc: c.nc, qop: c.qop, method: AUTH_METHOD, uri: c.uri ?? input.uri });
  if (!constantTimeEqual(expected, c.response) || known === '') {
    return authError('wrong-response', 'the digest response does not match');
  }
  if (nonceState === 'stale') return authError('stale-nonce', 'nonce expired; retry with the new one (stale=true)');
  const counted = input.nonces.useCount(c.nonce, c.nc);
  if (counted === 'replayed') return authError('replayed-nonce-count', `nc ${c.nc} was already used with this nonce`);
  if (counted === 'stale') return authError('stale-nonce', 'nonce history was forgotten; retry with a new one (stale=true)');
  return { ok: true, value: { username: c.username, algorithm: c.algorithm, ha1 } };
}
