// The MSRP switch of RFC 7701: the focus's MSRP side. It owns the rooms, a session table
// (our session id → device), and the connections participants open to it (or it opens to
// them, RFC 6135 a=setup). Each connection has one bounded Outbox (outbox.ts); every frame
// the switch writes to a connection goes through it, responses included, so frames never
// interleave.
//
// Incoming requests, by the (only) To-Path URI, which must be one of our device sessions
// (RFC 4975 §7.3: else 481):
//   SEND      → fanout.ts (the room's switching rules, RFC 7701 §6)
//   NICKNAME  → RFC 7701 §7 (nicknames.ts for the codes)
//   REPORT    → about what we sent; never answered (RFC 4975 §7.1.2)
//   other     → 501 (RFC 4975 §12)
// The first request of a session binds it to its connection (RFC 4975 §5.4); a later one
// on another live connection gets 506. From-Path must end with the device's own URI from
// its a=path, else 403: a participant cannot speak in another's session.
//
// Why a listener of its own rather than the relay's router (docs/architecture.md §7.3):
// the relay's router hands a routed request to its forwarder, which
// paces the source by the next hop's backpressure. The switch must do the opposite
// (never pace the room by one reader), and it needs whole connections (binding, the
// outbox, flood pauses), not single routed requests. `claims(uri)` and `adopt(socket)` are
// the seam for a later hook: the relay would, on the first frame of a connection whose
// To-Path names one of our sessions, hand the connection over with Connection#setHandler.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { MsrpFrame, MsrpHead, MsrpRequest, MsrpRequestHead, MsrpResponse } from '../../msrp/frame.ts';
import { getHeader } from '../../msrp/frame.ts';
import { buildReport, failureReportOf, reportPolicy } from '../../msrp/reports.ts';
import { toBuffers } from '../../msrp/serializer.ts';
import { MsrpStatus } from '../../msrp/status.ts';
import { buildResponse, newSessionId, newTransactionId } from '../../msrp/transaction.ts';
import { comparableHost, effectivePort, parseMsrpUri, type MsrpUri } from '../../msrp/uri.ts';
import { Connection, nextConnectionId, type FrameHandler } from '../../transport/connection.ts';
import { listen, type ListenerGuard } from '../../transport/listeners.ts';
import { abortMessage, SendChunk, wholeChunk, type ChunkSink, type FanoutHost } from './fanout.ts';
import type { ForeignSessions } from './foreign.ts';
import { MemoryHistory, type HistoryStore } from './history.ts';
import { parseUseNickname } from './nicknames.ts';
import { Outbox } from './outbox.ts';
import { Device, type Member } from './participant.ts';
import { makePolicy, uriKey, type RoomPolicy } from './policy.ts';
import { Room, type AdmitRequest, type LeaveReason, type RoomHost } from './room.ts';
import { sipUserAndDomain, type AccountingSink } from '../../telemetry/accounting.ts';

export interface ChatSwitchOptions {
  /** Host written in our session URIs (what participants, or their relays, connect to). */
  readonly publicHost: string;
  readonly logger: Logger;
  readonly history?: HistoryStore;
  /** Prefix of minted session ids (the mesh encodes the owning replica there, docs/architecture.md §4.2). */
  readonly sessionIdPrefix?: string;
  /** Bytes one connection may have waiting before its participants are removed (default 4 MiB). */
  readonly maxQueueBytes?: number;
  /** A device that does not connect (or is not reached) within this time is removed (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** Bodies above this size are streamed through instead of arriving whole (default 64 KiB). */
  readonly streamThreshold?: number;
  readonly maxHeaderBytes?: number;
  /** For connecting out (a=setup:active): trusted CAs, or accept any certificate. */
  readonly tlsClient?: { readonly ca?: string | Buffer; readonly insecure?: boolean };
  /** Where a participation's record goes when a device leaves (docs/relay.md "Accounting"). */
  readonly accounting?: AccountingSink;
  /** Told the number of rooms open on this switch whenever it changes (msrp_chat_rooms). */
  readonly roomsGauge?: { set(n: number): void };
}

const IGNORE: ChunkSink = { data: () => undefined, end: () => undefined, abort: () => undefined };

