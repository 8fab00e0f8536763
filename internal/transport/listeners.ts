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
  readonly addresses: AddressInfo[];
  readonly port: number;
  setSecureContext(options: SecureContextOptions): void;
  /** Stops accepting; established connections stay (net.Server#close only waits for them in its callback). */
  close(): void;
}

export async function listen(spec: ListenSpec): Promise<Listener> {
  const servers: (Server | TlsServer)[] = [];
  const addresses: AddressInfo[] = [];
  let port = spec.port;
  for (const host of spec.hosts) {
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
    // ipv6Only so that "::" and "0.0.0.0" can be bound side by side.
    const a = await listenServer(server, { host, port, ipv6Only: host.includes(':') });
    if (port === 0) port = a.port;
    servers.push(server);
    addresses.push(a);
  }
  return {
    secure: spec.tls !== undefined,
    addresses,
    port,
    setSecureContext(options) {
      for (const s of servers) if ('setSecureContext' in s) s.setSecureContext({ ...options, minVersion: MIN_TLS_VERSION });
    },
    close() {
      for (const s of servers) s.close();
    },
  };
}
