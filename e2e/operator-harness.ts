// Shared by the e2e suites that need "a cluster with the operator running": a real
// kube-apiserver + etcd (e2e/cluster), the CRDs, ServiceAccount and RBAC from
// manifests/install.yaml, and `node cmd/operator.ts` as a child process whose kubeconfig
// carries a TokenRequest token of the msrp-operator ServiceAccount (so the chart's RBAC
// is what the operator gets), plus a real admin sidecar process (`node cmd/admin.ts`).
import { freshDatabase as freshDatabaseOf } from '../internal/store/testdatabase.ts';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, startCluster } from './cluster/cluster.ts';
import type { Cluster } from './cluster/cluster.ts';
import { KubeClient } from '../internal/operator/kube/client.ts';
import { loadKubeConfig } from '../internal/operator/operator.ts';

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

export type Run = { code: number; stdout: string; stderr: string };

export function run(bin: string, args: string[], input = '', env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until `fn` returns a value (not undefined/false) or throw with the last reason. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(200);
  }
}

/**
 * Why an e2e suite that needs DATABASE_URL (and the cluster binaries) cannot run: a skip
 * reason outside CI; under CI=true nothing is skipped, the suite fails in its before().
 */
export function skipReason(needs: { binDir: string | undefined; database?: boolean }): string | false {
  if (process.env.CI === 'true') return false;
  if (needs.binDir === undefined) return 'kube-apiserver/etcd/kubectl not built: run e2e/cluster/build.sh';
  if (needs.database && !process.env.DATABASE_URL) return 'DATABASE_URL is not set (a real PostgreSQL; CI sets it in .ci/peers.d/10-postgres.sh)';
  return false;
}

export interface Proc {
  child: ChildProcess;
  logPath: string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export function startProcess(args: string[], logPath: string, env: NodeJS.ProcessEnv): Proc {
  const fd = openSync(logPath, 'a');
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child, logPath, exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export interface OperatorCluster {
  cluster: Cluster;
  /** Cluster-admin client (the test's own view, not the operator's). */
  kube: KubeClient;
  kubectl: (args: string[], input?: string) => Promise<Run>;
  /** kubeconfig with the msrp-operator ServiceAccount's token. */
  operatorKubeconfig: string;
  startOperator(name: string, extraArgs: string[]): Promise<Proc & { metricsPort: number; probePort: number }>;
  stop(): Promise<void>;
}

/** Starts the cluster, installs manifests/install.yaml, creates `namespaces`. */
export async function startOperatorCluster(binDir: string, namespaces: string[]): Promise<OperatorCluster> {
  const cluster = await startCluster({ binDir });
  const kube = new KubeClient(loadKubeConfig(cluster.kubeconfigPath));
  const kubectlBin = path.join(cluster.binDir, 'kubectl');
  const kubectl = (args: string[], input?: string) => run(kubectlBin, ['--kubeconfig', cluster.kubeconfigPath, ...args], input);
  const procs: Proc[] = [];
  const must = async (args: string[], input?: string) => {
    const r = await kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  try {
    await must(['apply', '--server-side', '-f', path.join(ROOT, 'manifests', 'install.yaml')]);
    await must(['wait', '--for=condition=Established', '--timeout=60s', 'crd/msrprelays.msrp.dev', 'crd/chatrooms.msrp.dev']);
    for (const ns of namespaces) await must(['create', 'namespace', ns]);
    const token = (await must(['create', 'token', 'msrp-operator', '-n', 'msrp-system', '--duration=1h'])).stdout.trim();
    const operatorKubeconfig = path.join(cluster.dir, 'operator.kubeconfig');
    await writeFile(operatorKubeconfig, JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server: cluster.server, 'certificate-authority-data': Buffer.from(cluster.caPem).toString('base64') } }],
      users: [{ name: 'operator', user: { token } }],
      contexts: [{ name: 'operator', context: { cluster: 'e2e', user: 'operator' } }],
      'current-context': 'operator',
    }), { mode: 0o600 });
    return {
      cluster, kube, kubectl, operatorKubeconfig,
      async startOperator(name, extraArgs) {
        const [metricsPort, probePort] = (await freePorts(2)) as [number, number];
        const p = startProcess([
          path.join(ROOT, 'cmd', 'operator.ts'),
          '--kubeconfig', operatorKubeconfig,
          `--metrics-bind-address=127.0.0.1:${metricsPort}`,
          `--health-probe-bind-address=127.0.0.1:${probePort}`,
          '--api-recheck-interval=1s',
          '--log-level=debug',
          ...extraArgs,
        ], path.join(cluster.dir, `operator-${name}.log`), { ...process.env, POD_NAME: `operator-${name}` });
        procs.push(p);
        return { ...p, metricsPort, probePort };
      },
      async stop() {
        await Promise.all(procs.map((p) => p.stop(5000)));
        await kube.close();
        await cluster.stop();
      },
    };
  } catch (e) {
    await kube.close();
    await cluster.stop();
    throw e;
  }
}

/**
 * A database of its own on the DATABASE_URL server (CREATE DATABASE, random name), so
 * suites sharing one PostgreSQL never see each other's rooms and users.
 */
export function freshDatabase(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  return freshDatabaseOf(url, 'msrp_e2e');
}

export interface AdminProc extends Proc {
  url: string;
  port: number;
  restart(): Promise<void>;
}

/**
 * A real admin sidecar (`node cmd/admin.ts`) on loopback, configured through its
 * environment (internal/config/admin.ts): PostgreSQL at `databaseUrl`, else PGlite in `dir`.
 */
export async function startAdmin(opts: { dir: string; tokenFile: string; databaseUrl: string | undefined; engineUrl?: string; logPath: string }): Promise<AdminProc> {
  const [port] = (await freePorts(1)) as [number];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    MSRP_ADMIN_HTTP__HOST: '127.0.0.1',
    MSRP_ADMIN_HTTP__PORT: String(port),
    MSRP_ADMIN_AUTH__BOOTSTRAP_TOKEN_FILE: opts.tokenFile,
    ...(opts.engineUrl ? { MSRP_ADMIN_ENGINE__CONTROL_URL: opts.engineUrl } : {}),
    ...(opts.databaseUrl
      ? { MSRP_ADMIN_DATABASE__URL: opts.databaseUrl }
      : { MSRP_ADMIN_DATABASE__DATA_DIR: path.join(opts.dir, 'admin-pglite') }),
  };
  const url = `http://127.0.0.1:${port}`;
  const launch = async (): Promise<Proc> => {
    const p = startProcess([path.join(ROOT, 'cmd', 'admin.ts')], opts.logPath, env);
    await eventually('admin /readyz', async () => {
      if (p.child.exitCode !== null) throw new Error(`admin exited ${p.child.exitCode}; log ${opts.logPath}`);
      return (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200;
    }, 60_000);
    return p;
  };
  let current = await launch();
  const admin: AdminProc = {
    url, port,
    get child() { return current.child; },
    get exited() { return current.exited; },
    logPath: opts.logPath,
    stop: (graceMs?: number) => current.stop(graceMs),
    async restart() {
      await current.stop();
      current = await launch();
    },
  };
  return admin;
}
