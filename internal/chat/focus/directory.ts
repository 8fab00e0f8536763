// Which rooms exist, found by the URI a client dials (RFC 7701 §4: a room is a SIP URI
// served by the focus) or by name. Two implementations: in memory (config, tests) and
// over the store's rooms table (internal/store/rooms.ts), cached and refreshed from the
// change feed (docs/architecture.md §4.1: the engine serves from cache when the database blips).
import { policyFromSpec, uriKey, type RoomPolicy } from '../switch/policy.ts';
import type { ChangeEvent, Rooms } from '../../store/index.ts';
import { parseSipUri, unescapeUri } from '../../sip/uri.ts';

export interface RoomEntry {
  readonly name: string;
  /** The room URI, e.g. sip:lobby@chat.example.com. */
  readonly uri: string;
  readonly subject: string | undefined;
  readonly policy: RoomPolicy;
  /** Bumped by each spec change (store generation); the switch re-applies the policy when it moves. */
  readonly generation: number;
  /** Challenge joins with SIP Digest (RFC 3261 §22); needs the focus's digest options. */
  readonly requireAuth: boolean;
  /** The RCS/CPM Conversation-ID (or Contribution-ID) of an ad-hoc group made by the conference factory (factory.ts). */
  readonly conversationId?: string;
}

/** The names the conference factory gives its rooms (grp-<16 hex>, factory.ts): how its cap counts them. */
export const AD_HOC_ROOM_NAME = /^grp-[0-9a-f]{16}$/;

/** What a room made at run time starts with (autoCreate, or the conference factory). */
export interface NewRoom {
  readonly subject?: string;
  /** The spec's policy (the admin API room policy shape). */
  readonly policy?: Record<string, unknown>;
  readonly conversationId?: string;
}

export interface RoomDirectory {
  /** The room a Request-URI names: exact URI match first, then the user part as a room name when `localHost(host)`. */
  lookup(requestUri: string, localHost: (host: string) => boolean): Promise<RoomEntry | undefined>;
  byName(name: string): Promise<RoomEntry | undefined>;
  /**
   * Creates a room at run time: on first INVITE (the autoCreate option, no `init`) or for the
   * conference factory (`init`); undefined when not supported or the name is taken.
   */
  create?(name: string, uri: string, init?: NewRoom): Promise<RoomEntry | undefined>;
  /** The ad-hoc room of a conversation (Conversation-ID / Contribution-ID), for a rejoin. */
  byConversation?(id: string): Promise<RoomEntry | undefined>;
  /** Rooms named as the conference factory names them (AD_HOC_ROOM_NAME), for its cap. */
  adHocRooms?(): number;
}

/** The stored spec of a room made at run time. */
export function newRoomSpec(uri: string, init: NewRoom): Record<string, unknown> {
  return {
    uri,
    ...(init.subject === undefined ? {} : { subject: init.subject }),
    ...(init.policy === undefined ? {} : { policy: init.policy }),
    ...(init.conversationId === undefined ? {} : { conversationId: init.conversationId }),
  };
}

/** The room URI of a stored spec: `spec.uri`, else sip:<spec.name or row name>@<domain>. */
export function roomUri(name: string, spec: Record<string, unknown>, domain: string): string {
  if (typeof spec['uri'] === 'string' && spec['uri'] !== '') return spec['uri'];
  const local = typeof spec['name'] === 'string' && spec['name'] !== '' ? spec['name'] : name;
  return `sip:${local}@${domain}`;
}

/** A directory entry from a stored ChatRoom spec (internal/operator/api/chatroom.ts). */
export function roomEntryFromSpec(name: string, spec: Record<string, unknown>, generation: number, domain: string): RoomEntry {
  const policy = (typeof spec['policy'] === 'object' && spec['policy'] !== null ? spec['policy'] : {}) as Record<string, unknown>;
  return {
    name,
    uri: roomUri(name, spec, domain),
    subject: typeof spec['subject'] === 'string' ? spec['subject'] : undefined,
    policy: policyFromSpec(spec),
    generation,
    // spec.policy.requireAuth of the ChatRoom CRD and the admin API (absent in older rows: false).
    requireAuth: policy['requireAuth'] === true,
    ...(typeof spec['conversationId'] === 'string' && spec['conversationId'] !== '' ? { conversationId: spec['conversationId'] } : {}),
  };
}

function userOf(requestUri: string): { user: string; host: string } | undefined {
  const u = parseSipUri(requestUri);
  if (!u || u.user === undefined) return undefined;
  return { user: unescapeUri(u.user), host: u.host.replace(/^\[|\]$/g, '') };
}

/** Rooms from configuration or tests. */
export class MemoryRoomDirectory implements RoomDirectory {
  readonly #byName = new Map<string, RoomEntry>();
  readonly #byUri = new Map<string, RoomEntry>();
  readonly #domain: string;
  readonly #autoPolicy: RoomPolicy | undefined;
  #adHoc = 0;

  /** `autoCreatePolicy`: the policy of rooms made by `create` (absent: create is refused). */
  constructor(rooms: readonly RoomEntry[] = [], o: { domain?: string; autoCreatePolicy?: RoomPolicy } = {}) {
    this.#domain = o.domain ?? 'localhost';
    this.#autoPolicy = o.autoCreatePolicy;
    for (const r of rooms) this.put(r);
  }

