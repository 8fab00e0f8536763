// A stand-in kubelet for one pod: takes a StatefulSet's pod template as the API server
// holds it, materialises ordinal 0 on this machine and runs its containers as local
// processes from the repository root (the image's WORKDIR /app holds the same tree), so
// a test can prove that what the operator renders actually runs.
//
// "Exactly as the pod spec says", except for these rewrites, which are all there is
// (MaterializedPod.rewrites lists each one that happened):
//  1. Mount paths. Each volume is written to <dir>/volumes/<name>; each volumeMount's
//     mountPath P becomes <dir>/rootfs/P, a symlink to that volume folder (we cannot mount
//     at /etc/...). Every string that starts with a mount path (at a `/` boundary) is
//     rewritten to its <dir>/rootfs/... form in: command and args (also `--flag=P...`),
//     resolved env values, and the string values of ConfigMap/Secret files that parse as
//     YAML or JSON (the engine reads /etc/msrp/tls from its config file, not from args).
//  2. Ports. Every containerPort of every container, and each of `internalPorts` (ports
//     that stay inside the pod's network namespace and so are no containerPort, e.g. the
//     engine's 127.0.0.1 control port), gets a free loopback port (same number -> same
//     replacement, so UDP and TCP 5060 stay one): pods do not share a network namespace
//     with this machine, and two runs must not collide. Rewritten where a port number
//     names one: numeric values of keys `port` / `*Port` in YAML/JSON volume files, the
//     port of `scheme://host:port` strings (files and env values), and the probes
//     (a named probe port resolves through the container's ports, then is mapped).
//  3. Bind addresses. `host: 0.0.0.0` / `host: "::"` in YAML/JSON volume files becomes
//     127.0.0.1: tests stay on loopback.
// Not rewritten, and so where this is not a pod: files are rewritten only when they parse
// as YAML/JSON (other files are copied verbatim); a bare port number in an env value is
// left alone; the processes share this machine's /tmp besides the mounted one, its host
// name (os.hostname(), not the pod name) and its network namespace; securityContext,
// resources and the image are ignored; the process environment is the resolved env plus
// PATH (to find `node`) and HOSTNAME=<pod name>, as a container gets from its image.
// Volume sources: configMap, secret (items, defaultMode, optional honoured), emptyDir,
// and volumeClaimTemplates (a fresh, empty folder, as a new PVC for ordinal 0).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Container, V1Probe, V1StatefulSet, V1Volume } from '@kubernetes/client-node';
import { Agent, fetch as undiciFetch } from 'undici';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { KubeClient, KubeObject } from '../../internal/operator/kube/client.ts';
import { isNotFound } from '../../internal/operator/kube/client.ts';
import { RESOURCES } from '../../internal/operator/kube/resources.ts';
import { freePorts } from '../cluster/cluster.ts';

export interface Rewrite {
  where: string;
  from: string;
  to: string;
}

export interface RunningContainer {
  name: string;
  argv: string[];
  env: Record<string, string>;
  child: ChildProcess;
  logPath: string;
  exited: Promise<number | null>;
}

export interface MaterializedPod {
  podName: string;
  dir: string;
  /** <dir>/rootfs: the pod's view of mounted paths. */
  rootfs: string;
  /** containerPort -> the loopback port used instead. */
  ports: Map<number, number>;
  rewrites: Rewrite[];
  containers: RunningContainer[];
  /** The local port a container port (number or name) of `container` maps to. */
  port(container: string, port: number | string): number;
  /** The path under rootfs that stands for `podPath` (a path inside a mount). */
  hostPath(podPath: string): string;
  /** SIGTERM every container, wait (SIGKILL after `graceMs`), remove the folder. */
  stop(graceMs?: number): Promise<void>;
}

export interface MaterializeOptions {
  kube: KubeClient;
  statefulSet: V1StatefulSet;
  /** Working directory of the containers: the repository root (the image's WORKDIR). */
  workdir: string;
  ordinal?: number;
  /** Readiness (startup, then readiness probe) timeout per container. */
  readyTimeoutMs?: number;
  /** Where to keep container logs; default <dir>/<container>.log. */
  logDir?: string;
  /** Pod-internal ports (no containerPort) that must move too, see rewrite 2. */
  internalPorts?: number[];
}

