// A real node for the e2e cluster: containerd (CRI) + runc + the CNI bridge plugin from
// Debian, and kubelet, kube-scheduler and kube-controller-manager built by
// e2e/cluster/build.sh, registered to a cluster from `startCluster({ node: true })`.
// Everything it makes is private to one call and removed by stop(): its temp dir
// (containerd root/state/socket, kubelet root dir, pod logs, CNI config and IPAM state,
// the pods' network namespaces), its cgroup subtree, its bridge.
//
// Pod network: a Linux bridge in the host namespace that this code creates with the
// first address of a free private /24; the bridge plugin puts each pod's veth on it and
// host-local hands out addresses. No default route in the pods, `ipMasq: false`,
// `isGateway: false` (so the plugin never turns on ip_forward): a pod reaches the
// host (kubelet probes, the test) and other pods on the bridge, and nothing else.
//
//   const cluster = await startCluster({ node: true });
//   const node = await startNode(cluster);                 // Node Ready
//   await node.importImage('/path/image.oci.tar');         // no registry: ctr import
//   ... kubectl apply; pod IPs answer from this host ...
//   await node.stop(); await cluster.stop();
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { apiGet, freePorts, NODE_NAME } from '../cluster/cluster.ts';
import type { Cluster } from '../cluster/cluster.ts';
import { launch, logTails, sleep, terminate } from '../cluster/procs.ts';
import type { Proc } from '../cluster/procs.ts';
import { cgroupPids, freeSubnet, inode, IP, killPids, makeCgroupRoot, mountsUnder, processesNaming, removeCgroupRoot, subnetOwners } from './host.ts';
import { hostFile, writeOciArchive } from './oci.ts';

const execFileP = promisify(execFile);

/** Host programs the node needs (Debian: containerd, runc, containernetworking-plugins, iproute2). */
export const HOST_PROGRAMS = {
  containerd: '/usr/bin/containerd',
  ctr: '/usr/bin/ctr',
  shim: '/usr/bin/containerd-shim-runc-v2',
  runc: '/usr/sbin/runc',
  cniBridge: '/usr/lib/cni/bridge',
  cniHostLocal: '/usr/lib/cni/host-local',
  cniLoopback: '/usr/lib/cni/loopback',
  ip: IP,
} as const;
export const NODE_BINARIES = ['kubelet', 'kube-scheduler', 'kube-controller-manager', 'pause'] as const;
export const CNI_BIN_DIR = '/usr/lib/cni';
export const PAUSE_IMAGE = 'localhost/msrp/pause:1';
/** Binaries `{ services: true }` needs besides NODE_BINARIES (e2e/cluster/build.sh builds both). */
export const SERVICE_BINARIES = ['kube-proxy', 'coredns'] as const;
export const IPTABLES = '/usr/sbin/iptables';
/** The API server's --service-cluster-ip-range (e2e/cluster/cluster.ts). */
export const SERVICE_CIDR = '10.0.0.0/24';
/**
 * kube-proxy's chains (KUBE-SERVICES, ...) are host-wide and every e2e cluster uses the same
 * service range, so only one node with `services: true` may run on a host at a time.
 */
const SERVICES_LOCK = '/run/msrp-e2e-services.lock';

/** Why a node cannot start here (a missing program or binary, not root), or undefined. */
export function nodeMissing(binDir: string | undefined): string | undefined {
  if (process.getuid?.() !== 0) return 'the node needs root (containerd, cgroups, bridge)';
  const missing = Object.values(HOST_PROGRAMS).filter((p) => !existsSync(p));
  if (missing.length) return `missing ${missing.join(', ')}: apt-get install containerd runc containernetworking-plugins iproute2`;
  if (!binDir) return 'kube-apiserver not built: run e2e/cluster/build.sh';
  const bins = NODE_BINARIES.filter((b) => !existsSync(path.join(binDir, b)));
  if (bins.length) return `${bins.join(', ')} not built in ${binDir}: run e2e/cluster/build.sh`;
  return undefined;
}

/** Why `startNode(cluster, { services: true })` cannot run here, or undefined. */
export function servicesMissing(binDir: string | undefined): string | undefined {
  const base = nodeMissing(binDir);
  if (base) return base;
  if (!existsSync(IPTABLES)) return `missing ${IPTABLES}: apt-get install iptables`;
  const bins = SERVICE_BINARIES.filter((b) => !existsSync(path.join(binDir!, b)));
  if (bins.length) return `${bins.join(', ')} not built in ${binDir}: run e2e/cluster/build.sh`;
  return undefined;
}