  put(entry: RoomEntry): void {
    const old = this.#byName.get(entry.name);
    if (old) this.#byUri.delete(uriKey(old.uri));
    else if (AD_HOC_ROOM_NAME.test(entry.name)) this.#adHoc++;
    this.#byName.set(entry.name, entry);
    this.#byUri.set(uriKey(entry.uri), entry);
  }

  delete(name: string): void {
    const old = this.#byName.get(name);
    if (!old) return;
    if (AD_HOC_ROOM_NAME.test(name)) this.#adHoc--;
    this.#byName.delete(name);
    this.#byUri.delete(uriKey(old.uri));
  }

  lookup(requestUri: string, localHost: (host: string) => boolean): Promise<RoomEntry | undefined> {
    return Promise.resolve(lookupIn(requestUri, localHost, (k) => this.#byUri.get(k), (n) => this.#byName.get(n)));
  }

  byName(name: string): Promise<RoomEntry | undefined> {
    return Promise.resolve(this.#byName.get(name));
  }

  create(name: string, uri: string, init?: NewRoom): Promise<RoomEntry | undefined> {
    if (this.#byName.has(name)) return Promise.resolve(undefined);
    let entry: RoomEntry;
    if (init !== undefined) entry = roomEntryFromSpec(name, newRoomSpec(uri.replace(/;.*$/, ''), init), 1, this.#domain);
    else if (this.#autoPolicy !== undefined) entry = { name, uri: uri.replace(/;.*$/, ''), subject: undefined, policy: this.#autoPolicy, generation: 1, requireAuth: false };
    else return Promise.resolve(undefined);
    this.put(entry);
    return Promise.resolve(entry);
  }

  byConversation(id: string): Promise<RoomEntry | undefined> {
    for (const e of this.#byName.values()) if (e.conversationId === id) return Promise.resolve(e);
    return Promise.resolve(undefined);
  }

  adHocRooms(): number {
    return this.#adHoc;
  }

  get domain(): string {
    return this.#domain;
  }
}

function lookupIn(
  requestUri: string, localHost: (host: string) => boolean,
  byUri: (key: string) => RoomEntry | undefined, byName: (name: string) => RoomEntry | undefined,
): RoomEntry | undefined {
  const exact = byUri(uriKey(requestUri));
  if (exact) return exact;
  const parts = userOf(requestUri);
  if (!parts || !localHost(parts.host)) return undefined;
  return byName(parts.user);
}

/**
 * Rooms of the store, all cached (a room list is small: hundreds, not millions) and kept
 * fresh by the change feed; a `resync` event reloads everything. Reads never wait on the
 * database after `start`, so a database outage does not stop joins to known rooms.
 */
export class StoreRoomDirectory implements RoomDirectory {
  readonly #rooms: Rooms;
  readonly #domain: string;
  readonly #cache = new MemoryRoomDirectory();
  readonly #onError: (err: unknown) => void;
  readonly #onUpdated: (entry: RoomEntry) => void;

  /** `onUpdated` sees every room (re)loaded from the store, so live rooms can apply a new policy at once. */
  constructor(rooms: Rooms, o: { domain: string; onError?: (err: unknown) => void; onUpdated?: (entry: RoomEntry) => void }) {
    this.#rooms = rooms;
    this.#domain = o.domain;
    this.#onError = o.onError ?? (() => undefined);
    this.#onUpdated = o.onUpdated ?? (() => undefined);
  }

  /** Loads every room; call once before serving. */
  async start(): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await this.#rooms.list({}, { after, limit: 500 });
      for (const r of page.items) this.#put(roomEntryFromSpec(r.name, r.spec, r.generation, this.#domain));
      if (page.next === undefined) break;
      after = page.next;
    }
  }

  /** Feed this with store.listen events (rooms and resync). */
  onChange(event: ChangeEvent): void {
    if (event.table === '*') {
      void this.start().catch(this.#onError);
      return;
    }
    if (event.table !== 'rooms') return;
    const name = event.key.room;
    if (event.op === 'delete') {
      this.#cache.delete(name);
      return;
    }
    void this.#rooms.get(name).then((r) => {
      if (r) this.#put(roomEntryFromSpec(r.name, r.spec, r.generation, this.#domain));
      else this.#cache.delete(name);
    }).catch(this.#onError);
  }

  #put(entry: RoomEntry): void {
    this.#cache.put(entry);
    this.#onUpdated(entry);
  }

  lookup(requestUri: string, localHost: (host: string) => boolean): Promise<RoomEntry | undefined> {
    return this.#cache.lookup(requestUri, localHost);
  }

  byName(name: string): Promise<RoomEntry | undefined> {
    return this.#cache.byName(name);
  }

  byConversation(id: string): Promise<RoomEntry | undefined> {
    return this.#cache.byConversation(id);
  }

  /** Of every replica: the cache holds the whole rooms table. */
  adHocRooms(): number {
    return this.#cache.adHocRooms();
  }

  /**
   * A room made at run time (the conference factory) goes to the store's rooms table like
   * one the admin API wrote, so the admin API and the operator see it; the cache has it at
   * once (the change feed confirms it later). Only a new name: an existing one is undefined.
   */
  async create(name: string, uri: string, init?: NewRoom): Promise<RoomEntry | undefined> {
    if (init === undefined || (await this.#rooms.get(name)) !== undefined) return undefined;
    const { room } = await this.#rooms.put(name, newRoomSpec(uri, init));
    const entry = roomEntryFromSpec(room.name, room.spec, room.generation, this.#domain);
    this.#put(entry);
    return entry;
  }
}
