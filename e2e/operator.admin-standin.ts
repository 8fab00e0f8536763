// A minimal stand-in for the relay admin API (PUT/DELETE /v1/rooms/{name},
// GET /v1/rooms/{name}/participants), used by e2e/operator.test.ts until internal/admin's
// room routes land. It is a real HTTP server on loopback; it records what the operator
// sent and checks the bearer token. Base path /<namespace>/<relay>, so one server stands
// in for every relay (the operator's --admin-url-template points here).
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  authorization: string | undefined;
}

export interface AdminStandIn {
  url: string;
  rooms: Map<string, unknown>;
  requests: RecordedRequest[];
  /** Answer 503 to everything (an unreachable or broken admin API). */
  failing: boolean;
  participants: number;
  close(): Promise<void>;
}

export async function startAdminStandIn(token: string): Promise<AdminStandIn> {
  const state: Omit<AdminStandIn, 'url' | 'close'> = { rooms: new Map(), requests: [], failing: false, participants: 0 };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (raw += d));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body: unknown = raw ? JSON.parse(raw) : undefined;
      state.requests.push({ method: req.method ?? '', path, body, authorization: req.headers.authorization });
      const reply = (status: number, json?: unknown) => {
        const text = json === undefined ? '' : JSON.stringify(json);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
      };
      if (state.failing) return reply(503, { title: 'engine unavailable' });
      if (req.headers.authorization !== `Bearer ${token}`) return reply(401, { title: 'unauthorized' });
      const m = /^\/([^/]+)\/([^/]+)\/v1\/rooms\/([^/]+)(\/participants)?$/.exec(path);
      if (!m) return reply(404, { title: 'no such route' });
      const key = `${m[1]}/${m[2]}/${decodeURIComponent(m[3]!)}`;
      if (m[4]) {
        if (req.method !== 'GET') return reply(405);
        if (!state.rooms.has(key)) return reply(404, { title: 'no such room' });
        return reply(200, { items: Array.from({ length: state.participants }, (_, i) => ({ uri: `sip:p${i}@example.com` })) });
      }
      if (req.method === 'PUT') {
        const created = !state.rooms.has(key);
        state.rooms.set(key, body);
        return reply(created ? 201 : 200, body);
      }
      if (req.method === 'DELETE') {
        if (!state.rooms.delete(key)) return reply(404, { title: 'no such room' });
        return reply(204);
      }
      reply(405);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const standIn = state as AdminStandIn;
  standIn.url = `http://127.0.0.1:${port}`;
  standIn.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return standIn;
}
