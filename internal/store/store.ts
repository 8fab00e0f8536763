// The Store: realms and users over PostgreSQL or PGlite (docs/architecture.md §2.1, §4.1).
// Passwords are turned into HA1 digests here and never stored (RFC 7616 §3.4.2, §5.2).
import { ha1 } from '../auth/digest.ts';
import { createAccounting, type Accounting } from './accounting.ts';
import { createAccounts, type Accounts } from './accounts.ts';
import { createAuditLog, type AuditLog } from './audit.ts';
import type { Db, PoolStats } from './db.ts';
import { StoreError, toStoreError } from './errors.ts';
import { createChatHistory, type ChatHistory } from './history.ts';
import { createRoomLeases, type RoomLeases } from './leases.ts';
import { createLiveSessions, type LiveSessions } from './live-sessions.ts';
import { createRooms, type Rooms } from './rooms.ts';
import { createTokens, type Tokens } from './tokens.ts';
import { openSecretWithAny, sealSecret, type SecretKeys } from './secret.ts';
import { openSubscriberSource, type SubscriberSource, type SubscriberTable } from './subscribers.ts';

export interface Realm {
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserInfo {
  realm: string;
  username: string;
  disabled: boolean;
  hasSecret: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserCredentials {
  ha1Md5: string;
  ha1Sha256: string;
  disabled: boolean;
}

/** A row change (from NOTIFY msrp_changes), or `resync` after missed notifications. */
export type ChangeEvent =
  | { table: 'realms'; op: 'insert' | 'update' | 'delete'; key: { realm: string } }
  | { table: 'users'; op: 'insert' | 'update' | 'delete'; key: { realm: string; username: string } }
  | { table: 'rooms'; op: 'insert' | 'update' | 'delete'; key: { room: string }; generation: number }
  | { table: 'tokens'; op: 'insert' | 'update' | 'delete'; key: { id: string } }
  /** The admin API asks the replica holding a relay session to close it (live-sessions.ts). */
  | { table: 'live_sessions'; op: 'delete-requested'; key: { relay: string; ordinal: number; id: string } }
  | { table: '*'; op: 'resync' };

export const CHANGES_CHANNEL = 'msrp_changes';

/** The change feed of `db` (ours, or a subscriber table's database): parsed events, and `resync` after a reconnect. */
export function listenChanges(db: Db, onChange: (event: ChangeEvent) => void): Promise<() => Promise<void>> {
  return db.listen(
    CHANGES_CHANNEL,
    (payload) => {
      let event: ChangeEvent;
      try {
        event = JSON.parse(payload) as ChangeEvent;
      } catch {
        return; // not ours: someone else NOTIFYing on the channel
      }
      onChange(event);
    },
    () => onChange({ table: '*', op: 'resync' }),
  );
}

export interface PasswordOptions {
  /** Also keep the password sealed with the secret key (needs `secretKeyFile`). Default: the store's passwordStorage. */
  storeSecret?: boolean;
}

/**
 * How passwords are kept (docs/admin-api.md "Password storage"): `ha1`, the HA1 digests only
 * (default); `encrypted`, the digests plus the password sealed with AES-256-GCM under a key
 * from a file outside the database. AUTH uses the digests either way.
 */
export type PasswordStorage = 'ha1' | 'encrypted';

export interface StoreSecrets {
  passwordStorage?: PasswordStorage;
  /** Seals new secrets; required by `encrypted`. */
  key?: Buffer | undefined;
  /** Older keys: secrets sealed with them still open, and rotateSecretKey re-seals them. */
  previousKeys?: readonly Buffer[];
}

export interface PasswordStorageInfo {
  mode: PasswordStorage;
  keyConfigured: boolean;
  previousKeys: number;
  usersWithSecret: number;
  usersWithoutSecret: number;
}

export interface KeyRotation {
  /** Re-sealed with the current key (they opened with a previous one). */
  reencrypted: number;
  /** Already sealed with the current key. */
  current: number;
  /** Opened with no configured key (left as they are; logged by the caller). */
  unreadable: number;
}

export interface Store {
  readonly kind: 'postgres' | 'pglite';
  createRealm(name: string): Promise<Realm>;
  getRealm(name: string): Promise<Realm | undefined>;
  listRealms(): Promise<Realm[]>;
  deleteRealm(name: string): Promise<void>;
  createUser(realm: string, username: string, password: string, options?: PasswordOptions): Promise<UserInfo>;
  /** Without `storeSecret`, a sealed secret is renewed when the user had one, else none is kept. */
  setPassword(realm: string, username: string, password: string, options?: PasswordOptions): Promise<void>;
  disableUser(realm: string, username: string): Promise<void>;
  enableUser(realm: string, username: string): Promise<void>;
  deleteUser(realm: string, username: string): Promise<void>;
  getUserCredentials(realm: string, username: string): Promise<UserCredentials | undefined>;
  /** The recoverable secret, when one was stored; needs the key (or a previous one). */
  getUserSecret(realm: string, username: string): Promise<string | undefined>;
  /** The password storage mode and how many users have a sealed password. */
  passwordStorage(): Promise<PasswordStorageInfo>;
  /** Re-seals every secret that opens only with a previous key under the current key. */
  rotateSecretKey(): Promise<KeyRotation>;
  listUsers(realm: string): Promise<UserInfo[]>;
  /** Realms and users with versions, paged lists, guarded deletion (admin API). */
  readonly accounts: Accounts;
  readonly rooms: Rooms;
  readonly tokens: Tokens;
  readonly audit: AuditLog;
  /** Accounting records of ended relay sessions and chat participations. */
  readonly accounting: Accounting;
  /** Chat room history (last N public messages per room). */
  readonly history: ChatHistory;
  /** Which replica owns each chat room (several pods, docs/chat.md). */
  readonly leases: RoomLeases;
  /** Relay sessions of every replica, and the replicas' heartbeats (relay-wide limits and views). */
  readonly liveSessions: LiveSessions;
  /** One round trip to the database (readiness); rejects with `unavailable`. */
  ping(): Promise<void>;
  /** Connection pool counters; undefined for PGlite. */
  poolStats(): PoolStats | undefined;
  /** Read-only credentials from a SIP subscriber table in this database (subscribers.ts). */
  openSubscribers(spec: SubscriberTable): Promise<SubscriberSource>;
  /** Subscribes to the change feed; resolves to an unsubscribe function. */
  listen(onChange: (event: ChangeEvent) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

interface RealmRow { name: string; created_at: Date; updated_at: Date }
interface UserRow { realm: string; username: string; disabled: boolean; has_secret: boolean; created_at: Date; updated_at: Date }

const realmOf = (r: RealmRow): Realm => ({ name: r.name, createdAt: r.created_at, updatedAt: r.updated_at });
const userOf = (r: UserRow): UserInfo => ({
  realm: r.realm, username: r.username, disabled: r.disabled, hasSecret: r.has_secret, createdAt: r.created_at, updatedAt: r.updated_at,
});

const USER_COLUMNS = `r.name AS realm, u.username, u.disabled, (u.secret_enc IS NOT NULL) AS has_secret, u.created_at, u.updated_at`;

function checkName(kind: string, value: string): void {
  if (value.length === 0 || /[\x00-\x1f\x7f]/.test(value)) throw new StoreError('invalid', `${kind} must be non-empty text without control characters`);
  // RFC 7616 §3.4.2 joins username:realm:password with ":"; RFC 7617 §2 forbids ":" in a user-id.
  if (kind === 'username' && value.includes(':')) throw new StoreError('invalid', 'username must not contain ":"');
}

export function createSqlStore(db: Db, secrets: StoreSecrets | undefined, onClose: () => Promise<void> = () => db.close()): Store {
  const s: StoreSecrets = secrets ?? {};
  const mode: PasswordStorage = s.passwordStorage ?? 'ha1';
  const secretKey = s.key;
  if (mode === 'encrypted' && secretKey === undefined) throw new StoreError('invalid', 'passwordStorage "encrypted" needs a secret key file (database.secretKeyFile)');
  const keys: SecretKeys | undefined = secretKey !== undefined ? { current: secretKey, previous: s.previousKeys ?? [] } : undefined;
  const run = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw toStoreError(e, what);
    }
  };
  const seal = (realm: string, username: string, password: string, wanted: boolean): Buffer | null => {
    if (!wanted) return null;
    if (!secretKey) throw new StoreError('invalid', 'storeSecret needs a secret key file (database.secretKeyFile)');
    return sealSecret(secretKey, realm, username, password);
  };
  const mustTouch = (rowCount: number, what: string): void => {
    if (rowCount === 0) throw new StoreError('not-found', `${what}: not found`);
  };
  const userWhere = `realm_id = (SELECT id FROM realms WHERE name = $1) AND username = $2`;

  return {
    kind: db.kind,
    accounts: createAccounts(db, run),
    rooms: createRooms(db, run),
    tokens: createTokens(db, run),
    audit: createAuditLog(db, run),
    accounting: createAccounting(db, run),
    history: createChatHistory(db, run),
    leases: createRoomLeases(db, run),
    liveSessions: createLiveSessions(db, run, CHANGES_CHANNEL),
    ping: () => run('ping', async () => {
      await db.query('SELECT 1');
    }),
    poolStats: () => db.poolStats(),
    openSubscribers: (spec) => run(`subscriber table ${spec.table}`, () => openSubscriberSource(db, spec)),

    createRealm: (name) => run(`realm ${name}`, async () => {
      checkName('realm', name);
      const r = await db.query<RealmRow>('INSERT INTO realms (name) VALUES ($1) RETURNING name, created_at, updated_at', [name]);
      return realmOf(r.rows[0]!);
    }),

    getRealm: (name) => run(`realm ${name}`, async () => {
      const r = await db.query<RealmRow>('SELECT name, created_at, updated_at FROM realms WHERE name = $1', [name]);
      return r.rows[0] ? realmOf(r.rows[0]) : undefined;
    }),

    listRealms: () => run('realms', async () => {
      const r = await db.query<RealmRow>('SELECT name, created_at, updated_at FROM realms ORDER BY name');
      return r.rows.map(realmOf);
    }),

    deleteRealm: (name) => run(`realm ${name}`, async () => {
      mustTouch((await db.query('DELETE FROM realms WHERE name = $1', [name])).rowCount, `realm ${name}`);
    }),

    createUser: (realm, username, password, options = {}) => run(`user ${username}@${realm}`, async () => {
      checkName('username', username);
      const sealed = seal(realm, username, password, options.storeSecret ?? mode === 'encrypted');
      const r = await db.query<UserRow>(
        `WITH ins AS (
           INSERT INTO users (realm_id, username, ha1_md5, ha1_sha256, secret_enc)
           SELECT id, $2, $3, $4, $5 FROM realms WHERE name = $1
           RETURNING *)
         SELECT ${USER_COLUMNS} FROM ins u JOIN realms r ON r.id = u.realm_id`,
        [realm, username, ha1('MD5', username, realm, password), ha1('SHA-256', username, realm, password), sealed],
      );
      if (!r.rows[0]) throw new StoreError('not-found', `realm ${realm}: not found`);
      return userOf(r.rows[0]);
    }),

    setPassword: (realm, username, password, options = {}) => run(`user ${username}@${realm}`, async () => {
      await db.transaction(async (tx) => {
        const cur = await tx.query<{ has_secret: boolean }>(`SELECT (secret_enc IS NOT NULL) AS has_secret FROM users WHERE ${userWhere} FOR UPDATE`, [realm, username]);
        if (!cur.rows[0]) throw new StoreError('not-found', `user ${username}@${realm}: not found`);
        const wanted = options.storeSecret ?? (mode === 'encrypted' || (cur.rows[0].has_secret && secretKey !== undefined));
        await tx.query(
          `UPDATE users SET ha1_md5 = $3, ha1_sha256 = $4, secret_enc = $5, updated_at = now() WHERE ${userWhere}`,
          [realm, username, ha1('MD5', username, realm, password), ha1('SHA-256', username, realm, password), seal(realm, username, password, wanted)],
        );
      });
    }),

    disableUser: (realm, username) => run(`user ${username}@${realm}`, async () => {
      mustTouch((await db.query(`UPDATE users SET disabled = true, updated_at = now() WHERE ${userWhere}`, [realm, username])).rowCount, `user ${username}@${realm}`);
    }),

    enableUser: (realm, username) => run(`user ${username}@${realm}`, async () => {
      mustTouch((await db.query(`UPDATE users SET disabled = false, updated_at = now() WHERE ${userWhere}`, [realm, username])).rowCount, `user ${username}@${realm}`);
    }),

    deleteUser: (realm, username) => run(`user ${username}@${realm}`, async () => {
      mustTouch((await db.query(`DELETE FROM users WHERE ${userWhere}`, [realm, username])).rowCount, `user ${username}@${realm}`);
    }),

    getUserCredentials: (realm, username) => run(`user ${username}@${realm}`, async () => {
      const r = await db.query<{ ha1_md5: string; ha1_sha256: string; disabled: boolean }>(
        `SELECT ha1_md5, ha1_sha256, disabled FROM users WHERE ${userWhere}`, [realm, username]);
      const row = r.rows[0];
      return row ? { ha1Md5: row.ha1_md5, ha1Sha256: row.ha1_sha256, disabled: row.disabled } : undefined;
    }),

    getUserSecret: (realm, username) => run(`user ${username}@${realm}`, async () => {
      const r = await db.query<{ secret_enc: Uint8Array | null }>(`SELECT secret_enc FROM users WHERE ${userWhere}`, [realm, username]);
      if (!r.rows[0]) throw new StoreError('not-found', `user ${username}@${realm}: not found`);
      const sealed = r.rows[0].secret_enc;
      if (sealed === null) return undefined;
      if (!keys) throw new StoreError('invalid', 'a secret is stored but no secret key file is configured');
      return openSecretWithAny(keys, realm, username, sealed).secret;
    }),

    passwordStorage: () => run('password storage', async () => {
      const r = await db.query<{ with_secret: number; without_secret: number }>(
        `SELECT count(*) FILTER (WHERE secret_enc IS NOT NULL)::int AS with_secret, count(*) FILTER (WHERE secret_enc IS NULL)::int AS without_secret FROM users`);
      return {
        mode, keyConfigured: secretKey !== undefined, previousKeys: s.previousKeys?.length ?? 0,
        usersWithSecret: Number(r.rows[0]!.with_secret), usersWithoutSecret: Number(r.rows[0]!.without_secret),
      };
    }),

    rotateSecretKey: () => run('secret key rotation', async () => {
      if (!keys) throw new StoreError('invalid', 'key rotation needs a secret key file (database.secretKeyFile)');
      const out: KeyRotation = { reencrypted: 0, current: 0, unreadable: 0 };
      // In batches by id, each in its own transaction with the rows locked: a password set
      // meanwhile is either before (re-sealed here) or after (sealed with the current key).
      let after = 0;
      for (;;) {
        const done = await db.transaction(async (tx) => {
          const rows = await tx.query<{ id: string; realm: string; username: string; secret_enc: Uint8Array }>(
            `SELECT u.id, r.name AS realm, u.username, u.secret_enc FROM users u JOIN realms r ON r.id = u.realm_id
              WHERE u.secret_enc IS NOT NULL AND u.id > $1 ORDER BY u.id LIMIT 500 FOR UPDATE OF u`, [after]);
          for (const row of rows.rows) {
            after = Number(row.id);
            let opened: { secret: string; rotated: boolean };
            try {
              opened = openSecretWithAny(keys, row.realm, row.username, row.secret_enc);
            } catch {
              out.unreadable++;
              continue;
            }
            if (!opened.rotated) {
              out.current++;
              continue;
            }
            // updated_at is left alone: the password did not change, only its envelope.
            await tx.query('UPDATE users SET secret_enc = $2 WHERE id = $1', [row.id, sealSecret(keys.current, row.realm, row.username, opened.secret)]);
            out.reencrypted++;
          }
          return rows.rows.length < 500;
        });
        if (done) return out;
      }
    }),

    listUsers: (realm) => run(`realm ${realm}`, async () => {
      const r = await db.query<UserRow & { realm: string | null }>(
        `SELECT r.name AS realm, u.username, u.disabled, (u.secret_enc IS NOT NULL) AS has_secret, u.created_at, u.updated_at
           FROM realms r LEFT JOIN users u ON u.realm_id = r.id WHERE r.name = $1 ORDER BY u.username`, [realm]);
      if (r.rows.length === 0) throw new StoreError('not-found', `realm ${realm}: not found`);
      return r.rows.filter((row) => row.username !== null).map(userOf);
    }),

    listen: (onChange) => run('listen', () => listenChanges(db, onChange)),

    close: onClose,
  };
}
