// msrp-operator: reconciles MsrpRelay and ChatRoom (docs/architecture.md §5.2). Thin wiring only:
// flags, logger, signals; the operator itself is internal/operator/operator.ts.
import { startOperator } from '../internal/operator/operator.ts';
import { parseOperatorArgs, USAGE, UsageError } from '../internal/operator/options.ts';
import { createLogger } from '../internal/telemetry/logger.ts';

async function main(): Promise<number> {
  let options;
  try {
    options = parseOperatorArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const logger = createLogger({ name: 'msrp-operator', ...(options.logLevel ? { level: options.logLevel } : {}) });
  const operator = await startOperator(options, logger);

  return await new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'signal received');
      // A second signal exits at once.
      process.once(signal, () => resolve(130));
      operator.stop().then(
        () => resolve(0),
        (e: unknown) => {
          logger.error({ err: (e as Error).message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    // Leadership lost: exit now, without releasing anything, so no two leaders ever act.
    void operator.lost.then(() => {
      logger.fatal('leadership lost or controllers failed; exiting');
      resolve(1);
    });
  });
}

main().then(
  (code) => {
    // pino writes asynchronously: give it a tick to flush before exiting.
    setTimeout(() => process.exit(code), 50);
  },
  (e: unknown) => {
    process.stderr.write(`msrp-operator: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
