// The engine's config file, applied while it runs (docs/relay.md "What applies live and what
// rolls the pods"). The file (`msrpd --config`, a mounted ConfigMap in Kubernetes) is watched
// (config/watch-file.ts); a new version is loaded and checked by the loader msrpd started
// with (same environment), then:
//  - invalid: logged and ignored, the running configuration stays;
//  - settings under config/live.ts LIVE_PATHS that differ from what runs are applied to the
//    running relay (RunningRelay.reconfigure), logged at info with the paths;
//  - any other setting that differs from what the engine started with (listeners, ports,
//    public host, mesh, chat, database, ...) is not applied: it is logged as needing a
//    restart with the paths, and msrp_config_restart_required is 1 until the file says again
//    what the engine runs with.
import type { EngineConfig } from '../config/engine.ts';
import { loadEngineConfig } from '../config/engine.ts';
import { ConfigError, formatIssue } from '../config/errors.ts';
import { changedPaths, isLivePath, withLiveSettings } from '../config/live.ts';
import { watchFile, type FileWatcher } from '../config/watch-file.ts';
import { relayOptionsFromConfig, type EngineEnvironment } from '../relay/engine-options.ts';
import type { RunningRelay } from '../relay/relay.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';

export type ReloadResult = 'applied' | 'unchanged' | 'restart-required' | 'invalid';

export interface LiveConfigOptions {
  file: string;
  /** The environment msrpd loaded its config with (MSRP_* overrides apply to every reload). */
  env: NodeJS.ProcessEnv;
  /** The configuration the engine started with. */
  started: EngineConfig;
  /** What relayOptionsFromConfig needs besides the config (the same as at start). */
  environment: EngineEnvironment;
  relay: Pick<RunningRelay, 'reconfigure'>;
  logger: Logger;
  metrics: Metrics;
  /** Fallback polling period (fs.watch covers most changes at once). Default 10 s. */
  pollIntervalMs?: number;
}

export interface LiveConfig {
  /** The configuration in effect: the start one with the live settings applied since. */
  readonly current: EngineConfig;
  /** Paths changed in the file that wait for a restart (empty when none). */
  readonly restartPaths: readonly string[];
  /** Reads the file now (the watcher also does); resolves with what came of it, or undefined when the text did not change. */
  check(): Promise<ReloadResult | undefined>;
  close(): void;
}

export async function watchEngineConfig(o: LiveConfigOptions): Promise<LiveConfig> {
  const log = o.logger.child({ component: 'config', file: o.file });
  const reloads = o.metrics.counter({ name: 'config_reloads_total', help: 'Config file changes seen by the engine, by result (applied, unchanged, restart-required, invalid)', labelNames: ['result'] });
  const restartRequired = o.metrics.gauge({ name: 'config_restart_required', help: '1 when the config file changes settings that only a restart applies (see the log for the paths)' });
  restartRequired.set(0);
  let current = o.started;
  let restartPaths: string[] = [];
  let lastResult: ReloadResult | undefined;

  const apply = (): ReloadResult => {
    let next: EngineConfig;
    try {
      next = loadEngineConfig({ file: o.file, env: o.env });
    } catch (err) {
      const issues = err instanceof ConfigError ? err.issues.map(formatIssue) : [(err as Error).message];
      log.warn({ issues }, 'config file changed but is invalid: ignored, the running configuration stays');
      return 'invalid';
    }
    const restart = changedPaths(o.started, next).filter((p) => !isLivePath(p));
    if (restart.join() !== restartPaths.join()) {
      if (restart.length > 0) log.warn({ paths: restart }, 'config change needs a restart: not applied');
      else if (restartPaths.length > 0) log.info('config file again matches the settings the engine started with: no restart needed');
    }
    restartPaths = restart;
    restartRequired.set(restart.length > 0 ? 1 : 0);

    const live = changedPaths(current, next).filter(isLivePath);
    if (live.length === 0) return restart.length > 0 ? 'restart-required' : 'unchanged';
    const candidate = withLiveSettings(current, next);
    try {
      o.relay.reconfigure(relayOptionsFromConfig(candidate, o.environment));
    } catch (err) {
      log.warn({ err, paths: live }, 'config change could not be applied: the running configuration stays');
      return 'invalid';
    }
    current = candidate;
    log.info({ paths: live }, 'config change applied live');
    return 'applied';
  };

  const watcher: FileWatcher = await watchFile({
    file: o.file,
    ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
    onChange() {
      lastResult = apply();
      reloads.inc({ result: lastResult });
    },
    onError(err) {
      log.warn({ err }, 'config file not readable: the running configuration stays');
    },
  });

  // The file may have changed between msrpd loading it and the watch starting.
  const first = apply();
  if (first !== 'unchanged') reloads.inc({ result: first });

  return {
    get current() {
      return current;
    },
    get restartPaths() {
      return restartPaths;
    },
    async check() {
      lastResult = undefined;
      return (await watcher.check()) ? lastResult : undefined;
    },
    close: () => watcher.close(),
  };
}
