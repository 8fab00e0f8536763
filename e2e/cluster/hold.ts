// What the cluster and node CLIs (e2e/cluster/cli.ts, e2e/node/cli.ts) do once their
// cluster is up: say how to reach it, then keep it up until Ctrl-C or SIGTERM.

/** Prints the lines, then keeps the process alive until a signal; then stop() and exit (1 if stop failed). */
export function holdUntilSignal(lines: string[], stop: () => Promise<void>): void {
  process.stdout.write([...lines, 'Ctrl-C to stop.', ''].join('\n'));
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping\n`);
    stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // Keep the event loop alive until a signal arrives.
  setInterval(() => {}, 1 << 30);
}
