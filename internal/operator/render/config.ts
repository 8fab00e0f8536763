// The engine configuration (internal/config/engine.ts) and the admin sidecar's
// (internal/config/admin.ts) rendered from an MsrpRelay spec, and the ConfigMap holding
// both. Secrets never go in here: the database URL reaches the engine as
// MSRP_DATABASE__URL and the admin as MSRP_ADMIN_DATABASE__URL from a secretKeyRef, the
// certificate and the admin bootstrap token as mounted files.
import { createHash } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import type { AdminConfig } from '../../config/admin.ts';
import type { EngineConfig } from '../../config/engine.ts';
import { canonicalJson, engineRestartSettings } from '../../config/live.ts';
import type { MsrpRelay } from '../api/msrprelay.ts';
import { ADMIN_PORT, ENGINE_CONTROL_PORT, ENGINE_HTTP_PORT, MESH_CHAT_PORT, MESH_PORT, meshPeerHost, names, objectMeta, PATHS } from './common.ts';
import { quantityToBytes } from './quantity.ts';

export const CONFIG_KEY = 'msrpd.yaml';
export const ADMIN_CONFIG_KEY = 'admin.yaml';

/** The config file may leave out anything the engine schema defaults. */
export type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** The engine's AUTH lifetime default (1 h), kept inside the relay's [min, max]. */
const DEFAULT_EXPIRES = 3600;

/**
 * Other names of this relay in a To-Path (engine relay.aliases): its Service's DNS names.
 * The pod's own IP is added at start from the downward API.
 */
export function serviceAliases(r: MsrpRelay): string[] {
  const svc = `${names.publicService(r)}.${r.metadata.namespace}.svc`;
  return [svc, `${svc}.cluster.local`];
}

/**
 * The page origins allowed to open a WebSocket (spec.websocket.origins), for the MSRP (RFC 7977)
 * and SIP (RFC 7118) listeners alike; undefined when any origin may (no list, or an empty one),
 * so the rendered config leaves the setting out.
 */
export function websocketOrigins(r: MsrpRelay): string[] | undefined {
  const origins = r.spec.websocket?.origins ?? [];
  return origins.length > 0 ? [...origins] : undefined;
}

/**
 * A spec.peering.allow entry (`host[:port]`, the API checked its form) as the engine's
 * nextHops.allow rule. An IPv6 host loses its brackets: next-hops.ts compares the rule with
 * the host of an MSRP URI, which carries none (internal/msrp/uri.ts).
 */
export function nextHopRule(entry: string): { host: string; port?: number } {
  const m = /^(\[([^\]]+)\]|[^:]+)(?::(\d+))?$/.exec(entry);
  if (m === null) throw new Error(`peer host ${JSON.stringify(entry)} is not host[:port]`);
  const host = m[2] ?? m[1]!;
  return m[3] === undefined ? { host } : { host, port: Number(m[3]) };
}

/**
 * spec.peering as the engine's nextHops and peer-certificate policy; nothing at all without
 * it, so the ConfigMap (and the pods' config hash) of a relay without peering stays as it was.
 * Relay to relay is mutual TLS (RFC 4976 §9.2), so tls.mutual is said out loud here.
 */
function renderPeering(r: MsrpRelay): Pick<DeepPartial<EngineConfig>, 'nextHops' | 'tls'> | undefined {
  const p = r.spec.peering;
  if (p === undefined) return undefined;
  return {
    nextHops: {
      allow: (p.allow ?? []).map(nextHopRule),
      allowPrivate: p.allowPrivateAddresses,
      dnsServers: p.dnsServers ?? [],
    },
    tls: { mutual: true, peerCertificates: p.peerCertificates },
  };
}

/**
 * The chat server (RFC 7701 focus and MSRP switch) on the published ports: SIP on TCP and
 * TLS (UDP when spec.ports.sipUdp is set, secure WebSocket with ports.sipWss), the switch over TLS, both with the relay's certificate; room URIs on
 * spec.chat.domain (publicHost when unset), as the ChatRoom controller writes them.
 */
