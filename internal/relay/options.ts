// The relay's own view of its configuration: plain values with defaults, so the engine
// can be started from a test or from cmd/msrpd.ts (which maps the validated engine config
// from internal/config onto this shape).
import type { DigestAlgorithm } from '../auth/digest.ts';
import type { MeshOptions } from '../mesh/links.ts';
import type { WorkerLinkOptions } from '../mesh/worker-links.ts';

/** See RelayOptions.peerCertificates. */
export type PeerCertificatePolicy = 'require' | 'verify-if-presented';

export interface ListenerOptions {
  /** Addresses to bind; e.g. ['0.0.0.0', '::'] for IPv4 and IPv6, ['127.0.0.1'] in tests. */
  hosts: string[];
  /** 0 = any free port (tests); several hosts with port 0 share the first one's port. */
  port: number;
  tls: boolean;
  /** MSRP over WebSocket (RFC 7977): `wss:` with tls, `ws:` without; see RelayOptions.websocket. */
  websocket?: boolean;
}

/** The WebSocket listeners' handshake and message rules (RFC 7977, RFC 6455). */
export interface WebSocketOptions {
  /** Origin header values allowed (RFC 6455 §10.2), lower-case; empty: any, including none. */
  origins: string[];
  /** Largest WebSocket message (one MSRP frame) received; larger ones close the connection with 1009. */
  maxMessageBytes: number;
}

export interface RealmMapping {
  /** A host name clients put in the To-Path of AUTH (RFC 4976 §5.1), lower-case. */
  host: string;
  realm: string;
}

export interface NextHopRule {
  /** Host name or IP literal, exact match (lower-case), or "*.example.com" suffix match. */
  host: string;
  /** Port, or undefined for any port. */
  port?: number;
}

export interface RateLimit {
  /** Sustained bytes per second; 0 disables the bucket. */
  bytesPerSec: number;
  /** Bucket size in bytes (burst). */
  burstBytes: number;
}

export interface RelayOptions {
  /** The host name (or IP) put in Use-Path and matched as "us" in To-Path (RFC 4976 §5.1). */
  publicHost: string;
  /** Port advertised in Use-Path; defaults to the first TLS listener's bound port. */
  publicPort?: number;
  /** Other host names/IPs that also mean "this relay" in a To-Path. */
  aliases: string[];
  listeners: ListenerOptions[];
  websocket: WebSocketOptions;
  /** Directory with tls.crt, tls.key, ca.crt (cert-manager layout). Required when a TLS listener exists. */
  tlsDir?: string;
  tlsPollIntervalMs: number;
  /** Relay-to-relay: present our certificate and verify the peer's against its URI host with ca.crt (RFC 4976 §9.2). */
  mutualTls: boolean;
  /**
   * Who may deliver to our clients over an inbound connection that is not the session's own
   * (a foreign relay or endpoint; peer-auth.ts). `require`: only a TLS peer whose client
   * certificate chains to ca.crt and names the host of the request's first From-Path URI
   * (RFC 4976 §9.2: relay to relay is mutual TLS). `verify-if-presented`: peers without a
   * certificate (endpoints without a relay, plain TCP) are let through too, but a presented
   * certificate that fails either check is still refused. Needs `mutualTls` for `require`.
   */
  peerCertificates: PeerCertificatePolicy;
  /** Development only: accept AUTH over plain TCP (RFC 4976 §9.2 requires TLS between client and relay). */
  allowPlainTcp: boolean;
  /** Basic credentials over TLS (RFC 7617); off by default. */
  allowBasic: boolean;

  realms: { default: string; byHost: RealmMapping[] };
  /** Digest algorithms challenged with, in order of preference (RFC 7616 §3.7); others get 400. */
  algorithms: DigestAlgorithm[];
  /** Secret for stateless Digest nonces (>= 32 bytes); shared by replicas. */
  nonceSecret: Buffer;
  nonceLifetimeSec: number;
  /** RFC 4976 §5.1 Expires bounds and default for AUTH. */
  expires: { min: number; max: number; default: number };
  maxAuthFailures: number;
  /**
   * Malformed frames the parser recovered from that one connection may send within
   * `windowSec` (each is answered 400/413 when it can be addressed); one more closes the
   * connection (`relay_drops_total{reason="parse-errors"}`).
   */
  parseErrorBudget: { count: number; windowSec: number };
  /** A connection that has not authenticated and is idle this long is closed. */
  unauthenticatedIdleSec: number;

