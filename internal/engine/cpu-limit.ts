// How many workers `relay.workers: auto` means (docs/relay.md "Workers"): the container's
// CPU limit, as the kernel enforces it through the cgroup CPU controller, rounded up (a
// limit of 1.5 CPUs is worth two processes: each may run, together they are throttled),
// else the CPUs the process may run on. A worker beyond the limit would only be throttled.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { EngineConfig } from '../config/engine.ts';
import { MAX_WORKERS } from '../mesh/ownership.ts';

/** Reads a file, or undefined when it is absent or unreadable (no cgroup, another version). */
export type ReadFile = (path: string) => string | undefined;

/** Reads a file with readFileSync, undefined when it cannot be read. */
export const readOrUndefined: ReadFile = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The CPU limit in CPUs (fractional), or undefined when there is none.
 * cgroup v2: `cpu.max` is "<quota> <period>" or "max <period>". cgroup v1: cfs_quota_us
 * (-1: none) over cfs_period_us, under cpu/ or cpu,cpuacct/.
 */
export function cgroupCpuLimit(read: ReadFile = readOrUndefined): number | undefined {
  const v2 = read('/sys/fs/cgroup/cpu.max');
  if (v2 !== undefined) {
    const [quota, period] = v2.trim().split(/\s+/);
    return ratio(quota, period);
  }
  for (const dir of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    if (quota === undefined) continue;
    return ratio(quota.trim(), read(`${dir}/cpu.cfs_period_us`)?.trim());
  }
  return undefined;
}

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  // "max" (v2) and -1 (v1) mean no limit.
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return q / p;
}

export interface WorkerCount {
  readonly workers: number;
  /** Why this many, for the start-up log line. */
  readonly reason: string;
}

/** The number of worker processes `config` asks for on this machine. */
export function workerCount(config: EngineConfig, o: { read?: ReadFile; cpus?: () => number } = {}): WorkerCount {
  const w = config.relay.workers;
  if (typeof w === 'number') return { workers: w, reason: 'relay.workers' };
  // The rules of checkEngineConfig for a number: `auto` falls back to one process instead.
  if (config.database.url === undefined) return { workers: 1, reason: 'auto: one worker without database.url (PGlite serves one process)' };
  if (config.chat.enabled) return { workers: 1, reason: 'auto: one worker with chat.enabled (the chat server runs in one process)' };
  const limit = cgroupCpuLimit(o.read);
  const n = limit !== undefined ? Math.ceil(limit) : (o.cpus ?? availableParallelism)();
  const workers = Math.min(MAX_WORKERS, Math.max(1, n));
  return { workers, reason: limit !== undefined ? `auto: the cgroup CPU limit (${limit} CPUs)` : 'auto: no CPU limit, the CPUs available' };
}
