// Credentials from an existing SIP subscriber table (Kamailio's and OpenSIPS's `subscriber`:
// username, domain, password, ha1, ha1b, and ha1_sha256 in newer schemas), read-only and
// configured by table and column names (docs/relay.md "Existing subscriber tables").
// The Digest realm is the row's domain. Which of the configured columns exist is read from
// the catalogue once, so one configuration fits the schema versions with and without the
// SHA-256 column. Nothing here ever writes: the statements are SELECTs, and a source opened
// on a URL of its own runs every transaction read-only (db-postgres.ts readOnly).
import { ha1 } from '../auth/digest.ts';
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';
import type { UserCredentials } from './store.ts';

export interface SubscriberColumns {
  username: string;
  domain: string;
  /** Clear password (Kamailio calculate_ha1=yes); used only when no HA1 of a hash is stored. */
  password: string;
  /** MD5(username:domain:password). */
  ha1: string;
  /** MD5(username@domain:domain:password): for clients whose Digest username carries the domain. */
  ha1b: string;
  /** SHA-256(username:domain:password) (OpenSIPS 3.x, newer Kamailio schemas). */
  ha1Sha256: string;
}

export interface SubscriberTable {
  /** Table name, optionally schema-qualified (`kamailio.subscriber`). */
  table: string;
  columns: SubscriberColumns;
}

export const DEFAULT_SUBSCRIBER_COLUMNS: SubscriberColumns = {
  username: 'username', domain: 'domain', password: 'password', ha1: 'ha1', ha1b: 'ha1b', ha1Sha256: 'ha1_sha256',
};

export interface SubscriberSource {
  /** Which of the configured columns the table has (the rest are treated as empty). */
  readonly present: readonly (keyof SubscriberColumns)[];
  lookup(realm: string, username: string): Promise<UserCredentials | undefined>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;
const quote = (name: string): string => `"${name}"`;

function checkIdentifier(what: string, name: string): void {
  if (!IDENTIFIER.test(name)) throw new StoreError('invalid', `${what} ${JSON.stringify(name)} is not a plain SQL identifier`);
}

const HEX32 = /^[0-9a-fA-F]{32}$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;

interface Row { u?: string | null; p?: string | null; h?: string | null; hb?: string | null; h256?: string | null }

/**
 * Reads the catalogue for the table's columns (refusing a table that lacks username, domain or
 * every credential column) and returns the lookup. Throws StoreError `invalid` on a bad name.
 */
export async function openSubscriberSource(db: Db, spec: SubscriberTable): Promise<SubscriberSource> {
  const parts = spec.table.split('.');
  if (parts.length > 2) throw new StoreError('invalid', `table ${JSON.stringify(spec.table)} must be name or schema.name`);
  parts.forEach((p) => checkIdentifier('table', p));
  for (const [k, v] of Object.entries(spec.columns) as [string, string][]) if (v !== '') checkIdentifier(`column ${k}`, v);
  const schema: string | undefined = parts.length === 2 ? parts[0] : undefined;
  const table: string = parts[parts.length - 1]!;
  const cols = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_name = $1 AND ($2::text IS NULL AND table_schema = ANY (current_schemas(false)) OR table_schema = $2)`,
    [table, schema ?? null]);
  const have = new Set(cols.rows.map((r) => r.column_name));
  if (have.size === 0) throw new StoreError('not-found', `subscriber table ${spec.table} not found (or not readable)`);
  const c = spec.columns;
  const present = (Object.keys(c) as (keyof SubscriberColumns)[]).filter((k) => c[k] !== '' && have.has(c[k]));
  for (const k of ['username', 'domain'] as const) {
    if (!present.includes(k)) throw new StoreError('invalid', `subscriber table ${spec.table} has no column ${JSON.stringify(c[k])} (${k})`);
  }
  if (!present.some((k) => k === 'password' || k === 'ha1' || k === 'ha1Sha256')) {
    throw new StoreError('invalid', `subscriber table ${spec.table} has none of the credential columns ${c.password}, ${c.ha1}, ${c.ha1Sha256}`);
  }
  const select = (key: keyof SubscriberColumns, alias: string): string[] => (present.includes(key) ? [`${quote(c[key])}::text AS ${alias}`] : []);
  const sql = `SELECT ${[...select('username', 'u'), ...select('password', 'p'), ...select('ha1', 'h'), ...select('ha1b', 'hb'), ...select('ha1Sha256', 'h256')].join(', ')}
    FROM ${parts.map(quote).join('.')} WHERE ${quote(c.username)} = $1 AND ${quote(c.domain)} = $2 LIMIT 1`;

  const credentialsOf = (row: Row, username: string, realm: string, viaHa1b: boolean): UserCredentials => {
    const password = row.p ?? '';
    const md5 = viaHa1b ? row.hb : row.h;
    return {
      ha1Md5: md5 && HEX32.test(md5) ? md5.toLowerCase() : password !== '' ? ha1('MD5', username, realm, password) : '',
      // ha1b covers MD5 only: a SHA-256 digest of "user@domain" is computed from a clear password when there is one.
      ha1Sha256: !viaHa1b && row.h256 && HEX64.test(row.h256) ? row.h256.toLowerCase() : password !== '' ? ha1('SHA-256', username, realm, password) : '',
      disabled: false,
    };
  };

  return {
    present,
    async lookup(realm, username) {
      const r = await db.query<Row>(sql, [username, realm]);
      if (r.rows[0] !== undefined) return credentialsOf(r.rows[0], username, realm, false);
      // Kamailio's ha1b: the Digest username is user@domain and the realm the domain.
      const at = username.lastIndexOf('@');
      if (at <= 0 || username.slice(at + 1) !== realm) return undefined;
      const b = await db.query<Row>(sql, [username.slice(0, at), realm]);
      return b.rows[0] !== undefined ? credentialsOf(b.rows[0], username, realm, true) : undefined;
    },
  };
}
