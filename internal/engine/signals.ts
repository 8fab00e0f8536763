// SIGTERM / SIGINT for a running engine, as msrpd and `npm start` handle them (docs/architecture.md §4.3,
// a rolling update drains): the first signal drains the engine, then closes what the caller
// owns besides (`npm start`: its admin API and the store it shares), logs "stopped" and
// exits 0; a failure to close logs "stop failed" and exits 1. Later signals are ignored
// while the drain runs (the relay's drain deadline bounds it).
import type { Logger } from '../telemetry/logger.ts';
import type { RunningEngine } from './engine.ts';

/** The parts of `process` used here; tests pass their own. */
export interface SignalTarget {
  on(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  exit(code: number): void;
}

export interface ShutdownOptions {
  /** Closes what the caller owns besides the engine, after the engine has drained and closed. */
  after?: () => Promise<void>;
  /** Default: `process`. */
  target?: SignalTarget;
}

export function onShutdownSignals(engine: Pick<RunningEngine, 'drain'>, logger: Logger, o: ShutdownOptions = {}): void {
  const target = o.target ?? process;
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    const close = async (): Promise<void> => {
      await engine.drain();
      await o.after?.();
    };
    close().then(() => {
      logger.info('stopped');
      // An asynchronous destination (npm start's stderr) writes its last lines before the exit.
      logger.flush();
      setImmediate(() => target.exit(0));
    }, (err: unknown) => {
      logger.error({ err }, 'stop failed');
      logger.flush();
      setImmediate(() => target.exit(1));
    });
  };
  target.on('SIGTERM', () => shutdown('SIGTERM'));
  target.on('SIGINT', () => shutdown('SIGINT'));
}
