// The SIP side of the chat server (RFC 7701 §5): a UAS on UDP/TCP/TLS that turns INVITEs
// to room URIs into participants of the MSRP switch, serves the conference event package
// (RFC 4575) for each room, and lets moderators remove participants (RFC 4579 §5.5).
// No MSRP here: the switch (ChatPort) owns the media.
//
//   INVITE room   → calls.ts (admission, answer, dialog ↔ device)
//   BYE / no ACK  → the device leaves the room (UAS core onDialogEnded)
//   SUBSCRIBE     → subscriptions.ts (Event: conference)
//   REFER         → calls.ts (method=BYE by an authenticated moderator), dial-out.ts (method=INVITE, the same)
//   who sent it   → identity.ts (Digest, trusted P-Asserted-Identity, or the From claim),
//                   asked before any work for the room (challenge before work)
//   room events   → partial NOTIFYs; a device the switch dropped → BYE
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { SecureContextOptions } from 'node:tls';
import type { Dialog } from '../../sip/dialogs.ts';
import { GuessLimiter } from '../../auth/guesses.ts';
import { AuthFailures } from '../../telemetry/auth-failures.ts';
import type { TimerValues } from '../../sip/timers.ts';
import type { ListenerGuard } from '../../transport/listeners.ts';
import { startSipTransport, type SipTransport } from '../../transport/sip.ts';
import { UdpGuard, type UdpGuardOptions } from '../../transport/udp-guard.ts';
import type { Destination } from '../../sip/timers.ts';
import { UserAgentServer, type IncomingRequest } from '../../sip/ua.ts';
import { parseSipUri, unescapeUri } from '../../sip/uri.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import { LAB_MEDIA_POLICY, type MediaPolicy } from './admission.ts';
import { Calls, type FrontSessions } from './calls.ts';
import { DialOut } from './dial-out.ts';
import { factoryInvite, FactoryLimits, isFactoryUri, type FactoryLimitOptions } from './factory.ts';
import { RoomUnavailableError, type ChatPort, type ChatRoomPort, type RoomEvent } from './chat-port.ts';
import type { ConferenceState, StateChange } from './conference-info.ts';
import type { RoomDirectory, RoomEntry } from './directory.ts';
import { isAuthenticated, RoomIdentity, type FocusAuth, type Identity } from './identity.ts';
import { ConferenceSubscriptions } from './subscriptions.ts';
import { admittedByLists } from '../switch/policy.ts';

export interface FocusOptions {
  readonly sip: {
    /** Ports; 0 picks a free one; absent disables that transport. */
    readonly udpPort?: number;
    readonly tcpPort?: number;
    readonly tlsPort?: number;
    /** SIP over WebSocket (RFC 7118): `ws:` and `wss:` (with `tls`) ports. */
    readonly wsPort?: number;
    readonly wssPort?: number;
    /** Origins allowed on the WebSocket ports; empty or absent: any. */
    readonly wsOrigins?: readonly string[];
    readonly tls?: SecureContextOptions;
    /** Address to bind (default 127.0.0.1). */
    readonly host?: string;
    /** Host in Contact, Via, SDP c=/o= and Warning (default: `host`, or 127.0.0.1 for a wildcard bind). */
    readonly publicHost?: string;
    /** Connection caps and timeouts of the TCP/TLS listeners (docs/security.md "Connection caps"). */
    readonly guard?: ListenerGuard;
  };
  readonly rooms: RoomDirectory;
  readonly chat: ChatPort;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** An INVITE to an unknown room on one of our hosts creates it (directory.create). Default false: 404. */
  readonly autoCreate?: boolean;
  /** User part of the conference factory URI (factory.ts); absent: no factory. */
  readonly factory?: string;
  /** Bounds on the factory's creations (factory.ts FactoryLimits); absent: unbounded. */
  readonly factoryLimits?: FactoryLimitOptions;
  /** Host part of rooms the factory makes (sip:grp-...@<domain>); default the first of `domains`, else publicHost. */
  readonly domain?: string;
  /** Hosts (besides our addresses) whose Request-URI user part names a room: the chat domains. */
  readonly domains?: readonly string[];
  /** a=path checks (admission.ts). Default: allow private and foreign addresses (lab). */
  readonly media?: MediaPolicy;
  /** SIP Digest against the relay's realms and users: rooms with requireAuth, and moderators everywhere (identity.ts). */
  readonly auth?: FocusAuth;
  /** RFC 3325: proxies whose P-Asserted-Identity is believed (source addresses). */
  readonly trustedProxies?: readonly string[];
  /** Failed passwords per user and source; the engine shares one with the relay's AUTH. Default: the focus's own. */
  readonly guesses?: GuessLimiter;
  readonly subscriptions?: { readonly minExpires?: number; readonly maxExpires?: number };
  readonly timers?: Partial<TimerValues>;
  /** SIP over UDP: per-source rate limit and anti-amplification bounds (transport/udp-guard.ts); defaults apply. */
  readonly udpGuard?: UdpGuardOptions;
  /** How often rooms followed on another replica with no call or subscription here are let go (default 30 s). */
  readonly remoteRoomSweepMs?: number;
  /** Our relay in front of the switch (docs/chat.md "Our relay in front of the switch"); absent: direct paths. */
  readonly front?: FrontSessions;
}

