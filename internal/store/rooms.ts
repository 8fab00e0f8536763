// Chat rooms (RFC 7701) as declarative specs. `put` is idempotent: the same spec
// written twice leaves the row, its generation and the change feed alone; a different
// spec bumps the generation by one. The spec is opaque JSON here: the admin API
// validates it (the store only requires a JSON object).
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';
import { pageOf, type Page, type PageRequest } from './page.ts';

export type JsonObject = { [key: string]: unknown };

export interface Room {
  name: string;
  spec: JsonObject;
  generation: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface PutResult {
  room: Room;
  /** The row did not exist before. */
  created: boolean;
  /** The spec differed (created implies changed). */
  changed: boolean;
}

export interface Rooms {
  get(name: string): Promise<Room | undefined>;
  list(filter: { prefix?: string | undefined }, page: PageRequest<string>): Promise<Page<Room, string>>;
  /** Creates or replaces the spec; `ifGeneration` makes it conditional (precondition error). */
  put(name: string, spec: JsonObject, ifGeneration?: number): Promise<PutResult>;
  delete(name: string, ifGeneration?: number): Promise<void>;
}

interface RoomRow { name: string; spec: JsonObject | string; generation: string | number; created_at: Date; updated_at: Date; inserted?: boolean }

const roomOf = (r: RoomRow): Room => ({
  name: r.name,
  // node-postgres parses jsonb; PGlite too, but be tolerant of a driver handing back text.
  spec: typeof r.spec === 'string' ? JSON.parse(r.spec) as JsonObject : r.spec,
  generation: Number(r.generation),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const COLUMNS = 'name, spec, generation, created_at, updated_at';

export function createRooms(db: Db, run: <T>(what: string, fn: () => Promise<T>) => Promise<T>): Rooms {
  const get = async (name: string): Promise<Room | undefined> => {
    const r = await db.query<RoomRow>(`SELECT ${COLUMNS} FROM rooms WHERE name = $1`, [name]);
    return r.rows[0] ? roomOf(r.rows[0]) : undefined;
  };

  return {
    get: (name) => run(`room ${name}`, () => get(name)),

    list: (filter, page) => run('rooms', async () => {
      const r = await db.query<RoomRow>(
        `SELECT ${COLUMNS} FROM rooms WHERE ($1::text IS NULL OR name > $1) AND ($2::text IS NULL OR left(name, length($2)) = $2)
          ORDER BY name LIMIT $3`, [page.after ?? null, filter.prefix ?? null, page.limit + 1]);
      return pageOf(r.rows.map(roomOf), page.limit, (x) => x.name);
    }),

    put: (name, spec, ifGeneration) => run(`room ${name}`, async () => {
      const json = JSON.stringify(spec);
      if (ifGeneration === undefined) {
        // One statement in the common case: insert, or update only when the spec differs
        // (jsonb equality ignores key order). No row back means "same spec": read it.
        const r = await db.query<RoomRow>(
          `INSERT INTO rooms (name, spec) VALUES ($1, $2::jsonb)
           ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, generation = rooms.generation + 1, updated_at = now()
             WHERE rooms.spec IS DISTINCT FROM EXCLUDED.spec
           RETURNING ${COLUMNS}, (xmax = 0) AS inserted`, [name, json]);
        const row = r.rows[0];
        if (row) return { room: roomOf(row), created: row.inserted === true, changed: true };
        const same = await get(name);
        if (!same) throw new StoreError('conflict', `room ${name}: deleted while being written; retry`);
        return { room: same, created: false, changed: false };
      }
      return db.transaction(async (tx) => {
        const cur = await tx.query<RoomRow>(`SELECT ${COLUMNS} FROM rooms WHERE name = $1 FOR UPDATE`, [name]);
        const row = cur.rows[0];
        // RFC 9110 §13.1.1: If-Match with an entity tag fails when there is no current representation.
        if (!row || Number(row.generation) !== ifGeneration) {
          throw new StoreError('precondition', `room ${name}: generation is ${row ? String(row.generation) : 'absent'}, If-Match wanted ${ifGeneration}`);
        }
        const upd = await tx.query<RoomRow>(
          `UPDATE rooms SET spec = $2::jsonb, generation = generation + 1, updated_at = now()
            WHERE name = $1 AND spec IS DISTINCT FROM $2::jsonb RETURNING ${COLUMNS}`, [name, json]);
        return upd.rows[0] ? { room: roomOf(upd.rows[0]), created: false, changed: true } : { room: roomOf(row), created: false, changed: false };
      });
    }),

    delete: (name, ifGeneration) => run(`room ${name}`, async () => {
      const r = await db.query('DELETE FROM rooms WHERE name = $1 AND ($2::bigint IS NULL OR generation = $2)', [name, ifGeneration ?? null]);
      if (r.rowCount > 0) return;
      const cur = await get(name);
      if (!cur) throw new StoreError('not-found', `room ${name}: not found`);
      throw new StoreError('precondition', `room ${name}: generation is ${cur.generation}, If-Match wanted ${ifGeneration}`);
    }),
  };
}
