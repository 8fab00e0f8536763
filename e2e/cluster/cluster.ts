// A real, local Kubernetes control plane for tests: etcd + kube-apiserver on loopback.
// Alone it runs no pods (no kubelet, controller-manager or scheduler); `startNode()` in
// e2e/node/node.ts adds those to a cluster started with `{ node: true }`.
// Binaries come from e2e/cluster/build.sh.
//
//   const c = await startCluster();       // ~3-6 s
//   ... kubectl --kubeconfig c.kubeconfigPath ...
//   await c.stop();
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { launch, logTails, sleep, terminate } from './procs.ts';
import type { Proc } from './procs.ts';

export const REQUIRED_BINARIES = ['kube-apiserver', 'etcd', 'kubectl'] as const;

/** The name of the one node `startNode()` registers (its identity is in the token file). */
export const NODE_NAME = 'msrp-e2e-node';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD_SCRIPT = path.join(HERE, 'build.sh');

export type Cluster = {
  /** https://127.0.0.1:<port> */
  server: string;
  /** kubeconfig (JSON, valid YAML) with the CA of the self-signed serving cert and the admin token. */
  kubeconfigPath: string;
  /** Static token of user `admin` in group `system:masters`. */
  adminToken: string;
  /** Static token of user `alice` (groups: only system:authenticated); RBAC grants it nothing. */
  userToken: string;
  /** PEM of the CA that signed the API server's serving certificate. */
  caPem: string;
  /** Service-account issuer configured on the API server. */
  serviceAccountIssuer: string;
  /** PEM file of the service-account signing key (kube-controller-manager signs with it too). */
  serviceAccountKeyPath: string;
  /**
   * Static tokens of the other control-plane identities, bound by the default RBAC roles:
   * `system:kube-scheduler`, `system:kube-controller-manager`, and `system:node:<NODE_NAME>`
   * (group `system:nodes`, authorized by the Node authorizer), and `system:kube-proxy`
   * (bound to `system:node-proxier` by the default RBAC).
   */
  componentTokens: { scheduler: string; controllerManager: string; node: string; proxy: string };
  /**
   * With `{ node: true }`: the CA the kubelet trusts for client certificates, and the
   * API server's client certificate for the kubelet (logs, exec, port-forward).
   */
  kubeletClientCaPath?: string;
  ports: { apiserver: number; etcdClient: number; etcdPeer: number };
  binDir: string;
  /** Temp dir holding etcd data, certs, token file, kubeconfig and the logs (etcd.log, kube-apiserver.log). */
  dir: string;
  /** SIGTERM both processes, wait for them to exit, remove `dir`. Safe to call twice. */
  stop(): Promise<void>;
};

export type StartOptions = {
  binDir?: string;
  /** Milliseconds to wait for /readyz (default 90 s: first start on a loaded 2-core CI box). */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags, e.g. ['--feature-gates=...']. */
  apiserverArgs?: string[];
  /** Keep `dir` after stop() (also MSRP_CLUSTER_KEEP=1). */
  keepDir?: boolean;
  /**
   * Prepare for a kubelet (e2e/node/node.ts): the ServiceAccount and NodeRestriction
   * admission plugins on (kube-controller-manager will create the default ServiceAccounts),
   * and a client certificate (made with the `openssl` CLI) for the API server to call the kubelet.
   */
  node?: boolean;
};

function hasBinaries(dir: string): boolean {
  return REQUIRED_BINARIES.every((b) => existsSync(path.join(dir, b)));
}

/**
 * Directory with cached kube-apiserver/etcd/kubectl(/helm), or undefined when not built.
 * Never builds: `KUBE_BIN_DIR` first, else the cache layout of build.sh (`build.sh --print-dir`).
 */
export function clusterBinDir(): string | undefined {
  const fromEnv = process.env.KUBE_BIN_DIR;
  if (fromEnv) return hasBinaries(fromEnv) ? fromEnv : undefined;
  try {
    const out = execFileSync('bash', [BUILD_SCRIPT, '--print-dir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
    });
    const dir = out.trim().split('\n').at(-1);
    return dir && hasBinaries(dir) ? dir : undefined;
  } catch {
    return undefined; // no go on PATH, or no bash
  }
}

/** Distinct free loopback TCP ports (all held open until every one is chosen). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

type Reply = { status: number; body: string };

function httpGet(url: string, opts: { token?: string; ca?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.get(
      u,
      {
        headers,
        timeout: 5_000,
        ...(u.protocol === 'https:' ? (opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }) : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** GET on the API server with the cluster's CA; token defaults to the admin token. */
