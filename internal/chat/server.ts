// The chat server as one unit for cmd/ wiring: the MSRP switch (chat/switch/) with its
// listener, the room directory (the store's rooms, or rooms from the config), and the SIP
// focus. cmd/msrpd.ts (and cmd/start.ts) call startChatServer(config.chat, deps) and
// close() it on shutdown.
//
// MSRP path: direct. The answer's a=path is [switch session URI] on the switch's own
// listener (see internal/chat/switch/switch.ts for why not the relay's); clients behind a relay
// reach it through their relay's Use-Path as for any peer. Putting our relay in front
// (path = [relay, switch]) waits for the relay → switch hand-over hook (ChatSwitch.claims/adopt).
import type { AccountingSink } from '../telemetry/accounting.ts';
import type { Socket } from 'node:net';
import { hostname } from 'node:os';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { HistoryStore } from './switch/history.ts';
import { ForeignSessions } from './switch/foreign.ts';
import { makePolicy } from './switch/policy.ts';
import { ChatSwitch, startChatMsrpListener, type ChatListener } from './switch/switch.ts';
import type { ChatConfig } from '../config/chat.ts';
import { startMeshChannel, type MeshChannel, type MeshChannelOptions } from '../mesh/channel.ts';
import type { GuessLimiter } from '../auth/guesses.ts';
import type { Store } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { ChatPort, ChatRoomPort, LocalChatPort } from './focus/chat-port.ts';
import { MemoryRoomDirectory, roomEntryFromSpec, StoreRoomDirectory, type NewRoom, type RoomDirectory, type RoomEntry } from './focus/directory.ts';
import type { FrontSessions } from './focus/calls.ts';
import { startFocus, type FocusOptions, type RunningFocus } from './focus/focus.ts';
import type { FocusAuth } from './focus/identity.ts';
import { chatListenerGuards } from './listener-guards.ts';
import { handOff } from './msrp-handoff.ts';
import { RoomMesh } from './room-mesh.ts';

// The `chat` section of the engine config lives in internal/config (config imports no
// feature folder, docs/architecture.md §2.2); re-exported here for the focus's callers.
export { ChatConfigSchema, type ChatConfig } from '../config/chat.ts';

export interface ChatServerDeps {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Rooms come from the store's rooms table (kept fresh by its change feed) when given. */
  readonly store?: Store;
  /** Certificate for msrps and SIP over TLS. */
  readonly tls?: SecureContextOptions;
  /** SIP Digest against the relay's realms and users (rooms with requireAuth, moderators everywhere). */
  readonly auth?: FocusAuth;
  /** Failed passwords per user and source, shared with the relay's AUTH (auth/guesses.ts). */
  readonly guesses?: GuessLimiter;
  /** SIP timers (RFC 3261 Table 4) and UDP guard bounds of the focus; tests shorten T1. */
  readonly focusTuning?: Pick<FocusOptions, 'timers' | 'udpGuard'>;
  /** Session id prefix of this replica (docs/architecture.md §4.2). */
  readonly sessionIdPrefix?: string;
  /** Room history (internal/chat/switch/history-store.ts DurableHistory over the store); default in memory. The caller closes it after close(). */
  readonly history?: HistoryStore;
  /** Where a participation's accounting record goes when a device leaves. */
  readonly accounting?: AccountingSink;
  /**
   * Several replicas serve the rooms (docs/chat.md "Several pods"): room leases in the
   * store (required), the mesh channel between replicas, MSRP connections passed to the
   * room's owner. The session id prefix must be this replica's (`r<ordinal>-`).
   */
  readonly mesh?: ChatMeshOptions;
  /** The engine's relay in front of the switch (chat.msrp.relayInFront, docs/chat.md "Our relay in front of the switch"). */
  readonly front?: FrontSessions;
}

export interface ChatMeshOptions extends MeshChannelOptions {
  /** Room lease time to live (renewed every third of it). */
  readonly leaseTtlMs: number;
  /** How often idle room event streams carry a heartbeat (tests shorten it). */
  readonly heartbeatMs?: number;
  /** How often rooms followed on another replica with no call or subscription here are let go (default 30 s). */
  readonly remoteRoomSweepMs?: number;
}

export interface RunningChatServer {
  readonly focus: RunningFocus;
  /** Room ownership across replicas, when deps.mesh was given. */
  readonly roomMesh?: RoomMesh;
  /** The mesh channel's port, when deps.mesh was given. */
  readonly meshPort?: number;
  readonly switch: ChatSwitch;
  readonly msrp: ChatListener;
  readonly rooms: RoomDirectory;
  close(): Promise<void>;
}

