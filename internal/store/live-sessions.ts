// Relay-wide live state (migration 004): the sessions every replica of a relay holds, and
// the replicas' heartbeats. Written by the engine through a queue behind the relay
// (internal/relay/live-sessions.ts), read by AUTH (sessions per user), the throttle (how
// many replicas share a user's or realm's rate) and the admin API (the session list, and
// deleting a session held by another replica). Rows of a replica whose heartbeat is older
// than `staleAfterSec` (measured with the database's clock, so pod clocks do not matter)
// are ignored everywhere: that replica died or lost the database.
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';
import { pageOf, type Page, type PageRequest } from './page.ts';

export interface LiveSessionRecord {
  /** The relay's public host:port, the same for all its replicas. */
  relay: string;
  id: string;
  /** The replica holding the session (its client connection). */
  ordinal: number;
  realm: string;
  username: string;
  /** The Use-Path URI handed out. */
  uri: string;
  /** The client's own URI (last From-Path URI of its AUTH). */
  clientUri: string;
  /** The client's address:port as the replica sees it. */
  peer: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface LiveSessionView extends LiveSessionRecord {
  /** Set when the admin API asked the owning replica to close it. */
  deleteRequestedAt: Date | undefined;
}

export interface ReplicaRecord {
  relay: string;
  ordinal: number;
  instance: string;
  startedAt: Date;
  heartbeatAt: Date;
  /** Heartbeat within the staleness bound. */
  live: boolean;
}

export interface Admission {
  admitted: boolean;
  /** Live sessions of the user on the other replicas. */
  others: number;
  /** The other replicas where the user has live sessions. */
  otherReplicas: number[];
}

export interface Spread {
  /** Per user (realm NUL username) with sessions on other live replicas: how many such replicas. */
  users: Map<string, number>;
  /** Per realm, likewise. */
  realms: Map<string, number>;
}

export interface LiveSessions {
  /** A replica (re)starts: the rows of its ordinal go (its sessions died with it); its heartbeat row names the new instance. Resolves to the rows removed. */
  claim(relay: string, ordinal: number, instance: string): Promise<number>;
  /** The replica is alive; resolves to the sessions the admin API asked it to close, and how many replicas of the relay are live. */
  heartbeat(relay: string, ordinal: number, instance: string, staleAfterSec: number): Promise<{ deleteRequested: string[]; liveReplicas: number }>;
  /** Inserts or refreshes (expiry, peer) rows of one relay. */
  upsert(relay: string, rows: LiveSessionRecord[]): Promise<void>;
  remove(relay: string, ids: string[]): Promise<void>;
  /** Makes the rows of one replica exactly these (after writes were lost to an outage). */
  replace(relay: string, ordinal: number, rows: LiveSessionRecord[]): Promise<void>;
  /**
   * AUTH under a per-user limit: serialised per user relay-wide (a transaction-scoped
   * advisory lock), counts the user's live sessions on the other live replicas, and when
   * `localCount` plus those stay under `limit`, inserts `row` in the same transaction, so a
   * concurrent AUTH on another replica sees it.
   */
  admit(row: LiveSessionRecord, o: { limit: number; localCount: number; staleAfterSec: number }): Promise<Admission>;
  /** For the throttle: on how many other live replicas these users and realms have live sessions (absent: none). */
  spread(relay: string, o: { excludeOrdinal: number; staleAfterSec: number; users: { realm: string; username: string }[]; realms: string[] }): Promise<Spread>;
  /** Live sessions (live replica, not expired), by id; of one relay when given. */
  list(filter: { relay?: string | undefined; realm?: string | undefined; username?: string | undefined; staleAfterSec: number }, page: PageRequest<string>): Promise<Page<LiveSessionView, string>>;
  /**
   * Asks the owning replica to close a live session: marks the row and notifies
   * msrp_changes `{"table":"live_sessions","op":"delete-requested",...}`. Resolves to the
   * row, or undefined when there is no such live session.
   */
  requestDelete(id: string, o: { relay?: string | undefined; staleAfterSec: number }): Promise<LiveSessionView | undefined>;
  /** Whether the row is still there (the owner removes it once the session is closed). */
  exists(relay: string, id: string): Promise<boolean>;
  replicas(relay: string, staleAfterSec: number): Promise<ReplicaRecord[]>;
}

interface Row {
  relay: string; id: string; ordinal: number; realm: string; username: string; uri: string; client_uri: string; peer: string;
  created_at: Date; expires_at: Date; delete_requested_at: Date | null;
}

const COLUMNS = 's.relay, s.id, s.ordinal, s.realm, s.username, s.uri, s.client_uri, s.peer, s.created_at, s.expires_at, s.delete_requested_at';

const viewOf = (r: Row): LiveSessionView => ({
  relay: r.relay, id: r.id, ordinal: r.ordinal, realm: r.realm, username: r.username, uri: r.uri, clientUri: r.client_uri,
  peer: r.peer, createdAt: r.created_at, expiresAt: r.expires_at, deleteRequestedAt: r.delete_requested_at ?? undefined,
});

/** Rows of live replicas only, not expired; `$stale` is the parameter number of staleAfterSec. */
const liveJoin = (stale: string): string =>
  `JOIN relay_replicas rr ON rr.relay = s.relay AND rr.ordinal = s.ordinal
    AND rr.heartbeat_at > now() - ${stale}::int * interval '1 second'
  WHERE s.expires_at > now()`;

/** Column arrays for unnest(): one statement for a whole batch. Times as ISO text (both drivers take text[]). */
function columns(rows: LiveSessionRecord[]): unknown[] {
  return [
    rows.map((r) => r.id), rows.map((r) => r.ordinal), rows.map((r) => r.realm), rows.map((r) => r.username),
    rows.map((r) => r.uri), rows.map((r) => r.clientUri), rows.map((r) => r.peer),
    rows.map((r) => r.createdAt.toISOString()), rows.map((r) => r.expiresAt.toISOString()),
  ];
}

const UPSERT = `INSERT INTO live_sessions (relay, id, ordinal, realm, username, uri, client_uri, peer, created_at, expires_at)
  SELECT $1, u.* FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[]) AS u
  ON CONFLICT (relay, id) DO UPDATE SET ordinal = EXCLUDED.ordinal, peer = EXCLUDED.peer, expires_at = EXCLUDED.expires_at`;

function checkStale(staleAfterSec: number): void {
  if (!Number.isSafeInteger(staleAfterSec) || staleAfterSec < 1) throw new StoreError('invalid', `staleAfterSec must be a positive integer, got ${staleAfterSec}`);
}

/** `channel`: the change feed (msrp_changes), where delete requests are announced. */
export function createLiveSessions(db: Db, run: <T>(what: string, fn: () => Promise<T>) => Promise<T>, channel: string): LiveSessions {
  return {
    claim: (relay, ordinal, instance) => run(`replica ${ordinal} of ${relay}`, () => db.transaction(async (tx) => {
      const removed = await tx.query('DELETE FROM live_sessions WHERE relay = $1 AND ordinal = $2', [relay, ordinal]);
      await tx.query(
        `INSERT INTO relay_replicas (relay, ordinal, instance) VALUES ($1, $2, $3)
         ON CONFLICT (relay, ordinal) DO UPDATE SET instance = EXCLUDED.instance, started_at = now(), heartbeat_at = now()`,
        [relay, ordinal, instance]);
      return removed.rowCount;
    })),

    heartbeat: (relay, ordinal, instance, staleAfterSec) => run(`replica ${ordinal} of ${relay}`, async () => {
      checkStale(staleAfterSec);
      const r = await db.query<{ live: number; requested: string[] | null }>(
        `WITH beat AS (
           INSERT INTO relay_replicas (relay, ordinal, instance) VALUES ($1, $2, $3)
           ON CONFLICT (relay, ordinal) DO UPDATE SET instance = EXCLUDED.instance, heartbeat_at = now())
         SELECT 1 + (SELECT count(*)::int FROM relay_replicas
                      WHERE relay = $1 AND ordinal <> $2 AND heartbeat_at > now() - $4::int * interval '1 second') AS live,
                (SELECT array_agg(id) FROM live_sessions
                  WHERE relay = $1 AND ordinal = $2 AND delete_requested_at IS NOT NULL) AS requested`,
        [relay, ordinal, instance, staleAfterSec]);
      return { liveReplicas: r.rows[0]!.live, deleteRequested: r.rows[0]!.requested ?? [] };
    }),

    upsert: (relay, rows) => run(`live sessions of ${relay}`, async () => {
      if (rows.length === 0) return;
      await db.query(UPSERT, [relay, ...columns(rows)]);
    }),

    remove: (relay, ids) => run(`live sessions of ${relay}`, async () => {
      if (ids.length === 0) return;
      await db.query('DELETE FROM live_sessions WHERE relay = $1 AND id = ANY($2::text[])', [relay, ids]);
    }),

    replace: (relay, ordinal, rows) => run(`replica ${ordinal} of ${relay}`, () => db.transaction(async (tx) => {
      await tx.query('DELETE FROM live_sessions WHERE relay = $1 AND ordinal = $2 AND NOT (id = ANY($3::text[]))', [relay, ordinal, rows.map((r) => r.id)]);
      if (rows.length > 0) await tx.query(UPSERT, [relay, ...columns(rows)]);
    })),

    admit: (row, o) => run(`AUTH of ${row.username}@${row.realm}`, () => db.transaction(async (tx) => {
      checkStale(o.staleAfterSec);
      // Two-key advisory locks live apart from the one-key migration lock; two users whose
      // names hash alike merely wait for each other.
      await tx.query(`SELECT pg_advisory_xact_lock(28019, hashtext($1 || chr(1) || $2 || chr(1) || $3))`, [row.relay, row.realm, row.username]);
      const r = await tx.query<{ n: number; replicas: number[] | null }>(
        `SELECT count(*)::int AS n, array_agg(DISTINCT s.ordinal) AS replicas FROM live_sessions s ${liveJoin('$5')}
           AND s.relay = $1 AND s.realm = $2 AND s.username = $3 AND s.ordinal <> $4`,
        [row.relay, row.realm, row.username, row.ordinal, o.staleAfterSec]);
      const others = r.rows[0]!.n;
      const otherReplicas = (r.rows[0]!.replicas ?? []).map(Number).sort((a, b) => a - b);
      const admitted = o.limit <= 0 || o.localCount + others < o.limit;
      if (admitted) await tx.query(UPSERT, [row.relay, ...columns([row])]);
      return { admitted, others, otherReplicas };
    })),

    spread: (relay, o) => run(`live sessions of ${relay}`, async () => {
      checkStale(o.staleAfterSec);
      const users = new Map<string, number>();
      const realms = new Map<string, number>();
      if (o.users.length > 0) {
        const r = await db.query<{ realm: string; username: string; n: number }>(
          `SELECT s.realm, s.username, count(DISTINCT s.ordinal)::int AS n FROM live_sessions s ${liveJoin('$3')}
             AND s.relay = $1 AND s.ordinal <> $2
             AND (s.realm, s.username) IN (SELECT * FROM unnest($4::text[], $5::text[]))
           GROUP BY s.realm, s.username`,
          [relay, o.excludeOrdinal, o.staleAfterSec, o.users.map((u) => u.realm), o.users.map((u) => u.username)]);
        for (const x of r.rows) users.set(`${x.realm}\u0000${x.username}`, x.n);
      }
      if (o.realms.length > 0) {
        const r = await db.query<{ realm: string; n: number }>(
          `SELECT s.realm, count(DISTINCT s.ordinal)::int AS n FROM live_sessions s ${liveJoin('$3')}
             AND s.relay = $1 AND s.ordinal <> $2 AND s.realm = ANY($4::text[])
           GROUP BY s.realm`,
          [relay, o.excludeOrdinal, o.staleAfterSec, o.realms]);
        for (const x of r.rows) realms.set(x.realm, x.n);
      }
      return { users, realms };
    }),

    list: (filter, page) => run('live sessions', async () => {
      checkStale(filter.staleAfterSec);
      const r = await db.query<Row>(
        `SELECT ${COLUMNS} FROM live_sessions s ${liveJoin('$1')}
           AND ($2::text IS NULL OR s.relay = $2) AND ($3::text IS NULL OR s.realm = $3)
           AND ($4::text IS NULL OR s.username = $4) AND ($5::text IS NULL OR s.id > $5)
         ORDER BY s.id, s.relay LIMIT $6`,
        [filter.staleAfterSec, filter.relay ?? null, filter.realm ?? null, filter.username ?? null, page.after ?? null, page.limit + 1]);
      return pageOf(r.rows.map(viewOf), page.limit, (s) => s.id);
    }),

    requestDelete: (id, o) => run(`session ${id}`, () => db.transaction(async (tx) => {
      checkStale(o.staleAfterSec);
      const r = await tx.query<Row>(
        `UPDATE live_sessions s SET delete_requested_at = coalesce(s.delete_requested_at, now())
           FROM relay_replicas rr
          WHERE s.id = $1 AND ($2::text IS NULL OR s.relay = $2) AND s.expires_at > now()
            AND rr.relay = s.relay AND rr.ordinal = s.ordinal AND rr.heartbeat_at > now() - $3::int * interval '1 second'
          RETURNING ${COLUMNS}`,
        [id, o.relay ?? null, o.staleAfterSec]);
      const row = r.rows[0];
      if (row === undefined) return undefined;
      // Delivered at commit, like the triggers' notifications.
      const event = { table: 'live_sessions', op: 'delete-requested', key: { relay: row.relay, ordinal: row.ordinal, id: row.id } };
      await tx.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(event)]);
      return viewOf(row);
    })),

    exists: (relay, id) => run(`session ${id}`, async () => {
      return (await db.query('SELECT 1 FROM live_sessions WHERE relay = $1 AND id = $2', [relay, id])).rows.length > 0;
    }),

    replicas: (relay, staleAfterSec) => run(`replicas of ${relay}`, async () => {
      checkStale(staleAfterSec);
      const r = await db.query<{ relay: string; ordinal: number; instance: string; started_at: Date; heartbeat_at: Date; live: boolean }>(
        `SELECT relay, ordinal, instance, started_at, heartbeat_at, heartbeat_at > now() - $2::int * interval '1 second' AS live
           FROM relay_replicas WHERE relay = $1 ORDER BY ordinal`, [relay, staleAfterSec]);
      return r.rows.map((x) => ({ relay: x.relay, ordinal: x.ordinal, instance: x.instance, startedAt: x.started_at, heartbeatAt: x.heartbeat_at, live: x.live }));
    }),
  };
}