export class ChatSwitch implements RoomHost, FanoutHost {
  readonly log: Logger;
  readonly history: HistoryStore;
  readonly #o: ChatSwitchOptions;
  readonly #maxQueue: number;
  #scheme: 'msrp' | 'msrps' = 'msrp';
  #port = 0;
  readonly #rooms = new Map<string, Room>();
  readonly #devices = new Map<string, Device>();
  readonly #outboxes = new WeakMap<Connection, Outbox>();
  readonly #bound = new Map<Connection, Set<Device>>();
  readonly #streams = new WeakMap<Connection, ChunkSink>();
  readonly #floodTimers = new Map<Connection, NodeJS.Timeout>();
  readonly connections = new Set<Connection>();
  /** Requests for other replicas' sessions (several replicas); undefined on one. */
  #foreign: ForeignSessions | undefined;
  /** Frames switched to recipients (chunks × recipients), for metrics and the bench. */
  deliveries = 0;
  /** Disposition notifications (RFC 5438) routed to the participant they name. */
  notifications = 0;

  constructor(o: ChatSwitchOptions) {
    this.#o = o;
    this.log = o.logger;
    this.history = o.history ?? new MemoryHistory();
    this.#maxQueue = o.maxQueueBytes ?? 4 * 1024 * 1024;
  }

