// The router (docs/architecture.md §3.3): it looks at the first To-Path URI only, and decides
// whether a request is a local AUTH, traffic for one of our relay sessions (and where it
// goes next), or unknown. It never touches the body.
//
// RFC 4976 §6.4 forwarding rules, as applied here:
//  - the first To-Path URI must be ours (host and port of our public URI, an alias or a
//    local address) and carry one of our session ids; else 481;
//  - a request arriving on the connection that authenticated the session is the client
//    sending out: it may go to any next hop the policy allows;
//  - a request arriving on any other connection is traffic for the client: it is
//    delivered on the client's connection, and only when the rest of the To-Path is the
//    client itself (one URI left, or the URI the client gave in its AUTH From-Path).
//    Anything else would let a third party use the client's session URI as a stepping
//    stone to elsewhere (RFC 4976 §6.3: the URI is only honoured for the client that
//    authenticated it): 403;
//  - rewriting (RFC 4976 §6.4, see the §7.1 example): our URI is removed from the front
//    of To-Path and put at the front of From-Path, and the request gets a new transaction
//    id (responses are hop-by-hop, RFC 4975 §7.2).
//  When the next hop is another session of ours (both clients on this relay), both hops
//  are applied in memory and the request goes straight to the second client.
//
// Scale-out (docs/relay.md "Scale-out"): the replicas of one relay share its URI, and a
// session id names the replica that owns it (internal/mesh/ownership.ts). A request for a
// session another replica owns goes to that replica over the mesh with the paths exactly as
// they would be had it arrived there (the mesh hop adds no URI), and the owner applies the
// rules above. The replica the request entered by checks what only it can check: the
// certificate of a foreign relay's connection (§9.2). A frame from the mesh must be for a
// session this replica owns (never forwarded around the mesh again), except a REPORT the
// owner sends back toward a foreign previous hop that reached the relay through us.
//
// Workers (docs/relay.md "Workers"): the worker processes of one replica are replicas of
// it in the same way, one level down: a session id also names the worker that owns it
// (internal/mesh/ownership.ts workerOf), and a request for another worker's session goes to
// it over a worker link. A frame from another replica may take that one more hop (the
// replica's mesh listener is shared by its workers, so it lands on any of them); a frame
// from another worker must be for a session this worker owns.
import type { MsrpRequestHead } from '../msrp/frame.ts';
import { MsrpStatus } from '../msrp/status.ts';
import { newTransactionId } from '../msrp/transaction.ts';
import { effectivePort, parseMsrpUri, type MsrpUri, type UriResult } from '../msrp/uri.ts';
import type { Connection } from '../transport/connection.ts';
import type { PeerRefusal } from './peer-auth.ts';
import type { RelaySession, SessionTable } from './sessions.ts';

export type Route =
  | { kind: 'auth'; target: MsrpUri }
  | { kind: 'reject'; status: number; comment: string; reason: string }
  | ForwardRoute;

/** Where a forwarded request goes next. */
export type NextHop = { kind: 'session'; session: RelaySession } | { kind: 'remote'; uri: MsrpUri } | { kind: 'mesh'; ordinal: number } | { kind: 'worker'; worker: number };

/**
 * A request to forward. Its rewritten head is made on first use: a whole frame copied from the
 * received bytes (inbound.ts) needs only the new transaction id and how many of our URIs it
 * passed, not the path arrays (three allocations per frame on the hot path).
 */
export class ForwardRoute {
  readonly kind = 'forward';
  /** Our transaction id downstream (responses are hop-by-hop, RFC 4975 §7.2). */
  readonly transactionId = newTransactionId();
  /** The request as received. */
  readonly received: MsrpRequestHead;
  /** How many of our URIs at the front of the received To-Path the request passed. */
  readonly passed: number;
  /** The session the request entered by (for throttling and accounting); none when its owner is another replica. */
  readonly session: RelaySession | undefined;
  /** Deliver on this client's connection, connect to `uri`, or pass to the replica that owns the session. */
  readonly next: NextHop;
  #head: MsrpRequestHead | undefined;

