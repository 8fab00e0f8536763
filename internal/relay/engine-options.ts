// The validated engine configuration (internal/config/engine.ts) mapped onto the relay's
// own options. Pure, so cmd/msrpd.ts and cmd/start.ts share it and a test can check that
// every configured value reaches the relay.
import type { EngineConfig } from '../config/engine.ts';
import { ordinalOfHostname, replicaPrefix as meshPrefix, workerPrefix } from '../mesh/ownership.ts';
import type { WorkerLinkOptions } from '../mesh/worker-links.ts';
import type { StoreLiveSessionsOptions } from './live-sessions.ts';
import { defaultRelayOptions, type RelayOptions } from './options.ts';

export interface EngineEnvironment {
  /** The machine (pod) host name: the default public host and the replica ordinal. */
  hostname: string;
  /** The secret that signs Digest nonces (read from auth.nonceSecretFile, or random). */
  nonceSecret: Buffer;
  /**
   * This process is one of the replica's workers (docs/relay.md "Workers"): the primary
   * serves the probes and metrics, worker 0 the control endpoint. Absent: one process.
   */
  worker?: Omit<WorkerLinkOptions, 'connectTimeoutMs'>;
}

export function relayOptionsFromConfig(c: EngineConfig, env: EngineEnvironment): RelayOptions {
  const realms = c.auth.realms;
  const publicHost = c.relay.publicHost ?? env.hostname;
  return defaultRelayOptions({
    publicHost,
    ...(c.relay.publicPort !== undefined ? { publicPort: c.relay.publicPort } : {}),
    aliases: c.relay.aliases.map((a) => a.toLowerCase()),
    listeners: c.relay.listen.map((l) => ({
      hosts: [l.host], port: l.port, tls: l.transport === 'tls' || l.transport === 'wss',
      ...(l.transport === 'ws' || l.transport === 'wss' ? { websocket: true } : {}),
    })),
    websocket: { origins: c.relay.websocket.origins.map((o) => o.toLowerCase()), maxMessageBytes: c.relay.websocket.maxMessageBytes },
    tlsDir: c.tls.dir,
    tlsPollIntervalMs: c.tls.pollIntervalMs,
    mutualTls: c.tls.mutual,
    peerCertificates: c.tls.peerCertificates,
    allowPlainTcp: c.auth.allowPlainTcp,
    allowBasic: c.auth.basicOverTls,
    realms: {
      default: realms[0]?.name ?? publicHost,
      byHost: realms.flatMap((r) => [r.name, ...r.hosts].map((host) => ({ host: host.toLowerCase(), realm: r.name }))),
    },
    algorithms: [...c.auth.algorithms],
    nonceSecret: env.nonceSecret,
    nonceLifetimeSec: c.auth.nonceLifetimeSec,
    maxAuthFailures: c.auth.maxFailures,
    unauthenticatedIdleSec: c.auth.idleUnauthSec,
    expires: { min: c.session.minExpires, max: c.session.maxExpires, default: c.session.defaultExpires },
    maxHeaderBytes: c.limits.maxHeaderBytes,
    maxBufferedBytes: c.limits.maxConnectionBufferBytes,
    maxNonSendBody: c.limits.maxNonSendBodyBytes,
    streamThreshold: c.limits.streamThresholdBytes,
    blockedMethods: [...c.relay.blockedMethods],
    transactionTimeoutSec: c.limits.transactionTimeoutSec,
    maxConnections: c.limits.connections,
    maxConnectionsPerAddress: c.limits.connectionsPerSource,
    tlsHandshakeTimeoutSec: c.tls.handshakeTimeoutSec,
    maxSessionsPerUser: c.limits.sessionsPerUser,
    parseErrorBudget: { count: c.limits.parseErrorBudget.count, windowSec: c.limits.parseErrorBudget.windowSec },
    throttle: {
      session: { bytesPerSec: c.throttle.bytesPerSecPerSession, burstBytes: c.throttle.bytesPerSecPerSession },
      user: { bytesPerSec: c.throttle.bytesPerSecPerUser, burstBytes: c.throttle.bytesPerSecPerUser },
      realm: { bytesPerSec: c.throttle.bytesPerSecPerRealm, burstBytes: c.throttle.bytesPerSecPerRealm },
    },
    drainTimeoutSec: c.drain.deadlineSec,
    ...(env.worker === undefined ? { http: { host: c.http.host, port: c.http.port } } : {}),
    ...(env.worker === undefined || env.worker.index === 0 ? { control: { host: '127.0.0.1', port: c.http.controlPort } } : {}),
    nextHops: {
      allow: c.nextHops.allow.map((r) => ({ host: r.host.toLowerCase(), ...(r.port !== undefined ? { port: r.port } : {}) })),
      allowPrivate: c.nextHops.allowPrivate,
      connectTimeoutMs: c.nextHops.connectTimeoutMs,
      dnsServers: [...c.nextHops.dnsServers],
      ...ownChatSwitchOf(c, publicHost),
    },
    // Replica k of the StatefulSet mints session ids that say k owns them (internal/mesh/ownership.ts).
    ...meshOptionsFromConfig(c, env),
  });
}

