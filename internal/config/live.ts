// Which engine settings a running engine takes without a restart (docs/relay.md "What
// applies live and what rolls the pods"). One list, read by the engine (engine/live-config.ts
// applies a changed config file to the running relay) and by the operator (the config hash
// on the pod template leaves these paths out, so changing them updates the ConfigMap without
// rolling the pods).
//
// Paths are dotted, without indices: a list is one value (`nextHops.allow`), and a path
// names everything under it (`limits` is every limit).
import Value from 'typebox/value';
import { EngineConfigSchema, type EngineConfig } from './engine.ts';

export const LIVE_PATHS: readonly string[] = [
  // The local-host set (what "us" means in a To-Path) is rebuilt from these and the realms.
  'relay.aliases',
  'relay.blockedMethods',
  // Next hops are checked per connection attempt; open ones no longer allowed are closed.
  'nextHops',
  'tls.peerCertificates',
  'auth.realms',
  'auth.algorithms',
  'auth.allowPlainTcp',
  'auth.basicOverTls',
  'auth.maxFailures',
  'session',
  // maxHeaderBytes, streamThresholdBytes and maxConnectionBufferBytes: connections opened
  // after the change (and, for the first two, a connection's reader once it idled); the rest
  // at the next AUTH, connection, request or parse error.
  'limits',
  'throttle',
  // Read when the drain starts. (An MsrpRelay's drain timeout also sets the pod's grace period,
  // which is in the pod template: that rolls the pods whatever this list says.)
  'drain',
];

/** Whether `path` (dotted, e.g. `limits.sessionsPerUser`) is under one of LIVE_PATHS. */
export function isLivePath(path: string): boolean {
  return LIVE_PATHS.some((p) => path === p || path.startsWith(`${p}.`));
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (isPlainObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));
}

/**
 * The dotted paths whose values differ between two configurations: objects are walked, a
 * list or a scalar is one value. Sorted.
 */
export function changedPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].sort().flatMap((k) => changedPaths(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`));
  }
  return canonicalJson(a) === canonicalJson(b) ? [] : [prefix];
}

function valueAt(root: unknown, path: string): unknown {
  let v = root;
  for (const k of path.split('.')) v = isPlainObject(v) ? v[k] : undefined;
  return v;
}

function setAt(root: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let target = root;
  for (const k of keys.slice(0, -1)) {
    if (!isPlainObject(target[k])) target[k] = {};
    target = target[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = structuredClone(value);
}

/** `base` with every live path taken from `next`: what a running engine applies of `next`. */
export function withLiveSettings(base: EngineConfig, next: EngineConfig): EngineConfig {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  for (const p of LIVE_PATHS) setAt(out, p, valueAt(next, p));
  return out as unknown as EngineConfig;
}

/**
 * A (possibly partial) engine config without the live paths: what needs a restart. The
 * operator hashes this onto the pod template.
 */
export function restartSettings(config: unknown): unknown {
  if (!isPlainObject(config)) return config;
  const out = structuredClone(config);
  for (const p of LIVE_PATHS) setAt(out, p, undefined);
  // A section left empty is the same as one never written.
  for (const [k, v] of Object.entries(out)) if (isPlainObject(v) && Object.keys(v).length === 0) delete out[k];
  return out;
}

/**
 * What needs a restart in an engine config file's content (a partial config as written):
 * the schema defaults filled in, so a default said out loud is no change, then
 * restartSettings. The operator hashes this onto the pod template.
 */
export function engineRestartSettings(file: unknown): unknown {
  const config = structuredClone(file ?? {});
  Value.Default(EngineConfigSchema, config);
  return restartSettings(config);
}
