// The engine (msrpd) configuration schema. Every option carries a `description`:
// the docs page is rendered from this schema. Load with
//   loadConfig(EngineConfigSchema, { file, env: process.env })   // env prefix MSRP_
import { join } from 'node:path';
import Type, { type Static } from 'typebox';
import { ChatConfigSchema } from './chat.ts';
import { ConfigError } from './errors.ts';
import { loadConfig, type LoadOptions } from './loader.ts';

const strict = { additionalProperties: false } as const;
const Port = (description: string, defaultPort?: number) =>
  Type.Integer({ minimum: 1, maximum: 65535, description, ...(defaultPort !== undefined ? { default: defaultPort } : {}) });
const Seconds = (description: string, def: number, minimum = 0) => Type.Integer({ minimum, description, default: def });

export const ListenerSchema = Type.Object({
  host: Type.String({ minLength: 1, default: '0.0.0.0', description: 'Address to bind; `0.0.0.0` or `::` for all interfaces.' }),
  port: Port('TCP port to bind. 2855 is the registered MSRP port (RFC 4975 §15.3).', 2855),
  transport: Type.Enum(['tls', 'tcp', 'wss', 'ws'], {
    default: 'tls',
    description: '`tls` for msrps: URIs; `tcp` for msrp: URIs; `wss` and `ws` for MSRP over WebSocket (RFC 7977: browsers; subprotocol `msrp`, see `relay.websocket`), with and without TLS. Clients must use TLS (tls or wss) to authenticate unless `auth.allowPlainTcp` (RFC 4976 §5).',
  }),
}, { ...strict, description: 'One listening socket.' });

