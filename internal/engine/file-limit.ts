// The open-file limit against `limits.connections` (docs/relay.md "Memory and open files"):
// every MSRP connection is a socket, so a process whose open-file limit is below the
// connections it is allowed to accept fails at accept (EMFILE) long before its own limit
// refuses anyone. Node raises its soft limit to the hard one at start-up; what is left is the
// container's or the host's hard limit, read from /proc/self/limits (Linux), checked once at
// start-up and said in the log.
import type { EngineConfig } from '../config/engine.ts';
import { readOrUndefined, type ReadFile } from './cpu-limit.ts';

/** Files the engine keeps open besides client connections: listeners, next hops, links, database, logs. */
export const FILE_HEADROOM = 256;

export interface FileLimit {
  readonly soft: number;
  readonly hard: number;
}

/** The "Max open files" line of /proc/self/limits; undefined where there is none. "unlimited" is Infinity. */
export function openFileLimit(read: ReadFile = readOrUndefined): FileLimit | undefined {
  const text = read('/proc/self/limits');
  if (text === undefined) return undefined;
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (m === null) return undefined;
  const n = (v: string): number => (v === 'unlimited' ? Infinity : Number(v));
  const soft = n(m[1]!);
  const hard = n(m[2]!);
  return Number.isNaN(soft) || Number.isNaN(hard) ? undefined : { soft, hard };
}

/**
 * A warning for the start-up log when the open-file limit cannot hold `limits.connections`
 * client connections plus the engine's own files, else undefined. With no connection limit
 * (0) the open-file limit is the only bound, which is then said at info level by the caller.
 */
export function fileLimitWarning(config: Pick<EngineConfig, 'limits'>, limit: FileLimit | undefined): { msg: string; fields: Record<string, number> } | undefined {
  const connections = config.limits.connections;
  if (limit === undefined || connections === 0) return undefined;
  const needed = connections + FILE_HEADROOM;
  if (limit.soft >= needed) return undefined;
  return {
    msg: `open-file limit ${limit.soft} is below limits.connections ${connections} plus ${FILE_HEADROOM}: connections past about ${Math.max(0, limit.soft - FILE_HEADROOM)} will fail at accept (EMFILE); raise the container's nofile limit or lower limits.connections`,
    fields: { openFileLimit: limit.soft, connectionsLimit: connections, needed },
  };
}