  constructor(received: MsrpRequestHead, passed: number, session: RelaySession | undefined, next: NextHop) {
    this.received = received;
    this.passed = passed;
    this.session = session;
    this.next = next;
  }

  /** The head to write downstream (paths rewritten, our transaction id). */
  get head(): MsrpRequestHead {
    return (this.#head ??= rewrite(this.received, this.passed, this.transactionId));
  }
}

/** The session table as the router reads it (sessions.ts SessionTable). */
export type SessionLookup = Pick<SessionTable, 'get'> & Partial<Pick<SessionTable, 'bindFront'>>;

export interface LocalIdentity {
  /** True when `uri` names this relay (any session id). */
  isLocal(uri: MsrpUri): boolean;
}

/** Whether a connection may deliver to our clients as a foreign hop (peer-auth.ts). */
export interface PeerGate {
  refuse(conn: Connection, previousHop: string | undefined): PeerRefusal | undefined;
}

/** The replicas of this relay (internal/mesh); absent on a relay of one. */
export interface MeshRouting {
  /** The replica that owns `sessionId` when it is another one; undefined when it is this one. */
  remoteOwner(sessionId: string): number | undefined;
  /** A connection to or from another replica of this relay, or another worker of this replica. */
  isMesh(conn: Connection): boolean;
  /** The worker of this replica that owns `sessionId` when it is another one (workers only). */
  otherWorker?(sessionId: string): number | undefined;
  /** A connection to or from another worker of this replica (workers only). */
  isWorkerLink?(conn: Connection): boolean;
}

const MAX_LOCAL_HOPS = 4;

/** Parsed To-Path URIs kept by raw text (our session URIs and clients' URIs repeat on every frame). */
const URI_CACHE_MAX = 4096;

interface CachedUri {
  readonly result: UriResult;
  /** isLocal() once true: listeners are only added, never removed, so "ours" never changes back. */
  local: boolean;
}

export class Router {
  readonly #sessions: SessionLookup;
  readonly #self: LocalIdentity;
  readonly #peers: PeerGate;
  readonly #mesh: MeshRouting | undefined;

  /** Bounded parse cache (cleared when full: an attacker sending ever-new URIs only costs the parse). */
  readonly #uris = new Map<string, CachedUri>();

  constructor(sessions: SessionLookup, self: LocalIdentity, peers: PeerGate, mesh?: MeshRouting) {
    this.#sessions = sessions;
    this.#self = self;
    this.#peers = peers;
    this.#mesh = mesh;
  }

  #parse(raw: string): CachedUri {
    let c = this.#uris.get(raw);
    if (c === undefined) {
      if (this.#uris.size >= URI_CACHE_MAX) this.#uris.clear();
      c = { result: parseMsrpUri(raw), local: false };
      this.#uris.set(raw, c);
    }
    return c;
  }

  #isLocal(c: CachedUri & { result: { ok: true } }): boolean {
    if (c.local) return true;
    return (c.local = this.#self.isLocal(c.result.uri));
  }

