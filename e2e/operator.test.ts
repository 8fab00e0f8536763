// The operator against a real kube-apiserver + etcd (e2e/cluster), run as child processes
// `node cmd/operator.ts --kubeconfig ...` with the chart's RBAC: the kubeconfig carries a
// TokenRequest token of the msrp-operator ServiceAccount from manifests/install.yaml, so
// anything the operator does beyond what the chart grants fails here.
//
// What this cluster cannot do, and how the tests deal with it:
//  - no kubelet, no StatefulSet controller: pods never exist. Where a test needs "replicas
//    ready", it writes the StatefulSet's status itself (the API server's own object; it is
//    what the StatefulSet controller would write), and says so.
//  - no kube-controller-manager, so no garbage collector: deleting an MsrpRelay does not
//    cascade. The tests assert the ownerReferences the collector would follow instead.
//  - no relay pods: the ChatRoom tests run one real admin sidecar (`node cmd/admin.ts`) on
//    loopback for every relay (--admin-url-template points at it), on its own database of
//    the DATABASE_URL server (PGlite when DATABASE_URL is unset outside CI), with a
//    bootstrap token that the operator reads from the relay's `relay-admin-token` Secret
//    (no --admin-token-file: each relay's own Secret is the default). The engine's
//    control endpoint behind it (participants) is internal/admin/testengine.ts.
// Deep JSON read back from the API server is asserted field by field; typing every shape
// would add nothing a failing assertion does not already say.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { clusterBinDir, freePorts, startCluster } from './cluster/cluster.ts';
import type { Cluster } from './cluster/cluster.ts';
import { eventually, freshDatabase, ROOT, startAdmin } from './operator-harness.ts';
import type { AdminProc } from './operator-harness.ts';
import { startFakeEngine } from '../internal/admin/testengine.ts';
import type { FakeEngine } from '../internal/admin/testengine.ts';
import { KubeClient } from '../internal/operator/kube/client.ts';
import type { KubeObject } from '../internal/operator/kube/client.ts';
import { RESOURCES } from '../internal/operator/kube/resources.ts';
import { loadKubeConfig } from '../internal/operator/operator.ts';

const binDir = clusterBinDir();
const skip = binDir === undefined && process.env.CI !== 'true' ? 'kube-apiserver/etcd/kubectl not built: run e2e/cluster/build.sh' : false;

const NS = 'relays';
const ADMIN_TOKEN = 'operator-admin-token-for-e2e';

type Run = { code: number; stdout: string; stderr: string };
function run(bin: string, args: string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}


type OperatorProc = { name: string; child: ChildProcess; metricsPort: number; probePort: number; logPath: string; exited: Promise<number | null> };

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}
type WithStatus = KubeObject & { status?: { conditions?: Condition[]; [k: string]: unknown }; spec?: Record<string, unknown> };
const cond = (o: WithStatus | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);

