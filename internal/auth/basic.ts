// Basic (RFC 7617) for relays configured with auth.basicOverTls: only ever over TLS,
// since the password crosses the wire in clear (RFC 7617 §4). The password is checked
// by recomputing the stored SHA-256 HA1, so clear passwords are still never stored.
import { authError, type AuthResult } from './errors.ts';
import { constantTimeEqual, ha1 } from './digest.ts';
import { splitScheme } from './params.ts';

export interface BasicCredentials {
  username: string;
  password: string;
}

export function parseBasicCredentials(header: string): AuthResult<BasicCredentials> {
  const split = splitScheme(header);
  if (!split.ok) return split;
  if (split.value.scheme.toLowerCase() !== 'basic') return authError('unsupported-scheme', `expected Basic, got ${split.value.scheme}`);
  const token68 = split.value.rest;
  if (!/^[A-Za-z0-9+/]+=*$/.test(token68) || token68.length % 4 !== 0) return authError('malformed', 'credentials are not base64 (RFC 7617 §2)');
  const decoded = Buffer.from(token68, 'base64').toString('utf8'); // RFC 7617 §2.1 charset=UTF-8
  const colon = decoded.indexOf(':');
  if (colon < 0) return authError('malformed', 'user-pass has no ":" (RFC 7617 §2)');
  return { ok: true, value: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } };
}

export function basicChallenge(realm: string): string {
  return `Basic realm="${realm.replace(/[\\"]/g, (c) => '\\' + c)}", charset="UTF-8"`;
}

/** True when H_SHA256(user:realm:password) equals the stored SHA-256 HA1. */
export function verifyBasic(credentials: BasicCredentials, realm: string, storedHa1Sha256: string | undefined): boolean {
  const computed = ha1('SHA-256', credentials.username, realm, credentials.password);
  return constantTimeEqual(computed, storedHa1Sha256 ?? '0'.repeat(64)) && storedHa1Sha256 !== undefined;
}
