// This replica's side of the mesh between the replicas of one relay (docs/relay.md
// "Scale-out", internal/mesh/): the mesh certificate (watched and reloaded), the outbound
// links to the other replicas, the mutual-TLS listener they connect to, and which
// connections are mesh links (the router and the connection limits treat them apart).
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { MeshLinks, type MeshOptions } from '../mesh/links.ts';
import { ownerOf } from '../mesh/ownership.ts';
import type { Connection } from '../transport/connection.ts';
import { listen, type Listener } from '../transport/listeners.ts';
import { secureContextOptions, watchTlsMaterial, type TlsWatcher } from '../transport/tls-files.ts';
import { recordCertificateExpiry, type RelayMetrics } from './metrics.ts';
import type { MeshRouting } from './router.ts';

export interface RelayMeshDeps {
  options: MeshOptions;
  tlsPollIntervalMs: number;
  metrics: Pick<RelayMetrics, 'meshConnections' | 'meshLinkFailures' | 'tlsCertificateExpiry'>;
  log: Logger;
  /** Wraps a socket into a relay Connection (the relay's frame handler attached). */
  adopt(socket: Socket, direction: 'inbound' | 'outbound', peer?: string): Connection;
}

export class RelayMesh implements MeshRouting {
  readonly links: MeshLinks;
  /** Connections to and from the other replicas (both directions). */
  readonly #connections = new WeakSet<Connection>();
  readonly #d: RelayMeshDeps;
  readonly #tls: TlsWatcher;
  #listener: Listener | undefined;

  /** Loads the mesh certificate and prepares the links (connected on first use); listen() later. */
  static async open(deps: RelayMeshDeps): Promise<RelayMesh> {
    // The certificate can change before the listener exists: the reload then has nothing to tell.
    const ref: { mesh: RelayMesh | undefined } = { mesh: undefined };
    const tls = await watchTlsMaterial({
      dir: deps.options.tlsDir,
      pollIntervalMs: deps.tlsPollIntervalMs,
      onReload(m) {
        if (ref.mesh !== undefined) ref.mesh.#listener?.setSecureContext({ ...secureContextOptions(m) });
        recordCertificateExpiry(deps.metrics, 'mesh', m.cert);
        deps.log.info({ dir: deps.options.tlsDir }, 'mesh TLS certificate reloaded');
      },
      onError(err) {
        deps.log.warn({ err, dir: deps.options.tlsDir }, 'mesh TLS material not reloaded');
      },
    });
    recordCertificateExpiry(deps.metrics, 'mesh', tls.current.cert);
    ref.mesh = new RelayMesh(deps, tls);
    return ref.mesh;
  }

  private constructor(deps: RelayMeshDeps, tls: TlsWatcher) {
    this.#d = deps;
    this.#tls = tls;
    const { metrics, log } = deps;
    this.links = new MeshLinks({
      options: deps.options,
      tls: () => tls.current,
      adopt: (socket, ordinal) => {
        const c = deps.adopt(socket, 'outbound', `mesh:${ordinal}`);
        this.#connections.add(c);
        metrics.meshConnections.inc({ direction: 'outbound' });
        return c;
      },
      log,
      events: {
        onLinkFailure(ordinal, err) {
          metrics.meshLinkFailures.inc({ reason: err.code });
          log.warn({ replica: ordinal, reason: err.code, err: err.message }, 'mesh link to replica failed: its sessions get 481 until it answers');
        },
      },
    });
  }

  get ordinal(): number {
    return this.#d.options.ordinal;
  }

  /** The mesh listener's port, once listening. */
  get port(): number | undefined {
    return this.#listener?.port;
  }

  /** MeshRouting: the replica that owns `sessionId` when it is another one. */
  remoteOwner(sessionId: string): number | undefined {
    const k = ownerOf(sessionId);
    return k === this.#d.options.ordinal ? undefined : k;
  }

  /** MeshRouting: a connection to or from another replica of this relay. */
  isMesh(conn: Connection): boolean {
    return this.#connections.has(conn);
  }

  /** Accepts the other replicas' links: mutual TLS, the peer's certificate checked by MeshLinks. */
  async listen(): Promise<void> {
    const { options, metrics, log } = this.#d;
    this.#listener = await listen({
      hosts: options.listenHosts,
      port: options.port,
      tls: secureContextOptions(this.#tls.current),
      requestCert: true,
      rejectUnauthorized: true,
      onTlsClientError(err, socket) {
        metrics.meshLinkFailures.inc({ reason: 'refused-certificate' });
        log.warn({ peer: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`, reason: err.message }, 'mesh connection refused at the TLS handshake');
      },
      onSocket: (socket) => {
        const refused = this.links.refuseInbound(socket as TLSSocket);
        if (refused !== undefined) {
          metrics.meshLinkFailures.inc({ reason: 'refused-certificate' });
          log.warn({ peer: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`, reason: refused }, 'mesh connection refused');
          socket.destroy();
          return;
        }
        socket.setKeepAlive(true, 30_000);
        socket.setNoDelay(true);
        const c = this.#d.adopt(socket, 'inbound');
        this.#connections.add(c);
        metrics.meshConnections.inc({ direction: 'inbound' });
        c.log.info({ peer: c.peer }, 'mesh link accepted');
      },
    });
  }

  /** A connection closed: counted out when it was a mesh link. */
  closed(conn: Connection): void {
    if (!this.#connections.has(conn)) return;
    this.#d.metrics.meshConnections.dec({ direction: conn.direction });
    conn.log.info({ bytesIn: conn.bytesIn, bytesOut: conn.bytesOut }, 'mesh link closed');
  }

  /** Stops listening and watching the certificate. */
  closeListener(): void {
    this.#listener?.close();
    this.#tls.close();
  }

  closeLinks(): void {
    this.links.closeAll();
  }
}
