// startRelay: wires listeners, connections, the session table, AUTH, the router, the
// forwarder, next hops, throttling, probes/metrics, the control endpoint and drain.
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { GuessLimiter } from '../auth/guesses.ts';
import { NonceManager } from '../auth/nonce.ts';
import { AuthFailures } from '../telemetry/auth-failures.ts';
import { MsrpStatus } from '../msrp/status.ts';
import { buildResponse, newSessionId } from '../msrp/transaction.ts';
import { Connection, nextConnectionId, type MsrpSocket } from '../transport/connection.ts';
import { ConnectionLimits } from '../transport/connection-limits.ts';
import { listen, type Listener, type ListenerGuard } from '../transport/listeners.ts';
import { secureContextOptions, watchTlsMaterial, type TlsWatcher } from '../transport/tls-files.ts';
import { listenWebSocket, MSRP_SUBPROTOCOL, type WebSocketStream } from '../transport/websocket.ts';
import type { AccountingSink } from '../telemetry/accounting.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { ownerOf, registryOrdinal, replicaPrefix, workerOf, workerPrefix } from '../mesh/ownership.ts';
import { AuthHandler, formatHost, type CredentialSource } from './auth-handler.ts';
import { waitForDrain } from './drain.ts';
import { Forwarder } from './forwarder.ts';
import { RelayFrameHandler } from './frame-handler.ts';
import { startControlServer, startProbeServer, type RoomsControl } from './http.ts';
import type { LiveSessionRegistry, ReplicaIdentity } from './live-sessions.ts';
import { QuietReaderSweep, UnauthenticatedIdleSweep } from './idle-sweep.ts';
import { createRelayMetrics, recordCertificateExpiry, type RelayMetrics } from './metrics.ts';
import { copyLiveOptions, type LiveRelayOptions } from './live-options.ts';
import { RelayLocalIdentity } from './local-identity.ts';
import { NextHops, resolverFor } from './next-hops.ts';
import type { RelayOptions } from './options.ts';
import { outletOf } from './outlet.ts';
import { ParseErrorBudget } from './parse-error-budget.ts';
import { PeerAuthenticator } from './peer-auth.ts';
import { RelayMesh } from './relay-mesh.ts';
import { RelayWorkers, replicaRouting } from './relay-workers.ts';
import { Router } from './router.ts';
import { SessionTable } from './sessions.ts';
import type { StoreHealthSnapshot } from './store-health.ts';
import { Throttle } from './throttle.ts';

