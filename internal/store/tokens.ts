// API tokens of the admin sidecar. Only the SHA-256 hash of a token is stored, so a
// database dump does not hand out access; the caller generates the secret, shows it
// once and passes its hash here. Lookup is by hash (an index probe); the admin layer
// compares the hash again in constant time.
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';
import { pageOf, type Page, type PageRequest } from './page.ts';

export type TokenRole = 'admin' | 'read-only';

export interface TokenInfo {
  id: string;
  name: string;
  role: TokenRole;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface TokenRecord extends TokenInfo {
  hash: Buffer;
}

export interface Tokens {
  create(t: { id: string; name: string; role: TokenRole; hash: Buffer; createdBy: string; expiresAt?: Date | undefined }): Promise<TokenInfo>;
  findByHash(hash: Buffer): Promise<TokenRecord | undefined>;
  get(id: string): Promise<TokenInfo | undefined>;
  list(filter: { revoked?: boolean | undefined }, page: PageRequest<string>): Promise<Page<TokenInfo, string>>;
  /** Marks it revoked (idempotent: the first revocation time is kept). */
  revoke(id: string): Promise<TokenInfo>;
}

interface TokenRow { id: string; name: string; role: TokenRole; hash: Uint8Array; created_by: string; created_at: Date; expires_at: Date | null; revoked_at: Date | null }

const infoOf = (r: TokenRow): TokenInfo => ({
  id: r.id, name: r.name, role: r.role, createdBy: r.created_by, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at,
});
const INFO = 'id, name, role, created_by, created_at, expires_at, revoked_at';

export function createTokens(db: Db, run: <T>(what: string, fn: () => Promise<T>) => Promise<T>): Tokens {
  return {
    create: (t) => run(`token ${t.name}`, async () => {
      const r = await db.query<TokenRow>(
        `INSERT INTO api_tokens (id, name, role, hash, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${INFO}`,
        [t.id, t.name, t.role, t.hash, t.createdBy, t.expiresAt ?? null]);
      return infoOf(r.rows[0]!);
    }),

    findByHash: (hash) => run('token', async () => {
      const r = await db.query<TokenRow>(`SELECT ${INFO}, hash FROM api_tokens WHERE hash = $1`, [hash]);
      const row = r.rows[0];
      return row ? { ...infoOf(row), hash: Buffer.from(row.hash) } : undefined;
    }),

    get: (id) => run(`token ${id}`, async () => {
      const r = await db.query<TokenRow>(`SELECT ${INFO} FROM api_tokens WHERE id = $1`, [id]);
      return r.rows[0] ? infoOf(r.rows[0]) : undefined;
    }),

    list: (filter, page) => run('tokens', async () => {
      const r = await db.query<TokenRow>(
        `SELECT ${INFO} FROM api_tokens WHERE ($1::text IS NULL OR id > $1)
            AND ($2::boolean IS NULL OR (revoked_at IS NOT NULL) = $2) ORDER BY id LIMIT $3`,
        [page.after ?? null, filter.revoked ?? null, page.limit + 1]);
      return pageOf(r.rows.map(infoOf), page.limit, (x) => x.id);
    }),

    revoke: (id) => run(`token ${id}`, async () => {
      const r = await db.query<TokenRow>(
        `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING ${INFO}`, [id]);
      if (!r.rows[0]) throw new StoreError('not-found', `token ${id}: not found`);
      return infoOf(r.rows[0]);
    }),
  };
}
