// This worker's side of the links between the workers of one replica (docs/relay.md
// "Workers", internal/mesh/worker-links.ts): the links, which connections are links (the
// router treats them as it treats the mesh), and the routing of a replica with workers,
// mesh or not, as the router reads it (ReplicaRouting).
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { workerOf } from '../mesh/ownership.ts';
import { WorkerLinks, type WorkerLinkOptions } from '../mesh/worker-links.ts';
import type { Connection } from '../transport/connection.ts';
import type { RelayMetrics } from './metrics.ts';
import type { MeshRouting } from './router.ts';

export interface RelayWorkersDeps {
  options: WorkerLinkOptions;
  metrics: Pick<RelayMetrics, 'workerLinks' | 'workerLinkFailures'>;
  log: Logger;
  /** Wraps a socket into a relay Connection (the relay's frame handler attached). */
  adopt(socket: Socket, direction: 'inbound' | 'outbound', peer?: string): Connection;
}

export class RelayWorkers {
  readonly links: WorkerLinks;
  readonly #connections = new WeakSet<Connection>();
  readonly #d: RelayWorkersDeps;

  constructor(deps: RelayWorkersDeps) {
    this.#d = deps;
    const { metrics, log } = deps;
    this.links = new WorkerLinks({
      options: deps.options,
      log,
      adopt: (socket, direction, worker) => {
        const c = deps.adopt(socket, direction, `worker:${worker}`);
        this.#connections.add(c);
        metrics.workerLinks.inc({ direction });
        return c;
      },
      onFailure(reason, worker, message) {
        metrics.workerLinkFailures.inc({ reason });
        if (worker === undefined) return;
        // An id naming a worker this replica does not have comes from whoever wrote the To-Path: no warning per frame.
        if (reason === 'no-such-worker' || reason === 'self') log.debug({ worker, reason }, 'session id names no other worker of this replica: 481');
        else log.warn({ worker, reason, err: message }, 'link to worker failed: its sessions get 481 until it answers');
      },
    });
  }

  get index(): number {
    return this.links.index;
  }

  /** The worker that owns `sessionId` when it is another one. */
  otherWorker(sessionId: string): number | undefined {
    const w = workerOf(sessionId);
    return w === this.links.index ? undefined : w;
  }

  isLink(conn: Connection): boolean {
    return this.#connections.has(conn);
  }

  listen(): Promise<void> {
    return this.links.listen();
  }

  /** A connection closed: counted out when it was a link. */
  closed(conn: Connection): void {
    if (!this.#connections.has(conn)) return;
    this.#d.metrics.workerLinks.dec({ direction: conn.direction });
    conn.log.info({ bytesIn: conn.bytesIn, bytesOut: conn.bytesOut }, 'worker link closed');
  }

  closeListener(): void {
    this.links.closeListener();
  }

  closeLinks(): void {
    this.links.closeAll();
  }
}

/** The router's view of a replica's mesh and its workers' links, either of which may be absent. */
export function replicaRouting(mesh: MeshRouting | undefined, workers: RelayWorkers | undefined): MeshRouting | undefined {
  if (workers === undefined) return mesh;
  return {
    remoteOwner: (id) => mesh?.remoteOwner(id),
    isMesh: (conn) => workers.isLink(conn) || mesh?.isMesh(conn) === true,
    otherWorker: (id) => workers.otherWorker(id),
    isWorkerLink: (conn) => workers.isLink(conn),
  };
}