export function apiGet(cluster: Cluster, urlPath: string, token = cluster.adminToken): Promise<Reply> {
  return httpGet(cluster.server + urlPath, { token, ca: cluster.caPem });
}

/** Last certificate of a PEM bundle (kube-apiserver's self-signed apiserver.crt is "cert, CA"). */
function lastCertificate(pem: string): string {
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const last = certs.at(-1);
  if (!last) throw new Error('no certificate in apiserver.crt');
  const x = new X509Certificate(last);
  if (!x.ca) throw new Error(`last certificate in apiserver.crt is not a CA: ${x.subject}`);
  return last + '\n';
}

export async function startCluster(opts: StartOptions = {}): Promise<Cluster> {
  // Ports are picked free and then released, so another process can take one in between:
  // retry on "address already in use" (the error carries the log tails).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/i.test((e as Error).message)) throw e;
    }
  }
}

async function startOnce(opts: StartOptions): Promise<Cluster> {
  const binDir = opts.binDir ?? clusterBinDir();
  if (!binDir || !hasBinaries(binDir)) {
    throw new Error(
      `kube-apiserver/etcd/kubectl not found (${binDir ?? 'KUBE_BIN_DIR unset, nothing cached'}): run e2e/cluster/build.sh`,
    );
  }
  const keepDir = opts.keepDir ?? process.env.MSRP_CLUSTER_KEEP === '1';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'msrp-kube-'));
  const [etcdClient, etcdPeer, apiserver] = (await freePorts(3)) as [number, number, number];

  const adminToken = randomBytes(24).toString('hex');
  const userToken = randomBytes(24).toString('hex');
  const componentTokens = {
    scheduler: randomBytes(24).toString('hex'),
    controllerManager: randomBytes(24).toString('hex'),
    node: randomBytes(24).toString('hex'),
    proxy: randomBytes(24).toString('hex'),
  };
  // token,user,uid,"group1,group2"
  await writeFile(
    path.join(dir, 'tokens.csv'),
    [
      `${adminToken},admin,admin-uid,"system:masters"`,
      `${userToken},alice,alice-uid`,
      `${componentTokens.scheduler},system:kube-scheduler,kube-scheduler-uid`,
      `${componentTokens.controllerManager},system:kube-controller-manager,kube-controller-manager-uid`,
      `${componentTokens.node},system:node:${NODE_NAME},node-uid,"system:nodes"`,
      `${componentTokens.proxy},system:kube-proxy,kube-proxy-uid`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKey = path.join(dir, 'sa.key');
  await writeFile(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

  let kubeletClient: { caPath: string; args: string[] } | undefined;
  if (opts.node) {
    try {
      kubeletClient = await makeKubeletClientCert(path.join(dir, 'kubelet-client'));
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`startCluster: kubelet client certificate (openssl): ${(e as Error).message}`, { cause: e });
    }
  }

  const procs: Proc[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      // API server first (it holds etcd connections), then etcd.
      for (const p of [...procs].reverse()) {
        await terminate(p, 15_000);
      }
      if (!keepDir) await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const fail = async (why: string): Promise<never> => {
    const logs = await logTails(procs, 40);
    await stop();
    throw new Error(`startCluster: ${why}\n${logs}`);
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 90_000);
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const peerUrl = `http://127.0.0.1:${etcdPeer}`;
  const etcd = launch(
    'etcd',
    path.join(binDir, 'etcd'),
    [
      '--name=msrp-e2e',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=msrp-e2e=${peerUrl}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync', // test data only; much faster on slow disks
      '--log-level=warn',
    ],
    path.join(dir, 'etcd.log'),
  );
  procs.push(etcd);

  for (;;) {
    if (!etcd.isRunning()) return fail(`etcd exited (code ${etcd.child.exitCode})`);
    if (Date.now() > deadline) return fail('etcd not healthy in time');
    const r = await httpGet(`${etcdUrl}/health`).catch(() => undefined);
    if (r?.status === 200 && r.body.includes('"health":"true"')) break;
    await sleep(100);
  }

  const certDir = path.join(dir, 'pki');
  const serviceAccountIssuer = 'https://kubernetes.default.svc.cluster.local';
  const api = launch(
    'kube-apiserver',
    path.join(binDir, 'kube-apiserver'),
    [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiserver}`,
      `--cert-dir=${certDir}`, // self-signed serving cert + CA: pki/apiserver.crt
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      // Node: the kubelet's identity (system:node:<name>) may read only what its pods need.
      '--authorization-mode=Node,RBAC',
      `--service-account-key-file=${saKey}`,
      `--service-account-signing-key-file=${saKey}`,
      `--service-account-issuer=${serviceAccountIssuer}`,
      ...(kubeletClient
        ? [
            '--enable-admission-plugins=NodeRestriction',
            // The node's name resolves nowhere: reach the kubelet on its InternalIP (the bridge address).
            '--kubelet-preferred-address-types=InternalIP',
            ...kubeletClient.args,
          ]
        : ['--disable-admission-plugins=ServiceAccount']), // no controller-manager: no default SA (as envtest)
      '--service-cluster-ip-range=10.0.0.0/24',
      // No Endpoints for the default/kubernetes Service: 127.0.0.1 is invalid there and no pod
      // could reach it anyway (otherwise the apiserver logs a sync error every 10 s).
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      '--profiling=false',
      ...(opts.apiserverArgs ?? []),
    ],
    path.join(dir, 'kube-apiserver.log'),
  );
  procs.push(api);

  const server = `https://127.0.0.1:${apiserver}`;
  let last = '';
  for (;;) {
    if (!api.isRunning()) return fail(`kube-apiserver exited (code ${api.child.exitCode})`);
    if (!etcd.isRunning()) return fail(`etcd exited (code ${etcd.child.exitCode})`);
    if (Date.now() > deadline) return fail(`kube-apiserver not ready in time; last /readyz: ${last}`);
    const r = await httpGet(`${server}/readyz`, { token: adminToken }).catch((e: Error) => ({ status: 0, body: e.message }));
    last = `${r.status} ${r.body.slice(0, 300)}`;
    if (r.status === 200 && r.body.trim() === 'ok') break;
    await sleep(200);
  }

  let caPem: string;
  try {
    caPem = lastCertificate(readFileSync(path.join(certDir, 'apiserver.crt'), 'utf8'));
  } catch (e) {
    return fail(`serving CA: ${(e as Error).message}`);
  }
  const check = await httpGet(`${server}/readyz`, { token: adminToken, ca: caPem }).catch((e: Error) => ({
    status: 0,
    body: e.message,
  }));
  if (check.status !== 200) return fail(`/readyz verified with the serving CA: ${check.status} ${check.body}`);

  const kubeconfigPath = path.join(dir, 'kubeconfig');
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'msrp-e2e', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'admin', user: { token: adminToken } }],
    contexts: [{ name: 'msrp-e2e', context: { cluster: 'msrp-e2e', user: 'admin', namespace: 'default' } }],
    'current-context': 'msrp-e2e',
  };
  await writeFile(kubeconfigPath, JSON.stringify(kubeconfig, null, 2) + '\n', { mode: 0o600 });

  return {
    server,
    kubeconfigPath,
    adminToken,
    userToken,
    caPem,
    serviceAccountIssuer,
    serviceAccountKeyPath: saKey,
    componentTokens,
    ...(kubeletClient ? { kubeletClientCaPath: kubeletClient.caPath } : {}),
    ports: { apiserver, etcdClient, etcdPeer },
    binDir,
    dir,
    stop,
  };
}

