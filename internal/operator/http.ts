// The operator's probe and metrics servers (plain node:http; two tiny endpoints each).
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../telemetry/metrics.ts';
import { listenServer } from '../transport/listen.ts';

export interface ProbeState {
  /** The process runs its loops (liveness). */
  healthy(): boolean;
  /** Caches synced and controllers running, or standing by for the lease (readiness). */
  ready(): boolean;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startProbeServer(host: string, port: number, state: ProbeState): Promise<{ server: Server; address: AddressInfo }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
    if (path === '/healthz') return state.healthy() ? send(res, 200, 'ok\n') : send(res, 503, 'unhealthy\n');
    if (path === '/readyz') return state.ready() ? send(res, 200, 'ok\n') : send(res, 503, 'not ready\n');
    send(res, 404, 'not found\n');
  });
  return { server, address: await listenServer(server, { host, port }) };
}

export async function startMetricsServer(host: string, port: number, metrics: Metrics): Promise<{ server: Server; address: AddressInfo }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return send(res, 404, 'not found\n');
    metrics.render().then(
      (text) => send(res, 200, text, metrics.contentType),
      () => send(res, 500, 'metrics unavailable\n'),
    );
  });
  return { server, address: await listenServer(server, { host, port }) };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
