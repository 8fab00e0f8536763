// Keeps a ChatSwitch's rooms in step with the store's rooms table: every stored room is
// created at start (policy from its spec), and the change feed (store.listen) applies
// inserts, spec changes (live: Room#updatePolicy, subject) and deletions as they come.
// A `resync` event (the LISTEN connection was lost, notifications may be gone) reloads
// the whole table and deletes the rooms that disappeared meanwhile.
//
// Only rooms this sync created or adopted from the store are ever deleted by it; rooms
// made otherwise (configuration, tests) are left alone. Events are applied one at a time
// in arrival order, so a slow read cannot apply an older spec over a newer one.
// When the database does not answer, the switch keeps its rooms as they are and a full
// reload is retried.
import type { Logger } from 'pino';
import type { ChangeEvent, Room as StoredRoom, Store } from '../../store/index.ts';
import { policyFromSpec } from './policy.ts';
import type { ChatSwitch } from './switch.ts';

export interface RoomsSyncOptions {
  readonly store: Pick<Store, 'rooms' | 'listen'>;
  readonly switch: ChatSwitch;
  /** Domain of room URIs for specs without `uri`: sip:<name>@<domain>. */
  readonly domain: string;
  readonly logger: Logger;
  /** The room URI of a stored spec (default: the same rule as the focus's directory, chat/focus/directory.ts). */
  readonly uriOf?: (name: string, spec: Record<string, unknown>, domain: string) => string;
  /** Delay before retrying a failed full reload (default 5 s). */
  readonly retryMs?: number;
}

/** `spec.uri`, else sip:<spec.name or row name>@<domain> (internal/chat/focus/directory.ts roomUri). */
export function defaultRoomUri(name: string, spec: Record<string, unknown>, domain: string): string {
  if (typeof spec['uri'] === 'string' && spec['uri'] !== '') return spec['uri'];
  const local = typeof spec['name'] === 'string' && spec['name'] !== '' ? spec['name'] : name;
  return `sip:${local}@${domain}`;
}

export class RoomsSync {
  readonly #o: RoomsSyncOptions;
  readonly #log: Logger;
  readonly #uriOf: (name: string, spec: Record<string, unknown>, domain: string) => string;
  /** Store room name → what we applied. */
  readonly #applied = new Map<string, { uri: string; generation: number }>();
  #chain: Promise<void> = Promise.resolve();
  #unlisten: (() => Promise<void>) | undefined;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Counters for tests and logs. */
  readonly stats = { created: 0, updated: 0, deleted: 0, reloads: 0, errors: 0 };

  constructor(o: RoomsSyncOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'rooms-sync' });
    this.#uriOf = o.uriOf ?? defaultRoomUri;
  }

  /** Subscribes to the change feed, then loads every room; rejects when the first load fails. */
  async start(): Promise<void> {
    // Listen first: a change made during the load is then applied after it, not lost.
    this.#unlisten = await this.#o.store.listen((e) => this.onChange(e));
    await this.#enqueue(() => this.#reload());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#unlisten?.();
    this.#unlisten = undefined;
    await this.#chain;
  }

  /** Resolves when every event received so far is applied (tests). */
  idle(): Promise<void> {
    return this.#chain;
  }

  /** A store change event (start() feeds these itself). */
  onChange(event: ChangeEvent): void {
    if (this.#stopped) return;
    if (event.table === '*') {
      void this.#enqueue(() => this.#reload()).catch(() => this.#scheduleRetry());
      return;
    }
    if (event.table !== 'rooms') return;
    const name = event.key.room;
    if (event.op === 'delete') {
      void this.#enqueue(() => Promise.resolve(this.#remove(name))).catch(() => undefined);
      return;
    }
    void this.#enqueue(async () => {
      const row = await this.#o.store.rooms.get(name);
      if (row === undefined) this.#remove(name);
      else this.#apply(row);
    }).catch(() => this.#scheduleRetry());
  }

  #enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(() => (this.#stopped ? undefined : fn()));
    this.#chain = run.catch((err: unknown) => {
      this.stats.errors++;
      this.#log.warn({ err }, 'room sync failed: rooms stay as they are until the next reload');
    });
    return run;
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retry !== undefined) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#enqueue(() => this.#reload()).catch(() => this.#scheduleRetry());
    }, this.#o.retryMs ?? 5000);
    this.#retry.unref();
  }

  async #reload(): Promise<void> {
    const seen = new Set<string>();
    let after: string | undefined;
    for (;;) {
      const page = await this.#o.store.rooms.list({}, { after, limit: 500 });
      for (const row of page.items) {
        seen.add(row.name);
        this.#apply(row);
      }
      if (page.next === undefined) break;
      after = page.next;
    }
    for (const name of [...this.#applied.keys()]) if (!seen.has(name)) this.#remove(name);
    this.stats.reloads++;
    this.#log.debug({ rooms: seen.size }, 'rooms loaded from the store');
  }

  #apply(row: StoredRoom): void {
    const sw = this.#o.switch;
    const uri = this.#uriOf(row.name, row.spec, this.#o.domain);
    const policy = policyFromSpec(row.spec);
    const subject = typeof row.spec['subject'] === 'string' ? row.spec['subject'] : undefined;
    const known = this.#applied.get(row.name);
    if (known !== undefined && known.uri !== uri) this.#remove(row.name); // the room's URI changed: a different room
    const live = sw.room(uri);
    if (live === undefined || live.closed) {
      sw.createRoom({ uri, policy, ...(subject === undefined ? {} : { subject }) });
      this.stats.created++;
      this.#log.info({ room: row.name, uri, generation: row.generation }, 'room created from the store');
    } else if (known?.uri !== uri || known.generation !== row.generation) {
      live.updatePolicy(policy);
      if (subject !== undefined && subject !== live.subject) live.setSubject(subject);
      this.stats.updated++;
      this.#log.info({ room: row.name, uri, generation: row.generation }, 'room policy updated from the store');
    }
    this.#applied.set(row.name, { uri, generation: row.generation });
  }

  #remove(name: string): void {
    const known = this.#applied.get(name);
    if (known === undefined) return;
    this.#applied.delete(name);
    if (this.#o.switch.deleteRoom(known.uri)) {
      this.stats.deleted++;
      this.#log.info({ room: name, uri: known.uri }, 'room deleted: it left the store');
    }
  }
}

/** Creates and starts a RoomsSync. */
export async function syncRooms(o: RoomsSyncOptions): Promise<RoomsSync> {
  const s = new RoomsSync(o);
  await s.start();
  return s;
}