function renderChat(r: MsrpRelay): DeepPartial<EngineConfig>['chat'] {
  const s = r.spec;
  const origins = websocketOrigins(r);
  return {
    enabled: true,
    domain: s.chat.domain ?? s.publicHost,
    publicHost: s.publicHost,
    // SIP over UDP only when spec.ports.sipUdp is set (docs/security.md "UDP amplification").
    sip: {
      host: '0.0.0.0', ...(s.ports.sipUdp === undefined ? {} : { udpPort: s.ports.sipUdp }), tcpPort: s.ports.sipTcp, tlsPort: s.ports.sipTls,
      // Browsers (RFC 7118): the same certificate, the page origins allowed.
      ...(s.ports.sipWss === undefined ? {} : { wssPort: s.ports.sipWss }),
      ...(s.ports.sipWss !== undefined && origins !== undefined ? { wsOrigins: origins } : {}),
    },
    msrp: { host: '0.0.0.0', port: s.ports.msrpChat, transport: 'tls' },
  };
}

/**
 * The engine config as a plain object. Fields the engine defaults well (auth algorithms,
 * nonce lifetime, database pool) are left out, so engine defaults keep applying.
 */
/**
 * spec.database.passwordStorage as the engine's and the admin's database settings; nothing
 * without it, so the ConfigMap of a relay that does not set it stays as it was. The key files
 * are the Secrets mounted by statefulset.ts (passwordKeyVolumes).
 */
export function renderPasswordStorage(r: MsrpRelay): { passwordStorage?: 'ha1' | 'encrypted'; secretKeyFile?: string; previousSecretKeyFiles?: string[] } {
  const p = r.spec.database.passwordStorage;
  if (p === undefined) return {};
  return {
    passwordStorage: p.mode,
    ...(p.keySecretRef !== undefined ? { secretKeyFile: `${PATHS.passwordKeys}/current/${p.keySecretRef.key}` } : {}),
    ...(p.previousKeySecretRefs !== undefined && p.previousKeySecretRefs.length > 0
      ? { previousSecretKeyFiles: p.previousKeySecretRefs.map((k, i) => `${PATHS.passwordKeys}/previous-${i}/${k.key}`) }
      : {}),
  };
}