export interface RelayDeps {
  credentials: CredentialSource;
  logger: Logger;
  metrics: Metrics;
  /** Database reachability for the /readyz body (connectStoreCredentials().health). */
  storeHealth?: { snapshot(): StoreHealthSnapshot };
  /**
   * Relay-wide live sessions (live-sessions.ts, connectLiveSessions): the per-user session
   * limit, the throttle's per-user and per-realm shares and the admin API's session list
   * over every replica. Absent: everything is per replica. The relay starts and stops it.
   */
  liveSessions?: LiveSessionRegistry;
  /** Failed AUTH counted per user and source (auth/guesses.ts); the engine shares one with the chat focus. Default: one of this relay's own. */
  guesses?: GuessLimiter;
  /** Where a record goes when a session ends (docs/relay.md "Accounting"); none when absent. */
  accounting?: AccountingSink;
  /**
   * Plain HTTP requests to the WebSocket listeners: the engine serves the browser chat page
   * there (docs/chat.md "The chat page"), on the origin of the page's MSRP WebSocket. Absent: 426.
   */
  onHttpRequest?: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface RunningRelay {
  /** Bound MSRP listener addresses, in the order of options.listeners. */
  readonly addresses: { secure: boolean; websocket: boolean; address: string; port: number }[];
  /** Our relay URI, e.g. msrps://relay.example.com:2855;tcp (put it in AUTH To-Path). */
  readonly uri: string;
  readonly http?: AddressInfo;
  /** The mesh listener (other replicas connect here) and this replica's ordinal, when o.mesh is set. */
  readonly mesh?: { port: number; ordinal: number; links(): number };
  /** This worker's number and the links open to the other workers, when o.workers is set. */
  readonly workers?: { index: number; count: number; links(): number };
  readonly control?: AddressInfo;
  /** This replica in the relay-wide registry: the relay key (public host:port) and ordinal. */
  readonly identity: ReplicaIdentity;
  readonly sessions: SessionTable;
  /** The rate this replica gives a user (realm NUL user) or a realm now (its share of a relay-wide limit). */
  readonly throttle: Pick<Throttle, 'rateOf'>;
  readonly metrics: RelayMetrics;
  readonly connections: ReadonlySet<Connection>;
  /** The chat server's rooms for the control endpoint (started after the relay). */
  attachRooms(rooms: RoomsControl): void;
  /**
   * A front session for the in-process chat switch (docs/chat.md "Our relay in front of the
   * switch"): a session URI without AUTH whose client, the first connection that sends through
   * it, may reach only nextHops.ownChatSwitch. Undefined when the relay has no own switch.
   */
  openFront(bindWithinMs: number): { id: string; uri: string } | undefined;
  /** Ends a front session (the device left), bound or not. */
  endFront(id: string): void;
  /**
   * Takes new live options (internal/relay/live-options.ts) without dropping a connection:
   * limits, throttling, next hops, peer policy, realms and aliases. Throws, changing nothing,
   * when they cannot be taken.
   */
  reconfigure(next: LiveRelayOptions): void;
  /** Re-reads the TLS files now (the watcher also does this by itself). */
  reloadTls(): Promise<boolean>;
  ready(): boolean;
  /**
   * Graceful (a rolling update, scale-down): not ready, new AUTHs refused (the client
   * reconnects, and the load balancer sends it to another replica), existing sessions served
   * until they end or drainTimeoutSec passes, then stop().
   */
  drain(): Promise<void>;
  /** Immediate: close listeners and every connection. */
  stop(): Promise<void>;
}

export async function startRelay(o: RelayOptions, deps: RelayDeps): Promise<RunningRelay> {
  // Listeners ask for client certificates only with mutualTls: `require` could never be met.
  if (o.peerCertificates === 'require' && !o.mutualTls) {
    throw new Error('peerCertificates "require" needs mutualTls (use "verify-if-presented" without it)');
  }
  const worker = o.workers?.index ?? 0;
  const meshPrefix = o.mesh !== undefined ? workerPrefix(replicaPrefix(o.mesh.ordinal), worker) : undefined;
  if (o.mesh !== undefined && o.sessionIdPrefix !== meshPrefix) {
    // The mesh finds a session's replica by this prefix alone: any other would send traffic astray.
    throw new Error(`with a mesh, sessionIdPrefix must be ${JSON.stringify(meshPrefix)} (replica ${o.mesh.ordinal}${worker > 0 ? `, worker ${worker}` : ''})`);
  }
  if (o.workers !== undefined && workerOf(`${o.sessionIdPrefix}x`) !== worker) {
    // Likewise the workers of a replica find each other's sessions by it.
    throw new Error(`worker ${worker}: sessionIdPrefix ${JSON.stringify(o.sessionIdPrefix)} does not name it (internal/mesh/ownership.ts workerPrefix)`);
  }
  const log = deps.logger;
  const metrics = createRelayMetrics(deps.metrics);
  const connections = new Set<Connection>();
  // Caps of the client listeners, counted from accept (docs/security.md "Connection caps"),
  // read on every new connection (live options).
  const guard: ListenerGuard = {
    limits: new ConnectionLimits({
      get max() {
        return o.maxConnections;
      },
      get perSource() {
        return o.maxConnectionsPerAddress;
      },
    }),
    handshakeTimeoutMs: o.tlsHandshakeTimeoutSec * 1000,
    onRefused(reason, address) {
      // One label per cap (the per-source one keeps its historical name).
      metrics.limitRejections.inc({ limit: reason === 'connections-per-source' ? 'connections-per-address' : reason });
      log.debug({ peer: address, reason }, 'connection refused by a cap');
    },
  };
  let tls: TlsWatcher | undefined;
  const listeners: Listener[] = [];
  let draining = false;
  let stopped = false;

  const sessions = new SessionTable({
    onRemoved(s, reason) {
      metrics.sessions.set(sessions.size);
      throttle.forgetSession(s);
      deps.liveSessions?.removed(s);
      s.connection.log.info({ session: s.id, reason }, 'relay session removed');
      deps.accounting?.record({
        kind: 'relay-session', sessionId: s.id, realm: s.realm, username: s.user,
        source: `${s.connection.remoteAddress}:${s.connection.remotePort}`,
        startedAt: new Date(s.createdAt), endedAt: new Date(),
        bytesIn: s.bytesIn, bytesOut: s.bytesOut, messagesIn: s.messagesIn, messagesOut: s.messagesOut, closeReason: reason,
      });
    },
  });
  const throttle = new Throttle(o.throttle, metrics);
  const nonces = new NonceManager({ secret: o.nonceSecret, lifetimeSec: o.nonceLifetimeSec });

  if (o.tlsDir !== undefined) {
    tls = await watchTlsMaterial({
      dir: o.tlsDir,
      pollIntervalMs: o.tlsPollIntervalMs,
      onReload(m) {
        for (const l of listeners) if (l.secure) l.setSecureContext(secureContextOptions(m));
        recordCertificateExpiry(metrics, 'relay', m.cert);
        log.info({ dir: o.tlsDir }, 'TLS certificate reloaded');
      },
      onError(err) {
        log.warn({ err, dir: o.tlsDir }, 'TLS material not reloaded');
      },
    });
    recordCertificateExpiry(metrics, 'relay', tls.current.cert);
  } else if (o.listeners.some((l) => l.tls)) {
    throw new Error('a TLS listener needs tlsDir');
  }

  const self = new RelayLocalIdentity(o, listeners);
  const publicPort = (): number => self.publicPort();
  const peerAuth = new PeerAuthenticator(o.peerCertificates);

  // Streamed bodies are always larger than the non-SEND limit, so the forwarder can refuse a streamed non-SEND at once.
  const limits = { maxHeaderBytes: o.maxHeaderBytes, streamThreshold: Math.max(o.streamThreshold, o.maxNonSendBody) };
  // The child logger is created on first use, with the peer as it was at adoption; one shared
  // factory (a closure per connection would hold its own context and peer string).
  const connectionLogger = (c: Connection): Logger => log.child({ conn: c.id, peer: c.peer });
  const adopt = (socket: MsrpSocket, direction: 'inbound' | 'outbound', peer?: string): Connection => {
    const id = nextConnectionId(direction === 'inbound' ? 'i' : 'o');
    const conn = new Connection({
      id, socket, direction, limits, handler: frames, maxBufferedBytes: o.maxBufferedBytes,
      logger: connectionLogger,
      ...(peer !== undefined ? { peer } : {}),
    });
    connections.add(conn);
    metrics.connections.inc({ direction });
    return conn;
  };

  /** The other replicas of this relay (relay-mesh.ts), when o.mesh is set. */
  const mesh = o.mesh !== undefined ? await RelayMesh.open({ options: o.mesh, tlsPollIntervalMs: o.tlsPollIntervalMs, metrics, log, adopt }) : undefined;
  /** The other workers of this replica (relay-workers.ts), when o.workers is set. */
  const workers = o.workers !== undefined ? new RelayWorkers({ options: o.workers, metrics, log, adopt }) : undefined;
  const router = new Router(sessions, self, peerAuth, replicaRouting(mesh, workers));

  const nextHops = new NextHops({ options: o, tls: () => tls?.current, adopt: (s, key) => adopt(s, 'outbound', key), log });
  const authHandler = new AuthHandler(o, sessions, deps.credentials, nonces, metrics, publicPort, deps.liveSessions, {
    guesses: deps.guesses ?? new GuessLimiter(), failures: new AuthFailures(deps.metrics),
  });
  const forwarder = new Forwarder({
    options: o, metrics, router, nextHops, throttle,
    ...(mesh !== undefined ? { mesh: mesh.links } : {}),
    ...(workers !== undefined ? { workers: workers.links } : {}),
    auth(source, request, target) {
      if (draining && sessions.forConnection(source).size === 0) {
        // A new session here would be cut at the end of the drain: send the client elsewhere.
        // A refresh of an existing session (its own connection) still goes through.
        metrics.limitRejections.inc({ limit: 'draining' });
        source.log.info('AUTH refused: this replica is draining');
        forwarder.send(source, buildResponse(request, MsrpStatus.FORBIDDEN, 'relay replica draining: connect again'));
        outletOf(source).writeFrame([], undefined, () => source.end());
        return;
      }
      authHandler.handle(source, request, target).then(
        (out) => {
          metrics.sessions.set(sessions.size);
          // Pipelined AUTHs may still be answered after we decided to close: writing after
          // end() would destroy the socket and lose the answers already queued.
          if (source.closed || source.socket.writableEnded) return;
          if (out.session !== undefined) unauthenticated.forget(source);
          forwarder.send(source, out.response);
          if (out.close) {
            metrics.drops.inc({ reason: 'auth-failures' });
            outletOf(source).writeFrame([], undefined, () => source.end());
          }
        },
        (err: Error) => {
          source.log.error({ err }, 'AUTH failed internally');
          source.destroy();
        },
      );
    },
  });

  // A connection that never authenticates and stays idle is closed (brief: 30 s).
  const unauthenticated = new UnauthenticatedIdleSweep<Connection>({
    idleMs: o.unauthenticatedIdleSec * 1000,
    authenticated: (conn) => sessions.forConnection(conn).size > 0,
    onIdle: () => metrics.drops.inc({ reason: 'idle-unauthenticated' }),
  });
  const quietReaders = new QuietReaderSweep(connections);

  const frames = new RelayFrameHandler({
    forwarder, metrics, options: o, budget: new ParseErrorBudget(o),
    closed(conn) {
      unauthenticated.forget(conn);
      connections.delete(conn);
      metrics.connections.dec({ direction: conn.direction });
      const meshLink = mesh?.isMesh(conn) === true;
      if (meshLink) mesh.closed(conn);
      workers?.closed(conn);
      sessions.removeConnection(conn);
      forwarder.connectionClosed(conn);
      nextHops.forget(conn);
      throttle.forgetConnection(conn);
      conn.log.debug({ bytesIn: conn.bytesIn, bytesOut: conn.bytesOut }, 'connection closed');
    },
  });

  const onInbound = (socket: MsrpSocket): Connection | undefined => {
    // While draining, connections are still taken: foreign relays and endpoints may deliver
    // to our sessions on new ones; a new AUTH is what gets refused (auth() above).
    // Clients behind NAT keep quiet sessions for hours: keepalive notices a peer gone without a FIN.
    socket.setKeepAlive(true, 60_000);
    const conn = adopt(socket, 'inbound');
    unauthenticated.watch(conn);
    return conn;
  };
  // A WebSocket client (RFC 7977) is a client like any other once accepted; what only a
  // WebSocket can do wrong (a message over the size limit, a bad WebSocket frame) closes it
  // with a log line and a metric.
  const onWebSocket = (socket: WebSocketStream): void => {
    const conn = onInbound(socket);
    if (conn === undefined) return;
    socket.on('error', (err: Error & { code?: string }) => {
      const tooBig = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      metrics.drops.inc({ reason: tooBig ? 'websocket-message-too-big' : 'websocket-protocol' });
      conn.log.warn({ err: err.message, code: err.code, limit: tooBig ? o.websocket.maxMessageBytes : undefined }, 'WebSocket connection failed');
    });
  };

  for (const spec of o.listeners) {
    const tlsOptions = spec.tls && tls !== undefined ? secureContextOptions(tls.current) : undefined;
    if (spec.websocket === true) {
      // Browsers have no client certificate to present: none is asked for (mutual TLS is for relays).
      listeners.push(await listenWebSocket({
        hosts: spec.hosts, port: spec.port, ...(tlsOptions !== undefined ? { tls: tlsOptions } : {}),
        subprotocol: MSRP_SUBPROTOCOL, origins: o.websocket.origins, maxMessageBytes: o.websocket.maxMessageBytes,
        onSocket: onWebSocket,
        guard,
        ...(deps.onHttpRequest !== undefined ? { onHttpRequest: deps.onHttpRequest } : {}),
        onRefused(reason, detail, req) {
          metrics.websocketRefusals.inc({ reason });
          log.info({ reason, detail, peer: `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? 0}`, origin: req.headers.origin }, 'WebSocket handshake refused');
        },
      }));
      continue;
    }
    const l = await listen({
      hosts: spec.hosts,
      port: spec.port,
      ...(tlsOptions !== undefined ? { tls: tlsOptions, requestCert: o.mutualTls } : {}),
      onSocket: onInbound,
      guard,
    });
    listeners.push(l);
  }

  await mesh?.listen();
  await workers?.listen();

  // The relay key is the public URI's authority: every replica of one relay has the same.
  // Each worker is a replica of its own there (ownership.ts registryOrdinal); worker 0 is the replica's ordinal.
  const replicated = o.mesh !== undefined || o.workers !== undefined;
  const identity: ReplicaIdentity = {
    relay: `${formatHost(o.publicHost.toLowerCase())}:${publicPort()}`,
    ordinal: registryOrdinal(o.mesh?.ordinal ?? ownerOf(o.sessionIdPrefix) ?? 0, worker),
    replicated,
  };
  if (deps.liveSessions !== undefined) {
    await deps.liveSessions.start(identity, {
      all: () => sessions.all(),
      has: (id) => sessions.get(id) !== undefined,
      remove: (id) => sessions.remove(id, 'deleted') !== undefined,
    }, replicated ? throttle : undefined);
  }

  let http: AddressInfo | undefined;
  let control: AddressInfo | undefined;
  let roomsControl: RoomsControl | undefined;
  const httpServers: HttpServer[] = [];
  const ready = (): boolean => !draining && !stopped;
  if (o.http !== undefined) {
    const storeHealth = deps.storeHealth;
    const probes = storeHealth !== undefined ? { ready, store: () => storeHealth.snapshot() } : { ready };
    const p = await startProbeServer(o.http.host, o.http.port, probes, deps.metrics);
    httpServers.push(p.server);
    http = p.address;
  }
  if (o.control !== undefined) {
    const c = await startControlServer(o.control.host, o.control.port, sessions, () => roomsControl, identity);
    httpServers.push(c.server);
    control = c.address;
  }

  const uriHost = isIP(o.publicHost) === 6 ? `[${o.publicHost}]` : o.publicHost;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    metrics.ready.set(0);
    unauthenticated.stop();
    quietReaders.stop();
    for (const l of listeners) l.close();
    mesh?.closeListener();
    workers?.closeListener();
    tls?.close();
    sessions.clear();
    await deps.liveSessions?.stop();
    mesh?.closeLinks();
    workers?.closeLinks();
    for (const c of connections) c.destroy();
    nextHops.closeAll();
    for (const s of httpServers) s.closeAllConnections();
    await Promise.all(httpServers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  };

  log.info({ addresses: listeners.flatMap((l) => l.addresses), publicHost: o.publicHost, port: publicPort() }, 'relay listening');
  metrics.ready.set(1);
  return {
    addresses: listeners.flatMap((l) => l.addresses.map((a) => ({ secure: l.secure, websocket: l.websocket, address: a.address, port: a.port }))),
    uri: `msrps://${uriHost}:${publicPort()};tcp`,
    ...(http !== undefined ? { http } : {}),
    ...(control !== undefined ? { control } : {}),
    ...(mesh?.port !== undefined ? { mesh: { port: mesh.port, ordinal: mesh.ordinal, links: () => mesh.links.size } } : {}),
    ...(workers !== undefined ? { workers: { index: workers.index, count: workers.links.count, links: () => workers.links.size } } : {}),
    identity,
    sessions,
    throttle,
    metrics,
    connections,
    attachRooms(rooms) {
      roomsControl = rooms;
    },
    openFront(bindWithinMs) {
      const own = o.nextHops.ownChatSwitch;
      if (own === undefined || stopped) return undefined;
      const id = newSessionId(o.sessionIdPrefix);
      const uri = `msrps://${uriHost}:${publicPort()}/${id};tcp`;
      sessions.reserveFront({ id, uri, onlyTo: { host: own.host, port: own.port }, expiresAt: Date.now() + bindWithinMs });
      return { id, uri };
    },
    endFront(id) {
      sessions.endFront(id);
    },
    reconfigure(next) {
      if (next.peerCertificates === 'require' && !o.mutualTls) throw new Error('peerCertificates "require" needs mutualTls');
      const resolver = resolverFor(next.nextHops);
      copyLiveOptions(o, next);
      self.reconfigured();
      // New frame readers (new connections, and readers made again after a quiet spell) read these.
      limits.maxHeaderBytes = o.maxHeaderBytes;
      limits.streamThreshold = Math.max(o.streamThreshold, o.maxNonSendBody);
      throttle.update(o.throttle);
      peerAuth.update(o.peerCertificates);
      nextHops.reconfigured(resolver);
    },
    reloadTls: () => tls?.check() ?? Promise.resolve(false),
    ready,
    async drain() {
      if (draining) return;
      draining = true;
      metrics.ready.set(0);
      log.info({ sessions: sessions.size, inFlight: forwarder.inFlight.size, timeoutSec: o.drainTimeoutSec }, 'draining: new AUTHs refused, existing sessions served until they end');
      const finished = await waitForDrain(() => sessions.size === 0 && forwarder.inFlight.size === 0, o.drainTimeoutSec * 1000, 200);
      for (const l of listeners) l.close();
      // Close politely (FIN after pending writes, so the last 200s and REPORTs get out), then hard.
      for (const c of connections) outletOf(c).writeFrame([], undefined, () => c.end());
      await waitForDrain(() => connections.size === 0, 1000);
      log.info({ finished, sessionsCut: sessions.size }, finished ? 'drained: every session ended' : 'drain timeout: closing the sessions left');
      await stop();
    },
    stop,
  };
}
