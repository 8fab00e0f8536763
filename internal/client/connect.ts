// Opening MSRP connections: TCP for msrp: URIs, TLS for msrps: (RFC 4975 §6, RFC 4976 §9.2).
// A URI naming a host without a port (a relay given as just its domain) is found by DNS as
// RFC 4976 §8 says: SRV `_msrps._tcp.<domain>`, the targets in RFC 2782 order, the next one
// tried when a connection fails; with no SRV record, the domain's A/AAAA on port 2855. The
// lookups and their order are shared with the relay's next hops (transport/srv.ts).
import type { promises as dns } from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, createServer as netServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer, type TLSSocket } from 'node:tls';
import { parseMsrpUri, type MsrpUri } from '../msrp/uri.ts';
import { listenServer } from '../transport/listen.ts';
import { dnsResolver, findTargets, type SrvCandidate } from '../transport/srv.ts';

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
  /** Per address tried (10 s by default). */
  readonly connectTimeoutMs?: number;
  /**
   * DNS servers for the lookups (`address`, `address:port`, `[v6]:port`), asked alone
   * (/etc/hosts is not read); by default the system resolver.
   */
  readonly dnsServers?: readonly string[];
}

export type ConnectResult =
  | {
    readonly ok: true;
    readonly socket: Socket | TLSSocket;
    readonly uri: MsrpUri;
    /** Where the connection went, e.g. `relay2.example.net:9000 (192.0.2.7)`, found by SRV or A/AAAA. */
    readonly via: string;
  }
  | { readonly ok: false; readonly code: 'bad-uri' | 'bad-dns-server' | 'unresolvable' | 'connect-failed' | 'tls-failed' | 'timeout'; readonly message: string };

/**
 * Accepts "msrps://host:port;tcp", and also the friendlier "msrps://host:port" and
 * "host:port" (TLS assumed), adding the transport RFC 4975 §9 makes mandatory. Without a
 * port ("example.net", "msrps://example.net") the URI stays port-less: connectTo finds the
 * relay by SRV (RFC 4976 §8), and the AUTH goes to that URI as the user named it.
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

/**
 * Connects to the node an MSRP URI names (TLS when its scheme is msrps), trying the
 * addresses DNS gives in turn (RFC 4976 §8) until one connects.
 */
export async function connectTo(uriText: string, o: ConnectOptions = {}): Promise<ConnectResult> {
  const parsed = parseMsrpUri(uriText);
  if (!parsed.ok) return { ok: false, code: 'bad-uri', message: parsed.error.message };
  const uri = parsed.uri;
  let resolver: dns.Resolver | undefined;
  try {
    const servers = o.dnsServers ?? [];
    resolver = servers.length > 0 ? dnsResolver(servers, Math.min(o.connectTimeoutMs ?? 10_000, 2000)) : undefined;
  } catch (err) {
    return { ok: false, code: 'bad-dns-server', message: `bad DNS server address: ${(err as Error).message}` };
  }
  const found = await candidates(uri, resolver);
  if ('message' in found) return { ok: false, code: 'unresolvable', message: found.message };
  const failures: string[] = [];
  let last: ConnectResult | undefined;
  for (const c of found.list) {
    const r = await dial(uri, c, o);
    if (r.ok) return r;
    last = r;
    failures.push(r.message);
  }
  // Every address failed: the last code, and every attempt in the message (the SRV order).
  if (last === undefined || last.ok) return { ok: false, code: 'unresolvable', message: `no address for ${uri.host}` };
  return { ok: false, code: last.code, message: failures.join('; ') };
}

/**
 * The addresses to try, in order (RFC 4976 §8, transport/srv.ts findTargets). A name with its
 * port and the system resolver goes to net/tls.connect as is: they resolve it themselves, and
 * race its IPv6 and IPv4 addresses (autoSelectFamily, RFC 8305), where trying them one by one
 * here would wait a whole connect timeout on each unreachable one first.
 */
function candidates(uri: MsrpUri, resolver: dns.Resolver | undefined): Promise<{ list: SrvCandidate[] } | { message: string }> {
  if (uri.port !== undefined && resolver === undefined && isIP(uri.host) === 0) return Promise.resolve({ list: [{ name: uri.host, address: uri.host, port: uri.port }] });
  return findTargets(resolver, uri, 'weighted');
}

/** One connection attempt; TLS checks the certificate against the URI host, never the SRV target. */
function dial(uri: MsrpUri, c: SrvCandidate, o: ConnectOptions): Promise<ConnectResult> {
  const where = c.name === c.address ? `${uriHost(c.address)}:${c.port}` : `${c.name}:${c.port} (${c.address})`;
  const timeoutMs = o.connectTimeoutMs ?? 10_000;
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
    const timer = setTimeout(() => done({ ok: false, code: 'timeout', message: `no connection to ${where} after ${timeoutMs} ms` }), timeoutMs);
    if (uri.scheme === 'msrps') {
      socket = tlsConnect({
        host: c.address, port: c.port,
        // RFC 4976 §9.2: the relay's certificate must name the host of the URI the client was
        // given (the domain the AUTH goes to), as the relay's next hops check their peers
        // (relay/next-hops.ts): an SRV answer is not signed, so its target name proves nothing.
        // For an IP literal Node checks the certificate's IP SANs against the address itself.
        servername: o.servername ?? (isIP(uri.host) === 0 ? uri.host : undefined),
        ca: caList(o),
        cert: o.cert, key: o.key,
        rejectUnauthorized: o.insecure !== true,
      });
      // An error after the TCP connection is up comes from the TLS handshake.
      let tcpUp = false;
      socket.once('connect', () => (tcpUp = true));
      socket.once('secureConnect', () => done({ ok: true, socket, uri, via: where }));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const tls = tcpUp || (err.code !== undefined && /CERT|SSL|TLS|VERIFY|ISSUER|HOSTNAME|ALTNAME/.test(err.code));
        done({ ok: false, code: tls ? 'tls-failed' : 'connect-failed', message: `${where}: ${err.message}${tls && o.insecure !== true ? ' (use a CA file, or --insecure for a self-signed development relay)' : ''}` });
      });
    } else {
      socket = netConnect({ host: c.address, port: c.port });
      socket.once('connect', () => done({ ok: true, socket, uri, via: where }));
      socket.once('error', (err) => done({ ok: false, code: 'connect-failed', message: `${where}: ${err.message}` }));
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
