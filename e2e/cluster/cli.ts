// Starts a local etcd + kube-apiserver and keeps it up until Ctrl-C.
//   bash e2e/cluster/build.sh && node e2e/cluster/cli.ts
//   export KUBECONFIG=<printed path>; kubectl get ns
import { startCluster } from './cluster.ts';
import { holdUntilSignal } from './hold.ts';

const t0 = performance.now();
const cluster = await startCluster();
const secs = ((performance.now() - t0) / 1000).toFixed(1);
holdUntilSignal(
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
  ],
  () => cluster.stop(),
);
