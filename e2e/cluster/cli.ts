// Starts a local etcd + kube-apiserver and keeps it up until Ctrl-C.
//   bash e2e/cluster/build.sh && node e2e/cluster/cli.ts
//   export KUBECONFIG=<printed path>; kubectl get ns
import { startCluster } from './cluster.ts';

const t0 = performance.now();
const cluster = await startCluster();
const secs = ((performance.now() - t0) / 1000).toFixed(1);
process.stdout.write(
  [
    `cluster ready in ${secs}s`,
    `server:      ${cluster.server}`,
    `kubeconfig:  ${cluster.kubeconfigPath}`,
    `admin token: ${cluster.adminToken}`,
    `alice token: ${cluster.userToken} (no RBAC grants)`,
    `binaries:    ${cluster.binDir}`,
    `logs:        ${cluster.dir}/{etcd,kube-apiserver}.log`,
    '',
    `export KUBECONFIG=${cluster.kubeconfigPath}`,
    `export PATH=${cluster.binDir}:$PATH`,
    'Ctrl-C to stop.',
    '',
  ].join('\n'),
);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping\n`);
  cluster.stop().then(
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