export interface RunningFocus {
  readonly udpPort: number | undefined;
  readonly tcpPort: number | undefined;
  readonly tlsPort: number | undefined;
  readonly wsPort: number | undefined;
  readonly wssPort: number | undefined;
  readonly ua: UserAgentServer;
  /** Active INVITE dialogs (joined devices). */
  readonly calls: number;
  readonly subscriptions: number;
  /** A renewed certificate for new SIP over TLS handshakes. */
  setSecureContext(options: SecureContextOptions): void;
  /** BYE to every call, final NOTIFYs, then the sockets close. */
  close(): Promise<void>;
}

interface WatchedRoom {
  readonly entry: RoomEntry;
  readonly chat: ChatRoomPort;
  readonly unsubscribe: () => void;
}

export async function startFocus(o: FocusOptions): Promise<RunningFocus> {
  const log = o.logger.child({ component: 'focus' });
  const bindHost = o.sip.host ?? '127.0.0.1';
  const publicHost = o.sip.publicHost ?? (bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost);
  const hostRef = publicHost.includes(':') ? `[${publicHost}]` : publicHost;
  const invites = o.metrics?.counter<'outcome'>({ name: 'focus_invites_total', help: 'Room join INVITEs by final status.', labelNames: ['outcome'] });
  const udpDrops = o.metrics?.counter<'reason'>({
    name: 'focus_udp_drops_total', labelNames: ['reason'],
    help: 'SIP datagrams not processed (reason="rate": the source sent too many) or not sent (reason="amplification": to an address that never proved it receives, beyond 3x what it sent).',
  });
  // Issue 13: a spoofed UDP source must not make us send much more than it sent, repeatedly.
  const udpGuard = new UdpGuard(o.udpGuard);
  const returnRoutable = (d: Destination): void => {
    if (d.transport.toUpperCase() === 'UDP') udpGuard.validate(d.address, d.port);
  };
  const watched = new Map<string, WatchedRoom>();
  // Set once the sockets are up; the UAS is built first because the transport delivers to it.
  const sockets: { transport?: SipTransport } = {};

  const portFor = (t: string): number | undefined => {
    const u = t.toUpperCase();
    const t2 = sockets.transport;
    return u === 'UDP' ? t2?.udpPort : u === 'TCP' ? t2?.tcpPort : u === 'WS' ? t2?.wsPort : u === 'WSS' ? t2?.wssPort : t2?.tlsPort;
  };
  const contactFor = (room: RoomEntry, t: string): string => {
    const user = parseSipUri(room.uri)?.user ?? room.name;
    const tp = t.toUpperCase();
    const scheme = tp === 'TLS' ? 'sips' : 'sip';
    // RFC 7118 §5.3: over WebSocket, `;transport=ws` (wss too: it is the same URI parameter).
    const param = tp === 'UDP' ? '' : `;transport=${tp === 'WSS' ? 'ws' : tp.toLowerCase()}`;
    // RFC 4579 §3, RFC 7701 §5: the focus's Contact carries the isfocus feature tag.
    return `<${scheme}:${user}@${hostRef}:${portFor(tp) ?? 5060}${param}>;isfocus`;
  };

  const ua: UserAgentServer = new UserAgentServer({
    send: (m, d) => sockets.transport?.send(m, d),
    contact: `<sip:focus@${hostRef}>`,
    allow: ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'SUBSCRIBE', 'REFER'],
    supported: [],
    // multipart/mixed: an SDP offer with a request-contained list, to the conference factory (factory.ts).
    accept: o.factory === undefined ? ['application/sdp'] : ['application/sdp', 'multipart/mixed'],
    server: 'msrpd-focus',
    timers: o.timers,
    sentBy: (d) => ({ host: publicHost, port: portFor(d.transport) ?? 5060 }),
    onRequest: (incoming) => {
      void dispatch(incoming).catch((err: unknown) => {
        log.error({ err }, 'focus request failed');
        incoming.respond(500);
      });
    },
    onDialogEnded: (dialog) => calls.ended(dialog),
    onReturnRoutable: returnRoutable,
  });

  const stateOf = (w: WatchedRoom): ConferenceState => ({
    entity: w.entry.uri, name: w.entry.name, subject: w.chat.subject, participants: w.chat.participants(),
    contactOf: (id) => calls.contactOf(id),
  });

  const factoryLimits = o.factory === undefined || o.factoryLimits === undefined
    ? undefined
    : new FactoryLimits({ ...o.factoryLimits, byUser: o.auth !== undefined, metrics: o.metrics });

  const identity = new RoomIdentity({
    auth: o.auth, guesses: o.guesses ?? new GuessLimiter(), failures: new AuthFailures(o.metrics), logger: log, onReturnRoutable: returnRoutable,
    ...(o.trustedProxies === undefined ? {} : { trustedProxies: o.trustedProxies }),
  });

  const calls = new Calls({
    logger: log, media: o.media ?? LAB_MEDIA_POLICY, publicHost, contactFor,
    sendBye: (dialog) => void ua.request(dialog, 'BYE').catch(() => undefined),
    notifyRefer: (dialog, sipfrag) => void notifyRefer(dialog, sipfrag),
    counted: (outcome) => invites?.inc({ outcome }),
    dialOut: (incoming, room, chat, target, requester) => dialOut.refer(incoming, room, chat, target, requester),
    ...(o.front === undefined ? {} : { front: o.front }),
  });

  const dialOut = new DialOut({
    ua, logger: log, publicHost, contactFor,
    notify: (dialog, sipfrag, final) => void notifyRefer(dialog, sipfrag, final),
    adopt: (call) => calls.add(call),
    resolve: async (host) => (isIP(host) !== 0 ? host : (await lookup(host)).address),
    privateAddresses: (o.media ?? LAB_MEDIA_POLICY).privateAddresses,
  });

  const subscriptions = new ConferenceSubscriptions({
    logger: log, minExpires: o.subscriptions?.minExpires, maxExpires: o.subscriptions?.maxExpires,
    request: (dialog, method, init) => ua.request(dialog, method, init),
    forget: (dialog) => ua.dialogs.terminate(dialog),
  });

  /** RFC 3515 §2.4.5: the REFER's progress or outcome as message/sipfrag; the final one ends the implicit subscription. */
  async function notifyRefer(dialog: Dialog, sipfrag: string, final = true): Promise<void> {
    await ua.request(dialog, 'NOTIFY', {
      headers: [['Event', 'refer'], ['Subscription-State', final ? 'terminated;reason=noresource' : 'active;expires=60']],
      body: Buffer.from(sipfrag), contentType: 'message/sipfrag;version=2.0',
    });
    if (final && dialog.method === 'REFER') ua.dialogs.terminate(dialog);
  }

  /** The live room for an entry, watched for events once; a promise when its owner replica has to be found. */
  function watch(entry: RoomEntry): WatchedRoom | Promise<WatchedRoom> {
    const chat = o.chat.room(entry);
    return chat instanceof Promise ? chat.then((c) => watching(entry, c)) : watching(entry, chat);
  }

  function watching(entry: RoomEntry, chat: ChatRoomPort): WatchedRoom {
    const known = watched.get(entry.name);
    if (known && known.chat === chat) {
      if (known.entry.generation !== entry.generation) watched.set(entry.name, { ...known, entry });
      return watched.get(entry.name)!;
    }
    known?.unsubscribe();
    const w: WatchedRoom = {
      entry, chat,
      unsubscribe: chat.onChange((e) => onRoomEvent(entry.name, e)),
    };
    watched.set(entry.name, w);
    // A room another replica served is gone from here (its owner died or gave it up): the
    // devices were reported left (BYEs went out); subscriptions end with reason
    // "deactivated", which invites an immediate re-SUBSCRIBE (RFC 6665 §4.2.2), and the next
    // request looks for the room's owner again.
    chat.onGone?.(() => {
      if (watched.get(entry.name) !== w) return;
      w.unsubscribe();
      watched.delete(entry.name);
      void subscriptions.endRoom(entry.name, () => stateOf(w), 'deactivated');
    });
    return w;
  }

  function onRoomEvent(name: string, e: RoomEvent): void {
    const w = watched.get(name);
    if (!w) return;
    const state = () => stateOf(w);
    const change = ((): StateChange | undefined => {
      switch (e.type) {
        case 'joined':
        case 'left':
          return { kind: 'user', sipUri: e.type === 'joined' ? e.participant.sipUri : e.sipUri };
        case 'device-joined':
        case 'device-connected': {
          // The first device comes with 'joined'; later ones and connections update the user.
          const p = w.chat.participants().find((x) => x.sipUri === e.sipUri);
          return p && (e.type === 'device-connected' || p.devices.length > 1) ? { kind: 'user', sipUri: e.sipUri } : undefined;
        }
        case 'device-left': {
          const stays = w.chat.participants().some((x) => x.sipUri === e.sipUri && x.devices.length > 0);
          return stays ? { kind: 'endpoint-gone', sipUri: e.sipUri, participantId: e.participantId } : undefined;
        }
        case 'nickname':
          return w.chat.participants().some((x) => x.sipUri === e.sipUri) ? { kind: 'user', sipUri: e.sipUri } : undefined;
        case 'subject':
          return { kind: 'subject' };
      }
    })();
    if (change) subscriptions.changed(name, change, state);
    // After the NOTIFY is queued (it renders lazily, but the contact is read now): a
    // device the switch dropped on its own gets a BYE (RFC 7701 §5: the focus ends the dialog).
    if (e.type === 'device-left' && e.reason !== 'sip') calls.deviceLeft(e.participantId);
  }

  const ourHosts = (): Set<string> => new Set([publicHost, bindHost, 'localhost', '127.0.0.1', '::1', ...(o.domains ?? [])].map((h) => h.toLowerCase()));
  const isLocalHost = (host: string): boolean => ourHosts().has(host.toLowerCase());

  async function roomFor(incoming: IncomingRequest): Promise<RoomEntry | undefined> {
    const uri = incoming.request.uri;
    let entry = await o.rooms.lookup(uri, isLocalHost);
    if (!entry && o.autoCreate === true && incoming.request.method === 'INVITE' && o.rooms.create) {
      const parsed = parseSipUri(uri);
      if (parsed?.user !== undefined && isLocalHost(parsed.host.replace(/^\[|\]$/g, ''))) {
        entry = await o.rooms.create(unescapeUri(parsed.user), `sip:${parsed.user}@${parsed.host}`);
        if (entry) log.info({ room: entry.name }, 'room created by INVITE (autoCreate)');
      }
    }
    return entry;
  }

  // A room another replica owns is followed (one event stream) while this replica has a
  // call in it or a subscription to it; a sweep lets go of the others.
  const sweep = setInterval(() => {
    for (const [name, w] of [...watched]) {
      if (w.chat.release === undefined || calls.inRoom(name) > 0 || subscriptions.count(name) > 0) continue;
      // Its onGone (watching) forgets it here; false while an admission is on its way.
      w.chat.release();
    }
  }, o.remoteRoomSweepMs ?? 30_000);
  sweep.unref();

  async function dispatch(incoming: IncomingRequest): Promise<void> {
    const { request: req, dialog } = incoming;
    if (dialog) {
      const call = calls.byDialog(dialog);
      if (req.method === 'BYE') {
        incoming.respond(200); // the core ends the dialog and calls onDialogEnded → calls.ended
        return;
      }
      if (req.method === 'INVITE') {
        if (call) calls.reinvite(incoming, call);
        else incoming.respond(481);
        return;
      }
      if (req.method === 'SUBSCRIBE') {
        // A refresh or unsubscribe: the room is the one the subscription was made for.
        const name = subscriptions.roomOf(dialog);
        const wr = name === undefined ? undefined : watched.get(name);
        if (!wr) {
          incoming.respond(481);
          return;
        }
        subscriptions.subscribe(incoming, wr.entry.name, () => stateOf(wr));
        return;
      }
      if (req.method === 'REFER' && call) {
        // The caller's identity from the join, when it was authenticated; else it must authenticate now.
        const who = isAuthenticated(call.identity) ? call.identity : await identity.identityOf(incoming, true);
        if (who) calls.refer(incoming, call.room, call.chat, who);
        return;
      }
      incoming.respond(req.method === 'REFER' ? 403 : 405);
      return;
    }
    let entry: RoomEntry | undefined;
    let join = incoming;
    let onJoined: ((creator: string) => void) | undefined;
    let who: Identity | undefined;
    const countRefusal = (status: number) => {
      if (req.method === 'INVITE') invites?.inc({ outcome: String(status) });
    };
    if (req.method === 'INVITE' && isFactoryUri(req.uri, o.factory, isLocalHost)) {
      // Challenge before work: a room is written to the store, so its creator (its moderator)
      // authenticates whenever the focus has Digest realms.
      who = await identity.identityOf(incoming, o.auth !== undefined, countRefusal);
      if (!who) return;
      const made = await factoryInvite(incoming, { rooms: o.rooms, domain: o.domain ?? o.domains?.[0] ?? publicHost, creator: who.uri, limits: factoryLimits });
      if ('status' in made) {
        invites?.inc({ outcome: String(made.status) });
        if ('retryAfterSec' in made) {
          log.warn({ why: made.why, creator: who.uri, source: incoming.source.address, retryAfterSec: made.retryAfterSec }, 'conference factory refused a room creation');
          incoming.respond(made.status, { reason: made.reason, headers: [['Retry-After', String(made.retryAfterSec)]] });
          return;
        }
        incoming.respond(made.status, { reason: made.reason });
        return;
      }
      if (made.created) log.info({ room: made.room.name, invitees: made.invitees.length }, 'ad-hoc room created by the conference factory');
      ({ room: entry, incoming: join } = made);
      const invitees = made.invitees;
      if (invitees.length > 0) {
        onJoined = (creator) => {
          const w = watched.get(made.room.name);
          if (w) for (const target of invitees) void dialOut.invite(made.room, w.chat, target, creator);
        };
      }
    } else entry = await roomFor(incoming);
    if (!entry) {
      invites?.inc({ outcome: '404' });
      incoming.respond(404, { reason: 'No Such Room' });
      return;
    }
    // Challenge before work: the identity first (a 401 is all an unauthenticated request to a
    // requireAuth room gets), then the room. A REFER is a moderator action in any room.
    who ??= await identity.identityOf(incoming, entry.requireAuth || req.method === 'REFER', countRefusal);
    if (!who) return;
    let w: WatchedRoom;
    try {
      const found = watch(entry);
      w = found instanceof Promise ? await found : found;
    } catch (err) {
      if (!(err instanceof RoomUnavailableError)) throw err;
      log.warn({ room: entry.name, reason: err.message }, 'room unavailable');
      if (req.method === 'INVITE') invites?.inc({ outcome: '503' });
      // RFC 3261 §21.5.4: 503 with Retry-After, the time until the silent owner's lease runs out.
      incoming.respond(503, { headers: [['Retry-After', String(err.retryAfterSec)]] });
      return;
    }
    switch (req.method) {
      case 'INVITE':
        calls.join(join, entry, w.chat, who, onJoined);
        return;
      case 'SUBSCRIBE':
        // The roster is for those who may join (allow/deny lists on the identity).
        if (!admittedByLists(who.uri, entry.policy)) {
          log.info({ room: entry.name, subscriber: who.uri }, 'conference subscription refused by the room\'s lists');
          incoming.respond(403);
          return;
        }
        subscriptions.subscribe(incoming, entry.name, () => stateOf(w));
        return;
      case 'REFER':
        calls.refer(incoming, entry, w.chat, who);
        return;
      default:
        incoming.respond(405, { headers: [['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS, SUBSCRIBE, REFER']] });
    }
  }

  const transport = await startSipTransport({
    hosts: [bindHost],
    udpPort: o.sip.udpPort, tcpPort: o.sip.tcpPort, tlsPort: o.sip.tlsPort, tls: o.sip.tls,
    ...(o.sip.guard === undefined ? {} : { guard: o.sip.guard }),
    udpGuard,
    onDrop: (reason) => udpDrops?.inc({ reason }),
    wsPort: o.sip.wsPort, wssPort: o.sip.wssPort, wsOrigins: o.sip.wsOrigins,
    onMessage: (m, source) => ua.receive(m, source),
    onError: (e, source) => ua.receiveError(e, source),
    onRefused: (reason, detail) => log.info({ reason, detail }, 'SIP WebSocket handshake refused'),
    onUndeliverable: (m, d) => {
      log.debug({ transport: d.transport, kind: m.kind }, 'SIP WebSocket connection gone: message dropped');
      // A request (NOTIFY, BYE) fails at once (§17.1.4) instead of waiting for Timer F.
      if (m.kind === 'request') ua.transactions.transportFailed(m);
    },
    // Requests in flight on a closed WebSocket get no answer: they fail now (§17.1.4).
    onWebSocketClosed: (id) => ua.transactions.connectionLost(id),
  });
  sockets.transport = transport;
  log.info({ udp: transport.udpPort, tcp: transport.tcpPort, tls: transport.tlsPort, ws: transport.wsPort, wss: transport.wssPort, host: bindHost }, 'chat focus listening');

  return {
    udpPort: transport.udpPort, tcpPort: transport.tcpPort, tlsPort: transport.tlsPort,
    wsPort: transport.wsPort, wssPort: transport.wssPort, ua,
    get calls() {
      return calls.size;
    },
    get subscriptions() {
      return subscriptions.size;
    },
    setSecureContext(options) {
      transport.setSecureContext(options);
    },
    async close() {
      clearInterval(sweep);
      calls.closeAll();
      await subscriptions.closeAll((room) => {
        const w = watched.get(room)!;
        return stateOf(w);
      });
      for (const w of watched.values()) w.unsubscribe();
      watched.clear();
      // Let the BYEs leave before the sockets close.
      await new Promise((r) => setTimeout(r, 50));
      await transport.close();
    },
  };
}
