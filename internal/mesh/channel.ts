// A request channel between the replicas of one relay (docs/chat.md "Several pods"): small
// HTTP/1.1 requests, a streaming response for events, and an Upgrade that turns the
// connection into a raw byte pipe, all over mutual TLS with the mesh certificate. The chat
// server uses it to reach the replica that owns a room; what the paths mean is its
// business, this file only carries them and checks who is at the other end.
//
// Identity, as for the MSRP links (links.ts): both ends present the mesh certificate
// (mesh.tlsDir), verified against the mesh ca.crt, and it must name the replica's peer host
// (`peerHost` with the ordinal). The server refuses a client whose certificate does not
// name this replica's own peer host (the mesh certificate is one Secret shared by every
// replica, a wildcard over the headless Service); the client refuses a server that is not
// the replica it dialled.
import { Agent, createServer, request as httpsRequest, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { MIN_TLS_VERSION, type TlsMaterial } from '../transport/tls-files.ts';
import { peerHostOf } from './ownership.ts';

export interface MeshChannelOptions {
  /** This replica's ordinal. */
  readonly ordinal: number;
  /** Host of replica `{ordinal}`: its address and the name its mesh certificate carries. */
  readonly peerHost: string;
  /** The channel's port, the same on every replica. */
  readonly port: number;
  /** Addresses the server binds. */
  readonly listenHosts: readonly string[];
  readonly tls: TlsMaterial;
  readonly connectTimeoutMs: number;
}

export interface MeshChannelHandlers {
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  /** `Upgrade:` requests; the handler owns `socket` (with `head` read ahead). */
  onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
}

export class MeshChannelError extends Error {
  readonly code: 'unreachable' | 'status' | 'closed';
  readonly status: number | undefined;
  constructor(code: MeshChannelError['code'], message: string, status?: number) {
    super(message);
    this.name = 'MeshChannelError';
    this.code = code;
    this.status = status;
  }
}

export interface MeshChannel {
  /** The bound port (the configured one, or the one picked for 0). */
  readonly port: number;
  /** A JSON request to replica `ordinal`: the answer's status and parsed body. */
  call<T>(ordinal: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** A GET whose response stays open (server-sent events); rejects unless 200. */
  stream(ordinal: number, path: string): Promise<IncomingMessage>;
  /** An Upgrade to `protocol`: resolves to the raw socket once the peer answered 101. */
  upgrade(ordinal: number, path: string, protocol: string): Promise<Socket>;
  close(): Promise<void>;
}

export async function startMeshChannel(o: MeshChannelOptions, handlers: MeshChannelHandlers, log: Logger): Promise<MeshChannel> {
  const own = peerHostOf(o.peerHost, o.ordinal);
  const tlsOptions = { cert: o.tls.cert, key: o.tls.key, ...(o.tls.ca !== undefined ? { ca: o.tls.ca } : {}), minVersion: MIN_TLS_VERSION };
  const servers: Server[] = [];
  const open = new Set<Socket>();
  let port = o.port;
  for (const host of o.listenHosts) {
    const server = createServer({ ...tlsOptions, requestCert: true, rejectUnauthorized: true });
    server.on('secureConnection', (socket: TLSSocket) => {
      const cert = socket.getPeerCertificate();
      if (!socket.authorized || cert === null || cert.raw === undefined || checkServerIdentity(own, cert) !== undefined) {
        log.warn({ peer: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}` }, `mesh channel connection refused: certificate does not name ${own}`);
        socket.destroy();
        return;
      }
      socket.setKeepAlive(true, 10_000);
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    });
    server.on('tlsClientError', (err: Error, socket: Socket) => {
      log.warn({ peer: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`, reason: err.message }, 'mesh channel connection refused at the TLS handshake');
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => handlers.onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      open.delete(socket);
      handlers.onUpgrade(req, socket, head);
    });
    // Event streams stay open for hours.
    server.requestTimeout = 0;
    server.headersTimeout = 10_000;
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, ipv6Only: host.includes(':') }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (port === 0) port = (server.address() as { port: number }).port;
    servers.push(server);
  }

  let closed = false;
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ...tlsOptions });
  const target = (ordinal: number) => {
    const host = peerHostOf(o.peerHost, ordinal);
    return {
      host, port, agent, timeout: o.connectTimeoutMs,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      checkServerIdentity: (_h: string, cert: PeerCertificate) => checkServerIdentity(host, cert),
      rejectUnauthorized: true,
    };
  };
  const unreachable = (ordinal: number, err: Error) => new MeshChannelError('unreachable', `replica ${ordinal}: ${err.message}`);

  return {
    port,
    call<T>(ordinal: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
      if (closed) return Promise.reject(new MeshChannelError('closed', 'the mesh channel is closed'));
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      return new Promise((resolve, reject) => {
        const req = httpsRequest({
          ...target(ordinal), method, path,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length },
        }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (b: Buffer) => parts.push(b));
          res.once('error', (err) => reject(unreachable(ordinal, err)));
          res.once('end', () => {
            const text = Buffer.concat(parts).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: (text === '' ? undefined : JSON.parse(text)) as T });
            } catch (err) {
              reject(new MeshChannelError('status', `replica ${ordinal}: ${path}: unreadable answer (${(err as Error).message})`, res.statusCode));
            }
          });
        });
        req.once('timeout', () => req.destroy(new Error('timeout')));
        req.once('error', (err) => reject(unreachable(ordinal, err)));
        req.end(payload);
      });
    },

    stream(ordinal: number, path: string): Promise<IncomingMessage> {
      if (closed) return Promise.reject(new MeshChannelError('closed', 'the mesh channel is closed'));
      return new Promise((resolve, reject) => {
        // Its own connection (agent: false): the stream holds it for as long as it lasts.
        const req = httpsRequest({ ...target(ordinal), agent: false, ...tlsOptions, method: 'GET', path, headers: { accept: 'text/event-stream' } }, (res) => {
          req.setTimeout(0);
          if (res.statusCode !== 200) {
            res.resume();
            reject(new MeshChannelError('status', `replica ${ordinal}: ${path}: ${res.statusCode ?? 0}`, res.statusCode));
            return;
          }
          res.socket.setKeepAlive(true, 10_000);
          resolve(res);
        });
        req.once('timeout', () => req.destroy(new Error('timeout')));
        req.once('error', (err) => reject(unreachable(ordinal, err)));
        req.end();
      });
    },

    upgrade(ordinal: number, path: string, protocol: string): Promise<Socket> {
      if (closed) return Promise.reject(new MeshChannelError('closed', 'the mesh channel is closed'));
      return new Promise((resolve, reject) => {
        const req = httpsRequest({
          ...target(ordinal), agent: false, ...tlsOptions, method: 'GET', path,
          headers: { connection: 'Upgrade', upgrade: protocol },
        });
        req.once('upgrade', (_res, socket: Socket, head: Buffer) => {
          req.setTimeout(0);
          socket.setTimeout(0);
          socket.setKeepAlive(true, 10_000);
          if (head.length > 0) socket.unshift(head);
          resolve(socket);
        });
        req.once('response', (res: IncomingMessage) => {
          res.resume();
          reject(new MeshChannelError('status', `replica ${ordinal}: ${path}: ${res.statusCode ?? 0} instead of 101`, res.statusCode));
        });
        req.once('timeout', () => req.destroy(new Error('timeout')));
        req.once('error', (err) => reject(unreachable(ordinal, err)));
        req.end();
      });
    },

    async close() {
      closed = true;
      agent.destroy();
      for (const s of open) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => {
        s.close(() => r());
        s.closeAllConnections();
      })));
    },
  };
}