describe('operator against a real API server', { skip, timeout: 600_000 }, () => {
  let cluster: Cluster;
  let kube: KubeClient;
  let kubectl: (args: string[], input?: string) => Promise<Run>;
  let operatorKubeconfig: string;
  let tokenFile: string;
  let admin: AdminProc;
  let engine: FakeEngine;
  let db: { url: string; drop: () => Promise<void> } | undefined;
  const operators: OperatorProc[] = [];

  async function startOperatorProcess(name: string): Promise<OperatorProc> {
    const [metricsPort, probePort] = (await freePorts(2)) as [number, number];
    const logPath = path.join(cluster.dir, `operator-${name}.log`);
    const fd = openSync(logPath, 'a');
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'cmd', 'operator.ts'),
        '--kubeconfig', operatorKubeconfig,
        `--metrics-bind-address=127.0.0.1:${metricsPort}`,
        `--health-probe-bind-address=127.0.0.1:${probePort}`,
        '--leader-elect=true',
        '--leader-election-namespace=msrp-system',
        '--leader-election-id=msrp-operator',
        `--admin-url-template=${admin.url}`,
        '--api-recheck-interval=1s',
        '--room-status-interval=1s',
        '--log-level=debug',
      ],
      { stdio: ['ignore', fd, fd], env: { ...process.env, POD_NAME: `operator-${name}` } },
    );
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const op = { name, child, metricsPort, probePort, logPath, exited };
    operators.push(op);
    return op;
  }

  async function metric(op: OperatorProc, name: string): Promise<number | undefined> {
    const res = await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`);
    const text = await res.text();
    let sum: number | undefined;
    for (const line of text.split('\n')) {
      if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum = (sum ?? 0) + Number(line.split(' ').at(-1));
    }
    return sum;
  }

  /** ChatRoom reconciles `op` finished, whatever their result: an operation count to wait on, not a pause. */
  async function roomReconciles(op: OperatorProc): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith('msrp_operator_reconcile_total{') && l.includes('kind="ChatRoom"'))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  }

  /** Waits until the leader has finished `n` more ChatRoom reconciles than now. */
  async function moreRoomReconciles(n: number): Promise<void> {
    const start = await roomReconciles(leader);
    await eventually(`${n} more ChatRoom reconciles`, async () => (await roomReconciles(leader)) >= start + n);
  }

  const getRelay = (name: string) => kube.getOptional<WithStatus>(RESOURCES.msrpRelay, NS, name);
  const get = <T extends KubeObject = WithStatus>(type: (typeof RESOURCES)[keyof typeof RESOURCES], name: string) =>
    kube.getOptional<T>(type, NS, name);

  function relayManifest(name: string, spec: Record<string, unknown>) {
    return { apiVersion: 'msrp.dev/v1alpha1', kind: 'MsrpRelay', metadata: { name, namespace: NS }, spec };
  }

  /** What the StatefulSet controller would write when every replica runs the current revision and is ready. */
  async function simulateReadyReplicas(name: string, ready: number): Promise<void> {
    const sts = (await get(RESOURCES.statefulSet, name))!;
    const replicas = (sts.spec as { replicas: number }).replicas;
    const r = await kubectl([
      'patch', 'statefulset', name, '-n', NS, '--subresource=status', '--type=merge', '-p',
      JSON.stringify({
        status: {
          observedGeneration: sts.metadata?.generation,
          replicas,
          readyReplicas: ready,
          availableReplicas: ready,
          updatedReplicas: replicas,
          currentReplicas: replicas,
          currentRevision: `${name}-1`,
          updateRevision: `${name}-1`,
        },
      }),
    ]);
    assert.equal(r.code, 0, r.stderr);
  }

  before(async () => {
    assert.ok(binDir, 'kube-apiserver/etcd/kubectl not built: run e2e/cluster/build.sh');
    cluster = await startCluster({ binDir });
    kube = new KubeClient(loadKubeConfig(cluster.kubeconfigPath));
    const kubectlBin = path.join(cluster.binDir, 'kubectl');
    kubectl = (args, input) => run(kubectlBin, ['--kubeconfig', cluster.kubeconfigPath, ...args], input);

    // CRDs, the operator's ServiceAccount and RBAC, exactly as the chart renders them.
    let r = await kubectl(['apply', '--server-side', '-f', path.join(ROOT, 'manifests', 'install.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/msrprelays.msrp.dev', 'crd/chatrooms.msrp.dev']);
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(['create', 'namespace', NS]);
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(['create', 'token', 'msrp-operator', '-n', 'msrp-system', '--duration=1h']);
    assert.equal(r.code, 0, r.stderr);
    operatorKubeconfig = path.join(cluster.dir, 'operator.kubeconfig');
    await writeFile(
      operatorKubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'e2e', cluster: { server: cluster.server, 'certificate-authority-data': Buffer.from(cluster.caPem).toString('base64') } }],
        users: [{ name: 'operator', user: { token: r.stdout.trim() } }],
        contexts: [{ name: 'operator', context: { cluster: 'e2e', user: 'operator' } }],
        'current-context': 'operator',
      }),
      { mode: 0o600 },
    );
    tokenFile = path.join(cluster.dir, 'admin-token');
    await writeFile(tokenFile, ADMIN_TOKEN + '\n', { mode: 0o600 });
    if (process.env.DATABASE_URL) db = await freshDatabase(process.env.DATABASE_URL);
    else assert.notEqual(process.env.CI, 'true', 'CI=true but DATABASE_URL is not set');
    engine = await startFakeEngine();
    admin = await startAdmin({ dir: cluster.dir, tokenFile, databaseUrl: db?.url, engineUrl: engine.url, logPath: path.join(cluster.dir, 'admin.log') });
  });

  after(async () => {
    for (const op of operators) if (op.child.exitCode === null && op.child.signalCode === null) op.child.kill('SIGKILL');
    await Promise.all(operators.map((o) => o.exited));
    await admin?.stop();
    await engine?.close();
    await db?.drop();
    await kube?.close();
    if (process.env.MSRP_E2E_DUMP_LOGS === '1') for (const o of operators) process.stderr.write(readFileSync(o.logPath, 'utf8'));
    await cluster?.stop();
  });

  let leader: OperatorProc;
  let standby: OperatorProc;

  it('two operator processes: one takes the Lease and reconciles, the other stands by', async () => {
    leader = await startOperatorProcess('a');
    await eventually('operator a to lead', async () => (await metric(leader, 'msrp_operator_leader').catch(() => 0)) === 1);
    standby = await startOperatorProcess('b');
    await eventually('operator b to serve /readyz', async () => (await fetch(`http://127.0.0.1:${standby.probePort}/readyz`).catch(() => undefined))?.status === 200);
    assert.equal(await metric(standby, 'msrp_operator_leader'), 0);
    const lease = (await kube.get<{ spec: { holderIdentity: string; leaseDurationSeconds: number } } & KubeObject>(RESOURCES.lease, 'msrp-system', 'msrp-operator'));
    assert.match(lease.spec.holderIdentity, /^operator-a_/);
    assert.equal(lease.spec.leaseDurationSeconds, 15);
    const healthz = await fetch(`http://127.0.0.1:${leader.probePort}/healthz`);
    assert.equal(healthz.status, 200);
  });

  it('creates every owned object of an MsrpRelay, field by field, with a controller ownerReference', async () => {
    const r = await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(relayManifest('relay', {
      publicHost: 'msrp.example.com',
      tls: { secretName: 'relay-tls' },
      database: { secretRef: { name: 'relay-db', key: 'url' } },
      ports: { msrpTls: 2855, msrpTcp: 2856 },
      service: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', annotations: { 'lb.example.com/type': 'nlb' } },
      realms: [{ name: 'example.com', hosts: ['msrp.example.com'] }],
      drain: { timeoutSeconds: 60 },
    })));
    assert.equal(r.code, 0, r.stderr);
    const relay = (await getRelay('relay'))!;
    const sts = await eventually('StatefulSet relay', () => get(RESOURCES.statefulSet, 'relay'));
    const owner = {
      apiVersion: 'msrp.dev/v1alpha1', kind: 'MsrpRelay', name: 'relay', uid: relay.metadata!.uid, controller: true, blockOwnerDeletion: true,
    };
    // No garbage collector here: the ownerReferences are what makes deletion cascade in a real cluster.
    const owned: [keyof typeof RESOURCES, string][] = [
      ['serviceAccount', 'relay'], ['configMap', 'relay-config'], ['service', 'relay'], ['service', 'relay-mesh'],
      ['service', 'relay-admin'], ['podDisruptionBudget', 'relay'], ['networkPolicy', 'relay'], ['statefulSet', 'relay'],
    ];
    for (const [kind, name] of owned) {
      const o = await eventually(`${kind} ${name}`, () => get(RESOURCES[kind], name));
      assert.deepEqual(o.metadata?.ownerReferences, [owner], `${kind}/${name} ownerReferences`);
      assert.equal(o.metadata?.labels?.['app.kubernetes.io/managed-by'], 'msrp-operator');
      assert.ok((o.metadata?.managedFields as { manager?: string; operation?: string }[] | undefined)?.some((f) => f.manager === 'msrp-operator' && f.operation === 'Apply'), `${kind}/${name} is server-side applied`);
    }

    const spec = sts.spec as any;
    assert.equal(spec.replicas, 1);
    assert.equal(spec.serviceName, 'relay-mesh');
    assert.equal(spec.podManagementPolicy, 'Parallel');
    const pod = spec.template.spec;
    assert.equal(pod.enableServiceLinks, false);
    assert.equal(pod.terminationGracePeriodSeconds, 80);
    assert.equal(pod.securityContext.runAsUser, 65532);
    assert.deepEqual(pod.containers.map((c: any) => [c.name, c.image, c.command]), [
      ['engine', 'ghcr.io/msrp-k8s/msrpd:0.1.0', ['node', 'cmd/msrpd.ts']],
      ['admin', 'ghcr.io/msrp-k8s/msrpd:0.1.0', ['node', 'cmd/admin.ts']],
    ]);
    assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(pod.volumes.find((v: any) => v.name === 'tls').secret, { secretName: 'relay-tls', defaultMode: 0o440 });
    assert.match(spec.template.metadata.annotations['msrp.dev/config-hash'], /^[0-9a-f]{16}$/);
    // State is in PostgreSQL (spec.database is required): no per-replica volume, scratch only.
    assert.deepEqual(spec.volumeClaimTemplates ?? [], []);
    assert.deepEqual(pod.volumes.find((v: any) => v.name === 'data').emptyDir, { sizeLimit: '256Mi' });

    const svc = (await get(RESOURCES.service, 'relay'))!.spec as any;
    assert.equal(svc.type, 'LoadBalancer');
    assert.equal(svc.externalTrafficPolicy, 'Local');
    assert.deepEqual(svc.ports.map((p: any) => [p.name, p.port, p.protocol]), [
      ['msrps', 2855, 'TCP'], ['msrp', 2856, 'TCP'], ['sip-tcp', 5060, 'TCP'], ['sip-tls', 5061, 'TCP'], ['msrp-chat', 2857, 'TCP'],
    ]);
    assert.equal((await get(RESOURCES.service, 'relay'))!.metadata?.annotations?.['lb.example.com/type'], 'nlb');
    assert.equal(((await get(RESOURCES.service, 'relay-mesh'))!.spec as any).clusterIP, 'None');
    const adminSvc = (await get(RESOURCES.service, 'relay-admin'))!.spec as any;
    assert.equal(adminSvc.type, 'ClusterIP');
    assert.deepEqual(adminSvc.ports.map((p: any) => [p.name, p.port]), [['admin', 8080], ['metrics', 9090]]);
    const cm = (await get(RESOURCES.configMap, 'relay-config'))!.data as Record<string, string>;
    const engineConfig = parseYaml(cm['msrpd.yaml']!);
    assert.equal(engineConfig.relay.publicHost, 'msrp.example.com');
    assert.deepEqual(engineConfig.auth.realms, [{ name: 'example.com', hosts: ['msrp.example.com'] }]);
    assert.equal(engineConfig.drain.deadlineSec, 60);
    assert.equal(((await get(RESOURCES.podDisruptionBudget, 'relay'))!.spec as any).maxUnavailable, 1);
    const np = (await get(RESOURCES.networkPolicy, 'relay'))!.spec as any;
    assert.deepEqual(np.policyTypes, ['Ingress']);
  });

  it('status: Ready=False TLSSecretMissing, then progresses when the Secret appears, Ready=True with ready replicas', async () => {
    let relay = await eventually('TLSSecretMissing', async () => {
      const o = await getRelay('relay');
      return cond(o, 'Ready')?.reason === 'TLSSecretMissing' ? o : undefined;
    });
    assert.equal(cond(relay, 'Ready')?.status, 'False');
    assert.match(cond(relay, 'Ready')!.message, /secret "relay-tls" not found/);
    assert.equal(relay.status?.observedGeneration, relay.metadata?.generation);
    assert.deepEqual(relay.status?.publicUris, ['msrps://msrp.example.com:2855;tcp', 'msrp://msrp.example.com:2856;tcp']);
    assert.equal(relay.status?.selector, 'app.kubernetes.io/name=msrp-relay,app.kubernetes.io/instance=relay');
    const missingSince = cond(relay, 'Ready')!.lastTransitionTime;

    const tls = await kubectl(['create', 'secret', 'generic', 'relay-tls', '-n', NS, '--type=kubernetes.io/tls',
      '--from-literal=tls.crt=dummy', '--from-literal=tls.key=dummy']);
    assert.equal(tls.code, 0, tls.stderr);
    relay = await eventually('DatabaseSecretMissing', async () => {
      const o = await getRelay('relay');
      return cond(o, 'Ready')?.reason === 'DatabaseSecretMissing' ? o : undefined;
    });
    assert.match(cond(relay, 'Ready')!.message, /database secret "relay-db" not found/);
    const dbSecret = await kubectl(['create', 'secret', 'generic', 'relay-db', '-n', NS, '--from-literal=url=postgres://msrp@postgres:5432/msrp']);
    assert.equal(dbSecret.code, 0, dbSecret.stderr);
    // The pods also mount the admin API's bootstrap token.
    relay = await eventually('AdminTokenSecretMissing', async () => {
      const o = await getRelay('relay');
      return cond(o, 'Ready')?.reason === 'AdminTokenSecretMissing' ? o : undefined;
    });
    assert.match(cond(relay, 'Ready')!.message, /admin token secret "relay-admin-token" not found/);
    const token = await kubectl(['create', 'secret', 'generic', 'relay-admin-token', '-n', NS, `--from-literal=token=${ADMIN_TOKEN}`]);
    assert.equal(token.code, 0, token.stderr);
    relay = await eventually('RolloutInProgress', async () => {
      const o = await getRelay('relay');
      return cond(o, 'Ready')?.reason === 'RolloutInProgress' ? o : undefined;
    });
    assert.equal(cond(relay, 'Ready')?.status, 'False');
    assert.equal(cond(relay, 'Ready')?.lastTransitionTime, missingSince, 'status stayed False: lastTransitionTime unchanged');
    assert.equal(cond(relay, 'Progressing')?.status, 'True');

    // No StatefulSet controller here: write the status it would write once the pod is ready.
    await simulateReadyReplicas('relay', 1);
    relay = await eventually('Ready=True', async () => {
      const o = await getRelay('relay');
      return cond(o, 'Ready')?.status === 'True' ? o : undefined;
    });
    assert.equal(cond(relay, 'Ready')?.reason, 'Available');
    assert.equal(cond(relay, 'Progressing')?.status, 'False');
    assert.equal(cond(relay, 'Degraded')?.status, 'False');
    assert.equal(relay.status?.readyReplicas, 1);
    assert.equal(relay.status?.replicas, 1);
    // The relay names no image: the operator's default (--relay-image, the package's msrpd here), now running.
    await eventually('status.version', async () => (await getRelay('relay'))?.status?.version === 'ghcr.io/msrp-k8s/msrpd:0.1.0');
    const r = await kubectl(['get', 'msrprelay', 'relay', '-n', NS]);
    assert.match(r.stdout, /^relay\s+True\s+1\s+msrps:\/\/msrp\.example\.com:2855;tcp/m);

    const events = await eventually('events', async () => {
      const ev = await kube.list<KubeObject & { reason: string; type: string; reportingController: string }>(RESOURCES.event, NS);
      const reasons = ev.items.filter((e) => (e as any).regarding?.name === 'relay').map((e) => e.reason);
      return reasons.includes('Available') ? ev.items : undefined;
    });
    const reasons = events.map((e) => e.reason);
    assert.ok(reasons.includes('TLSSecretMissing'), reasons.join(','));
    assert.equal(events.find((e) => e.reason === 'Available')?.reportingController, 'msrp.dev/operator');
  });

  it('update: a live setting changes the ConfigMap only; a port or a rotated database URL rolls the pod template; a replica change keeps it', async () => {
    const sts = async () => (await get(RESOURCES.statefulSet, 'relay'))!;
    const template = async () => ((await sts()).spec as any).template;
    const hashOf = async () => (await template()).metadata.annotations['msrp.dev/config-hash'] as string;
    /** The relay's status says the operator has reconciled this generation (after every apply). */
    const reconciled = async (generation: number) => eventually(`generation ${generation} observed`, async () => {
      const o = await getRelay('relay');
      return o?.status?.observedGeneration === generation ? o : undefined;
    });
    const before = await template();
    const stsGeneration = (await sts()).metadata!.generation;
    // Limits are applied live by the engine from the updated ConfigMap (docs/relay.md "What applies live").
    let r = await kubectl(['patch', 'msrprelay', 'relay', '-n', NS, '--type=merge', '-p', '{"spec":{"limits":{"sessionsPerUser":7}}}']);
    assert.equal(r.code, 0, r.stderr);
    await reconciled((await getRelay('relay'))!.metadata!.generation!);
    await eventually('ConfigMap with the new limit', async () => /sessionsPerUser: 7/.test((await get(RESOURCES.configMap, 'relay-config'))!.data!['msrpd.yaml' as never]));
    assert.deepEqual(await template(), before, 'a live setting leaves the pod template (and its config hash) alone');
    assert.equal((await sts()).metadata!.generation, stsGeneration, 'the StatefulSet spec did not change: no rollout');

    // A listener port is read at start: the pods roll.
    r = await kubectl(['patch', 'msrprelay', 'relay', '-n', NS, '--type=merge', '-p', '{"spec":{"ports":{"msrpTcp":2860}}}']);
    assert.equal(r.code, 0, r.stderr);
    const changed = await eventually('new config hash', async () => ((await hashOf()) !== before.metadata.annotations['msrp.dev/config-hash'] ? hashOf() : undefined));
    const rolled = await eventually('RolloutInProgress after the change', async () => {
      const o = await getRelay('relay');
      return cond(o, 'Progressing')?.status === 'True' ? o : undefined;
    });
    assert.equal(rolled.status?.observedGeneration, rolled.metadata?.generation);

    // The database URL is an environment variable: a new one in its Secret rolls the pods too.
    const dbHashOf = async () => (await template()).metadata.annotations['msrp.dev/database-secret-hash'] as string | undefined;
    const dbBefore = await dbHashOf();
    assert.match(dbBefore ?? '', /^[0-9a-f]{16}$/);
    r = await kubectl(['patch', 'secret', 'relay-db', '-n', NS, '--type=merge', '-p', JSON.stringify({ stringData: { url: 'postgres://msrp@postgres-new:5432/msrp' } })]);
    assert.equal(r.code, 0, r.stderr);
    await eventually('new database secret hash', async () => (await dbHashOf()) !== dbBefore);
    assert.equal(await hashOf(), changed, 'the config hash is not the database one');

    r = await kubectl(['patch', 'msrprelay', 'relay', '-n', NS, '--type=merge', '-p', '{"spec":{"replicas":0,"podDisruptionBudget":{"enabled":false}}}']);
    assert.equal(r.code, 0, r.stderr);
    await eventually('PDB removed when disabled', async () => (await get(RESOURCES.podDisruptionBudget, 'relay')) === undefined);
    await eventually('scaled to 0', async () => ((await get(RESOURCES.statefulSet, 'relay'))!.spec as any).replicas === 0);
    assert.equal(await hashOf(), changed, 'no config change: same hash');
    r = await kubectl(['patch', 'msrprelay', 'relay', '-n', NS, '--type=merge', '-p', '{"spec":{"replicas":1}}']);
    assert.equal(r.code, 0, r.stderr);
    await eventually('scaled back to 1', async () => ((await get(RESOURCES.statefulSet, 'relay'))!.spec as any).replicas === 1);
  });

  it('takes back an owned field that another field manager forced (server-side apply conflict)', async () => {
    const r = await kubectl(['apply', '--server-side', '--field-manager=intruder', '--force-conflicts', '-f', '-'],
      JSON.stringify({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'relay', namespace: NS }, spec: { replicas: 5 } }));
    assert.equal(r.code, 0, r.stderr);
    await eventually('replicas back to 1', async () => ((await get(RESOURCES.statefulSet, 'relay'))!.spec as any).replicas === 1);
    const sts = (await get(RESOURCES.statefulSet, 'relay'))!;
    const managers = (sts.metadata!.managedFields as { manager: string; fieldsV1?: any }[]);
    assert.ok(!managers.some((m) => m.manager === 'intruder' && m.fieldsV1?.['f:spec']?.['f:replicas']), 'intruder no longer owns spec.replicas');

    // An owned object deleted behind the operator's back comes back.
    const d = await kubectl(['delete', 'service', 'relay-admin', '-n', NS]);
    assert.equal(d.code, 0, d.stderr);
    await eventually('admin Service recreated', () => get(RESOURCES.service, 'relay-admin'));
  });

  it('issuerRef without cert-manager: Degraded CertManagerMissing; with its CRD: a Certificate', async () => {
    let r = await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(relayManifest('certs', {
      publicHost: 'certs.example.com',
      tls: { issuerRef: { name: 'letsencrypt', kind: 'ClusterIssuer' }, dnsNames: ['alt.example.com'] },
      database: { secretRef: { name: 'relay-db', key: 'url' } },
    })));
    assert.equal(r.code, 0, r.stderr);
    const relay = await eventually('CertManagerMissing', async () => {
      const o = await getRelay('certs');
      return cond(o, 'Degraded')?.reason === 'CertManagerMissing' ? o : undefined;
    });
    assert.equal(cond(relay, 'Degraded')?.status, 'True');
    assert.equal(cond(relay, 'Ready')?.reason, 'CertManagerMissing');
    // The StatefulSet mounts the Secret the Certificate will fill.
    const sts = await eventually('StatefulSet certs', () => get(RESOURCES.statefulSet, 'certs'));
    assert.equal((sts.spec as any).template.spec.volumes.find((v: any) => v.name === 'tls').secret.secretName, 'certs-tls');

    // A stand-in for cert-manager's CRD (schema-less): enough for the API to accept Certificates.
    r = await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'certificates.cert-manager.io' },
      spec: {
        group: 'cert-manager.io', scope: 'Namespaced',
        names: { kind: 'Certificate', listKind: 'CertificateList', plural: 'certificates', singular: 'certificate' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } } }],
      },
    }));
    assert.equal(r.code, 0, r.stderr);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/certificates.cert-manager.io']);
    const cert = await eventually('Certificate certs', () => get(RESOURCES.certificate, 'certs'), 30_000);
    assert.deepEqual((cert.spec as any).dnsNames, ['certs.example.com', 'alt.example.com']);
    assert.equal((cert.spec as any).secretName, 'certs-tls');
    assert.deepEqual((cert.spec as any).issuerRef, { name: 'letsencrypt', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    const after = await eventually('CertificatePending', async () => {
      const o = await getRelay('certs');
      return cond(o, 'Ready')?.reason === 'CertificatePending' ? o : undefined;
    });
    assert.equal(cond(after, 'Degraded')?.status, 'False');
  });

  /** The admin API as any client sees it, with the bootstrap token. */
  async function adminGet(p: string): Promise<{ status: number; json: any }> {
    const res = await fetch(`${admin.url}${p}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return { status: res.status, json: await res.json().catch(() => undefined) };
  }
  const participants = (n: number) => new Map(Array.from({ length: n }, (_, i) => [`p${i}`, { id: `p${i}`, uri: `sip:user${i}@example.com` }]));

  it('ChatRoom: finalizer, PUT of the full spec to the real admin API, the room in its database, status with URI and participants', async () => {
    engine.rooms.set('lobby', participants(3));
    // The operator authenticates with the relay's own relay-admin-token Secret (no flag): without
    // it the room waits, Ready=False AdminTokenMissing; the Secret's creation brings it back.
    let r = await kubectl(['delete', 'secret', 'relay-admin-token', '-n', NS]);
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'msrp.dev/v1alpha1', kind: 'ChatRoom', metadata: { name: 'lobby', namespace: NS },
      spec: { relayRef: { name: 'relay' }, subject: 'Welcome', policy: { maxParticipants: 10, moderators: ['sips:alice@example.com'] } },
    }));
    assert.equal(r.code, 0, r.stderr);
    const waiting = await eventually('room AdminTokenMissing', async () => {
      const o = await kube.getOptional<WithStatus>(RESOURCES.chatRoom, NS, 'lobby');
      return cond(o, 'Ready')?.reason === 'AdminTokenMissing' ? o : undefined;
    });
    assert.equal(cond(waiting, 'Ready')?.status, 'False');
    assert.match(cond(waiting, 'Ready')!.message, /admin token secret "relay-admin-token" not found in namespace relays/);
    r = await kubectl(['create', 'secret', 'generic', 'relay-admin-token', '-n', NS, `--from-literal=token=${ADMIN_TOKEN}`]);
    assert.equal(r.code, 0, r.stderr);
    const room = await eventually('room Ready', async () => {
      const o = await kube.getOptional<WithStatus>(RESOURCES.chatRoom, NS, 'lobby');
      return cond(o, 'Ready')?.status === 'True' ? o : undefined;
    });
    assert.deepEqual(room.metadata?.finalizers, ['msrp.dev/room-cleanup']);
    assert.equal(room.status?.uri, 'sips:lobby@msrp.example.com');
    assert.equal(cond(room, 'Ready')?.reason, 'Synced');
    await eventually('participants from the engine', async () => (await kube.get<WithStatus>(RESOURCES.chatRoom, NS, 'lobby')).status?.participants === 3);

    // The room as the admin API stores it (PostgreSQL), defaults of the admin schema filled in.
    const stored = await adminGet('/v1/rooms/lobby');
    assert.equal(stored.status, 200, JSON.stringify(stored.json));
    const { createdAt, updatedAt, ...rest } = stored.json;
    assert.deepEqual(rest, {
      name: 'lobby',
      uri: 'sips:lobby@msrp.example.com',
      subject: 'Welcome',
      policy: {
        nicknames: true, privateMessages: true, maxParticipants: 10, history: { enabled: true, size: 50 },
        allow: [], deny: [], moderators: ['sips:alice@example.com'], welcome: '', requireAuth: false,
      },
      generation: 1,
    });
    assert.ok(createdAt && updatedAt);

    // The operator re-PUTs every --room-status-interval (1 s): idempotent, the generation stays.
    const puts = async () => (await adminGet('/v1/audit?limit=500&resource=/v1/rooms/lobby')).json?.items?.length as number;
    const auditBefore = await puts();
    // Two more reconciles of the room (each re-PUTs the spec), counted, not guessed at with a pause.
    await moreRoomReconciles(2);
    const again = await adminGet('/v1/rooms/lobby');
    assert.equal(again.json.generation, 1, 'same spec, same generation');
    assert.equal(again.json.updatedAt, updatedAt);
    assert.equal(await puts(), auditBefore, 'no change recorded for a repeated PUT');

    // A spec change bumps it once.
    const p = await kubectl(['patch', 'chatroom', 'lobby', '-n', NS, '--type=merge', '-p', '{"spec":{"subject":"Welcome back"}}']);
    assert.equal(p.code, 0, p.stderr);
    const changed = await eventually('new subject stored', async () => {
      const g = await adminGet('/v1/rooms/lobby');
      return g.json?.subject === 'Welcome back' ? g.json : undefined;
    });
    assert.equal(changed.generation, 2);
    await moreRoomReconciles(2);
    assert.equal((await adminGet('/v1/rooms/lobby')).json.generation, 2);

    engine.rooms.set('lobby', participants(5));
    await eventually('participant count refreshed', async () => (await kube.get<WithStatus>(RESOURCES.chatRoom, NS, 'lobby')).status?.participants === 5);
  });

  it('ChatRoom: an unreachable admin API is Ready=False AdminUnreachable with retries, then recovers', async () => {
    await admin.stop();
    const room = await eventually('AdminUnreachable', async () => {
      const o = await kube.getOptional<WithStatus>(RESOURCES.chatRoom, NS, 'lobby');
      return cond(o, 'Ready')?.reason === 'AdminUnreachable' ? o : undefined;
    });
    assert.equal(cond(room, 'Ready')?.status, 'False');
    assert.ok(leader.child.exitCode === null, 'no crash');
    await admin.restart();
    await eventually('Ready again', async () => cond(await kube.getOptional<WithStatus>(RESOURCES.chatRoom, NS, 'lobby'), 'Ready')?.status === 'True');
    assert.equal((await adminGet('/v1/rooms/lobby')).json.generation, 2, 'recovery re-PUT the same spec');
  });

  it('ChatRoom: deleting it removes the room from the relay (finalizer) before the object goes', async () => {
    assert.equal((await adminGet('/v1/rooms/lobby')).status, 200);
    await admin.stop(); // the DELETE must wait for the admin API
    const d = await kubectl(['delete', 'chatroom', 'lobby', '-n', NS, '--wait=false']);
    assert.equal(d.code, 0, d.stderr);
    // The operator has tried (and failed) to clean up at least twice since the DELETE.
    await moreRoomReconciles(2);
    const pending = await kube.getOptional<WithStatus>(RESOURCES.chatRoom, NS, 'lobby');
    assert.ok(pending?.metadata?.deletionTimestamp, 'held by the finalizer while the admin API is down');
    await admin.restart();
    await eventually('ChatRoom gone', async () => (await kube.getOptional(RESOURCES.chatRoom, NS, 'lobby')) === undefined);
    assert.equal((await adminGet('/v1/rooms/lobby')).status, 404, 'the room is gone from the database');
  });

  it('ChatRoom of a missing relay: Ready=False RelayNotFound; deleting it does not hang', async () => {
    let r = await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'msrp.dev/v1alpha1', kind: 'ChatRoom', metadata: { name: 'orphan', namespace: NS }, spec: { relayRef: { name: 'nope' } },
    }));
    assert.equal(r.code, 0, r.stderr);
    await eventually('RelayNotFound', async () => cond(await kube.getOptional<WithStatus>(RESOURCES.chatRoom, NS, 'orphan'), 'Ready')?.reason === 'RelayNotFound');
    r = await kubectl(['delete', 'chatroom', 'orphan', '-n', NS, '--timeout=20s']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('the standby takes over within the lease time when the leader is killed (SIGKILL), and reconciles', async () => {
    assert.equal(await metric(standby, 'msrp_operator_reconcile_total'), undefined, 'the standby reconciled nothing');
    assert.ok((await metric(leader, 'msrp_operator_reconcile_total'))! > 0);
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    await leader.exited;
    await eventually('operator b to lead', async () => (await metric(standby, 'msrp_operator_leader')) === 1, 30_000);
    const tookMs = Date.now() - killedAt;
    // The standby counts the 15 s lease from the last renewal it saw, which it polls every
    // 2 s (+ up to 20% jitter): at most one retry period before the kill, one after expiry.
    assert.ok(tookMs < 15_000 + 2 * 2_400 + 1_000, `took over after ${tookMs} ms`);
    const lease = await kube.get<{ spec: { holderIdentity: string; leaseTransitions: number } } & KubeObject>(RESOURCES.lease, 'msrp-system', 'msrp-operator');
    assert.match(lease.spec.holderIdentity, /^operator-b_/);
    assert.equal(lease.spec.leaseTransitions, 1);
    // The new leader reconciles: a change made now reaches the StatefulSet.
    const r = await kubectl(['patch', 'msrprelay', 'relay', '-n', NS, '--type=merge', '-p', '{"spec":{"drain":{"timeoutSeconds":90}}}']);
    assert.equal(r.code, 0, r.stderr);
    await eventually('new grace period', async () => ((await get(RESOURCES.statefulSet, 'relay'))!.spec as any).template.spec.terminationGracePeriodSeconds === 110);
  });

  it('SIGTERM: the leader finishes, releases the Lease and exits 0', async () => {
    standby.child.kill('SIGTERM');
    assert.equal(await standby.exited, 0);
    const lease = await kube.get<{ spec: { holderIdentity?: string } } & KubeObject>(RESOURCES.lease, 'msrp-system', 'msrp-operator');
    assert.equal(lease.spec.holderIdentity, undefined, 'released for the next candidate');
    const c = await startOperatorProcess('c');
    const t0 = Date.now();
    await eventually('operator c to lead at once', async () => (await metric(c, 'msrp_operator_leader').catch(() => 0)) === 1);
    assert.ok(Date.now() - t0 < 8_000, 'no lease-duration wait after a release');
  });
});