  /** RFC 4975 §7.1: a transaction with no response after this long fails with 408. */
  transactionTimeoutSec: number;
  /** Bodies of non-SEND requests larger than this are refused with 413. */
  maxNonSendBody: number;
  /** Request methods refused with 403 instead of being forwarded. */
  blockedMethods: string[];
  maxHeaderBytes: number;
  /** Bodies up to this size are delivered whole; larger ones are streamed in segments. */
  streamThreshold: number;
  /** Per connection: bytes queued for writing past this mean the peer does not read; close. */
  maxBufferedBytes: number;
  /** Client connections over all listeners, counted from accept; 0 = unlimited. */
  maxConnections: number;
  /** Per source (IPv4 address or IPv6 /64), counted from accept; 0 = unlimited. */
  maxConnectionsPerAddress: number;
  /** A TLS handshake on a client listener not finished this long after accept closes the socket. */
  tlsHandshakeTimeoutSec: number;
  /** 0 = unlimited. */
  maxSessionsPerUser: number;
  throttle: { session: RateLimit; user: RateLimit; realm: RateLimit };

  nextHops: {
    /** Peers (other relays, endpoints) we may open connections to; our own sessions are always allowed. */
    allow: NextHopRule[];
    /** Allow connecting to private, loopback and link-local addresses (off in production). */
    allowPrivate: boolean;
    /** Use plain TCP for msrp: URIs; msrps: always uses TLS. */
    connectTimeoutMs: number;
    /**
     * This engine's own chat switch, as room participants' paths name it (the public host and
     * the switch port): reached on `address` in this process's own network namespace, whatever
     * the public name resolves to (a load balancer's address inside the cluster, or nothing),
     * and always allowed, private address or not (it is no DNS answer).
     */
    ownChatSwitch?: { host: string; port: number; address: string };
    /** Replace DNS for tests or static setups: host -> [address, port]. */
    staticHosts?: Record<string, { address: string; port?: number }>;
    /**
     * DNS servers (`host:port`, `[v6]:port` or a bare address) for next-hop SRV and A/AAAA
     * lookups instead of the system resolver; empty or absent = the system resolver.
     */
    dnsServers?: string[];
  };

  http?: { host: string; port: number };
  control?: { host: string; port: number };
  /** SIGTERM: time to let transfers finish before closing everything. */
  drainTimeoutSec: number;
  /** Session-id prefix (replica k mints `r<k>-`, internal/mesh/ownership.ts). */
  sessionIdPrefix: string;
  /**
   * The other replicas of this relay (docs/relay.md "Scale-out"): sessions they own are
   * reached over mutual-TLS links to them. Absent: a relay of one replica.
   */
  mesh?: MeshOptions;
  /**
   * This process is one of several workers of the replica (docs/relay.md "Workers"): it
   * mints ids naming it (internal/mesh/ownership.ts workerPrefix) and reaches the sessions
   * of the others over links between them. Absent: one worker.
   */
  workers?: WorkerLinkOptions;
}

export function defaultRelayOptions(overrides: Partial<RelayOptions> & Pick<RelayOptions, 'publicHost' | 'nonceSecret'>): RelayOptions {
  return {
    aliases: [],
    listeners: [{ hosts: ['0.0.0.0', '::'], port: 2855, tls: true }],
    websocket: { origins: [], maxMessageBytes: 1024 * 1024 },
    tlsPollIntervalMs: 10_000,
    mutualTls: true,
    // The production default: tests whose scenario is a foreign endpoint without a relay say so and relax it.
    peerCertificates: 'require',
    allowPlainTcp: false,
    allowBasic: false,
    realms: { default: overrides.publicHost, byHost: [] },
    algorithms: ['SHA-256', 'MD5'],
    nonceLifetimeSec: 300,
    expires: { min: 60, max: 3600, default: 600 },
    maxAuthFailures: 3,
    parseErrorBudget: { count: 10, windowSec: 60 },
    unauthenticatedIdleSec: 30,
    transactionTimeoutSec: 30,
    maxNonSendBody: 10 * 1024,
    blockedMethods: [],
    maxHeaderBytes: 16 * 1024,
    streamThreshold: 64 * 1024,
    maxBufferedBytes: 4 * 1024 * 1024,
    maxConnections: 0,
    maxConnectionsPerAddress: 64,
    tlsHandshakeTimeoutSec: 10,
    maxSessionsPerUser: 16,
    throttle: {
      session: { bytesPerSec: 0, burstBytes: 0 },
      user: { bytesPerSec: 0, burstBytes: 0 },
      realm: { bytesPerSec: 0, burstBytes: 0 },
    },
    nextHops: { allow: [], allowPrivate: false, connectTimeoutMs: 5000 },
    drainTimeoutSec: 25,
    sessionIdPrefix: '',
    ...overrides,
  };
}
