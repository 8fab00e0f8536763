// Opening MSRP connections: TCP for msrp: URIs, TLS for msrps: (RFC 4975 §6, RFC 4976 §9.2).
import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, createServer as netServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer, type TLSSocket } from 'node:tls';
import { effectivePort, parseMsrpUri, type MsrpUri } from '../msrp/uri.ts';
import { listenServer } from '../transport/listen.ts';

export interface TlsClientOptions {
  /** Trusted CA certificates (PEM), in addition to or instead of the system store. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** A PEM file with trusted CA certificates. */
  readonly caFile?: string;
  /** Accept any certificate (self-signed development relays). Never in production. */
  readonly insecure?: boolean;
  /** SNI and the name checked in the certificate; defaults to the URI host when it is a name. */
  readonly servername?: string;
  /** Client certificate and key (PEM), for relays that ask for one. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

export interface ConnectOptions extends TlsClientOptions {
  readonly connectTimeoutMs?: number;
}

export type ConnectResult =
  | { readonly ok: true; readonly socket: Socket | TLSSocket; readonly uri: MsrpUri }
  | { readonly ok: false; readonly code: 'bad-uri' | 'connect-failed' | 'tls-failed' | 'timeout'; readonly message: string };

/**
 * Accepts "msrps://host:port;tcp", and also the friendlier "msrps://host:port" and
 * "host:port" (TLS assumed), adding the transport RFC 4975 §9 makes mandatory.
 */
export function normalizeMsrpUri(text: string): string {
  let s = text.trim();
  if (!/^msrps?:\/\//i.test(s)) s = `msrps://${s}`;
  if (!s.includes(';')) s += ';tcp';
  return s;
}

function caList(o: TlsClientOptions): (string | Buffer)[] | undefined {
  const out: (string | Buffer)[] = [];
  if (o.ca !== undefined) out.push(...(Array.isArray(o.ca) ? (o.ca as (string | Buffer)[]) : [o.ca as string | Buffer]));
  if (o.caFile !== undefined) out.push(readFileSync(o.caFile));
  return out.length > 0 ? out : undefined;
}

/** Connects to the host and port of an MSRP URI; TLS when its scheme is msrps. */
export function connectTo(uriText: string, o: ConnectOptions = {}): Promise<ConnectResult> {
  const parsed = parseMsrpUri(uriText);
  if (!parsed.ok) return Promise.resolve({ ok: false, code: 'bad-uri', message: parsed.error.message });
  const uri = parsed.uri;
  const host = uri.host;
  const port = effectivePort(uri);
  return new Promise((resolve) => {
    let socket: Socket | TLSSocket;
    let settled = false;
    const done = (r: ConnectResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!r.ok) socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, code: 'timeout', message: `no connection to ${host}:${port} after ${o.connectTimeoutMs ?? 10000} ms` }), o.connectTimeoutMs ?? 10000);
    if (uri.scheme === 'msrps') {
      socket = tlsConnect({
        host, port,
        servername: o.servername ?? (isIP(host) === 0 ? host : undefined),
        ca: caList(o),
        cert: o.cert, key: o.key,
        rejectUnauthorized: o.insecure !== true,
        // RFC 4976 §9.2 relays check the peer name against the URI host; for an IP literal
        // Node checks the certificate's IP SANs itself.
      });
      // An error after the TCP connection is up comes from the TLS handshake.
      let tcpUp = false;
      socket.once('connect', () => (tcpUp = true));
      socket.once('secureConnect', () => done({ ok: true, socket, uri }));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const tls = tcpUp || (err.code !== undefined && /CERT|SSL|TLS|VERIFY|ISSUER|HOSTNAME|ALTNAME/.test(err.code));
        done({ ok: false, code: tls ? 'tls-failed' : 'connect-failed', message: `${host}:${port}: ${err.message}${tls && o.insecure !== true ? ' (use a CA file, or --insecure for a self-signed development relay)' : ''}` });
      });
    } else {
      socket = netConnect({ host, port });
      socket.once('connect', () => done({ ok: true, socket, uri }));
      socket.once('error', (err) => done({ ok: false, code: 'connect-failed', message: `${host}:${port}: ${err.message}` }));
    }
  });
}

export interface ServerTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca?: string | Buffer;
}

/** A TCP or TLS server handing accepted sockets to `onSocket`; resolves once listening. */
export function listenOn(host: string, port: number, tls: ServerTlsOptions | undefined, onSocket: (s: Socket) => void): Promise<Server> {
  const server: Server = tls === undefined
    ? netServer(onSocket)
    : tlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca }, onSocket);
  return listenServer(server, { host, port }).then(() => server);
}

/** IPv6 literals need brackets in a URI authority (RFC 3986 §3.2.2). */
export function uriHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
