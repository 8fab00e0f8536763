// Rooms over several replicas (docs/chat.md "Several pods"): each room has one owner at a
// time, the replica holding its lease in the store (store/leases.ts). RoomMesh is the
// focus's ChatPort on every replica:
//
//   room(entry)  ours (lease held)       → the switch's room, synchronously, as on one pod
//                another's, reachable    → RemoteRoomPort over the mesh channel
//                free or expired         → we take the lease; the room starts here and loads
//                                          its history from the store (Room#ready)
//                another's, unreachable  → RoomUnavailableError (503, Retry-After: the time
//                                          until that lease runs out)
//
// and it answers the other replicas on the mesh channel: admit / remove /
// remove-by-moderator as JSON, the room's events as server-sent events, and
// `Upgrade: msrp`, a participant's MSRP connection spliced from the replica it reached
// (msrp-handoff.ts), which the switch adopts as if the participant had connected here.
// Leases are renewed every ttl/3; a room whose lease was lost closes here (its devices get
// BYEs from their focus, its watchers' streams end). A clean close releases them all.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Room } from './switch/room.ts';
import type { ChatSwitch } from './switch/switch.ts';
import type { MeshChannel, MeshChannelHandlers } from '../mesh/channel.ts';
import type { Counter } from 'prom-client';
import type { RoomLeases } from '../store/leases.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { RoomUnavailableError, type AdmitRequest, type ChatPort, type ChatRoomPort, type LeaveReason, type LocalChatPort, type ParticipantView } from './focus/chat-port.ts';
import type { RoomEntry } from './focus/directory.ts';
import { HEARTBEAT_MS, RemoteRoomPort, type RoomStreamMessage } from './remote-room.ts';

export interface RoomMeshOptions {
  readonly ordinal: number;
  readonly leases: RoomLeases;
  /** Lease time to live; renewed every third of it. */
  readonly ttlMs: number;
  readonly sw: ChatSwitch;
  /** The switch as a ChatPort (server.ts switchChatPort): rooms of this replica. */
  readonly local: LocalChatPort;
  /** How often an idle event stream carries a comment (default remote-room.ts HEARTBEAT_MS). */
  readonly heartbeatMs?: number;
  /** Rooms by name, for requests from other replicas. */
  byName(name: string): Promise<RoomEntry | undefined>;
  readonly log: Logger;
  readonly metrics?: Metrics;
}

const LEAVE_REASONS: ReadonlySet<string> = new Set(['sip', 'moderator', 'slow-reader', 'connection-lost', 'connect-timeout', 'session-gone', 'room-closed', 'policy']);

export class RoomMesh implements ChatPort {
  readonly instance = randomUUID();
  readonly #o: RoomMeshOptions;
  readonly #log: Logger;
  #channel: MeshChannel | undefined;
  /** Room URIs whose lease we hold. */
  readonly #held = new Set<string>();
  readonly #remote = new Map<string, RemoteRoomPort>();
  readonly #resolving = new Map<string, Promise<ChatRoomPort>>();
  /** Open event streams by room URI, ended when the room leaves this replica. */
  readonly #streams = new Map<string, Set<ServerResponse>>();
  readonly #timer: NodeJS.Timeout;
  #closed = false;
  readonly #resolutions: Counter<'outcome'> | undefined;
  readonly #gauges: () => void;