/** The links to the other workers (their connect timeout is the mesh's), when this process is a worker. */
function workerOptionsOf(c: EngineConfig, env: EngineEnvironment): Pick<RelayOptions, 'workers'> {
  return env.worker === undefined ? {} : { workers: { ...env.worker, connectTimeoutMs: c.mesh.connectTimeoutMs } };
}

/**
 * Chat participants behind this relay put the room's switch URI (the chat public host and
 * switch port, RFC 7701 a=path) after their Use-Path: the relay reaches that switch in its
 * own process's network, not through whatever the public name resolves to (docs/chat.md).
 */
function ownChatSwitchOf(c: EngineConfig, publicHost: string): Pick<RelayOptions['nextHops'], 'ownChatSwitch'> {
  if (!c.chat.enabled) return {};
  const bind = c.chat.msrp.host;
  const address = bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '::1' : bind;
  return { ownChatSwitch: { host: (c.chat.publicHost ?? publicHost).toLowerCase(), port: c.chat.msrp.port, address } };
}

/**
 * The session-id prefix of this engine (the relay's Use-Path ids and the chat switch's
 * session ids alike): the mesh ordinal when the mesh is on, else the host name's ordinal.
 */
export function sessionIdPrefixOf(c: EngineConfig, hostname: string): string {
  return meshOptionsFromConfig(c, { hostname, nonceSecret: Buffer.alloc(0) }).sessionIdPrefix;
}

/** The mesh settings and the session-id prefix that goes with them; without a mesh, the host name's ordinal as before. */
function meshOptionsFromConfig(c: EngineConfig, env: EngineEnvironment): Pick<RelayOptions, 'sessionIdPrefix' | 'mesh' | 'workers'> {
  const m = c.mesh;
  // Worker w of the replica adds `w<w>-` (ownership.ts); worker 0, or a process of one, adds nothing.
  const worker = env.worker?.index ?? 0;
  if (!m.enabled) return { sessionIdPrefix: workerPrefix(replicaPrefix(env.hostname), worker), ...workerOptionsOf(c, env) };
  const ordinal = m.ordinal ?? ordinalOfHostname(env.hostname);
  if (ordinal === undefined) {
    throw new Error(`mesh.enabled: no mesh.ordinal, and the host name ${JSON.stringify(env.hostname)} ends in no -<n> (a StatefulSet pod name does)`);
  }
  return {
    sessionIdPrefix: workerPrefix(meshPrefix(ordinal), worker),
    ...workerOptionsOf(c, env),
    mesh: { ordinal, peerHost: m.peerHost, port: m.port, listenHosts: [m.listenHost], tlsDir: m.tlsDir, connectTimeoutMs: m.connectTimeoutMs },
  };
}

/** `msrp-relay-2` (a StatefulSet pod name) → `r2-`; anything else → no prefix. */
export function replicaPrefix(host: string): string {
  const ordinal = /-(\d+)$/.exec(host)?.[1];
  return ordinal === undefined ? '' : `r${ordinal}-`;
}

/** The relay-wide registry's timings (`liveSessions`) for connectLiveSessions. */
export function liveSessionOptionsFromConfig(c: EngineConfig): Pick<StoreLiveSessionsOptions, 'heartbeatMs' | 'staleAfterSec' | 'admitTimeoutMs' | 'spreadRefreshMs'> {
  const l = c.liveSessions;
  return { heartbeatMs: l.heartbeatSec * 1000, staleAfterSec: l.staleAfterSec, admitTimeoutMs: l.admitTimeoutMs, spreadRefreshMs: l.throttleRefreshSec * 1000 };
}
