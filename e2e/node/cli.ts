// Starts a local one-node cluster (e2e/cluster + e2e/node) and keeps it up until Ctrl-C.
//   bash e2e/cluster/build.sh && node e2e/node/cli.ts [image.oci.tar ...]
//   export KUBECONFIG=<printed path>; kubectl get nodes,pods -A
import { startCluster } from '../cluster/cluster.ts';
import { holdUntilSignal } from '../cluster/hold.ts';
import { startNode } from './node.ts';

const t0 = performance.now();
const cluster = await startCluster({ node: true });
const node = await startNode(cluster, { images: process.argv.slice(2) }).catch(async (e: unknown) => {
  await cluster.stop();
  throw e;
});
const secs = ((performance.now() - t0) / 1000).toFixed(1);
holdUntilSignal(
  [
    `cluster and node ready in ${secs}s`,
    `server:      ${cluster.server}`,
    `kubeconfig:  ${cluster.kubeconfigPath}`,
    `node:        ${node.name} (InternalIP ${node.hostIp}, pods on ${node.podSubnet}, bridge ${node.bridge})`,
    `containerd:  ctr -a ${node.containerdSocket} -n k8s.io images ls`,
    `logs:        ${cluster.dir}/{etcd,kube-apiserver}.log ${node.dir}/{containerd,kubelet,kube-scheduler,kube-controller-manager}.log`,
    '',
    `export KUBECONFIG=${cluster.kubeconfigPath}`,
    `export PATH=${cluster.binDir}:$PATH`,
    'Images: imagePullPolicy: Never (imported, no registry).',
  ],
  () => node.stop().finally(() => cluster.stop()),
);