const execFileP = promisify(execFile);

/**
 * A CA for the kubelet's client authentication and the API server's certificate under it
 * (`O=system:masters`, as kubeadm's apiserver-kubelet-client), with the `openssl` CLI:
 * node:crypto makes keys but no certificates.
 */
async function makeKubeletClientCert(dir: string): Promise<{ caPath: string; args: string[] }> {
  await mkdir(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const openssl = (args: string[]) => execFileP('openssl', args, { cwd: dir });
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key')]);
  await openssl(['req', '-x509', '-new', '-key', f('ca.key'), '-sha256', '-days', '7', '-subj', '/CN=msrp-e2e-kubelet-client-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', f('ca.crt')]);
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('client.key')]);
  await openssl(['req', '-new', '-key', f('client.key'), '-subj', '/O=system:masters/CN=kube-apiserver-kubelet-client', '-out', f('client.csr')]);
  await writeFile(f('client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  await openssl(['x509', '-req', '-in', f('client.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'),
    '-set_serial', '0x' + randomBytes(16).toString('hex'), '-days', '7', '-sha256', '-extfile', f('client.ext'), '-out', f('client.crt')]);
  return {
    caPath: f('ca.crt'),
    args: [`--kubelet-client-certificate=${f('client.crt')}`, `--kubelet-client-key=${f('client.key')}`],
  };
}