export const EngineConfigSchema = Type.Object({
  relay: Type.Object({
    listen: Type.Array(ListenerSchema, {
      minItems: 1,
      default: [{ host: '0.0.0.0', port: 2855, transport: 'tls' }],
      description: 'Sockets the relay accepts MSRP connections on.',
    }),
    publicHost: Type.Optional(Type.String({
      minLength: 1,
      description: 'Host name the relay puts in its own URI (Use-Path, From-Path; RFC 4976 §5.1, §7.1). Must match the TLS certificate. Default: the machine host name.',
    })),
    publicPort: Type.Optional(Port('Port the relay puts in its own URI when it differs from the listener (e.g. behind a LoadBalancer). Default: the first listener port.')),
    aliases: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'Other host names or IP addresses that also mean this relay when they head a To-Path (e.g. the Service name, the pod IP). Realm host names count as aliases too.',
    }),
    websocket: Type.Object({
      origins: Type.Array(Type.String({ minLength: 1, pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\\s]+$' }), {
        default: [],
        description: 'Origins (`scheme://host[:port]`, as browsers send them in the Origin header) whose pages may open WebSocket connections to the `ws`/`wss` listeners; any other Origin, or none, is refused with 403 at the handshake (RFC 6455 §10.2). Empty: any origin, and clients that send none.',
      }),
      maxMessageBytes: Type.Integer({
        minimum: 16384, default: 1048576,
        description: 'Largest WebSocket message (one MSRP frame, RFC 7977 §4.2) accepted from a client: a message is held whole until complete, so a larger one closes the connection with status 1009 (relay_drops_total{reason="websocket-message-too-big"}). Clients send file chunks smaller than this.',
      }),
    }, { ...strict, default: {}, description: 'MSRP over WebSocket listeners (`transport: wss` or `ws`).' }),
    workers: Type.Union([Type.Integer({ minimum: 1, maximum: 256 }), Type.Literal('auto')], {
      default: 1,
      description: 'Worker processes of this relay process (docs/relay.md "Workers"): they share the listeners (each connection goes to one of them), each owns the sessions it creates, and a frame for another worker\'s session is passed to it over a local link, as replicas pass frames over the mesh; the primary process restarts a worker that dies and serves /metrics (every worker\'s series, labelled `worker`) and the probes. `auto`: the container\'s CPU limit (cgroup v2 cpu.max or v1 cfs quota, rounded up), else the machine\'s CPUs. More than one needs `database.url` (the relay-wide limits live in PostgreSQL; PGlite is one process) and no `chat.enabled` (the chat server runs in one process): `auto` is then 1. The operator renders the relay container\'s CPU limit; `msrpd` alone defaults to 1.',
    }),
    blockedMethods: Type.Array(Type.String({ pattern: '^[A-Z]+$' }), {
      default: [],
      description: 'Request methods the relay refuses to forward (answered with 403), e.g. `[NICKNAME]`. AUTH addressed to this relay is never blocked.',
    }),
  }, { ...strict, default: {}, description: 'MSRP relay sockets and identity.' }),

  nextHops: Type.Object({
    allow: Type.Array(Type.Object({
      host: Type.String({ minLength: 1, description: 'Host name or IP literal (exact, case-insensitive), `*.example.com` for a suffix, or `*` for any host.' }),
      port: Type.Optional(Port('Only this port; any port when absent.')),
    }, strict), {
      default: [],
      description: 'Peers (other relays, endpoints) this relay may open connections to. Our own sessions are always reachable; anything else not listed gets 403, so the relay is never an open relay.',
    }),
    allowPrivate: Type.Boolean({
      default: false,
      description: 'Allow next hops that resolve to an address that is not public unicast: loopback, private, CGNAT, link-local, unique-local, site-local, multicast, documentation and other special-purpose ranges, judged by number (also inside IPv4-mapped, NAT64 and 6to4 IPv6 addresses; docs/security.md). Off in production: an allowed name must not lead into the pod network (DNS rebinding).',
    }),
    connectTimeoutMs: Type.Integer({ minimum: 100, default: 5000, description: 'Connect (and TLS handshake) timeout towards a next hop; on failure the request gets 481.' }),
    dnsServers: Type.Array(Type.String({ minLength: 1, pattern: '^(\\[[0-9A-Fa-f:.]+\\](:[0-9]{1,5})?|[0-9A-Fa-f:.]+)$' }), {
      default: [],
      description: 'DNS servers for next-hop lookups (RFC 4976 §8: SRV `_msrps._tcp.<host>`, then A/AAAA), as `address`, `address:port` or `[v6]:port`. Empty: the system resolver. When set, SRV targets and host names are resolved through these servers too, not /etc/hosts.',
    }),
  }, { ...strict, default: {}, description: 'Where the relay may forward to beyond its own sessions (relay-to-relay, RFC 4976 §6).' }),

  tls: Type.Object({
    dir: Type.String({
      default: './data/tls',
      description: 'Folder with a cert-manager style kubernetes.io/tls Secret mounted: tls.crt, tls.key and optionally ca.crt. Files are watched and reloaded.',
    }),
    certFile: Type.Optional(Type.String({ description: 'Certificate chain (PEM). Default: `<dir>/tls.crt`.' })),
    keyFile: Type.Optional(Type.String({ description: 'Private key (PEM). Default: `<dir>/tls.key`.' })),
    caFile: Type.Optional(Type.String({ description: 'CA bundle for verifying peer relays (PEM). Default: `<dir>/ca.crt` when present.' })),
    mutual: Type.Boolean({
      default: true,
      description: 'Mutual TLS between relays (RFC 4976 §9.2): request a client certificate on msrps listeners and present our certificate when connecting to a next hop. Peers are always verified against ca.crt.',
    }),
    peerCertificates: Type.Enum(['require', 'verify-if-presented'], {
      default: 'require',
      description: 'Who may deliver to our clients over an inbound connection that is not the session\'s own (a foreign relay or endpoint). `require`: only a TLS peer whose client certificate chains to ca.crt and names the host of the request\'s first From-Path URI (relay to relay is mutual TLS, RFC 4976 §9.2); anything else gets 403. `verify-if-presented`: also peers without a certificate (endpoints that use no relay, plain TCP in development); a presented certificate that fails is still refused. Clients sending from their own session, and peers on connections this relay opened, are not affected. `require` needs `tls.mutual`.',
    }),
    pollIntervalMs: Type.Integer({ minimum: 100, default: 10000, description: 'How often the certificate files are checked for a change (a renewed Secret); a change is loaded without dropping connections.' }),
    handshakeTimeoutSec: Type.Integer({
      minimum: 1, maximum: 120, default: 10,
      description: 'A client connection on an msrps listener whose TLS handshake has not finished this long after accept is closed (relay_limit_rejections_total{limit="handshake-timeout"}); it counted against `limits.connections` and `limits.connectionsPerSource` meanwhile.',
    }),
  }, { ...strict, default: {}, description: 'TLS certificate and key for msrps listeners and relay-to-relay connections.' }),

  auth: Type.Object({
    realms: Type.Array(Type.Object({
      name: Type.String({ minLength: 1, description: 'Digest realm (RFC 7616 §3.3); users live in a realm.' }),
      hosts: Type.Array(Type.String({ minLength: 1 }), {
        default: [],
        description: 'Host names in the AUTH To-Path URI that select this realm (RFC 4976 §5.1). Empty: only the realm name itself.',
      }),
    }, strict), { default: [], description: 'Realms this relay authenticates for. The first one is used when no host matches.' }),
    algorithms: Type.Array(Type.Enum(['SHA-256', 'MD5', 'SHA-256-sess', 'MD5-sess']), {
      minItems: 1,
      default: ['SHA-256', 'MD5'],
      description: 'Digest algorithms challenged with in a 401, in order of preference (RFC 7616 §3.7); credentials using any other algorithm get 400. MD5 stays for old clients.',
    }),
    allowPlainTcp: Type.Boolean({ default: false, description: 'Accept AUTH over unencrypted TCP. RFC 4976 §5 requires TLS for AUTH; for tests and lab use only.' }),
    basicOverTls: Type.Boolean({ default: false, description: 'Accept Basic credentials (RFC 7617) on TLS connections as well as Digest.' }),
    nonceLifetimeSec: Seconds('How long a Digest nonce is accepted; older ones get a 401 with stale=true (RFC 7616 §3.3).', 300, 10),
    nonceSecretFile: Type.Optional(Type.String({
      description: 'File with the secret (>= 32 bytes) that signs nonces. Replicas sharing it accept each other\'s nonces. Default: a random secret per process.',
    })),
    maxFailures: Type.Integer({ minimum: 1, default: 3, description: 'Failed AUTH attempts (403, or 401 with a bad nonce) on one connection before it is closed.' }),
    guessing: Type.Object({
      perUser: Type.Integer({ minimum: 0, default: 10, description: 'Wrong passwords for one user (any connection, MSRP AUTH or SIP Digest) within `windowSec` after which that user is refused (403) without a password check until the window ends. 0 = no limit.' }),
      perSource: Type.Integer({ minimum: 0, default: 20, description: 'Wrong passwords from one source address (IPv6: one /64) within `windowSec` after which it is refused the same way. 0 = no limit.' }),
      windowSec: Seconds('Length of the window the failures are counted in.', 60, 1),
    }, { ...strict, default: {}, description: 'Password guessing across connections (docs/security.md "Password guessing"): each wrong password is logged with user, realm and source and counted in msrp_auth_failures_total.' }),
    idleUnauthSec: Seconds('Close a connection that holds no relay session and has been idle (no bytes in or out) this long; a successful AUTH lifts the timer.', 30, 1),
    subscribers: Type.Object({
      enabled: Type.Boolean({ default: false, description: 'Also take credentials from an existing SIP `subscriber` table (Kamailio, OpenSIPS), read-only. The Digest realm is the row\'s domain.' }),
      mode: Type.Enum(['alongside', 'instead'], {
        default: 'alongside',
        description: '`alongside`: our own users first, then the subscriber table. `instead`: the subscriber table only.',
      }),
      url: Type.Optional(Type.String({
        pattern: '^postgres(ql)?://',
        description: 'PostgreSQL URL of the database holding the table (the SIP proxy\'s). Every transaction on it is read-only. Default: the relay\'s own database (`database.url`, or PGlite).',
      })),
      sslCaFile: Type.Optional(Type.String({ description: 'CA bundle to verify that server\'s certificate; enables TLS. Default: the URL decides.' })),
      table: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_$]*(\\.[A-Za-z_][A-Za-z0-9_$]*)?$', default: 'subscriber', description: 'Table name, optionally `schema.table`.' }),
      columns: Type.Object({
        username: Type.String({ default: 'username', description: 'User name column.' }),
        domain: Type.String({ default: 'domain', description: 'Domain column: the Digest realm.' }),
        password: Type.String({ default: 'password', description: 'Clear password column (Kamailio `calculate_ha1`); used only where no HA1 is stored. Empty: not read.' }),
        ha1: Type.String({ default: 'ha1', description: 'MD5 HA1 column, MD5(username:domain:password). Empty: not read.' }),
        ha1b: Type.String({ default: 'ha1b', description: 'MD5 HA1 of `username@domain` (clients whose Digest username carries the domain). Empty: not read.' }),
        ha1Sha256: Type.String({ default: 'ha1_sha256', description: 'SHA-256 HA1 column (OpenSIPS 3.x, newer Kamailio). Empty: not read. Without it (and without a clear password) only MD5 Digest can succeed: list MD5 first in `auth.algorithms`.' }),
      }, { ...strict, default: {}, description: 'Column names. A configured column the table does not have is skipped (checked at start).' }),
      changeFeed: Type.Boolean({
        default: false,
        description: 'The table has the trigger of docs/relay.md ("Existing subscriber tables") that notifies `msrp_changes` on every write: cached entries are dropped at once. Without it, entries are re-read after `cacheTtlSec`.',
      }),
      cacheTtlSec: Type.Integer({ minimum: 1, maximum: 3600, default: 30, description: 'Without `changeFeed`: the longest a cached credential (ours or the table\'s) is used before it is read again; a changed or removed subscriber takes effect within this time.' }),
    }, { ...strict, default: {}, description: 'Credentials from an existing subscriber table (docs/relay.md "Existing subscriber tables").' }),
  }, { ...strict, default: {}, description: 'Client authentication with AUTH (RFC 4976 §5, §6).' }),

  session: Type.Object({
    minExpires: Seconds('Shortest AUTH lifetime granted; a shorter Expires request gets 423 with Min-Expires (RFC 4976 §5.1). One minute keeps re-AUTH traffic sane.', 60, 1),
    maxExpires: Seconds('Longest AUTH lifetime granted; a longer Expires request gets 423 with Max-Expires (RFC 4976 §5.1), and the client retries within the bound. One day.', 86400, 1),
    defaultExpires: Seconds('AUTH lifetime when the client sends no Expires header. One hour.', 3600, 1),
  }, { ...strict, default: {}, description: 'Lifetime of relay sessions created by AUTH (the Use-Path URI).' }),

  limits: Type.Object({
    maxHeaderBytes: Type.Integer({ minimum: 1024, default: 16384, description: 'Largest start line plus headers of one MSRP frame; larger frames close the connection.' }),
    maxConnectionBufferBytes: Type.Integer({
      minimum: 65536,
      default: 1048576,
      description: 'Hard cap on bytes queued for writing to one connection: past it the peer is not reading and the connection is closed. Backpressure starts much earlier: sources feeding a connection pause at the socket high-water mark (docs/architecture.md §3.4).',
    }),
    maxNonSendBodyBytes: Type.Integer({ minimum: 0, default: 10240, description: 'Largest body of a request other than SEND; larger ones get 413 (RFC 4975 §7.1 suggests 10 KB).' }),
    streamThresholdBytes: Type.Integer({
      minimum: 1024,
      default: 65536,
      description: 'Chunk bodies up to this size are forwarded as one write; larger ones are streamed through in segments as they arrive, never held whole (docs/architecture.md §3.2).',
    }),
    transactionTimeoutSec: Seconds('Time to wait for the next hop\'s response to a forwarded SEND; after it the sender gets a failure REPORT with status 408 (RFC 4975 §7.1.2: 408 is never sent as a response).', 30, 1),
    connections: Type.Integer({
      minimum: 0, default: 20000,
      description: 'Concurrent client connections over all MSRP listeners, counted from accept (before the TLS handshake); one more is closed at once (relay_limit_rejections_total{limit="connections"}). Links between replicas are not counted. 0 = unlimited.',
    }),
    connectionsPerSource: Type.Integer({
      minimum: 0, default: 100,
      description: 'Concurrent connections from one source: an IPv4 address, or an IPv6 /64 (IPv4-mapped addresses count as IPv4). Counted from accept, before the TLS handshake; one more is closed at once (relay_limit_rejections_total{limit="connections-per-address"}). 0 = unlimited.',
    }),
    sessionsPerUser: Type.Integer({ minimum: 0, default: 20, description: 'Concurrent relay sessions per authenticated user; an AUTH past it gets 403. 0 = unlimited.' }),
    parseErrorBudget: Type.Object({
      count: Type.Integer({
        minimum: 0, maximum: 10000, default: 10,
        description: 'Malformed frames the parser recovered from (each answered 400/413 when it can be addressed) that one connection may send within `windowSec`; one more closes it (relay_drops_total{reason="parse-errors"}). 0: the first one closes it.',
      }),
      windowSec: Type.Integer({ minimum: 1, maximum: 86400, default: 60, description: 'The sliding window, in seconds, over which `count` applies.' }),
    }, { ...strict, default: {}, description: 'How much recoverable malformed input one connection may send before it is closed. Input that loses the framing always closes at once.' }),
  }, { ...strict, default: {}, description: 'Resource limits.' }),

  throttle: Type.Object({
    bytesPerSecPerSession: Type.Integer({ minimum: 0, default: 0, description: 'Forwarded body bytes per second per session (burst: one second worth); 0 = unlimited.' }),
    bytesPerSecPerUser: Type.Integer({ minimum: 0, default: 0, description: 'Forwarded body bytes per second per user, over all their sessions (burst: one second worth); 0 = unlimited.' }),
    bytesPerSecPerRealm: Type.Integer({ minimum: 0, default: 0, description: 'Forwarded body bytes per second per realm (burst: one second worth); 0 = unlimited.' }),
  }, { ...strict, default: {}, description: 'Bandwidth throttling: over the rate, reading from the sender pauses (TCP backpressure paces it); nothing is dropped or refused.' }),

  drain: Type.Object({
    deadlineSec: Seconds('On SIGTERM, stop accepting and let transfers finish for at most this long, then close. Keep below the pod terminationGracePeriodSeconds.', 30),
  }, { ...strict, default: {}, description: 'Graceful shutdown (docs/architecture.md §4.3).' }),

  mesh: Type.Object({
    enabled: Type.Boolean({
      default: false,
      description: 'Run as one replica of a relay that several processes (the pods of a StatefulSet) serve under one public URI. Each replica mints session ids that name it (`r<ordinal>-`), and a frame reaching a replica that does not own its session is passed to the owner over a mutual-TLS link (docs/relay.md, Scale-out). The operator turns it on for every MsrpRelay.',
    }),
    ordinal: Type.Optional(Type.Integer({
      minimum: 0, maximum: 9999,
      description: 'This replica\'s number. Default: the `-<n>` suffix of the host name (a StatefulSet pod name such as `msrp-relay-2`).',
    })),
    peerHost: Type.String({
      default: '',
      description: 'Host name (or address) of replica `{ordinal}`, with that placeholder: where its mesh listener is reached and the name its mesh certificate must carry, e.g. `msrp-relay-{ordinal}.msrp-relay-mesh.default.svc.cluster.local` (the headless Service). Required when enabled.',
    }),
    port: Port('Port of the mesh listener, the same on every replica. Never exposed outside the cluster.', 2858),
    listenHost: Type.String({ minLength: 1, default: '0.0.0.0', description: 'Address the mesh listener binds.' }),
    tlsDir: Type.String({
      default: './data/mesh-tls',
      description: 'Folder with the mesh certificate (tls.crt, tls.key, ca.crt), shared by every replica: it must name every replica\'s peer host (a wildcard over the headless Service) and be usable for server and client authentication. Only certificates chaining to this ca.crt are accepted on the mesh port. Reloaded when it changes.',
    }),
    connectTimeoutMs: Type.Integer({ minimum: 100, default: 2000, description: 'Connect and handshake timeout towards another replica; a request for a session on a replica that cannot be reached gets 481.' }),
    chatPort: Port('Port of the chat rooms\' channel between replicas (mutual TLS with the mesh certificate, on `listenHost`): requests to a room\'s owner replica, its events, and participants\' MSRP connections passed to it (docs/chat.md, Several pods). Used when `chat.enabled`; never exposed outside the cluster.', 2859),
    roomLeaseSec: Type.Integer({ minimum: 1, maximum: 3600, default: 20, description: 'Time to live of a chat room\'s ownership lease in the database, renewed every third of it: how long a room stays unavailable after its owner replica dies without a clean shutdown.' }),
  }, { ...strict, default: {}, description: 'Scale-out: the replicas of one relay acting as one.' }),

  liveSessions: Type.Object({
    heartbeatSec: Seconds('How often this replica refreshes its heartbeat in the database (and picks up sessions the admin API asked it to close, when a notification was missed).', 10, 1),
    staleAfterSec: Seconds('Sessions of a replica whose heartbeat is older than this count nowhere (it died or lost the database). Also how long the sessions of a killed replica keep counting. At least twice heartbeatSec; the admin API uses the same bound (liveStaleAfterSec).', 30, 2),
    admitTimeoutMs: Type.Integer({
      minimum: 10, default: 500,
      description: 'Longest an AUTH of a new session waits for the database\'s relay-wide count of the user\'s sessions; past it (or while the database is known to be down) the replica\'s own count decides, so a user may get up to replicas × limit during an outage.',
    }),
    throttleRefreshSec: Seconds('How often a replica refreshes on how many replicas each of its users and realms has sessions (their share of throttle.bytesPerSecPerUser and …PerRealm); also learnt at each AUTH.', 5, 1),
  }, { ...strict, default: {}, description: 'Relay-wide limits and views (docs/relay.md "Relay-wide limits and views"): each replica publishes its sessions in the database, so sessions per user, the per-user and per-realm throttle and the admin API\'s session list cover every replica.' }),

  http: Type.Object({
    host: Type.String({ default: '0.0.0.0', description: 'Address of the metrics and health server.' }),
    port: Port('Port of /metrics, /healthz and /readyz.', 9090),
    controlPort: Port('Port of the control endpoint (live sessions, rooms, drain). It always binds 127.0.0.1: only the admin sidecar in the same pod reaches it.', 9091),
  }, { ...strict, default: {}, description: 'HTTP endpoints of the engine.' }),

  database: Type.Object({
    url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL connection URL. When absent the embedded PGlite database in `dataDir` is used.' })),
    dataDir: Type.String({ default: './data/pglite', description: 'PGlite data folder (single-process use: `npm start`, tests).' }),
    sslCaFile: Type.Optional(Type.String({ description: 'CA bundle to verify the PostgreSQL server certificate; enables TLS. Default: absent, the connection URL decides.' })),
    statementTimeoutMs: Type.Integer({ minimum: 0, default: 5000, description: 'PostgreSQL statement_timeout for every connection; 0 = none.' }),
    poolMax: Type.Integer({ minimum: 1, default: 10, description: 'Largest number of pooled PostgreSQL connections.' }),
    passwordStorage: Type.Enum(['ha1', 'encrypted'], {
      default: 'ha1',
      description: 'How user passwords are kept. `ha1`: only the HA1 digests Digest AUTH needs (MD5 and SHA-256); the password cannot be recovered. `encrypted`: the digests plus the password sealed with AES-256-GCM under `secretKeyFile` (a Secret outside the database), for operators who must recover or migrate passwords. Applies to passwords set from then on (docs/admin-api.md "Password storage").',
    }),
    secretKeyFile: Type.Optional(Type.String({ description: 'File with a 32-byte key (raw, hex or base64) that seals passwords (AES-256-GCM). Required by `passwordStorage: encrypted`. Default: absent, and no password is sealed.' })),
    previousSecretKeyFiles: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'Older keys, still used to read passwords sealed before a key rotation; `msrpd users rotate-key` (or POST /v1/password-storage/rotate) re-seals them with `secretKeyFile`, after which they can be removed.',
    }),
  }, { ...strict, default: {}, description: 'Where realms and users live.' }),

  accounting: Type.Object({
    enabled: Type.Boolean({ default: true, description: 'Write one record per relay session and per chat participation when it ends (user, realm, source, start, end, bytes and messages each way, close reason): a log line `accounting record` and a row in the database (docs/relay.md "Accounting").' }),
    database: Type.Boolean({ default: true, description: 'Also write the records to the database (table accounting_records), in batches; `false`: the log line only.' }),
    retentionDays: Type.Integer({ minimum: 1, maximum: 3650, default: 90, description: 'Records that ended longer ago than this are deleted (checked at start and every hour).' }),
    maxPending: Type.Integer({ minimum: 100, maximum: 1000000, default: 10000, description: 'Records waiting for the database (it is slow or down) beyond which new ones are not written there (still logged; msrp_accounting_records_total{outcome="dropped"}).' }),
  }, { ...strict, default: {}, description: 'Accounting records.' }),

  log: Type.Object({
    level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'Least severe level written. `LOG_LEVEL` overrides it.' }),
    pretty: Type.Boolean({ default: false, description: 'Human-readable lines instead of JSON.' }),
  }, { ...strict, default: {}, description: 'Logging.' }),

  // Off by default in msrpd: every engine would otherwise bind SIP on 0.0.0.0:5060 and the
  // switch on 2856 whether or not it serves rooms. `npm start` turns it on (cmd/start.ts).
  chat: ChatConfigSchema,
}, { ...strict, description: 'msrpd configuration.' });