export type NodeOptions = {
  /** Milliseconds to wait for the Node to be Ready (default 120 s). */
  readyTimeoutMs?: number;
  /** OCI image archives to import before the kubelet starts. */
  images?: string[];
  /** Keep the temp dir (logs) after stop(); also MSRP_CLUSTER_KEEP=1. */
  keepDir?: boolean;
  /** OCI runtime binary for containerd's runc shim (default runc; crun works too). */
  runtimeBinary?: string;
  /**
   * ClusterIP Services and cluster DNS for pods: kube-proxy (iptables mode) and CoreDNS on
   * the bridge address (the kubelet's clusterDNS), a route to the service range in every pod,
   * forwarding on this bridge only (an iptables rule drops whatever a pod sends elsewhere),
   * and the `kubernetes` Service's endpoint: a TCP forwarder from the bridge address to the
   * API server on 127.0.0.1 (TLS end to end; its certificate names 10.0.0.1 and
   * kubernetes.default.svc). One such node per host at a time (see SERVICES_LOCK).
   */
  services?: boolean;
};

export type Node = {
  name: string;
  /** The pods' /24, e.g. 10.244.17.0/24. */
  podSubnet: string;
  /** The bridge's address on this host: the node's InternalIP and where pods see the host. */
  hostIp: string;
  bridge: string;
  /** Cgroup parent of everything the node runs, e.g. /msrp-node-1a2b3c. */
  cgroupRoot: string;
  containerdSocket: string;
  /** Temp dir with the configs and logs: containerd.log, kubelet.log, kube-scheduler.log, kube-controller-manager.log. */
  dir: string;
  /** `ctr -n k8s.io images import` of an OCI (or docker-save) archive. */
  importImage(archive: string): Promise<void>;
  /** With `services`: the cluster DNS server's address (CoreDNS on the bridge address). */
  dnsIp?: string;
  /** Runs `ctr -n k8s.io <args>` against this node's containerd. */
  ctr(args: string[]): Promise<string>;
  /** Stops everything and removes all it made. Safe to call twice. */
  stop(): Promise<void>;
};

/**
 * Host paths the programs use whatever we configure: the kubelet's device-plugin socket
 * and /var/log/containers symlinks, libcni's result cache (containerd 1.6 sets no cache
 * dir), the shims' socket dir. Deepest first; stop() removes the ones this node created
 * when they are empty again (other nodes may be using them).
 */
const HOST_DIRS = [
  '/var/lib/kubelet/device-plugins',
  '/var/lib/kubelet',
  '/var/log/containers',
  '/var/lib/cni/results',
  '/var/lib/cni',
  '/run/containerd/s',
  '/run/containerd',
];
const KUBELET_DEVICE_SOCKET = '/var/lib/kubelet/device-plugins/kubelet.sock';
const CNI_RESULTS = '/var/lib/cni/results';
const CONTAINER_LOG_LINKS = '/var/log/containers';

async function ip(args: string[]): Promise<void> {
  await execFileP(HOST_PROGRAMS.ip, args);
}

function kubeconfig(cluster: Cluster, user: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'msrp-e2e', cluster: { server: cluster.server, 'certificate-authority-data': Buffer.from(cluster.caPem).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'msrp-e2e', context: { cluster: 'msrp-e2e', user } }],
    'current-context': 'msrp-e2e',
  }, null, 2) + '\n';
}

