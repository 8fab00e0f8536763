// Which URIs name this relay (RFC 4976 §6.4: the first To-Path URI must be ours): the public
// host, its aliases and the hosts mapped to realms (RFC 4976 §5.1: the AUTH To-Path names the
// relay), on one of our listener ports or the public port; or, without a port and a session
// (an AUTH to the domain a client found us by through SRV, RFC 4976 §8), on any port. The router asks for every frame
// whose first URI it has not seen yet, so the answers are cached by host; the host set is
// rebuilt when a live reconfigure changes aliases or realms (reconfigured()).
import { comparableHost, effectivePort, parseMsrpUri, type MsrpUri } from '../msrp/uri.ts';
import type { RelayOptions } from './options.ts';
import type { LocalIdentity } from './router.ts';

/** A bound MSRP listener, as far as identity goes. */
export interface ListeningPort {
  readonly port: number;
  readonly secure: boolean;
  /** A WebSocket listener (RFC 7977): never the port of our URI in Use-Path, which peers reach over TCP. */
  readonly websocket?: boolean;
}

/** Distinct hosts cached at most; the cache is cleared when full (ever-new hosts only cost a compare). */
const HOST_CACHE_MAX = 1024;

/** The hosts that name this relay, compared as comparableHost() gives them. */
export function localHostsOf(o: Pick<RelayOptions, 'publicHost' | 'aliases' | 'realms'>): Set<string> {
  const hosts = new Set<string>();
  for (const h of [o.publicHost, ...o.aliases, ...o.realms.byHost.map((m) => m.host)]) {
    const u = parseMsrpUri(`msrps://${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h};tcp`);
    if (u.ok) hosts.add(comparableHost(u.uri));
  }
  return hosts;
}

export class RelayLocalIdentity implements LocalIdentity {
  readonly #o: Pick<RelayOptions, 'publicHost' | 'publicPort' | 'aliases' | 'realms'>;
  /** The relay's listeners: the relay adds to this array as it binds them (never removes). */
  readonly #listeners: readonly ListeningPort[];
  #hosts: Set<string>;
  /** isLocal answers by host (as given) and port; both sets only grow while listeners are added. */
  readonly #hostCache = new Map<string, boolean>();
  #ports: Set<number> | undefined;
  #portsFor = -1;

  constructor(o: Pick<RelayOptions, 'publicHost' | 'publicPort' | 'aliases' | 'realms'>, listeners: readonly ListeningPort[]) {
    this.#o = o;
    this.#listeners = listeners;
    this.#hosts = localHostsOf(o);
  }

  /** The port in our public URI: configured, else the first TLS listener's, else the first listener's (WebSocket ones aside). */
  publicPort(): number {
    const l = this.#listeners.filter((x) => x.websocket !== true);
    return this.#o.publicPort ?? (l.find((x) => x.secure) ?? l[0])?.port ?? 2855;
  }

  isLocal(uri: MsrpUri): boolean {
    const key = uri.hostKind + ' ' + uri.host;
    let local = this.#hostCache.get(key);
    if (local === undefined) {
      if (this.#hostCache.size >= HOST_CACHE_MAX) this.#hostCache.clear();
      local = this.#hosts.has(comparableHost(uri));
      this.#hostCache.set(key, local);
    }
    if (!local) return false;
    // RFC 4976 §8: the To-Path of an AUTH is the only place a URI may lack a port; the client
    // found us through SRV for its host, on whatever port that named, so the host decides.
    if (uri.port === undefined && uri.sessionId === undefined) return true;
    return this.isLocalPort(effectivePort(uri));
  }

  isLocalPort(port: number): boolean {
    const l = this.#listeners;
    if (this.#ports === undefined || this.#portsFor !== l.length) {
      this.#ports = new Set(l.map((x) => x.port));
      this.#ports.add(this.publicPort());
      this.#portsFor = l.length;
    }
    return this.#ports.has(port);
  }

  /** The aliases or realms changed (RunningRelay.reconfigure): the host set is built again. */
  reconfigured(): void {
    this.#hosts = localHostsOf(this.#o);
    this.#hostCache.clear();
  }
}
