// Outbound connections to next hops (other relays, endpoints), one per peer authority,
// reused by every session that goes there (RFC 4976 §6: relays SHOULD reuse connections).
//
// Resolution (RFC 4976 §8): for a URI without an explicit port, SRV `_msrps._tcp.<host>`
// (or `_msrp._tcp` for msrp:) first, targets tried by priority (lowest first) and, within
// one priority, by weight (highest first: a deterministic reading of RFC 2782's weighted
// choice, transport/srv.ts, which the `msrp` client shares); otherwise, or when there is no
// SRV record, the host's A/AAAA records with the URI's port (default 2855). Names go to the
// system resolver (getaddrinfo), or, with `nextHops.dnsServers`, to those servers only
// (resolve4/resolve6: getaddrinfo would ignore them).
//
// Policy, so this is never an open relay:
//  - a peer must match `nextHops.allow` (exact host, `*.suffix`, or `*`, optional port);
//    our own sessions never get here (they are delivered locally);
//  - after resolution, every address that is not public unicast (loopback, RFC 1918, CGNAT,
//    link-local, ULA, site-local, multicast, documentation..., also when carried inside an
//    IPv6 address: IPv4-mapped, NAT64, 6to4) is refused unless `nextHops.allowPrivate`, judged
//    on the number (transport/address-class.ts), not the spelling (a name in the allow-list or
//    a static host must not be a way to reach the pod network, e.g. by DNS rebinding);
//  - msrps: peers get TLS 1.2+, with the peer certificate verified against the URI host
//    using ca.crt, presenting our own certificate (mutual TLS, RFC 4976 §9.2; the relay
//    checks a peer that dials us the same way: peer-auth.ts).
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { promises as dns } from 'node:dns';
import type { Logger } from 'pino';
import { effectivePort, type MsrpUri } from '../msrp/uri.ts';
import type { Connection } from '../transport/connection.ts';
import { classifyAddress, isPublicAddress } from '../transport/address-class.ts';
import { MIN_TLS_VERSION, type TlsMaterial } from '../transport/tls-files.ts';
import { dnsResolver, findTargets } from '../transport/srv.ts';
import type { RelayOptions } from './options.ts';

export class NextHopError extends Error {
  readonly code: 'not-allowed' | 'unresolvable' | 'unreachable' | 'tls';
  constructor(code: NextHopError['code'], message: string) {
    super(message);
    this.name = 'NextHopError';
    this.code = code;
  }
}

export interface NextHopDeps {
  options: RelayOptions;
  tls: () => TlsMaterial | undefined;
  /** Wraps a connected socket into a relay Connection (handlers attached). */
  adopt(socket: Socket, key: string): Connection;
  log: Logger;
}

export function peerKey(uri: MsrpUri): string {
  return `${uri.scheme}://${uri.host.toLowerCase()}:${effectivePort(uri)}`;
}

export class NextHops {
  readonly #d: NextHopDeps;
  readonly #open = new Map<string, Connection>();
  readonly #pending = new Map<string, Promise<Connection>>();
  /** Our own resolver when nextHops.dnsServers is set; the system resolver otherwise. */
  #resolver: dns.Resolver | undefined;

  constructor(deps: NextHopDeps) {
    this.#d = deps;
    this.#resolver = resolverFor(deps.options.nextHops); // throws on a malformed address: at start, not per request
  }

  /**
   * `options.nextHops` was changed in place (a configuration reloaded live): a new resolver
   * for the DNS servers, and open connections to peers no longer allowed (by name, or by
   * address once private addresses are refused) are closed; their open transactions fail
   * as with any next hop that goes away. Callers check the new settings with resolverFor
   * first: this one does not throw.
   */
  reconfigured(resolver: dns.Resolver | undefined): void {
    this.#resolver = resolver;
    const hops = this.#d.options.nextHops;
    for (const [key, conn] of this.#open) {
      const at = key.lastIndexOf(':');
      const host = key.slice(key.indexOf('://') + 3, at);
      const allowed = this.#allowedHost(host, Number(key.slice(at + 1))) && (hops.allowPrivate || isPublicAddress(conn.remoteAddress));
      if (allowed) continue;
      this.#d.log.info({ nextHop: key }, 'next hop no longer allowed: connection closed');
      this.#open.delete(key);
      conn.destroy();
    }
  }

  get size(): number {
    return this.#open.size;
  }

  /** An open connection to the peer named by `uri`, connecting when needed. */
  get(uri: MsrpUri): Promise<Connection> {
    const key = peerKey(uri);
    const open = this.#open.get(key);
    if (open !== undefined && !open.closed) return Promise.resolve(open);
    let p = this.#pending.get(key);
    if (p === undefined) {
      p = this.#connect(uri, key).finally(() => this.#pending.delete(key));
      this.#pending.set(key, p);
    }
    return p;
  }