  /** Several replicas: requests on our connections for sessions another replica owns go there (foreign.ts). */
  setForeign(f: ForeignSessions): void {
    this.#foreign = f;
    f.attach({ outboxOf: (c) => this.#outbox(c), respond: (c, head, status, comment) => this.respond(c, head, status, comment) });
  }

  /** Where our session URIs point; set by startChatMsrpListener. */
  setLocalAddress(scheme: 'msrp' | 'msrps', port: number): void {
    this.#scheme = scheme;
    this.#port = port;
  }

  // ---- rooms -------------------------------------------------------------------------

  createRoom(init: { uri: string; policy?: Partial<RoomPolicy> | RoomPolicy; subject?: string }): Room {
    const key = uriKey(init.uri);
    const existing = this.#rooms.get(key);
    if (existing !== undefined && !existing.closed) throw new Error(`room ${init.uri} exists`);
    const room = new Room(this, init.uri, makePolicy(init.policy), init.subject ?? '');
    this.#rooms.set(key, room);
    this.#o.roomsGauge?.set(this.#rooms.size);
    return room;
  }

  room(uri: string): Room | undefined {
    return this.#rooms.get(uriKey(uri));
  }

  rooms(): Room[] {
    return [...this.#rooms.values()];
  }

  /**
   * Removes a room. Its stored history goes with it only when the room itself was deleted
   * (`dropHistory`, the default); shutting the switch down keeps history for the next start.
   */
  deleteRoom(uri: string, dropHistory = true): boolean {
    const room = this.#rooms.get(uriKey(uri));
    if (room === undefined) return false;
    room.close();
    this.#rooms.delete(room.key);
    this.#o.roomsGauge?.set(this.#rooms.size);
    if (dropHistory) {
      this.history.drop(room.uri).catch((err: Error) => this.log.warn({ err }, 'history not dropped'));
    }
    return true;
  }

  /** True when `uri` (a first To-Path URI) names one of our device sessions: the relay hook's test. */
  claims(uri: string): boolean {
    const u = parseMsrpUri(uri);
    return u.ok && u.uri.sessionId !== undefined && this.#devices.has(u.uri.sessionId);
  }

  // ---- RoomHost ----------------------------------------------------------------------

  reserveSession(): { sessionId: string; localUri: string } {
    const sessionId = newSessionId(this.#o.sessionIdPrefix);
    return { sessionId, localUri: this.#localUri(sessionId) };
  }

  #localUri(id: string): string {
    const host = this.#o.publicHost.includes(':') && !this.#o.publicHost.startsWith('[') ? `[${this.#o.publicHost}]` : this.#o.publicHost;
    return `${this.#scheme}://${host}:${this.#port}/${id};tcp`;
  }

  newDevice(room: Room, member: Member, req: AdmitRequest): Device {
    // A reserved id (dial-out) is used once; anything else gets a fresh one.
    const reserved = req.sessionId !== undefined && /^[A-Za-z0-9\-._~+=/]{8,80}$/.test(req.sessionId) && !this.#devices.has(req.sessionId);
    const id = reserved ? req.sessionId : newSessionId(this.#o.sessionIdPrefix);
    const localUri = this.#localUri(id);
    const ref: { device?: Device } = {};
    const device = (ref.device = new Device({
      id, localUri, remotePath: req.remotePath, acceptTypes: req.acceptTypes ?? ['message/cpim'], acceptWrappedTypes: req.acceptWrappedTypes,
      acceptsPrivate: req.acceptsPrivate ?? false, deviceId: req.deviceId, upload: req.upload,
    }, member, room, this.#parkedOutbox(ref)));
    this.#devices.set(id, device);
    this.#awaitConnection(device);
    return device;
  }

  /** Where a device's frames wait until it has a connection; a device that lets it overflow leaves. */
  #parkedOutbox(ref: { device?: Device }): Outbox {
    return new Outbox(this.#maxQueue, () => {
      if (ref.device !== undefined) ref.device.room.removeDevice(ref.device, 'slow-reader');
    });
  }

  /** A device without a connection is removed when none comes within connectTimeoutMs. */
  #awaitConnection(d: Device): void {
    clearTimeout(d.connectTimer);
    d.connectTimer = setTimeout(() => {
      if (d.connection === undefined) d.room.removeDevice(d, 'connect-timeout');
    }, this.#o.connectTimeoutMs ?? 30_000);
    d.connectTimer.unref();
  }

  repathDevice(d: Device, remotePath: readonly string[], setup: 'active' | 'passive'): void {
    d.setRemotePath(remotePath);
    this.#leaveConnection(d);
    if (d.connection !== undefined) {
      // What was queued for it on the old connection goes with that connection.
      d.connection = undefined;
      d.outbox = this.#parkedOutbox({ device: d });
    }
    this.#awaitConnection(d);
    if (setup === 'active') this.connectOut(d);
  }

  dropDevice(d: Device, reason: LeaveReason): void {
    this.#devices.delete(d.id);
    if (this.#o.accounting !== undefined) {
      const conn = d.connection;
      this.#o.accounting.record({
        kind: 'chat-participation', sessionId: d.id, ...sipUserAndDomain(d.member.sipUri), room: d.room.uri,
        source: conn !== undefined ? `${conn.remoteAddress}:${conn.remotePort}` : '',
        startedAt: d.joinedAt, endedAt: new Date(),
        bytesIn: d.bytesIn, bytesOut: d.bytesOut, messagesIn: d.messagesIn, messagesOut: d.messagesOut, closeReason: reason,
      });
    }
    clearTimeout(d.connectTimer);
    this.#leaveConnection(d);
    if (d.connection === undefined) d.outbox.close();
  }

  /**
   * The device stops using its connection: messages it was sending end with "#" at their
   * recipients (RFC 4975 §7.1.1), and a connection no session uses any more is closed
   * (RFC 4975 §5.4).
   */
  #leaveConnection(d: Device): void {
    for (const msg of [...d.incoming.values()]) abortMessage(d, msg);
    const conn = d.connection;
    if (conn === undefined) return;
    const set = this.#bound.get(conn);
    set?.delete(d);
    if (set === undefined || set.size === 0) {
      this.#bound.delete(conn);
      conn.end();
    }
  }

  connectOut(d: Device): void {
    const target = parseMsrpUri(d.remotePath[0] ?? '');
    if (!target.ok) {
      d.room.removeDevice(d, 'connect-timeout');
      return;
    }
    const uri = target.uri;
    const port = effectivePort(uri);
    const tls = this.#o.tlsClient;
    const socket: Socket = uri.scheme === 'msrps'
      ? tlsConnect({ host: uri.host, port, ca: tls?.ca, rejectUnauthorized: tls?.insecure !== true, servername: uri.hostKind === 'reg-name' ? uri.host : undefined })
      : netConnect({ host: uri.host, port });
    socket.once(uri.scheme === 'msrps' ? 'secureConnect' : 'connect', () => {
      if (d.removed) {
        socket.destroy();
        return;
      }
      const conn = this.adopt(socket, 'outbound');
      this.#bind(d, conn);
      // RFC 4975 §5.4 / RFC 6135: the active side sends a SEND at once, possibly empty, so the
      // passive side can bind the connection to the session.
      const empty: MsrpRequest = { kind: 'request', method: 'SEND', transactionId: newTransactionId(), toPath: d.remotePath, fromPath: [d.localUri], headers: [], body: [], continuation: '$' };
      this.#outbox(conn).write(toBuffers(empty));
    });
    socket.once('error', (err) => {
      this.log.info({ err: err.message, session: d.id }, 'could not connect to the participant');
      if (!d.removed && d.connection === undefined) d.room.removeDevice(d, 'connect-timeout');
    });
  }

  // ---- FanoutHost --------------------------------------------------------------------

  respond(conn: Connection, head: MsrpRequestHead, status: number, comment?: string): void {
    if (head.method === 'REPORT') return;
    if (head.method === 'SEND') {
      const fr = failureReportOf(head);
      const d = reportPolicy({ method: 'SEND', failureReport: fr === 'invalid' ? 'yes' : fr, outcome: status === 200 ? 'accepted' : 'rejected' });
      if (!d.sendResponse) return;
    }
    this.#outbox(conn).write(toBuffers(buildResponse({ ...head, body: [], continuation: '$' }, status, comment)));
  }

  successReport(conn: Connection, device: Device, head: MsrpRequestHead, total: number): void {
    const report = buildReport({ ...head, body: [], continuation: '$' }, { status: 200, byteRange: { start: 1, end: total, total }, localUri: device.localUri });
    if (report !== null) this.#outbox(conn).write(toBuffers(report));
  }

  account(member: Member, conn: Connection, messages: number, bytes: number): void {
    const now = performance.now();
    const delay = Math.max(messages > 0 ? member.messages.take(messages, now) : 0, bytes > 0 ? member.bytes.take(bytes, now) : 0);
    if (delay === 0) return;
    // Flood control: MSRP has no "slow down" status, so the sender is paced by TCP: we stop
    // reading its connection until its bucket refills.
    conn.pause('flood');
    clearTimeout(this.#floodTimers.get(conn));
    this.#floodTimers.set(conn, setTimeout(() => {
      this.#floodTimers.delete(conn);
      conn.resume('flood');
    }, delay));
  }