type Secretish = KubeObject & { data?: Record<string, string>; binaryData?: Record<string, string> };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reads the ConfigMap or Secret a volume or env var refers to; undefined when absent. */
async function readSource(kube: KubeClient, kind: 'configMap' | 'secret', namespace: string, name: string): Promise<Map<string, Buffer> | undefined> {
  let o: Secretish;
  try {
    o = await kube.get<Secretish>(RESOURCES[kind], namespace, name);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(o.data ?? {})) out.set(k, kind === 'secret' ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries(o.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'));
  return out;
}

export async function materializePod(opts: MaterializeOptions): Promise<MaterializedPod> {
  const { kube, statefulSet: sts } = opts;
  const namespace = sts.metadata!.namespace!;
  const podName = `${sts.metadata!.name}-${opts.ordinal ?? 0}`;
  const template = sts.spec!.template;
  const spec = template.spec!;
  const dir = await mkdtemp(path.join(tmpdir(), `podrun-${podName}-`));
  const rootfs = path.join(dir, 'rootfs');
  const rewrites: Rewrite[] = [];
  const note = (where: string, from: string, to: string) => {
    if (from !== to) rewrites.push({ where, from, to });
  };

  // 2. Ports: every declared containerPort gets a free loopback port.
  const declared = [...new Set([...spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort)), ...(opts.internalPorts ?? [])])];
  const free = await freePorts(declared.length);
  const ports = new Map(declared.map((p, i) => [p, free[i]!]));
  for (const [from, to] of ports) note(opts.internalPorts?.includes(from) ? 'internalPort' : 'containerPort', String(from), String(to));

  // 1. Mount paths, longest first so /etc/msrp/config wins over a mount at /etc/msrp.
  const mountPaths = [...new Set(spec.containers.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.mountPath)))].sort((a, b) => b.length - a.length);
  const hostPath = (p: string): string => {
    for (const m of mountPaths) if (p === m || p.startsWith(m.endsWith('/') ? m : m + '/')) return path.join(rootfs, p);
    return p;
  };
  /** Path prefixes anywhere a path may start in an argument: `P`, `--flag=P`. */
  const rewriteString = (s: string): string => {
    const eq = /^(--?[\w.-]+=)(\/.*)$/.exec(s);
    let out = eq ? eq[1]! + hostPath(eq[2]!) : hostPath(s);
    out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:\s]+|[a-z][a-z0-9+.-]*:\/\/\[[^\]]+\]):(\d+)/i, (all, head: string, port: string) => {
      const mapped = ports.get(Number(port));
      return mapped === undefined ? all : `${head}:${mapped}`;
    });
    return out;
  };
  const rewriteTree = (v: unknown, key: string | undefined, where: string): unknown => {
    if (typeof v === 'string') {
      if (key === 'host' && (v === '0.0.0.0' || v === '::')) {
        note(where, v, '127.0.0.1');
        return '127.0.0.1';
      }
      const out = rewriteString(v);
      note(where, v, out);
      return out;
    }
    if (typeof v === 'number' && key !== undefined && (key === 'port' || /Port$/.test(key)) && ports.has(v)) {
      note(where, `${key}: ${v}`, `${key}: ${ports.get(v)}`);
      return ports.get(v);
    }
    if (Array.isArray(v)) return v.map((x, i) => rewriteTree(x, key, `${where}[${i}]`));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewriteTree(x, k, `${where}.${k}`)]));
    }
    return v;
  };
  const rewriteFile = (file: string, content: Buffer): Buffer => {
    const ext = path.extname(file).toLowerCase();
    if (!['.yaml', '.yml', '.json'].includes(ext)) return content;
    const parsed: unknown = ext === '.json' ? JSON.parse(content.toString('utf8')) : parseYaml(content.toString('utf8'));
    const out = rewriteTree(parsed, undefined, path.basename(file));
    return Buffer.from(ext === '.json' ? JSON.stringify(out) : stringifyYaml(out), 'utf8');
  };

  // Volumes into <dir>/volumes/<name>.
  const volumesDir = path.join(dir, 'volumes');
  const volumeDirs = new Map<string, string>();
  const claims = new Set((sts.spec!.volumeClaimTemplates ?? []).map((c) => c.metadata!.name!));
  const writeVolume = async (v: V1Volume): Promise<void> => {
    const target = path.join(volumesDir, v.name);
    await mkdir(target, { recursive: true });
    volumeDirs.set(v.name, target);
    const source = v.configMap ? { kind: 'configMap' as const, name: v.configMap.name!, items: v.configMap.items, optional: v.configMap.optional, mode: v.configMap.defaultMode }
      : v.secret ? { kind: 'secret' as const, name: v.secret.secretName!, items: v.secret.items, optional: v.secret.optional, mode: v.secret.defaultMode }
        : undefined;
    if (source) {
      const data = await readSource(kube, source.kind, namespace, source.name);
      if (!data) {
        if (source.optional) return;
        throw new Error(`volume ${v.name}: ${source.kind} ${namespace}/${source.name} not found (the kubelet would not start the pod)`);
      }
      const entries = source.items ? source.items.map((it) => [it.key, it.path, it.mode] as const) : [...data.keys()].map((k) => [k, k, undefined] as const);
      for (const [key, rel, mode] of entries) {
        const content = data.get(key);
        if (content === undefined) throw new Error(`volume ${v.name}: key ${key} not in ${source.kind} ${source.name}`);
        const file = path.join(target, rel);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, rewriteFile(file, content));
        // The owner keeps read access: the kubelet's fsGroup would grant it to the pod user.
        await chmod(file, ((mode ?? source.mode ?? 0o644) | 0o400) & 0o777);
      }
      return;
    }
    if (v.emptyDir) return;
    throw new Error(`volume ${v.name}: only configMap, secret, emptyDir and volumeClaimTemplates are materialised`);
  };
  for (const v of spec.volumes ?? []) await writeVolume(v);
  for (const c of claims) {
    if (volumeDirs.has(c)) continue;
    const target = path.join(volumesDir, c);
    await mkdir(target, { recursive: true });
    volumeDirs.set(c, target);
  }
  // Mounts: rootfs/<mountPath> -> the volume folder.
  for (const c of spec.containers) {
    for (const m of c.volumeMounts ?? []) {
      if (m.subPath || m.subPathExpr) throw new Error(`${c.name}: subPath mounts are not materialised`);
      const src = volumeDirs.get(m.name);
      if (!src) throw new Error(`${c.name}: mount of unknown volume ${m.name}`);
      const at = path.join(rootfs, m.mountPath);
      await mkdir(path.dirname(at), { recursive: true });
      await symlink(src, at).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      note(`${c.name} mount ${m.name}`, m.mountPath, at);
    }
  }

  // Env: value ($(VAR) expansion as the kubelet does), valueFrom, then the rewrites.
  const resolveEnv = async (c: V1Container): Promise<Record<string, string>> => {
    const env: Record<string, string> = {};
    const expand = (s: string) => s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string | undefined) => {
      if (name === undefined) return '$';
      return env[name] ?? all;
    });
    const field = (p: string): string => {
      switch (p) {
        case 'metadata.name': return podName;
        case 'metadata.namespace': return namespace;
        // The StatefulSet controller labels each pod with its ordinal (Kubernetes 1.28+).
        case "metadata.labels['apps.kubernetes.io/pod-index']": return String(opts.ordinal ?? 0);
        case 'status.podIP': case 'status.hostIP': return '127.0.0.1';
        case 'spec.nodeName': return 'localhost';
        case 'spec.serviceAccountName': return spec.serviceAccountName ?? 'default';
        default: throw new Error(`${c.name}: fieldRef ${p} is not materialised`);
      }
    };
    for (const e of c.env ?? []) {
      let value: string | undefined;
      if (e.value !== undefined) value = expand(e.value);
      else if (e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef) {
        const ref = (e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef)!;
        const data = await readSource(kube, e.valueFrom.secretKeyRef ? 'secret' : 'configMap', namespace, ref.name!);
        const v = data?.get(ref.key);
        if (v === undefined && !ref.optional) throw new Error(`${c.name}: env ${e.name}: ${ref.name}/${ref.key} not found`);
        value = v?.toString('utf8');
      } else if (e.valueFrom?.fieldRef) value = field(e.valueFrom.fieldRef.fieldPath);
      else if (e.valueFrom) throw new Error(`${c.name}: env ${e.name}: this valueFrom is not materialised`);
      if (value === undefined) continue;
      const rewritten = rewriteString(value);
      if (rewritten !== value) note(`${c.name} env ${e.name}`, value, rewritten);
      env[e.name] = rewritten;
    }
    if (c.envFrom?.length) throw new Error(`${c.name}: envFrom is not materialised`);
    return env;
  };

  const portOf = (c: V1Container, p: number | string): number => {
    const n = typeof p === 'number' ? p : /^\d+$/.test(p) ? Number(p) : c.ports?.find((x) => x.name === p)?.containerPort;
    if (n === undefined) throw new Error(`${c.name}: no port named ${String(p)}`);
    return ports.get(n) ?? n;
  };

  const logDir = opts.logDir ?? dir;
  const containers: RunningContainer[] = [];
  const pod: MaterializedPod = {
    podName, dir, rootfs, ports, rewrites, containers, hostPath,
    port(container, p) {
      const c = spec.containers.find((x) => x.name === container);
      if (!c) throw new Error(`no container ${container}`);
      return portOf(c, p);
    },
    async stop(graceMs = 15_000) {
      for (const r of containers) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
      await Promise.all(containers.map(async (r) => {
        const t = setTimeout(() => r.child.kill('SIGKILL'), graceMs);
        await r.exited;
        clearTimeout(t);
      }));
      await rm(dir, { recursive: true, force: true });
    },
  };

  try {
    // Containers, all started at once as the kubelet does (no initContainers here).
    if (spec.initContainers?.length) throw new Error('initContainers are not materialised');
    for (const c of spec.containers) {
      if (!c.command?.length) throw new Error(`${c.name}: no command (the image ENTRYPOINT is not known here)`);
      const argv = [...c.command, ...(c.args ?? [])].map((a, i) => {
        const out = rewriteString(a);
        if (out !== a) note(`${c.name} argv[${i}]`, a, out);
        return out;
      });
      const env = { ...(await resolveEnv(c)) };
      const full = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNAME: podName, ...env };
      const logPath = path.join(logDir, `${podName}-${c.name}.log`);
      const fd = openSync(logPath, 'a');
      const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.workdir, env: full, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      containers.push({ name: c.name, argv, env, child, logPath, exited });
    }
    await Promise.all(spec.containers.map((c, i) => waitReady(c, containers[i]!, portOf, opts.readyTimeoutMs ?? 60_000)));
  } catch (e) {
    await pod.stop(2000).catch(() => undefined);
    throw e;
  }
  return pod;
}