  constructor(o: RoomMeshOptions) {
    this.#o = o;
    this.#log = o.log.child({ component: 'room-mesh', replica: o.ordinal });
    const owned = o.metrics?.gauge({ name: 'chat_rooms_owned', help: 'Chat rooms whose lease this replica holds.' });
    const remote = o.metrics?.gauge({ name: 'chat_rooms_remote', help: 'Chat rooms another replica owns that this replica follows (event streams open).' });
    this.#gauges = () => {
      owned?.set(this.#held.size);
      remote?.set(this.#remote.size);
    };
    this.#resolutions = o.metrics?.counter<'outcome'>({
      name: 'chat_room_resolutions_total',
      help: 'Looking up a room\'s owner: taken (here), remote (followed on another replica), unavailable (owner silent, or no database), lost (a renewal found it taken).',
      labelNames: ['outcome'],
    });
    this.#timer = setInterval(() => void this.#renew(), Math.max(100, Math.floor(o.ttlMs / 3)));
    this.#timer.unref();
  }

  /** The channel to the other replicas (started with `handlers`). */
  attach(channel: MeshChannel): void {
    this.#channel = channel;
  }

  /** Rooms this replica owns now. */
  get held(): ReadonlySet<string> {
    return this.#held;
  }

  // ---- ChatPort ----------------------------------------------------------------------

  room(entry: RoomEntry): ChatRoomPort | Promise<ChatRoomPort> {
    if (this.#held.has(entry.uri)) return this.#o.local.room(entry);
    const remote = this.#remote.get(entry.uri);
    if (remote !== undefined && !remote.gone) return remote;
    let p = this.#resolving.get(entry.uri);
    if (p === undefined) {
      p = this.#resolve(entry).finally(() => this.#resolving.delete(entry.uri));
      this.#resolving.set(entry.uri, p);
    }
    return p;
  }

  async #resolve(entry: RoomEntry): Promise<ChatRoomPort> {
    if (this.#closed) throw new RoomUnavailableError('this replica is shutting down', 1);
    let taken;
    try {
      taken = await this.#o.leases.acquire(entry.uri, this.#o.ordinal, this.instance, this.#o.ttlMs);
    } catch (err) {
      // Without the store nobody can tell who owns the room: serving it here could split it.
      this.#resolutions?.inc({ outcome: 'unavailable' });
      throw new RoomUnavailableError(`room owner unknown: ${(err as Error).message}`, 5);
    }
    if (taken.acquired) {
      this.#resolutions?.inc({ outcome: 'taken' });
      return this.#own(entry);
    }
    const owner = taken.lease.holder;
    try {
      if (this.#channel === undefined) throw new Error('no mesh channel');
      const port = await RemoteRoomPort.open(this.#channel, owner, entry, this.#log);
      this.#remote.set(entry.uri, port);
      port.onGone(() => {
        if (this.#remote.get(entry.uri) === port) this.#remote.delete(entry.uri);
        this.#gauges();
      });
      this.#resolutions?.inc({ outcome: 'remote' });
      this.#gauges();
      this.#log.info({ room: entry.name, owner }, 'room served by another replica');
      return port;
    } catch (err) {
      this.#resolutions?.inc({ outcome: 'unavailable' });
      const left = Math.max(1, Math.ceil((taken.lease.expiresAt.getTime() - Date.now()) / 1000));
      throw new RoomUnavailableError(`replica ${owner} holds the room and does not answer: ${(err as Error).message}`, left);
    }
  }

  async #own(entry: RoomEntry): Promise<ChatRoomPort> {
    const fresh = !this.#held.has(entry.uri);
    this.#held.add(entry.uri);
    const port = this.#o.local.room(entry);
    // The history of a room that moved here comes from the store before anyone is admitted.
    await this.#o.sw.room(entry.uri)?.ready;
    if (fresh) this.#log.info({ room: entry.name }, 'room owned by this replica');
    this.#gauges();
    return port;
  }

  /** The owner side: our live room for a request from another replica, or who owns it instead. */
  async #owned(name: string): Promise<{ room: Room } | { owner: number } | undefined> {
    const entry = await this.#o.byName(name);
    if (entry === undefined) return undefined;
    if (!this.#held.has(entry.uri)) {
      const taken = await this.#o.leases.acquire(entry.uri, this.#o.ordinal, this.instance, this.#o.ttlMs);
      if (!taken.acquired) return { owner: taken.lease.holder };
      await this.#own(entry);
    } else {
      this.#o.local.room(entry); // applies a moved generation
    }
    const room = this.#o.sw.room(entry.uri);
    return room === undefined || room.closed ? undefined : { room };
  }

  /**
   * The participants of a room wherever it lives (the control endpoint's live view, which
   * the admin API and ChatRoom status read through whichever pod they reach): this
   * replica's room when it holds the lease, the owner's list over the channel when another
   * replica does, nobody when no replica holds it. Never takes the lease: a status query
   * must not move a room.
   */
  async participantsOf(entry: RoomEntry): Promise<readonly ParticipantView[]> {
    if (this.#held.has(entry.uri)) return this.#o.sw.room(entry.uri)?.participants() ?? [];
    const followed = this.#remote.get(entry.uri);
    if (followed !== undefined && !followed.gone) return followed.participants();
    const lease = await this.#o.leases.get(entry.uri);
    if (lease === undefined || lease.expiresAt.getTime() <= Date.now() || lease.holder === this.#o.ordinal) return [];
    if (this.#channel === undefined) throw new Error('no mesh channel to ask the room\'s owner');
    const port = await RemoteRoomPort.open(this.#channel, lease.holder, entry, this.#log);
    const list = port.participants();
    port.release();
    return list;
  }

  /** A room left this replica (lease lost, room deleted): its watchers' streams end. */
  dropped(uri: string): void {
    this.#held.delete(uri);
    this.#gauges();
    for (const res of this.#streams.get(uri) ?? []) res.end();
    this.#streams.delete(uri);
  }

  async #renew(): Promise<void> {
    if (this.#closed || this.#held.size === 0) return;
    const rooms = [...this.#held];
    let kept: string[];
    try {
      kept = await this.#o.leases.renew(this.#o.ordinal, rooms, this.#o.ttlMs);
    } catch (err) {
      // The store is unreachable: nobody else can take the rooms either; keep serving.
      this.#log.warn({ err: (err as Error).message, rooms: rooms.length }, 'room leases not renewed');
      return;
    }
    const still = new Set(kept);
    for (const uri of rooms) {
      if (still.has(uri) || !this.#held.has(uri)) continue;
      this.#log.warn({ room: uri }, 'room lease lost: the room closes here');
      this.#resolutions?.inc({ outcome: 'lost' });
      this.dropped(uri);
      this.#o.sw.deleteRoom(uri, false);
    }
  }

  /**
   * Clean shutdown: leases released first, then the other replicas' event streams end, so
   * the participants they then BYE can rejoin at once, the room starting elsewhere.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const port of this.#remote.values()) port.close();
    this.#remote.clear();
    const rooms = [...this.#held];
    await this.#o.leases.release(this.#o.ordinal, rooms).catch((err: Error) => this.#log.warn({ err: err.message }, 'room leases not released'));
    for (const uri of new Set([...rooms, ...this.#streams.keys()])) this.dropped(uri);
  }

  // ---- the mesh channel's side --------------------------------------------------------

  readonly handlers: MeshChannelHandlers = {
    onRequest: (req, res) => {
      this.#request(req, res).catch((err: unknown) => {
        this.#log.warn({ err, path: req.url }, 'room mesh request failed');
        if (!res.headersSent) json(res, 500, { error: 'internal' });
        else res.destroy();
      });
    },
    onUpgrade: (req, socket, head) => this.#upgrade(req, socket, head),
  };

  async #request(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = /^\/v1\/rooms\/([^/]+)\/(admit|remove|remove-by-moderator|repath|reserve|events)$/.exec(req.url ?? '');
    if (m === null) return json(res, 404, { error: 'no such path' });
    if (this.#closed) return json(res, 503, { error: 'shutting down' });
    const [, encoded, action] = m as unknown as [string, string, string];
    const expected = action === 'events' ? 'GET' : 'POST';
    if (req.method !== expected) return json(res, 405, { error: `${expected} only` });
    const body = expected === 'POST' ? await readJson(req) : undefined;
    const found = await this.#owned(decodeURIComponent(encoded));
    if (found === undefined) return json(res, 404, { error: 'no such room' });
    if ('owner' in found) return json(res, 409, { owner: found.owner });
    const room = found.room;
    switch (action) {
      case 'admit':
        return json(res, 200, room.admit(body as AdmitRequest));
      case 'remove': {
        const b = body as { participantId?: unknown; reason?: unknown };
        const reason = typeof b.reason === 'string' && LEAVE_REASONS.has(b.reason) ? b.reason as LeaveReason : 'sip';
        return json(res, 200, { removed: typeof b.participantId === 'string' && room.remove(b.participantId, reason) });
      }
      case 'reserve':
        return json(res, 200, room.reserveSession());
      case 'repath': {
        const b = body as { participantId?: unknown; remotePath?: unknown; setup?: unknown };
        const path = Array.isArray(b.remotePath) && b.remotePath.every((u) => typeof u === 'string') ? b.remotePath : undefined;
        if (typeof b.participantId !== 'string' || path === undefined) return json(res, 400, { error: 'participantId and remotePath are required' });
        return json(res, 200, { moved: room.repath(b.participantId, path, b.setup === 'active' ? 'active' : 'passive') });
      }
      case 'remove-by-moderator': {
        const b = body as { moderator?: unknown; target?: unknown };
        if (typeof b.moderator !== 'string' || typeof b.target !== 'string') return json(res, 400, { error: 'moderator and target are strings' });
        return json(res, 200, room.removeByModerator(b.moderator, b.target));
      }
      default:
        return this.#events(room, req, res);
    }
  }

  #events(room: Room, req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    // Once the stream ended (the room left this replica) the room's last events go nowhere.
    const send = (m: RoomStreamMessage): void => {
      if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(m)}\n\n`);
    };
    res.on('error', () => undefined);
    const heartbeatMs = this.#o.heartbeatMs ?? HEARTBEAT_MS;
    send({ subject: room.subject, participants: room.participants(), heartbeatMs });
    const off = room.onChange((event) => send({ event, subject: room.subject, participants: room.participants() }));
    const heartbeat = setInterval(() => {
      if (!res.writableEnded && !res.destroyed) res.write(': alive\n\n');
    }, heartbeatMs);
    heartbeat.unref();
    let set = this.#streams.get(room.uri);
    if (set === undefined) this.#streams.set(room.uri, (set = new Set()));
    set.add(res);
    const done = (): void => {
      off();
      clearInterval(heartbeat);
      this.#streams.get(room.uri)?.delete(res);
    };
    res.once('close', done);
    res.once('finish', done);
    req.socket.setKeepAlive(true, 10_000);
  }

  /** Another replica splices a participant's MSRP connection to us: the switch takes it as its own. */
  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (req.url !== '/v1/msrp' || (req.headers.upgrade ?? '').toLowerCase() !== 'msrp' || this.#closed) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: msrp\r\n\r\n');
    socket.setTimeout(0);
    socket.setNoDelay(true);
    if (head.length > 0) socket.unshift(head);
    this.#o.sw.adopt(socket, 'inbound');
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const b of req as AsyncIterable<Buffer>) {
    n += b.length;
    if (n > 256 * 1024) throw new Error('request body too large');
    parts.push(b);
  }
  return parts.length === 0 ? {} : JSON.parse(Buffer.concat(parts).toString('utf8'));
}
