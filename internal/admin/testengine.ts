// A stand-in for the engine control endpoint in tests: the same paths and answers as
// internal/relay/http.ts (sessions) plus the room participant paths the chat focus will
// serve. Not used in production code.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeEngine {
  url: string;
  sessions: Map<string, Record<string, unknown>>;
  rooms: Map<string, Map<string, Record<string, unknown>>>;
  close(): Promise<void>;
}

export async function startFakeEngine(): Promise<FakeEngine> {
  const sessions = new Map<string, Record<string, unknown>>();
  const rooms = new Map<string, Map<string, Record<string, unknown>>>();
  const json = (res: ServerResponse, status: number, body?: unknown): void => {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURI((req.url ?? '/').split('?')[0]!);
    if (path === '/sessions' && req.method === 'GET') return json(res, 200, { sessions: [...sessions.values()] });
    let m = /^\/sessions\/([^/]+)$/.exec(path);
    if (m && req.method === 'DELETE') return sessions.delete(decodeURIComponent(m[1]!)) ? json(res, 204) : json(res, 404, { error: 'no such session' });
    m = /^\/rooms\/([^/]+)\/participants$/.exec(path);
    if (m && req.method === 'GET') {
      const room = rooms.get(decodeURIComponent(m[1]!));
      return room ? json(res, 200, { participants: [...room.values()] }) : json(res, 404, { error: 'no such room' });
    }
    m = /^\/rooms\/([^/]+)\/participants\/([^/]+)$/.exec(path);
    if (m && req.method === 'DELETE') {
      return rooms.get(decodeURIComponent(m[1]!))?.delete(decodeURIComponent(m[2]!)) ? json(res, 204) : json(res, 404, { error: 'no such participant' });
    }
    json(res, 404, { error: 'not found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, sessions, rooms,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
