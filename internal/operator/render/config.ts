// The engine configuration (internal/config/engine.ts) rendered from an MsrpRelay spec,
// and the ConfigMap holding it. Secrets never go in here: the database URL reaches the
// engine as MSRP_DATABASE__URL from a secretKeyRef, the certificate as mounted files.
import { createHash } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { EngineConfig } from '../../config/engine.ts';
import type { MsrpRelay } from '../api/msrprelay.ts';
import { ENGINE_CONTROL_PORT, ENGINE_HTTP_PORT, names, objectMeta, PATHS } from './common.ts';
import { quantityToBytes } from './quantity.ts';

export const CONFIG_KEY = 'msrpd.yaml';

/** The config file may leave out anything the engine schema defaults. */
export type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** The engine's AUTH lifetime default (1 h), kept inside the relay's [min, max]. */
const DEFAULT_EXPIRES = 3600;

/**
 * The engine config as a plain object. Fields the engine defaults well (auth algorithms,
 * nonce lifetime, database pool) are left out, so engine defaults keep applying.
 */
export function renderEngineConfig(r: MsrpRelay): DeepPartial<EngineConfig> {
  const s = r.spec;
  const listen: { host: string; port: number; transport: 'tls' | 'tcp' }[] = [
    { host: '0.0.0.0', port: s.ports.msrpTls, transport: 'tls' },
  ];
  if (s.ports.msrpTcp !== undefined) listen.push({ host: '0.0.0.0', port: s.ports.msrpTcp, transport: 'tcp' });
  const throttling = s.throttling ?? {};
  const rate = (q: number | string | undefined) => (q === undefined ? 0 : quantityToBytes(q));
  return {
    relay: { listen, publicHost: s.publicHost, publicPort: s.ports.msrpTls },
    tls: { dir: PATHS.tls },
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
    drain: { deadlineSec: s.drain.deadlineSeconds },
    http: { host: '0.0.0.0', port: ENGINE_HTTP_PORT, controlPort: ENGINE_CONTROL_PORT },
    // database.url comes from the environment (a Secret); without it, PGlite on the data volume.
    database: { dataDir: `${PATHS.data}/pglite` },
    log: { level: 'info' },
  };
}

export function renderConfigMap(r: MsrpRelay): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: objectMeta(r, names.configMap(r)),
    data: { [CONFIG_KEY]: stringify(renderEngineConfig(r), { sortMapEntries: true }) },
  };
}

/**
 * A digest of everything the pods read at start that is not in the pod template itself.
 * It goes on the pod template, so a change rolls the pods. The TLS Secret is deliberately
 * not part of it: the engine reloads a rotated certificate without a restart.
 */
export function configHash(configMap: V1ConfigMap): string {
  const data = configMap.data ?? {};
  const canonical = JSON.stringify(Object.keys(data).sort().map((k) => [k, data[k]]));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
