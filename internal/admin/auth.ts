// Bearer-token authentication of the admin API.
//  - Tokens we issue look like msrp_<id>_<secret>; only SHA-256(token) is stored. The
//    presented token is hashed, looked up by hash, and the hashes compared again with
//    timingSafeEqual, so the comparison does not depend on where they differ.
//  - The bootstrap admin token comes from a file (a Kubernetes Secret); its hash is
//    compared in constant time on every request, before any database access, so it
//    works while the database is down. The caller may hand in a function that returns
//    the token as it is now (cmd/admin.ts re-reads the rotated file): the old token stops
//    working and the new one works at once, without a restart.
//  - Optionally, other bearer tokens go to Kubernetes TokenReview (tokenreview.ts).
// Every failure answers the same 401 (RFC 6750 §3: WWW-Authenticate: Bearer ...), so a
// caller learns nothing about which tokens exist; the reason goes to the log and the
// msrp_admin_auth_failures_total metric only.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/store.ts';
import type { TokenRole } from '../store/tokens.ts';
import { ProblemError } from './errors.ts';
import type { AdminMetrics } from './metrics.ts';
import type { TokenReviewer } from './tokenreview.ts';

export type Role = TokenRole;

export interface Principal {
  /** Who, as written in the audit log: `bootstrap`, `token:<id>`, `serviceaccount:<ns>/<name>`. */
  actor: string;
  role: Role;
}

export const TOKEN_PATTERN = /^msrp_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

export const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** A new token: shown to the caller once; only `hash` is stored. */
export function newToken(): { id: string; secret: string; hash: Buffer } {
  const id = randomBytes(8).toString('hex');
  const secret = `msrp_${id}_${randomBytes(32).toString('base64url')}`;
  return { id, secret, hash: sha256(secret) };
}

export const WWW_AUTHENTICATE = 'Bearer realm="msrp-admin"';

/** The bootstrap token, or a function that gives it as it is now (a rotated Secret file). */
export type BootstrapToken = string | (() => string | undefined);

export interface AuthenticatorOptions {
  store: Store;
  bootstrapToken?: BootstrapToken | undefined;
  tokenReview?: TokenReviewer | undefined;
  logger: Logger;
  metrics: AdminMetrics;
  /** How long a verified stored token is trusted without asking the database (default 5 s). */
  cacheTtlMs?: number;
}

export class Authenticator {
  readonly #o: AuthenticatorOptions;
  /** The hash of the bootstrap token, and the token it was computed from. */
  #bootstrap: { token: string; hash: Buffer } | undefined;
  readonly #cache = new Map<string, { principal: Principal; until: number }>();
  readonly #ttl: number;

  constructor(o: AuthenticatorOptions) {
    this.#o = o;
    this.#ttl = o.cacheTtlMs ?? 5000;
  }

  /** The bootstrap token's hash as the token is now; hashed again only when it changed. */
  #bootstrapHash(): Buffer | undefined {
    const source = this.#o.bootstrapToken;
    const token = (typeof source === 'function' ? source() : source)?.trim() ?? '';
    if (token === '') return undefined;
    if (this.#bootstrap?.token !== token) this.#bootstrap = { token, hash: sha256(token) };
    return this.#bootstrap.hash;
  }

  /** Drops cached verifications (a token was revoked here or, per the change feed, elsewhere). */
  invalidate(): void {
    this.#cache.clear();
  }

  #fail(reason: string, ip: string, detail?: string): never {
    this.#o.metrics.authFailures.inc({ reason });
    this.#o.logger.warn({ reason, peer: ip, ...(detail ? { detail } : {}) }, 'admin authentication failed');
    throw new ProblemError('unauthenticated', 'a valid bearer token is required', {
      headers: { 'www-authenticate': `${WWW_AUTHENTICATE}${reason === 'missing' ? '' : ', error="invalid_token"'}` },
    });
  }

  async authenticate(header: string | undefined, ip: string): Promise<Principal> {
    if (header === undefined || header === '') this.#fail('missing', ip);
    const m = /^Bearer ([\x21-\x7e]{1,4096})$/i.exec(header);
    if (!m) this.#fail('malformed', ip);
    const token = m[1]!;
    const hash = sha256(token);
    const bootstrapHash = this.#bootstrapHash();
    if (bootstrapHash !== undefined && timingSafeEqual(hash, bootstrapHash)) return { actor: 'bootstrap', role: 'admin' };

    const key = hash.toString('hex');
    const hit = this.#cache.get(key);
    if (hit !== undefined && hit.until > Date.now()) return hit.principal;

    if (TOKEN_PATTERN.test(token)) {
      // A database failure propagates as a StoreError: 503 from the error handler, not a 401.
      const row = await this.#o.store.tokens.findByHash(hash);
      if (row === undefined || !timingSafeEqual(row.hash, hash)) this.#fail('unknown', ip);
      if (row.revokedAt !== null) this.#fail('revoked', ip, `token ${row.id}`);
      if (row.expiresAt !== null && row.expiresAt.getTime() <= Date.now()) this.#fail('expired', ip, `token ${row.id}`);
      const principal: Principal = { actor: `token:${row.id}`, role: row.role };
      let until = Date.now() + this.#ttl;
      if (row.expiresAt !== null) until = Math.min(until, row.expiresAt.getTime());
      this.#cache.set(key, { principal, until });
      return principal;
    }

    if (this.#o.tokenReview !== undefined) {
      const r = await this.#o.tokenReview.review(token);
      if (!r.ok) this.#fail(`tokenreview-${r.reason}`, ip, r.detail);
      const principal: Principal = { actor: r.actor, role: r.role };
      this.#cache.set(key, { principal, until: Date.now() + this.#ttl });
      if (this.#cache.size > 10_000) this.#cache.delete(this.#cache.keys().next().value!);
      return principal;
    }
    this.#fail('unknown', ip);
  }
}
