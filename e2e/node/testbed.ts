// A cluster with one node for a suite (node.e2e.ts, user-path.e2e.ts) or the CLI: started
// and stopped in the right order, with how long each part took (the suites print the
// times: they tell a slow machine from a regression).
import { startCluster } from '../cluster/cluster.ts';
import type { Cluster } from '../cluster/cluster.ts';
import { startNode } from './node.ts';
import type { Node, NodeOptions } from './node.ts';

/** Named durations, e.g. { cluster: '4.2 s' }. */
export type Times = Record<string, string>;

/** Seconds since t0 (a performance.now() reading), e.g. '4.2 s'. */
export const secs = (t0: number): string => ((performance.now() - t0) / 1000).toFixed(1) + ' s';

/** startCluster({ node: true }) then startNode(opts), timed as times.cluster and times.node; the cluster is stopped if the node fails. */
export async function startTestbed(opts: NodeOptions, times: Times): Promise<{ cluster: Cluster; node: Node }> {
  let t0 = performance.now();
  const cluster = await startCluster({ node: true });
  times.cluster = secs(t0);
  t0 = performance.now();
  try {
    const node = await startNode(cluster, opts);
    times.node = secs(t0);
    return { cluster, node };
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

/**
 * Stops the node (timed as times.nodeStop), then the cluster, then `rest` (the suite's own
 * leftovers), each even if the one before failed; then prints the times.
 */
export async function stopTestbed(node: Node | undefined, cluster: Cluster | undefined, times: Times, rest: () => Promise<void> = async () => {}): Promise<void> {
  try {
    const t0 = performance.now();
    await node?.stop();
    times.nodeStop = secs(t0);
  } finally {
    try {
      await cluster?.stop();
    } finally {
      await rest();
      process.stderr.write(`# times: ${JSON.stringify(times)}\n`);
    }
  }
}
