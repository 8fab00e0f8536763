// TCP and TLS listeners on one or more addresses (IPv4 and IPv6), with hot TLS context
// replacement: `setSecureContext` affects new handshakes only, established connections
// keep the context they were made with (docs/architecture.md §4.3, cert-manager rotation).
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type SecureContextOptions } from 'node:tls';
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
  const make = (): Server | TlsServer => {
    const server = spec.tls
      ? createTlsServer({ ...spec.tls, minVersion: MIN_TLS_VERSION, requestCert: spec.requestCert ?? false, rejectUnauthorized: spec.rejectUnauthorized ?? false })
      : createTcpServer();
    server.on(spec.tls ? 'secureConnection' : 'connection', (s: Socket) => spec.onSocket(s));
    if (spec.tls) {
      server.on('tlsClientError', (err: Error, s: Socket) => {
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
