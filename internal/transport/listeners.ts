// TCP and TLS listeners on one or more addresses (IPv4 and IPv6), with hot TLS context
// replacement: `setSecureContext` affects new handshakes only, established connections
// keep the context they were made with (docs/architecture.md §4.3, cert-manager rotation).
// With a guard (docs/security.md "Connection caps"), every accepted socket is counted against
// the connection caps before its TLS handshake starts, a handshake gets a deadline, and an
// idle connection is closed.
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type SecureContextOptions } from 'node:tls';
import type { CapRefusal, ConnectionLimits } from './connection-limits.ts';
import { listenServer } from './listen.ts';
import { MIN_TLS_VERSION } from './tls-files.ts';

export interface ListenSpec {
  hosts: string[];
  port: number;
  /** TLS context options; absent for plain TCP. */
  tls?: SecureContextOptions;
  /** Ask clients for a certificate (relay-to-relay mutual TLS); never required, clients have none. */
  requestCert?: boolean;
  /**
   * Refuse, at the handshake, a client whose certificate is missing or fails the chain (the
   * mesh between replicas, where every peer has one). Off for client ports.
   */
  rejectUnauthorized?: boolean;
  onSocket(socket: Socket): void;
  /** A TLS handshake failed (the socket is destroyed right after). */
  onTlsClientError?(err: Error, socket: Socket): void;
  guard?: ListenerGuard;
}

/** Why the guard closed a connection: a cap at accept, a slow handshake, or idleness (a fixed set: metric labels). */
export type GuardRefusal = CapRefusal | 'handshake-timeout' | 'idle';

export interface ListenerGuard {
  /** Shared by every listener of one surface (e.g. SIP over TCP and TLS). */
  readonly limits: ConnectionLimits;
  /** TLS: a handshake not finished this long after accept closes the socket (Node's default is 120 s). */
  readonly handshakeTimeoutMs?: number;
  /** A connection with no bytes in or out this long is closed, unless `keepIdle` says it may idle. */
  readonly idleMs?: number;
  keepIdle?(socket: Socket): boolean;
  /** A connection the guard refused or closed (for a metric and a log line). */
  onRefused?(reason: GuardRefusal, address: string): void;
}

export interface Listener {
  readonly secure: boolean;
  /** Speaks WebSocket (websocket.ts) rather than MSRP over the raw socket. */
  readonly websocket: boolean;
  readonly addresses: AddressInfo[];
  readonly port: number;
  setSecureContext(options: SecureContextOptions): void;
  /** Stops accepting; established connections stay (net.Server#close only waits for them in its callback). */
  close(): void;
}

export async function listen(spec: ListenSpec): Promise<Listener> {
  const guard = spec.guard;
  const onSocket = guard?.idleMs === undefined ? (s: Socket) => spec.onSocket(s) : (s: Socket) => {
    if (s.destroyed) return; // refused at accept
    watchIdle(s, guard.idleMs!, guard);
    spec.onSocket(s);
  };
  const make = (): Server | TlsServer => {
    const server = spec.tls
      ? createTlsServer({
        ...spec.tls, minVersion: MIN_TLS_VERSION, requestCert: spec.requestCert ?? false, rejectUnauthorized: spec.rejectUnauthorized ?? false,
        ...(guard?.handshakeTimeoutMs === undefined ? {} : { handshakeTimeout: guard.handshakeTimeoutMs }),
      })
      : createTcpServer();
    // Before the TLS server wraps the socket (its own 'connection' listener): a refused one never starts a handshake.
    if (guard !== undefined) guardAccept(server, guard);
    server.on(spec.tls ? 'secureConnection' : 'connection', (s: Socket) => {
      if (!s.destroyed) onSocket(s);
    });
    if (spec.tls) {
      server.on('tlsClientError', (err: Error & { code?: string }, s: Socket) => {
        if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') guard?.onRefused?.('handshake-timeout', s.remoteAddress ?? '');
        spec.onTlsClientError?.(err, s);
        s.destroy();
      });
    }
    return server;
  };
  return bindAll(spec.hosts, spec.port, { secure: spec.tls !== undefined, websocket: false }, make);
}

/**
 * Binds one server made by `make` per host, all on one port (the first host's when `port` is 0),
 * as one Listener. Shared by the MSRP TCP/TLS listeners and the WebSocket ones (websocket.ts).
 */
export async function bindAll(hosts: readonly string[], port: number, kind: Pick<Listener, 'secure' | 'websocket'>, make: () => Server): Promise<Listener> {
  const servers: Server[] = [];
  const addresses: AddressInfo[] = [];
  for (const host of hosts) {
    const server = make();
    // ipv6Only so that "::" and "0.0.0.0" can be bound side by side.
    const a = await listenServer(server, { host, port, ipv6Only: host.includes(':') });
    if (port === 0) port = a.port;
    servers.push(server);
    addresses.push(a);
  }
  return {
    ...kind,
    addresses,
    port,
    setSecureContext(options) {
      for (const s of servers) if ('setSecureContext' in s) (s as TlsServer).setSecureContext({ ...options, minVersion: MIN_TLS_VERSION });
    },
    close() {
      for (const s of servers) s.close();
    },
  };
}

/** Counts every socket `server` accepts against the guard's caps, before any TLS handshake or HTTP upgrade on it. */
export function guardAccept(server: Server, guard: ListenerGuard): void {
  server.prependListener('connection', (raw: Socket) => admit(raw, guard));
}

/** Counts an accepted socket against the caps (released when it closes), or destroys it. */
function admit(raw: Socket, guard: ListenerGuard): void {
  const address = raw.remoteAddress;
  if (address === undefined) {
    raw.destroy(); // already reset by the peer
    return;
  }
  const r = guard.limits.admit(address);
  if (!r.ok) {
    guard.onRefused?.(r.refusal, address);
    raw.destroy();
    return;
  }
  raw.once('close', () => guard.limits.release(r.source));
}

function watchIdle(s: Socket, idleMs: number, guard: ListenerGuard): void {
  s.setTimeout(idleMs);
  s.on('timeout', () => {
    if (guard.keepIdle?.(s) === true) {
      s.setTimeout(idleMs); // the timer does not re-arm by itself without traffic
      return;
    }
    guard.onRefused?.('idle', s.remoteAddress ?? '');
    s.destroy();
  });
}
