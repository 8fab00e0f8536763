// The pod-to-pod mesh (docs/relay.md "Scale-out"): one persistent mutual-TLS connection
// from this replica to each other replica it has traffic for, over the headless Service.
// A frame for a session another replica owns travels on it unchanged but for its
// transaction id (hop-by-hop, RFC 4975 §7.2): the mesh hop adds no URI to any path, so
// clients and foreign relays see one relay whatever pod they reached.
//
// Identity: both ends present the mesh certificate (mesh.tlsDir: tls.crt, tls.key,
// ca.crt), verified against the mesh ca.crt, and the certificate must name the replica's
// in-cluster host (`peerHost` with the ordinal; a wildcard over the headless Service names
// them all). A mesh listener never accepts a connection whose certificate fails either
// check, so nothing outside the relay can inject traffic "from another replica".
import { connect as tlsConnect, checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Connection } from '../transport/connection.ts';
import { MIN_TLS_VERSION, type TlsMaterial } from '../transport/tls-files.ts';
import { LinkPool } from './link-pool.ts';
import { peerHostOf } from './ownership.ts';

export interface MeshOptions {
  /** This replica's ordinal (the k of `r<k>-` session ids). */
  ordinal: number;
  /** Host of replica `{ordinal}`: its address and the name its certificate carries. */
  peerHost: string;
  /** The mesh port on every replica. */
  port: number;
  /** Addresses the mesh listener binds. */
  listenHosts: string[];
  /** tls.crt, tls.key, ca.crt of the mesh certificate. */
  tlsDir: string;
  connectTimeoutMs: number;
}

export class MeshError extends Error {
  readonly code: 'unreachable' | 'tls' | 'self' | 'closed';
  constructor(code: MeshError['code'], message: string) {
    super(message);
    this.name = 'MeshError';
    this.code = code;
  }
}

export interface MeshLinkEvents {
  /** A link attempt failed (the request that wanted it gets 481). */
  onLinkFailure(ordinal: number, err: MeshError): void;
}

export interface MeshLinksDeps {
  options: MeshOptions;
  tls: () => TlsMaterial;
  /** Wraps a connected socket into a relay Connection (handlers attached). */
  adopt(socket: Socket, ordinal: number): Connection;
  log: Logger;
  events: MeshLinkEvents;
}

export class MeshLinks {
  readonly #d: MeshLinksDeps;
  readonly #links = new LinkPool();

  constructor(deps: MeshLinksDeps) {
    this.#d = deps;
  }

  get ordinal(): number {
    return this.#d.options.ordinal;
  }

  /** Open outbound links. */
  get size(): number {
    return this.#links.size;
  }

  peerHost(ordinal: number): string {
    return peerHostOf(this.#d.options.peerHost, ordinal);
  }

  /** The open link to replica `ordinal`, if there is one (no promise: the forwarder's common case). */
  openLink(ordinal: number): Connection | undefined {
    return this.#links.open(ordinal);
  }

  /** The link to replica `ordinal`, connecting when there is none. */
  get(ordinal: number): Promise<Connection> {
    const open = this.#links.open(ordinal);
    if (open !== undefined) return Promise.resolve(open);
    if (this.#links.closed) return Promise.reject(new MeshError('closed', 'the mesh is closed'));
    if (ordinal === this.#d.options.ordinal) return Promise.reject(new MeshError('self', `replica ${ordinal} is this replica`));
    return this.#links.connecting(ordinal, () => this.#connect(ordinal), (err: MeshError) => this.#d.events.onLinkFailure(ordinal, err));
  }

  /**
   * Why an inbound mesh connection may not stay, or undefined when it may: the handshake
   * already verified the chain (rejectUnauthorized on the mesh listener); the certificate
   * must also name a replica of this relay. Our own name is checked: the mesh certificate is
   * one Secret shared by every replica, a wildcard over the headless Service.
   */
  refuseInbound(socket: TLSSocket): string | undefined {
    if (!socket.authorized) return `certificate not trusted (${String(socket.authorizationError ?? 'none presented')})`;
    const cert = socket.getPeerCertificate();
    if (cert === null || cert.raw === undefined) return 'no client certificate';
    const name = this.peerHost(this.#d.options.ordinal);
    return checkIdentity(name, cert) === undefined ? undefined : `certificate does not name ${name}`;
  }

  #connect(ordinal: number): Promise<Connection> {
    const o = this.#d.options;
    const host = this.peerHost(ordinal);
    const m = this.#d.tls();
    return new Promise<Connection>((resolve, reject) => {
      const socket = tlsConnect({
        host,
        port: o.port,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        checkServerIdentity: (_h, cert) => checkIdentity(host, cert),
        cert: m.cert,
        key: m.key,
        ...(m.ca !== undefined ? { ca: m.ca } : {}),
        minVersion: MIN_TLS_VERSION,
        rejectUnauthorized: true,
      });
      // Replicas on one node answer in well under a millisecond; a pod that is gone does not answer at all.
      const timer = setTimeout(() => onError(new Error('connect timeout')), o.connectTimeoutMs);
      const onError = (err: Error & { code?: string }): void => {
        clearTimeout(timer);
        socket.destroy();
        const tls = err.code !== undefined && (err.code.startsWith('ERR_TLS') || err.code.includes('CERT') || err.code.includes('SSL'));
        reject(new MeshError(tls ? 'tls' : 'unreachable', `replica ${ordinal} (${host}:${o.port}): ${err.message}`));
      };
      socket.once('error', onError);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        if (this.#links.closed) {
          socket.destroy();
          reject(new MeshError('closed', 'the mesh is closed'));
          return;
        }
        // Mesh links carry idle sessions for hours: keepalive finds a peer that vanished without a FIN.
        socket.setKeepAlive(true, 30_000);
        socket.setNoDelay(true);
        const conn = this.#d.adopt(socket, ordinal);
        this.#links.add(ordinal, conn, socket);
        this.#d.log.info({ replica: ordinal, peer: `${host}:${o.port}` }, 'mesh link up');
        resolve(conn);
      });
    });
  }

  closeAll(): void {
    this.#links.closeAll();
  }
}

function checkIdentity(host: string, cert: PeerCertificate): Error | undefined {
  return checkServerIdentity(host, cert);
}
