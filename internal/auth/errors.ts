// Errors are values here (STYLE.md): the relay maps each code to an MSRP response
// (RFC 4976 §5.1/§6: 401 with a fresh challenge, 403 after too many failures, 400).

export type AuthErrorCode =
  | 'malformed' // the header does not follow the auth-param grammar (RFC 7235 §2.1)
  | 'unsupported-scheme' // not `Digest` / `Basic`
  | 'duplicate-param' // RFC 7616 §3.4: each directive at most once
  | 'missing-param' // a required directive is absent
  | 'unsupported-algorithm'
  | 'unsupported-qop'
  | 'unsupported-userhash'
  | 'bad-nonce-count' // nc is not 8LHEX
  | 'realm-mismatch'
  | 'uri-mismatch'
  | 'invalid-nonce' // not minted by us (or for another realm/binding)
  | 'stale-nonce' // minted by us, expired, and the response was right: challenge again with stale=true
  | 'replayed-nonce-count'
  | 'wrong-response'; // the digest does not match: bad password (or user)

export interface AuthError {
  readonly ok: false;
  readonly code: AuthErrorCode;
  readonly message: string;
}

export type AuthResult<T> = { readonly ok: true; readonly value: T } | AuthError;

export function authError(code: AuthErrorCode, message: string): AuthError {
  return { ok: false, code, message };
}