export type EngineConfig = Static<typeof EngineConfigSchema>;

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** The cert-manager layout: explicit files win, else `<dir>/tls.crt`, `tls.key`, `ca.crt`. */
export function tlsFiles(tls: Pick<EngineConfig['tls'], 'dir' | 'certFile' | 'keyFile' | 'caFile'>): TlsFiles {
  return {
    certFile: tls.certFile ?? join(tls.dir, 'tls.crt'),
    keyFile: tls.keyFile ?? join(tls.dir, 'tls.key'),
    caFile: tls.caFile ?? join(tls.dir, 'ca.crt'),
  };
}

/** Cross-field rules a JSON Schema cannot say; returned as ConfigIssue-shaped messages. */
export function checkEngineConfig(c: EngineConfig): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const s = c.session;
  if (s.minExpires > s.maxExpires) issues.push({ path: 'session.minExpires', message: `must be <= session.maxExpires (${s.maxExpires})` });
  if (s.defaultExpires < s.minExpires || s.defaultExpires > s.maxExpires) {
    issues.push({ path: 'session.defaultExpires', message: `must be between session.minExpires (${s.minExpires}) and session.maxExpires (${s.maxExpires})` });
  }
  if (c.http.port === c.http.controlPort) issues.push({ path: 'http.controlPort', message: 'must differ from http.port' });
  if (c.tls.peerCertificates === 'require' && !c.tls.mutual) {
    // Without tls.mutual the listeners ask for no certificate, so no foreign relay could ever deliver.
    issues.push({ path: 'tls.peerCertificates', message: 'require needs tls.mutual: true (or set verify-if-presented)' });
  }
  if (c.chat.enabled && c.chat.msrp.port !== 0 && c.relay.listen.some((l) => l.port === c.chat.msrp.port)) {
    issues.push({ path: 'chat.msrp.port', message: `must differ from the relay listener ports (${c.relay.listen.map((l) => l.port).join(', ')})` });
  }
  if (c.mesh.enabled) {
    if (!c.mesh.peerHost.includes('{ordinal}')) {
      issues.push({ path: 'mesh.peerHost', message: 'must contain {ordinal}, e.g. msrp-relay-{ordinal}.msrp-relay-mesh.default.svc.cluster.local' });
    }
    const taken = [...c.relay.listen.map((l) => l.port), c.http.port, c.http.controlPort, ...(c.chat.enabled ? [c.chat.msrp.port] : [])];
    if (taken.includes(c.mesh.port)) issues.push({ path: 'mesh.port', message: `must differ from the relay, HTTP and chat ports (${taken.join(', ')})` });
    if (c.chat.enabled && [...taken, c.mesh.port].includes(c.mesh.chatPort)) {
      issues.push({ path: 'mesh.chatPort', message: `must differ from the relay, HTTP, chat and mesh ports (${[...taken, c.mesh.port].join(', ')})` });
    }
  }
  if (typeof c.relay.workers === 'number' && c.relay.workers > 1) {
    // Each worker is a replica of the relay-wide registry: PGlite lives in one process.
    if (c.database.url === undefined) issues.push({ path: 'relay.workers', message: 'more than one worker needs database.url (PostgreSQL): PGlite serves one process' });
    if (c.chat.enabled) issues.push({ path: 'relay.workers', message: 'more than one worker cannot run with chat.enabled: the chat server runs in one process' });
  }
  if (c.database.passwordStorage === 'encrypted' && c.database.secretKeyFile === undefined) {
    issues.push({ path: 'database.secretKeyFile', message: 'is required by database.passwordStorage: encrypted' });
  }
  if (c.liveSessions.staleAfterSec < 2 * c.liveSessions.heartbeatSec) {
    // One late heartbeat must not make a live replica's sessions vanish.
    issues.push({ path: 'liveSessions.staleAfterSec', message: `must be at least twice liveSessions.heartbeatSec (${2 * c.liveSessions.heartbeatSec})` });
  }
  const names = new Set<string>();
  c.auth.realms.forEach((r, i) => {
    if (names.has(r.name)) issues.push({ path: `auth.realms[${i}].name`, message: `duplicate realm ${JSON.stringify(r.name)}` });
    names.add(r.name);
  });
  return issues;
}

/** loadConfig with the engine schema, then the cross-field rules. Throws ConfigError. */
export function loadEngineConfig(options: Omit<LoadOptions, 'envPrefix'> = {}): EngineConfig {
  const config = loadConfig(EngineConfigSchema, { ...options, envPrefix: 'MSRP_' });
  const issues = checkEngineConfig(config);
  if (issues.length > 0) throw new ConfigError('config-invalid', issues);
  return config;
}
