// Starts a local one-node cluster (e2e/cluster + e2e/node) and keeps it up until Ctrl-C.
//   bash e2e/cluster/build.sh && node e2e/node/cli.ts [image.oci.tar ...]
//   export KUBECONFIG=<printed path>; kubectl get nodes,pods -A
import { holdUntilSignal } from '../cluster/hold.ts';
import { startTestbed } from './testbed.ts';
import type { Times } from './testbed.ts';

const times: Times = {};
const { cluster, node } = await startTestbed({ images: process.argv.slice(2) }, times);
holdUntilSignal(
  [
    `cluster ready in ${times.cluster}, node in ${times.node}`,
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