  delivered(n: number): void {
    this.deliveries += n;
  }

  notification(from: Member, to: Member): void {
    this.notifications++;
    if (this.log.isLevelEnabled('debug')) this.log.debug({ from: from.sipUri, to: to.sipUri }, 'disposition notification routed');
  }

  // ---- connections -------------------------------------------------------------------

  /** Takes a connected socket (from our listener, from connectOut, or handed over by the relay). */
  adopt(socket: Socket, direction: 'inbound' | 'outbound' = 'inbound'): Connection {
    const id = nextConnectionId(direction === 'inbound' ? 'ci' : 'co');
    const conn = new Connection({
      id, socket, direction, handler: this.handler,
      limits: { maxHeaderBytes: this.#o.maxHeaderBytes ?? 16384, streamThreshold: this.#o.streamThreshold ?? 64 * 1024 },
      // The outbox enforces the real bound and removes the participant; this is the backstop.
      maxBufferedBytes: this.#maxQueue * 4,
      logger: this.log.child({ conn: id, peer: `${socket.remoteAddress}:${socket.remotePort}` }),
    });
    this.connections.add(conn);
    this.#outbox(conn);
    return conn;
  }

  readonly handler: FrameHandler = {
    onFrame: (conn, frame: MsrpFrame) => {
      if (frame.kind === 'response') {
        if (this.#foreign?.response(conn, frame) !== true) this.#onResponse(frame);
      } else this.#begin(conn, frame, frame);
    },
    onHead: (conn, head: MsrpHead) => {
      if (head.kind === 'request') this.#streams.set(conn, this.#begin(conn, head, undefined));
    },
    onBody: (conn, segment) => this.#streams.get(conn)?.data(segment),
    onEnd: (conn, flag) => {
      const s = this.#streams.get(conn);
      this.#streams.delete(conn);
      s?.end(flag);
    },
    onParseError: (conn, err) => {
      const s = this.#streams.get(conn);
      this.#streams.delete(conn);
      s?.abort();
      conn.log.debug({ code: err.code, msg: err.message }, 'parse error');
      if (err.fatal) conn.destroy();
    },
    onClose: (conn) => {
      const s = this.#streams.get(conn);
      this.#streams.delete(conn);
      s?.abort();
      this.connections.delete(conn);
      this.#foreign?.closed(conn);
      clearTimeout(this.#floodTimers.get(conn));
      this.#floodTimers.delete(conn);
      this.#outboxes.get(conn)?.close();
      const devices = this.#bound.get(conn);
      this.#bound.delete(conn);
      // RFC 4975 §5.4: the session dies with its connection; the focus ends the SIP dialog.
      for (const d of devices ?? []) d.room.removeDevice(d, 'connection-lost');
    },
  };

  /** Whether the connection on `socket` has a participant bound to it (an idle one may stay). */
  carriesParticipants(socket: Socket): boolean {
    for (const [conn, devices] of this.#bound) if (conn.socket === socket && devices.size > 0) return true;
    return false;
  }

  /** Closes every room and connection; durable history is kept for the next start. */
  close(): void {
    for (const r of [...this.#rooms.values()]) this.deleteRoom(r.uri, false);
    for (const c of this.connections) c.destroy();
  }

  #outbox(conn: Connection): Outbox {
    let o = this.#outboxes.get(conn);
    if (o === undefined) {
      o = new Outbox(this.#maxQueue, () => this.#overflow(conn));
      o.bind(conn);
      this.#outboxes.set(conn, o);
    }
    return o;
  }

  /** A connection's peer does not read fast enough: its participants leave, the room goes on. */
  #overflow(conn: Connection): void {
    const devices = [...(this.#bound.get(conn) ?? [])];
    conn.log.warn({ queued: this.#outboxes.get(conn)?.pendingBytes, devices: devices.length }, 'participant cannot keep up: removed');
    for (const d of devices) d.room.removeDevice(d, 'slow-reader');
    conn.destroy();
  }

  #bind(d: Device, conn: Connection): void {
    clearTimeout(d.connectTimer);
    d.connection = conn;
    const ob = this.#outbox(conn);
    ob.adopt(d.outbox);
    d.outbox = ob;
    let set = this.#bound.get(conn);
    if (set === undefined) this.#bound.set(conn, (set = new Set()));
    set.add(d);
    d.room.emitConnected(d);
  }

  #reject(conn: Connection, head: MsrpRequestHead, status: number, comment: string): ChunkSink {
    return { data: () => undefined, abort: () => undefined, end: () => this.respond(conn, head, status, comment) };
  }

  /** A request starts: find its session, bind, check the sender, dispatch by method. */
  #begin(conn: Connection, head: MsrpRequestHead, whole: MsrpRequest | undefined): ChunkSink {
    const sink = this.#dispatch(conn, head, whole);
    if (whole !== undefined) {
      for (const b of whole.body) sink.data(b);
      sink.end(whole.continuation);
    }
    return sink;
  }

  #dispatch(conn: Connection, head: MsrpRequestHead, whole: MsrpRequest | undefined): ChunkSink {
    const to = head.toPath.length === 1 ? parseMsrpUri(head.toPath[0]!) : undefined;
    const device = to?.ok === true && to.uri.sessionId !== undefined ? this.#devices.get(to.uri.sessionId) : undefined;
    if (device === undefined && this.#foreign !== undefined && head.toPath.length === 1) {
      const owner = this.#foreign.ownerOf(head.toPath[0]);
      if (owner !== undefined) return this.#foreign.request(conn, head, owner);
    }
    if (device === undefined || device.removed) return this.#reject(conn, head, MsrpStatus.SESSION_DOES_NOT_EXIST, 'no such session at this focus');
    if (!sameEndpoint(head.fromPath[head.fromPath.length - 1], device.remotePath[device.remotePath.length - 1])) {
      return this.#reject(conn, head, MsrpStatus.FORBIDDEN, 'From-Path does not end with the participant of this session');
    }
    if (device.connection === undefined) this.#bind(device, conn);
    else if (device.connection !== conn) {
      // RFC 4975 §5.4 / §7.3: the session is bound to another connection.
      return this.#reject(conn, head, MsrpStatus.SESSION_ALREADY_IN_USE, 'session bound to another connection');
    }
    switch (head.method) {
      case 'SEND':
        if (whole !== undefined) {
          wholeChunk(this, conn, device, whole);
          return IGNORE;
        }
        return new SendChunk(this, conn, device, head);
      case 'NICKNAME':
        if (whole === undefined) return this.#reject(conn, head, MsrpStatus.STOP_SENDING, 'NICKNAME with a body');
        this.#nickname(conn, device, whole);
        return IGNORE;
      case 'REPORT':
        return IGNORE;
      default:
        return this.#reject(conn, head, MsrpStatus.METHOD_NOT_UNDERSTOOD, `${head.method} not understood`);
    }
  }

  /** RFC 7701 §7.1: NICKNAME with Use-Nickname; codes in nicknames.ts. */
  #nickname(conn: Connection, device: Device, req: MsrpRequest): void {
    const room = device.room;
    if (!room.policy.nicknames) return this.respond(conn, req, MsrpStatus.FORBIDDEN, 'nicknames are disabled in this room');
    const parsed = parseUseNickname(getHeader(req, 'Use-Nickname'));
    if (!parsed.ok) return this.respond(conn, req, MsrpStatus.MALFORMED_NICKNAME, parsed.reason);
    const r = room.claimNickname(device.member, parsed.nickname);
    if (!r.ok) return this.respond(conn, req, r.status, r.reason);
    this.respond(conn, req, MsrpStatus.OK);
  }

  /** A participant answers one of our SENDs; with Failure-Report "partial" only errors come. */
  #onResponse(res: MsrpResponse): void {
    if (res.status !== MsrpStatus.SESSION_DOES_NOT_EXIST) return;
    // The response's To-Path is our URI for that device (RFC 4975 §7.2).
    const u = parseMsrpUri(res.toPath[0] ?? '');
    const d = u.ok && u.uri.sessionId !== undefined ? this.#devices.get(u.uri.sessionId) : undefined;
    if (d !== undefined) d.room.removeDevice(d, 'session-gone');
  }
}

/** RFC 4975 §6.1 URI comparison, reduced to what identifies an endpoint: host, port, session id. */
function sameEndpoint(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (a === b) return true;
  const ua = parseMsrpUri(a);
  const ub = parseMsrpUri(b);
  if (!ua.ok || !ub.ok) return false;
  const x: MsrpUri = ua.uri;
  const y: MsrpUri = ub.uri;
  return x.sessionId === y.sessionId && comparableHost(x) === comparableHost(y) && effectivePort(x) === effectivePort(y);
}

export interface ChatListener {
  readonly port: number;
  readonly scheme: 'msrp' | 'msrps';
  /** A renewed certificate for new handshakes; established connections keep theirs. */
  setSecureContext(options: SecureContextOptions): void;
  close(): void;
}

/** The focus's MSRP listener (TCP, or TLS when `tls` is given); points the switch's session URIs at it. */
export async function startChatMsrpListener(
  sw: ChatSwitch,
  o: {
    hosts: string[]; port: number; tls?: SecureContextOptions;
    /** Instead of adopting at once (rooms over several replicas pass some connections on). */
    onSocket?: (socket: Socket) => void;
    /** Caps and timeouts (docs/security.md "Connection caps"); idle connections that carry a participant are kept. */
    guard?: Omit<ListenerGuard, 'keepIdle'>;
  },
): Promise<ChatListener> {
  const guard: ListenerGuard | undefined = o.guard === undefined ? undefined : { ...o.guard, keepIdle: (s) => sw.carriesParticipants(s) };
  const l = await listen({
    hosts: o.hosts, port: o.port, ...(o.tls === undefined ? {} : { tls: o.tls }), onSocket: o.onSocket ?? ((s) => sw.adopt(s, 'inbound')),
    ...(guard === undefined ? {} : { guard }),
  });
  const scheme = o.tls === undefined ? 'msrp' : 'msrps';
  sw.setLocalAddress(scheme, l.port);
  return { port: l.port, scheme, setSecureContext: (options) => l.setSecureContext(options), close: () => l.close() };
}