/** The switch (chat/switch/) as the focus's ChatPort: rooms created on first use, policies re-applied when the generation moves. */
export function switchChatPort(sw: ChatSwitch): LocalChatPort {
  const generations = new Map<string, number>();
  return {
    room(entry: RoomEntry): ChatRoomPort {
      let room = sw.room(entry.uri);
      if (room === undefined || room.closed) {
        room = sw.createRoom({ uri: entry.uri, policy: entry.policy, ...(entry.subject === undefined ? {} : { subject: entry.subject }) });
      } else if (generations.get(entry.uri) !== entry.generation) {
        room.updatePolicy(entry.policy);
        if (entry.subject !== undefined && entry.subject !== room.subject) room.setSubject(entry.subject);
      }
      generations.set(entry.uri, entry.generation);
      return room;
    },
  };
}

export async function startChatServer(config: ChatConfig, deps: ChatServerDeps): Promise<RunningChatServer> {
  const log = deps.logger.child({ component: 'chat' });
  const wildcard = (h: string) => h === '0.0.0.0' || h === '::';
  const publicHost = config.publicHost ?? (wildcard(config.sip.host) ? hostname() : config.sip.host);
  const domain = config.domain ?? publicHost;
  const msrpTls = config.msrp.transport === 'tls';
  if (msrpTls && deps.tls === undefined) throw new Error('chat.msrp.transport is tls but no certificate was given');

  const sw = new ChatSwitch({
    publicHost, logger: log,
    ...(deps.sessionIdPrefix === undefined ? {} : { sessionIdPrefix: deps.sessionIdPrefix }),
    ...(deps.history === undefined ? {} : { history: deps.history }),
    ...(deps.accounting === undefined ? {} : { accounting: deps.accounting }),
    ...(deps.metrics === undefined ? {} : { roomsGauge: deps.metrics.gauge({ name: 'chat_rooms', help: 'Chat rooms open on this replica\'s switch (with several replicas: the rooms it serves or follows)' }) }),
  });
  if (deps.mesh !== undefined) {
    if (deps.store === undefined) throw new Error('rooms over several replicas need the store (room leases)');
    if (deps.sessionIdPrefix !== `r${deps.mesh.ordinal}-`) throw new Error(`with the mesh, sessionIdPrefix must be r${deps.mesh.ordinal}-`);
  }
  // With the mesh, the listener first reads who owns the session a connection is for
  // (msrp-handoff.ts); `channel` is set before anything can connect to it for real use.
  const meshRef: { channel?: MeshChannel } = {};
  const mo = deps.mesh;
  const handoffs = mo === undefined ? undefined : deps.metrics?.counter<'outcome'>({
    name: 'chat_msrp_handoffs_total',
    help: 'MSRP connections at the switch listener by where they went: here (our session), spliced (to the room\'s owner replica), failed (owner unreachable).',
    labelNames: ['outcome'],
  });
  const guards = chatListenerGuards(config.connections, log, deps.metrics);
  const msrp = await startChatMsrpListener(sw, {
    hosts: [config.msrp.host], port: config.msrp.port, ...(msrpTls ? { tls: deps.tls } : {}), guard: guards.msrp,
    ...(mo === undefined ? {} : {
      onSocket: (socket: Socket) => handOff(socket, {
        ordinal: mo.ordinal, log,
        counted: (outcome) => handoffs?.inc({ outcome }),
        adopt: (s) => sw.adopt(s, 'inbound'),
        connect: (owner) => meshRef.channel === undefined ? Promise.reject(new Error('no mesh channel yet')) : meshRef.channel.upgrade(owner, '/v1/msrp', 'msrp'),
      }),
    }),
  });

  const live: { apply?: (entry: RoomEntry) => void; deleted?: (uri: string) => void } = {};
  let rooms: RoomDirectory;
  let unlisten: (() => Promise<void>) | undefined;
  /** A part that fails to start (a SIP port in use, the store down) closes what had started, then rethrows. */
  const failed = async (err: unknown): Promise<never> => {
    await unlisten?.().catch(() => undefined);
    sw.close();
    msrp.close();
    throw err;
  };
  if (deps.store) {
    // A policy or subject change in the store applies to the live room at once, not only at
    // the next INVITE: rooms that exist in the switch are re-applied through the chat port.
    const dir = new StoreRoomDirectory(deps.store.rooms, {
      domain,
      onError: (err) => log.warn({ err }, 'room directory refresh failed'),
      onUpdated: (entry) => {
        if (sw.room(entry.uri) !== undefined) live.apply?.(entry);
      },
    });
    await dir.start().catch(failed);
    unlisten = await deps.store.listen((e) => {
      if (e.table !== 'rooms' || e.op !== 'delete') return dir.onChange(e);
      // A deleted room closes: its participants leave (the switch emits device-left → BYE).
      void dir.byName(e.key.room).then((entry) => {
        if (entry) {
          sw.deleteRoom(entry.uri);
          live.deleted?.(entry.uri);
        }
        dir.onChange(e);
      });
    }).catch(failed);
    rooms = dir;
  } else {
    rooms = new MemoryRoomDirectory(config.rooms.map((r, i) => roomEntryFromSpec(r.name, { ...r }, i + 1, domain)), {
      domain, ...(config.autoCreate ? { autoCreatePolicy: makePolicy() } : {}),
    });
  }

  // A room is created in the switch when the focus first sees an INVITE for it, and admits at
  // once; with durable history its past messages load asynchronously (Room#ready, bounded by
  // the history read timeout). Creating it and waiting for that at lookup, before the focus
  // answers, lets the first joiner after a restart get the history replayed as well.
  const local = switchChatPort(sw);
  live.apply = (entry) => {
    local.room(entry);
  };
  const base = rooms;
  let chat: ChatPort = local;
  let directory: RoomDirectory;
  let roomMesh: RoomMesh | undefined;
  let channel: MeshChannel | undefined;
  if (mo !== undefined) {
    // The owner replica creates the room and waits for its history (RoomMesh#own); a lookup
    // must not create it here, where it may not belong.
    const mesh = new RoomMesh({
      ordinal: mo.ordinal, leases: deps.store!.leases, ttlMs: mo.leaseTtlMs, sw, local, byName: (n) => base.byName(n), log,
      ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
      ...(mo.heartbeatMs === undefined ? {} : { heartbeatMs: mo.heartbeatMs }),
    });
    try {
      channel = await startMeshChannel(mo, mesh.handlers, log);
    } catch (err) {
      await mesh.close();
      sw.close();
      msrp.close();
      throw err;
    }
    mesh.attach(channel);
    meshRef.channel = channel;
    const ch = channel;
    sw.setForeign(new ForeignSessions({ self: mo.ordinal, log, open: (owner) => ch.upgrade(owner, '/v1/msrp', 'msrp') }));
    live.deleted = (uri) => mesh.dropped(uri);
    roomMesh = mesh;
    chat = mesh;
    directory = base;
  } else {
    const loaded = async (entry: RoomEntry | undefined): Promise<RoomEntry | undefined> => {
      if (entry !== undefined) {
        local.room(entry);
        await sw.room(entry.uri)?.ready;
      }
      return entry;
    };
    directory = {
      lookup: async (requestUri, localHost) => loaded(await base.lookup(requestUri, localHost)),
      byName: (name) => base.byName(name),
      ...(base.create === undefined ? {} : { create: async (name: string, uri: string, init?: NewRoom) => loaded(await base.create!(name, uri, init)) }),
      ...(base.byConversation === undefined ? {} : { byConversation: async (id: string) => loaded(await base.byConversation!(id)) }),
      ...(base.adHocRooms === undefined ? {} : { adHocRooms: () => base.adHocRooms!() }),
    };
  }

  const focus = await startFocus({
    sip: {
      host: config.sip.host, publicHost, guard: guards.sip,
      ...(config.sip.udpPort === undefined ? {} : { udpPort: config.sip.udpPort }),
      ...(config.sip.tcpPort === undefined ? {} : { tcpPort: config.sip.tcpPort }),
      ...(config.sip.tlsPort === undefined ? {} : { tlsPort: config.sip.tlsPort }),
      ...(config.sip.wsPort === undefined ? {} : { wsPort: config.sip.wsPort }),
      ...(config.sip.wssPort === undefined ? {} : { wssPort: config.sip.wssPort }),
      ...(config.sip.tlsPort === undefined && config.sip.wssPort === undefined ? {} : { tls: deps.tls }),
      wsOrigins: config.sip.wsOrigins ?? [],
    },
    rooms: directory, chat, logger: log, autoCreate: config.autoCreate, domains: [domain], domain,
    ...(config.factory === undefined ? {} : { factory: config.factory, factoryLimits: config.factoryLimits }),
    ...(mo?.remoteRoomSweepMs === undefined ? {} : { remoteRoomSweepMs: mo.remoteRoomSweepMs }),
    media: config.media, subscriptions: config.subscriptions,
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
    ...(deps.auth === undefined ? {} : { auth: deps.auth }),
    ...(deps.guesses === undefined ? {} : { guesses: deps.guesses }),
    ...deps.focusTuning,
    ...(config.sip.trustedProxies === undefined ? {} : { trustedProxies: config.sip.trustedProxies }),
    ...(deps.front === undefined ? {} : { front: deps.front }),
  }).catch(failed);

  return {
    focus, switch: sw, msrp, rooms,
    ...(roomMesh === undefined ? {} : { roomMesh, meshPort: channel!.port }),
    async close() {
      msrp.close();
      await focus.close();
      await roomMesh?.close();
      await unlisten?.();
      // The switch first: MSRP connections other replicas spliced to us came in through the
      // channel's server, which waits for them before it reports closed.
      sw.close();
      await channel?.close();
    },
  };
}