  /** Registers an existing connection as the way to reach `key` (e.g. an inbound relay connection). */
  forget(conn: Connection): void {
    for (const [k, c] of this.#open) if (c === conn) this.#open.delete(k);
  }

  all(): Connection[] {
    return [...this.#open.values()];
  }

  allowed(uri: MsrpUri): boolean {
    const host = uri.host.toLowerCase();
    const port = effectivePort(uri);
    return this.#ownChatSwitch(host, port) !== undefined || this.#allowedHost(host, port);
  }

  #allowedHost(host: string, port: number): boolean {
    return this.#d.options.nextHops.allow.some((r) => {
      if (r.port !== undefined && r.port !== port) return false;
      if (r.host === '*') return true;
      if (r.host.startsWith('*.')) return host.endsWith(r.host.slice(1));
      return r.host.toLowerCase() === host;
    });
  }

  async #connect(uri: MsrpUri, key: string): Promise<Connection> {
    if (!this.allowed(uri)) throw new NextHopError('not-allowed', `next hop ${key} is not in nextHops.allow`);
    const targets = await this.#resolve(uri);
    let last: Error | undefined;
    const own = this.#ownChatSwitch(uri.host.toLowerCase(), effectivePort(uri)) !== undefined;
    for (const t of targets) {
      const cls = classifyAddress(t.address);
      if (!own && !this.#d.options.nextHops.allowPrivate && cls !== 'public') {
        last = new NextHopError('not-allowed', `next hop ${key} resolves to private address ${t.address} (${cls})`);
        continue;
      }
      try {
        const socket = await this.#open1(uri, t.address, t.port, own);
        const conn = this.#d.adopt(socket, key);
        this.#open.set(key, conn);
        socket.once('close', () => {
          if (this.#open.get(key) === conn) this.#open.delete(key);
        });
        return conn;
      } catch (err) {
        last = err as Error;
      }
    }
    throw last ?? new NextHopError('unresolvable', `no address for ${key}`);
  }

  /** The engine's own chat switch when `host:port` names it (chat participants' paths through this relay). */
  #ownChatSwitch(host: string, port: number): { address: string; port: number } | undefined {
    const own = this.#d.options.nextHops.ownChatSwitch;
    return own !== undefined && own.host === host && own.port === port ? { address: own.address, port } : undefined;
  }

  async #resolve(uri: MsrpUri): Promise<{ address: string; port: number }[]> {
    const own = this.#ownChatSwitch(uri.host.toLowerCase(), effectivePort(uri));
    if (own !== undefined) return [own];
    const statics = this.#d.options.nextHops.staticHosts?.[uri.host.toLowerCase()];
    if (statics !== undefined) return [{ address: statics.address, port: statics.port ?? effectivePort(uri) }];
    // RFC 2782 as the client reads it (transport/srv.ts): a "." or dangling SRV answer is no
    // reason to try the name's A/AAAA records.
    const found = await findTargets(this.#resolver, uri, 'heaviest-first');
    if ('message' in found) throw new NextHopError('unresolvable', found.message);
    return found.list.map(({ address, port }) => ({ address, port }));
  }

  /**
   * `own`: the engine's own chat switch on loopback. It serves this engine's certificate, which
   * need not chain to anything the relay trusts (a `kubectl create secret tls` Secret has no
   * ca.crt): it is pinned instead, the presented certificate must be ours.
   */
  #open1(uri: MsrpUri, address: string, port: number, own = false): Promise<Socket> {
    const o = this.#d.options;
    return new Promise<Socket>((resolve, reject) => {
      let socket: Socket;
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new NextHopError(uri.scheme === 'msrps' ? 'tls' : 'unreachable', `${address}:${port}: ${err.message}`));
      };
      const timer = setTimeout(() => onError(new Error('connect timeout')), o.nextHops.connectTimeoutMs);
      if (uri.scheme === 'msrps') {
        const m = this.#d.tls();
        const pinned = own && m !== undefined ? new X509Certificate(m.cert).fingerprint256 : undefined;
        socket = tlsConnect({
          host: address,
          port,
          // Verify against the URI host (RFC 4976 §9.2), not the address we resolved.
          ...(isIP(uri.host) === 0 ? { servername: uri.host } : {}),
          ...(pinned === undefined ? { checkServerIdentity: (_h: string, cert: PeerCertificate) => checkIdentity(uri.host, cert) } : {}),
          ...(m?.ca !== undefined ? { ca: m.ca } : {}),
          ...(o.mutualTls && m !== undefined ? { cert: m.cert, key: m.key } : {}),
          minVersion: MIN_TLS_VERSION,
          rejectUnauthorized: pinned === undefined,
        });
        socket.once('secureConnect', () => {
          if (pinned !== undefined && (socket as TLSSocket).getPeerCertificate().fingerprint256 !== pinned) {
            onError(new Error('the chat switch presented another certificate than this engine\'s'));
            return;
          }
          clearTimeout(timer);
          socket.off('error', onError);
          resolve(socket);
        });
      } else {
        socket = netConnect({ host: address, port });
        socket.once('connect', () => {
          clearTimeout(timer);
          socket.off('error', onError);
          resolve(socket);
        });
      }
      socket.once('error', onError);
    });
  }

  closeAll(): void {
    for (const c of this.#open.values()) c.destroy();
    this.#open.clear();
  }
}

/** A resolver for `nextHops.dnsServers`, or undefined for the system resolver; throws on a malformed address. */
export function resolverFor(hops: RelayOptions['nextHops']): dns.Resolver | undefined {
  const servers = hops.dnsServers ?? [];
  if (servers.length === 0) return undefined;
  return dnsResolver(servers, Math.min(hops.connectTimeoutMs, 2000));
}

function checkIdentity(host: string, cert: PeerCertificate): Error | undefined {
  return checkServerIdentity(host, cert);
}