  route(source: Connection | undefined, head: MsrpRequestHead): Route {
    const to = head.toPath;
    // k: how many of our URIs at the front of To-Path this request has passed (both hops of a
    // local delivery are applied at once); the rewritten paths are built once, at the end.
    let k = 0;
    let arrival = source;
    let entered: RelaySession | undefined;
    /** to[k] parsed, when the previous hop already did it. */
    let parsed: CachedUri | undefined;
    for (let hop = 0; hop < MAX_LOCAL_HOPS; hop++) {
      const first = parsed ?? this.#parse(to[k] ?? '');
      if (!first.result.ok) return reject(MsrpStatus.BAD_REQUEST, 'first To-Path URI is not an MSRP URI', 'bad-uri');
      const target = first.result.uri;
      if (!this.#isLocal(first as CachedUri & { result: { ok: true } })) {
        if (hop === 0) {
          // The owner of a session reports a failure back toward a foreign previous hop that
          // reached the relay through this replica (RFC 4975 §7.1.2): on to that hop.
          if (head.method === 'REPORT' && source !== undefined && this.#mesh?.isMesh(source) === true) {
            return new ForwardRoute(head, 0, undefined, { kind: 'remote', uri: target });
          }
          return reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'To-Path does not start with this relay', 'not-for-us');
        }
        // The previous hop was ours; this is a remote next hop.
        return new ForwardRoute(head, k, entered, { kind: 'remote', uri: target });
      }
      if (hop === 0 && head.method === 'AUTH' && target.sessionId === undefined) {
        if (to.length !== 1) return reject(MsrpStatus.FORBIDDEN, 'AUTH through this relay needs a session URI first', 'auth-path');
        return { kind: 'auth', target };
      }
      if (target.sessionId === undefined) return reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'no session in the To-Path URI', 'no-session-id');
      const mesh = this.#mesh;
      const owner = mesh?.remoteOwner(target.sessionId);
      if (owner !== undefined) {
        // An AUTH refreshing a session only counts on the session's own connection, which is on its owner.
        if (head.method === 'AUTH') return reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'unknown or expired session', 'unknown-session');
        if (arrival !== undefined && mesh!.isMesh(arrival)) return reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'session owned by another replica', 'mesh-misrouted');
        // A foreign hop toward a client of another replica: only this replica sees its certificate.
        return this.#foreignHop(arrival, head) ?? new ForwardRoute(head, k, entered, { kind: 'mesh', ordinal: owner });
      }
      const worker = mesh?.otherWorker?.(target.sessionId);
      if (worker !== undefined) {
        if (head.method === 'AUTH') return reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'unknown or expired session', 'unknown-session');
        // From another worker: it routed by this same id, so it is misrouted (never around again).
        if (arrival !== undefined && mesh!.isWorkerLink?.(arrival) === true) return reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'session owned by another worker', 'mesh-misrouted');
        // From another replica: it checked the foreign hop. Otherwise only this worker sees the certificate.
        return this.#foreignHop(arrival, head) ?? new ForwardRoute(head, k, entered, { kind: 'worker', worker });
      }
      const session = this.#sessions.get(target.sessionId) ?? this.#bindFront(target.sessionId, arrival, head, k);
      if (session === undefined) return reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'unknown or expired session', 'unknown-session');
      entered ??= session;
      if (k + 1 === to.length) return reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'To-Path ends at this relay', 'path-ends-here');
      const fromClient = arrival === session.connection;
      if (!fromClient && !this.#towardsClient(session, to, k + 1)) {
        return reject(MsrpStatus.FORBIDDEN, 'session URI used from another connection', 'foreign-connection');
      }
      // A front session's client hears only from its chat switch, on the connection we opened to it.
      if (!fromClient && session.onlyTo !== undefined && !this.#fromSwitch(session.onlyTo, arrival, head)) {
        return reject(MsrpStatus.FORBIDDEN, 'a front session takes traffic only from its chat switch', 'front-foreign');
      }
      if (!fromClient) {
        const refused = this.#foreignHop(arrival, head);
        if (refused !== undefined) return refused;
      }
      // RFC 4976 §6.4: remove our URI from To-Path, add it at the front of From-Path.
      k++;
      if (!fromClient) {
        return new ForwardRoute(head, k, entered, { kind: 'session', session });
      }
      const next = this.#parse(to[k]!);
      if (!next.result.ok) return reject(MsrpStatus.BAD_REQUEST, 'next To-Path URI is not an MSRP URI', 'bad-uri');
      if (session.onlyTo !== undefined && !sameHop(next.result.uri, session.onlyTo)) {
        return reject(MsrpStatus.FORBIDDEN, 'a front session leads only to its chat switch', 'front-next-hop');
      }
      if (!this.#isLocal(next as CachedUri & { result: { ok: true } })) {
        return new ForwardRoute(head, k, entered, { kind: 'remote', uri: next.result.uri });
      }
      arrival = undefined; // the next hop is us again: process it as arriving from outside
      parsed = next;
    }
    return reject(MsrpStatus.FORBIDDEN, 'too many hops through this relay', 'loop');
  }

  /**
   * RFC 4976 §9.2: a foreign hop toward our client is an authenticated relay (mutual TLS,
   * certificate naming the From-Path host it put first, §6.4), unless the policy allows less.
   * The 403 when `arrival` is such a hop and the peer gate refuses it; undefined otherwise. A
   * connection of the mesh or a worker link is never foreign: the replica or worker the request
   * entered by has checked the hop.
   */
  #foreignHop(arrival: Connection | undefined, head: MsrpRequestHead): Route | undefined {
    if (arrival === undefined || this.#mesh?.isMesh(arrival) === true) return undefined;
    const refused = this.#peers.refuse(arrival, head.fromPath[0]);
    return refused === undefined ? undefined : reject(MsrpStatus.FORBIDDEN, refused.comment, refused.reason);
  }

  /**
   * A front session's first use (docs/chat.md "Our relay in front of the switch"): a client
   * connection sending toward the session's chat switch binds it. The switch's own connection
   * or the mesh never binds one.
   */
  #bindFront(id: string, arrival: Connection | undefined, head: MsrpRequestHead, k: number): RelaySession | undefined {
    const bind = this.#sessions.bindFront;
    if (bind === undefined || arrival === undefined || head.method === 'AUTH' || this.#mesh?.isMesh(arrival) === true) return undefined;
    const raw = head.toPath[k + 1];
    if (raw === undefined || head.fromPath.length === 0) return undefined;
    const next = this.#parse(raw).result;
    if (!next.ok) return undefined;
    return bind.call(this.#sessions, id, arrival, head.fromPath[head.fromPath.length - 1]!, (onlyTo) => sameHop(next.uri, onlyTo));
  }

  #fromSwitch(hop: { host: string; port: number }, arrival: Connection | undefined, head: MsrpRequestHead): boolean {
    const from = this.#parse(head.fromPath[0] ?? '').result;
    return arrival?.direction === 'outbound' && from.ok && sameHop(from.uri, hop);
  }

  /** Is to[i..] the client of `session` (the rest of To-Path after our session URI)? */
  #towardsClient(session: RelaySession, to: readonly string[], i: number): boolean {
    if (to.length - i === 1) return true;
    const raw = to[i]!;
    if (raw === session.clientUri) return true;
    const next = this.#parse(raw).result;
    const client = this.#parse(session.clientUri).result;
    return next.ok && client.ok && next.uri.host.toLowerCase() === client.uri.host.toLowerCase() &&
      effectivePort(next.uri) === effectivePort(client.uri);
  }
}

/**
 * The head to forward after passing `k` of our URIs: they leave To-Path and go to the front of
 * From-Path, the last one passed first (RFC 4976 §6.4, once per hop), with our transaction id.
 */
function rewrite(head: MsrpRequestHead, k: number, transactionId: string): MsrpRequestHead {
  const to = head.toPath;
  const from = head.fromPath;
  const fromPath = new Array<string>(k + from.length);
  for (let i = 0; i < k; i++) fromPath[i] = to[k - 1 - i]!;
  for (let i = 0; i < from.length; i++) fromPath[k + i] = from[i]!;
  return { kind: 'request', transactionId, method: head.method, toPath: to.slice(k), fromPath, headers: head.headers };
}

function sameHop(uri: MsrpUri, hop: { host: string; port: number }): boolean {
  return uri.host.toLowerCase() === hop.host && effectivePort(uri) === hop.port;
}

function reject(status: number, comment: string, reason: string): Route {
  return { kind: 'reject', status, comment, reason };
}