export function renderEngineConfig(r: MsrpRelay): DeepPartial<EngineConfig> {
  const s = r.spec;
  const listen: { host: string; port: number; transport: 'tls' | 'tcp' | 'wss' }[] = [
    { host: '0.0.0.0', port: s.ports.msrpTls, transport: 'tls' },
  ];
  if (s.ports.msrpTcp !== undefined) listen.push({ host: '0.0.0.0', port: s.ports.msrpTcp, transport: 'tcp' });
  // Browsers (RFC 7977): the same certificate, the page origins allowed.
  if (s.ports.msrpWss !== undefined) listen.push({ host: '0.0.0.0', port: s.ports.msrpWss, transport: 'wss' });
  const origins = websocketOrigins(r);
  const websocket = origins !== undefined ? { websocket: { origins } } : {};
  const throttling = s.throttling ?? {};
  const rate = (q: number | string | undefined) => (q === undefined ? 0 : quantityToBytes(q));
  const peering = renderPeering(r);
  return {
    // The pod IP is appended from the environment (podIpAliasEnv in statefulset.ts).
    // One worker process per CPU of the relay container's limit: the engine reads the limit from
    // its cgroup (docs/relay.md "Workers"). With the chat server it stays one process.
    relay: { listen, publicHost: s.publicHost, publicPort: s.ports.msrpTls, aliases: serviceAliases(r), workers: 'auto', ...websocket },
    ...(peering ? { nextHops: peering.nextHops } : {}),
    // ca.crt of the mounted Secret is what peers are verified against (engine tls.caFile default).
    tls: { dir: PATHS.tls, ...peering?.tls },
    auth: { realms: (s.realms ?? []).map((realm) => ({ name: realm.name, hosts: realm.hosts ?? [] })) },
    session: {
      minExpires: s.limits.minExpires,
      maxExpires: s.limits.maxExpires,
      defaultExpires: Math.min(Math.max(DEFAULT_EXPIRES, s.limits.minExpires), s.limits.maxExpires),
    },
    limits: {
      maxHeaderBytes: s.limits.maxHeaderBytes,
      maxConnectionBufferBytes: s.limits.maxConnectionBufferBytes,
      transactionTimeoutSec: s.limits.transactionTimeoutSeconds,
      connectionsPerSource: s.limits.connectionsPerSource,
      sessionsPerUser: s.limits.sessionsPerUser,
    },
    throttle: {
      bytesPerSecPerSession: rate(throttling.bytesPerSecondPerSession),
      bytesPerSecPerUser: rate(throttling.bytesPerSecondPerUser),
      bytesPerSecPerRealm: rate(throttling.bytesPerSecondPerRealm),
    },
    drain: { deadlineSec: s.drain.timeoutSeconds },
    ...(s.chat.enabled ? { chat: renderChat(r) } : {}),
    // Always on, whatever spec.replicas says: scaling changes only the StatefulSet, so it rolls
    // no pod and every replica, old or new, finds the others by the same pattern. The ordinal
    // comes from the pod name.
    mesh: { enabled: true, peerHost: meshPeerHost(r), port: MESH_PORT, chatPort: MESH_CHAT_PORT, listenHost: '0.0.0.0', tlsDir: PATHS.meshTls },
    http: { host: '0.0.0.0', port: ENGINE_HTTP_PORT, controlPort: ENGINE_CONTROL_PORT },
    // database.url comes from the environment (a Secret, spec.database is required); dataDir is unused then.
    database: { dataDir: `${PATHS.data}/pglite`, ...renderPasswordStorage(r) },
    log: { level: 'info' },
  };
}

/**
 * The admin sidecar's config. Its schema is not the engine's (both are strict), so it is a
 * file of its own. The control URL is the engine's loopback port in the same pod.
 */
export function renderAdminConfig(r: MsrpRelay): DeepPartial<AdminConfig> {
  return {
    // HTTPS inside the pod network with the operator-issued certificate (docs/security.md "Admin API").
    http: { host: '0.0.0.0', port: ADMIN_PORT, tls: { certFile: `${PATHS.adminTls}/tls.crt`, keyFile: `${PATHS.adminTls}/tls.key` } },
    engine: { controlUrl: `http://127.0.0.1:${ENGINE_CONTROL_PORT}` },
    auth: { bootstrapTokenFile: PATHS.adminTokenFile },
    // database.url comes from the environment (a Secret, spec.database is required); dataDir is unused then.
    database: { dataDir: `${PATHS.data}/pglite`, ...renderPasswordStorage(r) },
    log: { level: 'info' },
  };
}

export function renderConfigMap(r: MsrpRelay): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: objectMeta(r, names.configMap(r)),
    data: {
      [CONFIG_KEY]: stringify(renderEngineConfig(r), { sortMapEntries: true }),
      [ADMIN_CONFIG_KEY]: stringify(renderAdminConfig(r), { sortMapEntries: true }),
    },
  };
}

/**
 * A digest of what the pods read at start, take only at start, and is not in the pod template
 * itself. It goes on the pod template, so a change rolls the pods. Left out: the engine
 * settings it applies live from the updated ConfigMap (internal/config/live.ts LIVE_PATHS:
 * limits, peering, realms, session bounds, throttling), and the TLS Secret, which the engine
 * reloads itself. The admin sidecar's file counts whole: it reads it once.
 */
export function configHash(configMap: V1ConfigMap): string {
  const data = configMap.data ?? {};
  const restart = Object.keys(data).sort().map((k) => [k, k === CONFIG_KEY ? engineRestartSettings(parse(data[k] ?? '')) : data[k]]);
  return createHash('sha256').update(canonicalJson(restart)).digest('hex').slice(0, 16);
}
