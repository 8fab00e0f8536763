// Two small HTTP servers (node:http, no framework on the engine's side):
//  - the probe/metrics port: GET /healthz (process up), /readyz (accepting and not
//    draining; the body also says whether the database is reachable, which does not
//    fail readiness: docs/relay.md, "Database outages"), /metrics (Prometheus text);
//  - the control endpoint, bound to 127.0.0.1 only, for the admin sidecar in the same pod:
//    GET /sessions (JSON list), DELETE /sessions/:id (removes a session and closes nothing
//    else; the client's next request through it gets 481), and, when the chat server runs,
//    GET /rooms/:name/participants and DELETE /rooms/:name/participants/:id (404 for a room
//    this engine does not serve: the operator's ChatRoom status reads that).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../telemetry/metrics.ts';
import type { SessionTable } from './sessions.ts';
import type { StoreHealthSnapshot } from './store-health.ts';
import { listenServer } from '../transport/listen.ts';

export interface ProbeState {
  ready(): boolean;
  /** Database reachability, reported in the /readyz body (absent: no store wired). */
  store?(): StoreHealthSnapshot;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startProbeServer(host: string, port: number, state: ProbeState, metrics: Metrics): Promise<{ server: Server; address: AddressInfo }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return json(res, 405, { error: 'method not allowed' });
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const store = state.store?.();
      const extra = store !== undefined ? { store } : {};
      return state.ready() ? json(res, 200, { status: 'ready', ...extra }) : json(res, 503, { status: 'not ready', ...extra });
    }
    if (path === '/metrics') {
      metrics.render().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType });
          res.end(text);
        },
        () => json(res, 500, { error: 'metrics unavailable' }),
      );
      return;
    }
    json(res, 404, { error: 'not found' });
  });
  return { server, address: await listenServer(server, { host, port }) };
}

/** The chat server's rooms as the control endpoint sees them (implemented by internal/chat/control.ts). */
export interface RoomsControl {
  /** One entry per participant device; undefined when this engine serves no room of that name. */
  participants(room: string): Promise<Record<string, unknown>[] | undefined>;
  /** false when there is no such room or participant. */
  removeParticipant(room: string, id: string): Promise<boolean>;
}

/** A path segment percent-decoded, or undefined when its encoding is malformed (a 400, not a crash). */
function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** `identity`: which relay and replica this is, sent along with the session list (the admin API merges it with the relay-wide one). */
export async function startControlServer(
  host: string, port: number, sessions: SessionTable, rooms: () => RoomsControl | undefined = () => undefined,
  identity?: { relay: string; ordinal: number },
): Promise<{ server: Server; address: AddressInfo }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const r = /^\/rooms\/([^/]+)\/participants(?:\/([^/]+))?$/.exec(path);
    if (r !== null) {
      const control = rooms();
      const name = decoded(r[1]!);
      const id = r[2] === undefined ? undefined : decoded(r[2]);
      if (name === undefined || (r[2] !== undefined && id === undefined)) return json(res, 400, { error: 'malformed percent-encoding in the path' });
      if (control === undefined) return json(res, 404, { error: 'the chat server is not running on this engine' });
      const answer = (p: Promise<unknown>, ok: (v: unknown) => void) => p.then(ok, (err: Error) => json(res, 500, { error: err.message }));
      if (r[2] === undefined && req.method === 'GET') {
        return answer(control.participants(name), (list) => (list === undefined ? json(res, 404, { error: 'no such room' }) : json(res, 200, { participants: list })));
      }
      if (r[2] !== undefined && req.method === 'DELETE') {
        return answer(control.removeParticipant(name, id!), (removed) => {
          if (removed !== true) return json(res, 404, { error: 'no such room or participant' });
          res.writeHead(204);
          res.end();
        });
      }
      return json(res, 405, { error: 'method not allowed' });
    }
    if (path === '/sessions' && req.method === 'GET') {
      const list = [...sessions.all()].map((s) => ({
        id: s.id, uri: s.uri, user: s.user, realm: s.realm, connection: s.connection.id,
        peer: `${s.connection.remoteAddress}:${s.connection.remotePort}`,
        createdAt: new Date(s.createdAt).toISOString(), expiresAt: new Date(s.expiresAt).toISOString(),
        bytesForwarded: s.bytesForwarded, clientUri: s.clientUri,
      }));
      return json(res, 200, identity !== undefined ? { relay: identity.relay, replica: identity.ordinal, sessions: list } : { sessions: list });
    }
    const m = /^\/sessions\/([^/]+)$/.exec(path);
    if (m !== null && req.method === 'DELETE') {
      const id = decoded(m[1]!);
      if (id === undefined) return json(res, 400, { error: 'malformed percent-encoding in the path' });
      const removed = sessions.remove(id, 'deleted');
      if (removed === undefined) return json(res, 404, { error: 'no such session' });
      res.writeHead(204);
      res.end();
      return;
    }
    json(res, 404, { error: 'not found' });
  });
  return { server, address: await listenServer(server, { host, port }) };
}
