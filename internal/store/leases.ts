// Room leases (migration 005): exactly one replica owns a chat room at a time. `acquire`
// is one statement, so two replicas racing for a free room cannot both win: the INSERT
// takes a free room, the ON CONFLICT update takes an expired one or refreshes our own,
// and a room held by a live other replica comes back unchanged (a second SELECT reads it).
// Expiry is judged by the database's now(), never by a replica's clock.
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';

export interface RoomLease {
  room: string;
  /** The holder's replica ordinal. */
  holder: number;
  /** The holder process (a random id per start), for logs and views. */
  instance: string;
  expiresAt: Date;
}

export interface RoomLeases {
  /** Takes `room` for `holder` when free, expired or already held by `holder`; returns whether it did and the lease as it is now. */
  acquire(room: string, holder: number, instance: string, ttlMs: number): Promise<{ acquired: boolean; lease: RoomLease }>;
  /** Extends the leases `holder` still has among `rooms`; resolves to those (a room missing from the answer was lost). */
  renew(holder: number, rooms: readonly string[], ttlMs: number): Promise<string[]>;
  /** Gives up `holder`'s leases among `rooms` (clean shutdown); resolves to how many were held. */
  release(holder: number, rooms: readonly string[]): Promise<number>;
  get(room: string): Promise<RoomLease | undefined>;
}

interface Row { room: string; holder: number; instance: string; expires_at: Date }
const leaseOf = (r: Row): RoomLease => ({ room: r.room, holder: Number(r.holder), instance: r.instance, expiresAt: r.expires_at });
const COLUMNS = 'room, holder, instance, expires_at';

function checkTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs < 1) throw new StoreError('invalid', 'lease ttl must be a positive number of milliseconds');
}

export function createRoomLeases(db: Db, run: <T>(what: string, fn: () => Promise<T>) => Promise<T>): RoomLeases {
  return {
    acquire: (room, holder, instance, ttlMs) => run(`lease ${room}`, async () => {
      checkTtl(ttlMs);
      for (let attempt = 0; attempt < 3; attempt++) {
        const taken = await db.query<Row>(
          `INSERT INTO room_leases (room, holder, instance, expires_at)
                VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
           ON CONFLICT (room) DO UPDATE
                SET holder = EXCLUDED.holder, instance = EXCLUDED.instance, expires_at = EXCLUDED.expires_at,
                    acquired_at = CASE WHEN room_leases.holder = EXCLUDED.holder THEN room_leases.acquired_at ELSE now() END
              WHERE room_leases.expires_at <= now() OR room_leases.holder = EXCLUDED.holder
           RETURNING ${COLUMNS}`,
          [room, holder, instance, ttlMs]);
        if (taken.rows[0]) return { acquired: true, lease: leaseOf(taken.rows[0]) };
        const held = await db.query<Row>(`SELECT ${COLUMNS} FROM room_leases WHERE room = $1`, [room]);
        // Released between the two statements: try again.
        if (held.rows[0]) return { acquired: false, lease: leaseOf(held.rows[0]) };
      }
      throw new StoreError('conflict', `lease ${room}: changed hands three times in a row`);
    }),

    renew: (holder, rooms, ttlMs) => run('leases', async () => {
      checkTtl(ttlMs);
      if (rooms.length === 0) return [];
      const r = await db.query<{ room: string }>(
        `UPDATE room_leases SET expires_at = now() + $3 * interval '1 millisecond'
          WHERE holder = $1 AND room = ANY($2::text[]) RETURNING room`,
        [holder, [...rooms], ttlMs]);
      return r.rows.map((x) => x.room);
    }),

    release: (holder, rooms) => run('leases', async () => {
      if (rooms.length === 0) return 0;
      const r = await db.query('DELETE FROM room_leases WHERE holder = $1 AND room = ANY($2::text[])', [holder, [...rooms]]);
      return r.rowCount;
    }),

    get: (room) => run(`lease ${room}`, async () => {
      const r = await db.query<Row>(`SELECT ${COLUMNS} FROM room_leases WHERE room = $1`, [room]);
      return r.rows[0] ? leaseOf(r.rows[0]) : undefined;
    }),
  };
}
