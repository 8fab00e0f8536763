// Realms and users as the admin API needs them: one row with its version (for ETag /
// If-Match), keyset-paged lists with filters, guarded realm deletion, descriptions.
// The version is the row's xmin: PostgreSQL gives every row version a new one, so it
// changes on each UPDATE without a column of our own.
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';
import { pageOf, type Page, type PageRequest } from './page.ts';
import type { UserInfo } from './store.ts';

export interface RealmRecord {
  name: string;
  description: string;
  userCount: number;
  version: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserRecord extends UserInfo {
  version: string;
}

export interface RealmFilter {
  /** Names that start with this text (compared literally, no LIKE wildcards). */
  prefix?: string | undefined;
}

export interface UserFilter extends RealmFilter {
  disabled?: boolean | undefined;
}

export interface Accounts {
  getRealm(name: string): Promise<RealmRecord | undefined>;
  listRealms(filter: RealmFilter, page: PageRequest<string>): Promise<Page<RealmRecord, string>>;
  /** Sets the description; `ifVersion` makes it conditional (precondition error on mismatch). */
  updateRealm(name: string, change: { description?: string | undefined }, ifVersion?: string): Promise<RealmRecord>;
  /** Refused with `conflict` while the realm has users, unless `cascade`. */
  deleteRealm(name: string, options: { cascade: boolean }): Promise<{ usersDeleted: number }>;
  getUser(realm: string, username: string): Promise<UserRecord | undefined>;
  listUsers(realm: string, filter: UserFilter, page: PageRequest<string>): Promise<Page<UserRecord, string>>;
  updateUser(realm: string, username: string, change: { disabled?: boolean | undefined }, ifVersion?: string): Promise<UserRecord>;
}

interface RealmRow { name: string; description: string; user_count: number; version: string; created_at: Date; updated_at: Date }
interface UserRow { realm: string; username: string; disabled: boolean; has_secret: boolean; version: string; created_at: Date; updated_at: Date }

const realmOf = (r: RealmRow): RealmRecord => ({
  name: r.name, description: r.description, userCount: Number(r.user_count), version: r.version, createdAt: r.created_at, updatedAt: r.updated_at,
});
const userOf = (r: UserRow): UserRecord => ({
  realm: r.realm, username: r.username, disabled: r.disabled, hasSecret: r.has_secret, version: r.version, createdAt: r.created_at, updatedAt: r.updated_at,
});

const REALM_SELECT = `SELECT r.name, r.description, r.xmin::text AS version, r.created_at, r.updated_at,
  (SELECT count(*) FROM users u WHERE u.realm_id = r.id)::int AS user_count FROM realms r`;
const USER_SELECT = `SELECT r.name AS realm, u.username, u.disabled, (u.secret_enc IS NOT NULL) AS has_secret,
  u.xmin::text AS version, u.created_at, u.updated_at FROM users u JOIN realms r ON r.id = u.realm_id`;

export function createAccounts(db: Db, run: <T>(what: string, fn: () => Promise<T>) => Promise<T>): Accounts {
  const getRealm = async (name: string): Promise<RealmRecord | undefined> => {
    const r = await db.query<RealmRow>(`${REALM_SELECT} WHERE r.name = $1`, [name]);
    return r.rows[0] ? realmOf(r.rows[0]) : undefined;
  };
  const getUser = async (realm: string, username: string): Promise<UserRecord | undefined> => {
    const r = await db.query<UserRow>(`${USER_SELECT} WHERE r.name = $1 AND u.username = $2`, [realm, username]);
    return r.rows[0] ? userOf(r.rows[0]) : undefined;
  };
  /** After a conditional UPDATE touched nothing: was the row gone or at another version? */
  const explainMiss = (exists: boolean, what: string): never => {
    if (!exists) throw new StoreError('not-found', `${what}: not found`);
    throw new StoreError('precondition', `${what}: changed since the version given in If-Match`);
  };

  return {
    getRealm: (name) => run(`realm ${name}`, () => getRealm(name)),

    listRealms: (filter, page) => run('realms', async () => {
      const r = await db.query<RealmRow>(
        `${REALM_SELECT} WHERE ($1::text IS NULL OR r.name > $1) AND ($2::text IS NULL OR left(r.name, length($2)) = $2)
          ORDER BY r.name LIMIT $3`,
        [page.after ?? null, filter.prefix ?? null, page.limit + 1]);
      return pageOf(r.rows.map(realmOf), page.limit, (x) => x.name);
    }),

    updateRealm: (name, change, ifVersion) => run(`realm ${name}`, async () => {
      const r = await db.query<{ name: string }>(
        `UPDATE realms SET description = coalesce($2, description), updated_at = now()
          WHERE name = $1 AND ($3::text IS NULL OR xmin::text = $3) RETURNING name`,
        [name, change.description ?? null, ifVersion ?? null]);
      if (r.rowCount === 0) explainMiss((await getRealm(name)) !== undefined, `realm ${name}`);
      return (await getRealm(name))!;
    }),

    deleteRealm: (name, options) => run(`realm ${name}`, () => db.transaction(async (tx) => {
      const realm = await tx.query<{ id: string; users: number }>(
        `SELECT id, (SELECT count(*) FROM users WHERE realm_id = realms.id)::int AS users FROM realms WHERE name = $1 FOR UPDATE`, [name]);
      const row = realm.rows[0];
      if (!row) throw new StoreError('not-found', `realm ${name}: not found`);
      if (row.users > 0 && !options.cascade) {
        throw new StoreError('conflict', `realm ${name} still has ${row.users} user(s); delete them first or pass cascade=true`);
      }
      await tx.query('DELETE FROM realms WHERE id = $1', [row.id]);
      return { usersDeleted: Number(row.users) };
    })),

    getUser: (realm, username) => run(`user ${username}@${realm}`, () => getUser(realm, username)),

    listUsers: (realm, filter, page) => run(`realm ${realm}`, async () => {
      const exists = await db.query('SELECT 1 FROM realms WHERE name = $1', [realm]);
      if (exists.rows.length === 0) throw new StoreError('not-found', `realm ${realm}: not found`);
      const r = await db.query<UserRow>(
        `${USER_SELECT} WHERE r.name = $1 AND ($2::text IS NULL OR u.username > $2)
            AND ($3::text IS NULL OR left(u.username, length($3)) = $3) AND ($4::boolean IS NULL OR u.disabled = $4)
          ORDER BY u.username LIMIT $5`,
        [realm, page.after ?? null, filter.prefix ?? null, filter.disabled ?? null, page.limit + 1]);
      return pageOf(r.rows.map(userOf), page.limit, (x) => x.username);
    }),

    updateUser: (realm, username, change, ifVersion) => run(`user ${username}@${realm}`, async () => {
      const r = await db.query(
        `UPDATE users SET disabled = coalesce($3, disabled), updated_at = now()
          WHERE realm_id = (SELECT id FROM realms WHERE name = $1) AND username = $2 AND ($4::text IS NULL OR xmin::text = $4)`,
        [realm, username, change.disabled ?? null, ifVersion ?? null]);
      if (r.rowCount === 0) explainMiss((await getUser(realm, username)) !== undefined, `user ${username}@${realm}`);
      return (await getUser(realm, username))!;
    }),
  };
}