const PROBE_AGENT = new Agent({ connect: { rejectUnauthorized: false } });

async function probeOnce(c: V1Container, probe: V1Probe, portOf: (c: V1Container, p: number | string) => number): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const port = portOf(c, probe.httpGet.port);
    const scheme = (probe.httpGet.scheme ?? 'HTTP').toLowerCase();
    try {
      // The kubelet does not verify the certificate of an HTTPS probe.
      const res = await undiciFetch(`${scheme}://127.0.0.1:${port}${probe.httpGet.path ?? '/'}`, {
        signal: AbortSignal.timeout(timeoutMs), ...(scheme === 'https' ? { dispatcher: PROBE_AGENT } : {}),
      });
      await res.arrayBuffer();
      return res.status >= 200 && res.status < 400; // the kubelet's success range
    } catch {
      return false;
    }
  }
  if (probe.tcpSocket) {
    const port = portOf(c, probe.tcpSocket.port);
    return new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port, timeout: timeoutMs });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
      s.once('timeout', () => { s.destroy(); resolve(false); });
    });
  }
  throw new Error(`${c.name}: only httpGet and tcpSocket probes are materialised`);
}

/** Startup probe first (when there is one), then the readiness probe, as the kubelet gates them. */
async function waitReady(c: V1Container, run: RunningContainer, portOf: (c: V1Container, p: number | string) => number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const [kind, probe] of [['startup', c.startupProbe], ['readiness', c.readinessProbe]] as const) {
    if (!probe) continue;
    for (;;) {
      if (run.child.exitCode !== null || run.child.signalCode !== null) {
        throw new Error(`container ${c.name} exited (${run.child.exitCode ?? run.child.signalCode}) before its ${kind} probe passed; log: ${run.logPath}`);
      }
      if (await probeOnce(c, probe, portOf)) break;
      if (Date.now() > deadline) throw new Error(`container ${c.name}: ${kind} probe did not pass within ${timeoutMs} ms; log: ${run.logPath}`);
      await sleep(Math.min(250, (probe.periodSeconds ?? 10) * 1000));
    }
  }
}