export async function startNode(cluster: Cluster, opts: NodeOptions = {}): Promise<Node> {
  const missing = opts.services ? servicesMissing(cluster.binDir) : nodeMissing(cluster.binDir);
  if (missing) throw new Error(`startNode: ${missing}`);
  if (!cluster.kubeletClientCaPath) throw new Error('startNode: start the cluster with startCluster({ node: true })');
  const keepDir = opts.keepDir ?? process.env.MSRP_CLUSTER_KEEP === '1';
  const id = randomBytes(3).toString('hex');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'msrp-node-'));
  const bridge = `msrpbr${id}`; // 12 chars: IFNAMSIZ is 16
  const cgroupRoot = `/msrp-node-${id}`;
  let net = freeSubnet();
  const hostDirsBefore = new Set(HOST_DIRS.filter((d) => existsSync(d)));
  let deviceSocketIno: number | undefined;
  const containerdSocket = path.join(dir, 'containerd.sock');
  const procs: Proc[] = [];
  let bridgeMade = false;
  let cgroupMade = false;
  // services: the lock, the iptables rules we added, kube-proxy's chains, the API forwarder.
  let locked = false;
  const iptablesRules: string[][] = [];
  let proxyRan = false;
  let forwarder: Server | undefined;
  const forwarded = new Set<Socket>();

  const ctr = async (args: string[]): Promise<string> => {
    const { stdout } = await execFileP(HOST_PROGRAMS.ctr, ['-a', containerdSocket, '-n', 'k8s.io', ...args], { maxBuffer: 16 << 20 });
    return stdout;
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const problems: string[] = [];
      if (forwarder) {
        for (const sock of forwarded) sock.destroy();
        await new Promise<void>((r) => forwarder!.close(() => r()));
      }
      // Control plane components, then the kubelet (it would restart what we kill next).
      for (const p of [...procs].reverse().filter((q) => q.name !== 'containerd')) {
        await terminate(p, 10_000);
      }
      const containerd = procs.find((p) => p.name === 'containerd');
      let containerIds: string[] = [];
      if (containerd?.isRunning()) {
        containerIds = (await ctr(['containers', 'ls', '-q']).catch(() => '')).split('\n').filter(Boolean);
        // Every task (pod sandboxes and containers) killed through containerd, so the shims exit.
        try {
          const tasks = (await ctr(['tasks', 'ls', '-q'])).split('\n').filter(Boolean);
          await Promise.all(tasks.map((t) => ctr(['tasks', 'kill', '-s', 'SIGKILL', '--all', t]).catch(() => '')));
          const deadline = Date.now() + 10_000;
          while (Date.now() < deadline && (await ctr(['tasks', 'ls']).catch(() => '')).split('\n').some((l) => /RUNNING/.test(l))) await sleep(200);
          await Promise.all(tasks.map((t) => ctr(['tasks', 'delete', '-f', t]).catch(() => '')));
        } catch (e) {
          problems.push(`ctr tasks: ${(e as Error).message}`);
        }
        await terminate(containerd, 10_000);
      }
      // Whatever is left: shims started for this containerd, processes in our cgroups.
      killPids(processesNaming(containerdSocket));
      for (let i = 0; i < 20; i++) {
        const pids = cgroupPids(cgroupRoot);
        if (!pids.length) break;
        killPids(pids);
        await sleep(100);
      }
      // Mounts under the dir: container rootfs (overlay), /dev/shm of sandboxes, the pods'
      // network namespaces (netns_mounts_under_state_dir) and kubelet volumes (tmpfs).
      // Unmounting the netns drops its last reference: the kernel deletes it and its veth.
      for (let i = 0; i < 3; i++) {
        const mounts = mountsUnder(dir);
        if (!mounts.length) break;
        for (const m of mounts) await execFileP('umount', ['-l', m]).catch(() => undefined);
      }
      if (cgroupMade && !removeCgroupRoot(cgroupRoot)) problems.push(`cgroup ${cgroupRoot} not removed`);
      // libcni's cached results of sandboxes that got no CNI DEL (killed, not stopped by the kubelet).
      if (containerIds.length && existsSync(CNI_RESULTS)) {
        for (const f of readdirSync(CNI_RESULTS)) {
          if (containerIds.some((cid) => f.includes(cid))) rmSync(path.join(CNI_RESULTS, f), { force: true });
        }
      }
      // The kubelet's /var/log/containers symlinks into our pod logs (pods it did not remove).
      if (existsSync(CONTAINER_LOG_LINKS)) {
        for (const f of readdirSync(CONTAINER_LOG_LINKS)) {
          const link = path.join(CONTAINER_LOG_LINKS, f);
          try {
            if (readlinkSync(link).startsWith(dir + '/')) unlinkSync(link);
          } catch {
            /* not a link, or gone */
          }
        }
      }
      // The kubelet's device-plugin socket, if it is still ours; then the host dirs we created, if empty.
      if (deviceSocketIno !== undefined && inode(KUBELET_DEVICE_SOCKET) === deviceSocketIno) {
        try {
          unlinkSync(KUBELET_DEVICE_SOCKET);
        } catch {
          /* gone */
        }
      }
      for (const d of HOST_DIRS) {
        if (hostDirsBefore.has(d)) continue;
        try {
          rmdirSync(d);
        } catch {
          /* not empty (another node) or gone */
        }
      }
      if (bridgeMade) await ip(['link', 'del', bridge]).catch((e: Error) => problems.push(`bridge ${bridge}: ${e.message}`));
      // kube-proxy's chains and jumps (KUBE-*, host-wide: hence the lock), then our own rules.
      if (proxyRan) {
        await execFileP(path.join(cluster.binDir, 'kube-proxy'), ['--cleanup', '--proxy-mode=iptables', '--v=0'])
          .catch((e: Error) => problems.push(`kube-proxy --cleanup: ${e.message}`));
      }
      for (const rule of iptablesRules.reverse()) {
        await execFileP(IPTABLES, ['-w', '-D', ...rule]).catch((e: Error) => problems.push(`iptables -D ${rule.join(' ')}: ${e.message}`));
      }
      if (locked) rmSync(SERVICES_LOCK, { force: true });
      if (!keepDir) await rm(dir, { recursive: true, force: true }).catch((e: Error) => problems.push(`rm ${dir}: ${e.message}`));
      if (problems.length) throw new Error(`node stop: ${problems.join('; ')}`);
    })();
    return stopped;
  };

  const fail = async (why: string): Promise<never> => {
    const logs = await logTails(procs, 30);
    await stop().catch(() => undefined);
    throw new Error(`startNode: ${why}\n${logs}`);
  };

  const podSubnet = () => `10.244.${net}.0/24`;
  const hostIp = () => `10.244.${net}.1`;
  try {
    // 1. The bridge, with the node's address: the host side of the pod network.
    await ip(['link', 'add', 'name', bridge, 'type', 'bridge']);
    bridgeMade = true;
    for (let attempt = 1; ; attempt++) {
      await ip(['addr', 'add', `10.244.${net}.1/24`, 'dev', bridge]);
      if (subnetOwners(net) === 1) break;
      await ip(['addr', 'flush', 'dev', bridge]);
      if (attempt >= 5) throw new Error('no free 10.244.x.0/24 after 5 tries');
      net = freeSubnet();
    }
    await ip(['link', 'set', bridge, 'up']);
    if (opts.services) {
      await acquireServicesLock(Date.now() + (opts.readyTimeoutMs ?? 120_000));
      locked = true;
      // A pod reaching a ClusterIP whose endpoint is another pod is routed through the host
      // (DNAT, then out of the same bridge): forwarding on this bridge only (ip_forward stays
      // 0), and anything a pod sends to another interface is dropped.
      writeFileSync(`/proc/sys/net/ipv4/conf/${bridge}/forwarding`, '1');
      const tag = ['-m', 'comment', '--comment', `msrp-e2e ${bridge}`];
      // The host reaches ClusterIPs from its bridge address (a pod can answer it), not from
      // the address of its default route, which no pod has a route to. Goes with the bridge.
      await ip(['route', 'add', SERVICE_CIDR, 'dev', bridge, 'src', hostIp()]);
      for (const rule of [
        ['FORWARD', '-i', bridge, '-o', bridge, ...tag, '-j', 'ACCEPT'],
        ['FORWARD', '-i', bridge, ...tag, '-j', 'DROP'],
      ]) {
        await execFileP(IPTABLES, ['-w', '-A', ...rule]);
        iptablesRules.push(rule);
      }
    }
    // 2. A cgroup subtree of our own (the kubelet's cgroupRoot must exist beforehand).
    makeCgroupRoot(cgroupRoot);
    cgroupMade = true;
  } catch (e) {
    return fail(`network/cgroup setup: ${(e as Error).message}`);
  }

  // 3. CNI: bridge + host-local on the /24, no routes (so no default route), no masquerade.
  const cniConfDir = path.join(dir, 'cni', 'net.d');
  await mkdir(cniConfDir, { recursive: true });
  await writeFile(path.join(cniConfDir, '10-msrp-e2e.conflist'), JSON.stringify({
    cniVersion: '0.4.0',
    name: 'msrp-e2e',
    plugins: [{
      type: 'bridge',
      bridge,
      isGateway: false, // the bridge keeps the address we gave it; ip_forward is left alone
      ipMasq: false,
      hairpinMode: true,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: podSubnet(), rangeStart: `10.244.${net}.10`, rangeEnd: `10.244.${net}.250`, gateway: hostIp() }]],
        // No default route; with services, the service range via the host (kube-proxy's DNAT).
        routes: opts.services ? [{ dst: SERVICE_CIDR, gw: hostIp() }] : [],
        dataDir: path.join(dir, 'cni', 'ipam'),
      },
    }],
  }, null, 2));

  // 4. containerd with its own root, state and socket; the CRI plugin on.
  const runtimeBinary = opts.runtimeBinary ?? HOST_PROGRAMS.runc;
  const ctdConfig = `version = 2
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${containerdSocket}"
[ttrpc]
  address = "${containerdSocket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  netns_mounts_under_state_dir = true
  # These VMs drop CAP_SYS_RESOURCE from every process's bounding set (CapBnd
  # 000001fffeffffff), so lowering oom_score_adj fails with EACCES; runc then dies in
  # nsexec writing the sandbox's -998 ("can't get final child's PID from pipe: EOF").
  # Clamp every container's score to containerd's own (as rootless setups do).
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "${runtimeBinary}"
        Root = "${dir}/containerd/state/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${cniConfDir}"
`;
  await writeFile(path.join(dir, 'containerd.toml'), ctdConfig);
  const containerd = launch('containerd', HOST_PROGRAMS.containerd, ['--config', path.join(dir, 'containerd.toml'), '--log-level', 'info'], path.join(dir, 'containerd.log'));
  procs.push(containerd);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (!containerd.isRunning()) return fail('containerd exited');
    if (Date.now() > deadline) return fail('containerd did not answer in time');
    if (existsSync(containerdSocket) && (await ctr(['version']).then(() => true, () => false))) break;
    await sleep(100);
  }

  // 5. The sandbox image (our pause binary) and the caller's images, imported: no registry.
  const importImage = async (archive: string): Promise<void> => {
    await ctr(['images', 'import', archive]); // unpacks into the overlayfs snapshotter the CRI uses
  };
  try {
    const pauseArchive = path.join(dir, 'pause.oci.tar');
    await writeOciArchive(pauseArchive, { ref: PAUSE_IMAGE, entries: [await hostFile(path.join(cluster.binDir, 'pause'), '/pause')], entrypoint: ['/pause'] });
    await importImage(pauseArchive);
    for (const img of opts.images ?? []) await importImage(img);
  } catch (e) {
    return fail(`image import: ${(e as Error).message}`);
  }

  // 6. kubelet, as system:node:<name>, serving on the bridge address only.
  const [kubeletPort, healthzPort, schedulerPort, cmPort] = (await freePorts(4)) as [number, number, number, number];
  const kubeletDir = path.join(dir, 'kubelet');
  await mkdir(path.join(dir, 'pod-logs'), { recursive: true });
  await mkdir(kubeletDir, { recursive: true });
  await writeFile(path.join(dir, 'kubelet.kubeconfig'), kubeconfig(cluster, `system:node:${NODE_NAME}`, cluster.componentTokens.node), { mode: 0o600 });
  await writeFile(path.join(dir, 'kubelet.yaml'), JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: hostIp(),
    port: kubeletPort,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: cluster.kubeletClientCaPath },
    },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${containerdSocket}`,
    cgroupDriver: 'cgroupfs', // no systemd on these machines
    cgroupRoot,
    cgroupsPerQOS: true,
    // Kubernetes 1.31+ put cgroup v1 in maintenance mode; these machines are v1 (hybrid).
    failCgroupV1: false,
    failSwapOn: false,
    // No iptables from the kubelet (KUBE-FIREWALL, canary chains): they are host-wide and
    // would outlive the node; nothing here needs them (no kube-proxy, no NodePorts).
    makeIPTablesUtilChains: false,
    oomScoreAdj: 0, // -999 cannot be set here: no CAP_SYS_RESOURCE (see restrict_oom_score_adj)
    podLogsDir: path.join(dir, 'pod-logs'),
    resolvConf: '', // no host nameservers: nothing outside the cluster to resolve, nowhere to go
    // With services, pods (dnsPolicy ClusterFirst) get CoreDNS on the bridge address.
    ...(opts.services ? { clusterDNS: [hostIp()] } : {}),
    clusterDomain: 'cluster.local',
    registerNode: true,
    maxPods: 30,
    // Disk on a shared build machine is often past the default 85 %: no image GC, no eviction
    // on disk; the test images must stay.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    serializeImagePulls: false,
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '10s',
  }, null, 2));
  const kubelet = launch('kubelet', path.join(cluster.binDir, 'kubelet'), [
    `--config=${path.join(dir, 'kubelet.yaml')}`,
    `--kubeconfig=${path.join(dir, 'kubelet.kubeconfig')}`,
    `--root-dir=${kubeletDir}`,
    `--cert-dir=${path.join(kubeletDir, 'pki')}`, // self-signed serving certificate
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${hostIp()}`,
    '--v=2',
  ], path.join(dir, 'kubelet.log'));
  procs.push(kubelet);

  // 7. Scheduler and controller-manager on loopback, with their own identities.
  await writeFile(path.join(dir, 'scheduler.kubeconfig'), kubeconfig(cluster, 'system:kube-scheduler', cluster.componentTokens.scheduler), { mode: 0o600 });
  await writeFile(path.join(dir, 'controller-manager.kubeconfig'), kubeconfig(cluster, 'system:kube-controller-manager', cluster.componentTokens.controllerManager), { mode: 0o600 });
  await writeFile(path.join(dir, 'cluster-ca.crt'), cluster.caPem);
  /** What both share: one identity's kubeconfig for everything, serving on loopback, no leader election. */
  const componentArgs = (kubeconfigFile: string, port: number): string[] => [
    `--kubeconfig=${path.join(dir, kubeconfigFile)}`,
    `--authentication-kubeconfig=${path.join(dir, kubeconfigFile)}`,
    `--authorization-kubeconfig=${path.join(dir, kubeconfigFile)}`,
    // The API server has no client CA or request-header config to publish
    // (extension-apiserver-authentication): do not look it up, only tokens are used.
    '--authentication-skip-lookup=true',
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    '--leader-elect=false',
    '--v=1',
  ];
  const scheduler = launch('kube-scheduler', path.join(cluster.binDir, 'kube-scheduler'), componentArgs('scheduler.kubeconfig', schedulerPort), path.join(dir, 'kube-scheduler.log'));
  procs.push(scheduler);
  const cm = launch('kube-controller-manager', path.join(cluster.binDir, 'kube-controller-manager'), [
    ...componentArgs('controller-manager.kubeconfig', cmPort),
    `--service-account-private-key-file=${cluster.serviceAccountKeyPath}`,
    `--root-ca-file=${path.join(dir, 'cluster-ca.crt')}`,
    // Each controller with its own ServiceAccount (system:controller:* roles), as kubeadm
    // runs it: the system:kube-controller-manager user alone may not create ReplicaSets or Pods.
    '--use-service-account-credentials=true',
  ], path.join(dir, 'kube-controller-manager.log'));
  procs.push(cm);

  // 7b. Services and DNS (opts.services).
  if (opts.services) {
    try {
      await startServices();
    } catch (e) {
      return fail(`services: ${(e as Error).message}`);
    }
  }

  // 8. Ready: the Node object says Ready (runtime and network ready, kubelet posting status).
  let last = '';
  for (;;) {
    for (const p of procs) if (!p.isRunning()) return fail(`${p.name} exited (code ${p.child.exitCode})`);
    if (Date.now() > deadline) return fail(`node not Ready in time; last: ${last}`);
    const r = await apiGet(cluster, `/api/v1/nodes/${NODE_NAME}`).catch((e: Error) => ({ status: 0, body: e.message }));
    if (r.status === 200) {
      const conds = (JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }).status?.conditions ?? [];
      const ready = conds.find((c) => c.type === 'Ready');
      last = ready ? `Ready=${ready.status} ${ready.reason ?? ''} ${ready.message ?? ''}` : 'no Ready condition';
      if (ready?.status === 'True') {
        deviceSocketIno = inode(KUBELET_DEVICE_SOCKET);
        break;
      }
    } else {
      last = `${r.status} ${r.body.slice(0, 200)}`;
    }
    await sleep(500);
  }

  return {
    name: NODE_NAME, podSubnet: podSubnet(), hostIp: hostIp(), bridge, cgroupRoot, containerdSocket, dir, importImage, ctr, stop,
    ...(opts.services ? { dnsIp: hostIp() } : {}),
  };

  async function startServices(): Promise<void> {
    // The `kubernetes` Service (10.0.0.1:443) needs an endpoint pods can reach. The API server
    // listens on 127.0.0.1 only: it takes one --bind-address, starts before this bridge
    // exists, and 0.0.0.0 would open it on every interface of the host (IPv4 and IPv6). So a
    // TCP forwarder on the bridge address, same port, passes the bytes through (TLS end to
    // end: pods verify the API server's own certificate, which names 10.0.0.1).
    const apiPort = cluster.ports.apiserver;
    forwarder = createServer((c) => {
      const u = connect(apiPort, '127.0.0.1');
      forwarded.add(c);
      forwarded.add(u);
      c.on('close', () => forwarded.delete(c));
      u.on('close', () => forwarded.delete(u));
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
      c.pipe(u).pipe(c);
    });
    await new Promise<void>((resolve, reject) => {
      forwarder!.once('error', reject);
      forwarder!.listen(apiPort, hostIp(), () => resolve());
    });
    // The API server runs --endpoint-reconciler-type=none (127.0.0.1 is no valid endpoint):
    // this EndpointSlice is the one kube-proxy uses for the `kubernetes` Service.
    const slice = {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'msrp-e2e-node' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [hostIp()], conditions: { ready: true } }],
      ports: [{ name: 'https', port: apiPort, protocol: 'TCP' }],
    };
    await writeFile(path.join(dir, 'kubernetes-endpointslice.json'), JSON.stringify(slice));
    await execFileP(path.join(cluster.binDir, 'kubectl'), ['--kubeconfig', cluster.kubeconfigPath, 'apply', '--server-side', '-f', path.join(dir, 'kubernetes-endpointslice.json')]);

    // kube-proxy, iptables mode, as system:kube-proxy. No sysctl or host-wide knob it would
    // otherwise turn: conntrack limits and timeouts left as they are, no route_localnet
    // (localhost NodePorts off), NodePorts only on the bridge address, no masquerade for
    // pod traffic (masquerade-all off; the cluster CIDR is our /24).
    const [proxyMetrics, proxyHealth] = (await freePorts(2)) as [number, number];
    await writeFile(path.join(dir, 'kube-proxy.kubeconfig'), kubeconfig(cluster, 'system:kube-proxy', cluster.componentTokens.proxy), { mode: 0o600 });
    proxyRan = true;
    const proxy = launch('kube-proxy', path.join(cluster.binDir, 'kube-proxy'), [
      `--kubeconfig=${path.join(dir, 'kube-proxy.kubeconfig')}`,
      `--hostname-override=${NODE_NAME}`,
      '--proxy-mode=iptables',
      `--cluster-cidr=${podSubnet()}`,
      '--masquerade-all=false',
      `--metrics-bind-address=127.0.0.1:${proxyMetrics}`,
      `--healthz-bind-address=127.0.0.1:${proxyHealth}`,
      '--conntrack-max-per-core=0',
      '--conntrack-tcp-timeout-established=0',
      '--conntrack-tcp-timeout-close-wait=0',
      '--iptables-localhost-nodeports=false',
      `--nodeport-addresses=${hostIp()}/32`,
      '--oom-score-adj=0', // no CAP_SYS_RESOURCE here (see restrict_oom_score_adj)
      '--v=2',
    ], path.join(dir, 'kube-proxy.log'));
    procs.push(proxy);

    // CoreDNS on the bridge address: cluster.local from the API server, nothing forwarded.
    await writeFile(path.join(dir, 'coredns.kubeconfig'), kubeconfig(cluster, 'admin', cluster.adminToken), { mode: 0o600 });
    await writeFile(path.join(dir, 'Corefile'), `.:53 {
    bind ${hostIp()}
    errors
    log
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${path.join(dir, 'coredns.kubeconfig')} msrp-e2e
        pods insecure
    }
}
`);
    const dns = launch('coredns', path.join(cluster.binDir, 'coredns'), ['-conf', path.join(dir, 'Corefile')], path.join(dir, 'coredns.log'));
    procs.push(dns);
  }
}

function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z'; // a zombie holds nothing
  } catch {
    return false;
  }
}

/** One services node per host (kube-proxy's chains are host-wide); a dead holder's lock is taken over. */
async function acquireServicesLock(deadline: number): Promise<void> {
  for (;;) {
    try {
      writeFileSync(SERVICES_LOCK, String(process.pid), { flag: 'wx' });
      return;
    } catch {
      const holder = Number(readFileSync(SERVICES_LOCK, 'utf8').trim() || '0');
      if (!holder || (holder !== process.pid && !pidAlive(holder))) {
        rmSync(SERVICES_LOCK, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another node with services runs on this host (pid ${holder} holds ${SERVICES_LOCK})`);
      await sleep(1000);
    }
  }
}
