// manifests/samples/*.yaml applied as a user would (the Secrets their comments ask for
// first, with those exact kubectl commands), with the operator running against a real
// API server and a real admin sidecar (`node cmd/admin.ts`, PostgreSQL from DATABASE_URL,
// PGlite outside CI without it) standing in for every relay's admin Service.
// No kube-controller-manager here, so no garbage collector: deleting an MsrpRelay leaves
// its owned objects, and the test asserts the ownerReferences a collector would follow
// (uid of the deleted owner, controller, blockOwnerDeletion). ChatRoom deletion is the
// operator's own business (a finalizer): the room must be gone from the admin API.
// Rooms are deleted before their relays: a ChatRoom whose relay is already gone drops its
// finalizer without a relay to ask (room-controller.ts), leaving the row in the database.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { clusterBinDir } from './cluster/cluster.ts';
import { eventually, freshDatabase, ROOT, skipReason, startAdmin, startOperatorCluster } from './operator-harness.ts';
import type { AdminProc, OperatorCluster } from './operator-harness.ts';
import type { KubeObject } from '../internal/operator/kube/client.ts';
import { RESOURCES } from '../internal/operator/kube/resources.ts';
import { testPki } from '../internal/transport/testcerts.ts';

const binDir = clusterBinDir();
const skip = skipReason({ binDir });
const SAMPLES = path.join(ROOT, 'manifests', 'samples');
const NS = 'default';

type Condition = { type: string; status: string; reason: string };
type WithStatus = KubeObject & { status?: { conditions?: Condition[]; [k: string]: unknown }; spec?: any };
const cond = (o: WithStatus | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);

describe('manifests/samples with the operator running', { skip, timeout: 300_000 }, () => {
  let env: OperatorCluster;
  let admin: AdminProc;
  let operatorMetricsPort = 0;
  let db: { url: string; drop: () => Promise<void> } | undefined;
  const token = randomBytes(24).toString('hex');
  const uids = new Map<string, string>();

  async function adminGet(p: string): Promise<{ status: number; json: any }> {
    const res = await fetch(`${admin.url}${p}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, json: await res.json().catch(() => undefined) };
  }
  const kubectlOk = async (args: string[], input?: string) => {
    const r = await env.kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  before(async () => {
    assert.ok(binDir, 'kube-apiserver/etcd/kubectl not built: run e2e/cluster/build.sh');
    if (process.env.DATABASE_URL) db = await freshDatabase(process.env.DATABASE_URL);
    else assert.notEqual(process.env.CI, 'true', 'CI=true but DATABASE_URL is not set');
    env = await startOperatorCluster(binDir, []);
    const tokenFile = path.join(env.cluster.dir, 'admin-token');
    await writeFile(tokenFile, token + '\n', { mode: 0o600 });
    admin = await startAdmin({ dir: env.cluster.dir, tokenFile, databaseUrl: db?.url, logPath: path.join(env.cluster.dir, 'admin.log') });
    // No --admin-token-file: the operator presents each relay's <relay>-admin-token Secret.
    operatorMetricsPort = (await env.startOperator('a', [`--admin-url-template=${admin.url}`, '--room-status-interval=1s'])).metricsPort;
  });

  after(async () => {
    await admin?.stop();
    await env?.stop();
    await db?.drop();
  });

  it('the relays render (StatefulSets with ownerReferences) and the rooms reach the admin API', async () => {
    // The Secrets the samples' comments ask for, with their commands.
    const pki = await testPki();
    await kubectlOk(['create', 'secret', 'tls', 'relay-ha-tls', '-n', NS, `--cert=${pki.server.dir}/tls.crt`, `--key=${pki.server.dir}/tls.key`]);
    for (const relay of ['relay', 'relay-ha']) {
      await kubectlOk(['create', 'secret', 'generic', `${relay}-db`, '-n', NS, `--from-literal=url=${db?.url ?? 'postgres://msrp@postgres:5432/msrp'}`]);
    }
    for (const relay of ['relay', 'relay-ha']) {
      await kubectlOk(['create', 'secret', 'generic', `${relay}-admin-token`, '-n', NS, `--from-literal=token=${token}`]);
    }
    await kubectlOk(['apply', '--server-side', '-f', SAMPLES]);

    for (const [name, replicas] of [['relay', 1], ['relay-ha', 3]] as const) {
      const relay = (await env.kube.get<WithStatus>(RESOURCES.msrpRelay, NS, name));
      uids.set(name, relay.metadata!.uid!);
      const sts = await eventually(`StatefulSet ${name}`, () => env.kube.getOptional<WithStatus>(RESOURCES.statefulSet, NS, name), 30_000);
      assert.equal(sts.spec.replicas, replicas);
      assert.deepEqual(sts.metadata?.ownerReferences, [
        { apiVersion: 'msrp.dev/v1alpha1', kind: 'MsrpRelay', name, uid: relay.metadata!.uid, controller: true, blockOwnerDeletion: true },
      ]);
      const volumes = sts.spec.template.spec.volumes.map((v: any) => v.name);
      assert.ok(volumes.includes('admin-token'), volumes.join(','));
      // spec.peering, as the API server defaulted it, is in the engine config the pods mount.
      const cm = await env.kube.get<KubeObject & { data: Record<string, string> }>(RESOURCES.configMap, NS, `${name}-config`);
      const engine = parse(cm.data['msrpd.yaml']!) as { nextHops?: unknown; tls: unknown };
      if (name === 'relay') {
        assert.equal(engine.nextHops, undefined, 'relay has no spec.peering: it forwards to nothing but its own sessions');
        assert.deepEqual(engine.tls, { dir: '/etc/msrp/tls' });
      } else {
        assert.deepEqual(engine.nextHops, {
          allow: [{ host: 'relay.partner.example.org' }, { host: '*.msrp.example.com', port: 2855 }],
          allowPrivate: false,
          dnsServers: [],
        });
        assert.deepEqual(engine.tls, { dir: '/etc/msrp/tls', mutual: true, peerCertificates: 'require' });
      }
      const observed = await eventually(`${name} status`, async () => {
        const o = await env.kube.getOptional<WithStatus>(RESOURCES.msrpRelay, NS, name);
        return o?.status?.observedGeneration === o?.metadata?.generation && cond(o, 'Ready') ? o : undefined;
      });
      assert.equal(cond(observed, 'Ready')?.status, 'False', 'no pods here: never Ready');
    }
    // relay: cert-manager and prometheus-operator are not installed; relay-ha: its Secret exists, pods do not.
    await eventually('relay Degraded CertManagerMissing', async () => cond(await env.kube.getOptional<WithStatus>(RESOURCES.msrpRelay, NS, 'relay'), 'Degraded')?.reason === 'CertManagerMissing');
    await eventually('relay-ha RolloutInProgress', async () => cond(await env.kube.getOptional<WithStatus>(RESOURCES.msrpRelay, NS, 'relay-ha'), 'Ready')?.reason === 'RolloutInProgress');
    assert.equal((await env.kube.getOptional(RESOURCES.statefulSet, NS, 'relay'))!.metadata?.name, 'relay');

    const expected = [
      ['lobby', 'lobby', 'sips:lobby@chat.example.com', 'Welcome to the lobby'],
      ['ops', 'ops', 'sips:ops@relay.example.net', 'Operations'],
      ['announcements', 'news', 'sips:news@relay.example.net', 'Announcements (read the history on join)'],
    ] as const;
    for (const [object, roomName, uri, subject] of expected) {
      // Stored through the admin API, but no relay pod runs here to serve it: never Ready.
      const room = await eventually(`ChatRoom ${object} stored, not served`, async () => {
        const o = await env.kube.getOptional<WithStatus>(RESOURCES.chatRoom, NS, object);
        return cond(o, 'Ready')?.reason === 'EngineUnavailable' && o?.status?.uri !== undefined ? o : undefined;
      }, 30_000);
      assert.equal(cond(room, 'Ready')?.status, 'False');
      assert.equal(room.status?.uri, uri);
      assert.deepEqual(room.metadata?.finalizers, ['msrp.dev/room-cleanup']);
      const stored = await adminGet(`/v1/rooms/${roomName}`);
      assert.equal(stored.status, 200, JSON.stringify(stored.json));
      assert.equal(stored.json.uri, uri);
      assert.equal(stored.json.subject, subject);
      assert.equal(stored.json.generation, 1);
    }
    const ops = (await adminGet('/v1/rooms/ops')).json;
    assert.deepEqual(ops.policy, {
      nicknames: true, privateMessages: false, maxParticipants: 25, history: { enabled: true, size: 200 },
      allow: ['sip:*@example.net'], deny: ['sip:guest-*@example.net'], moderators: ['sips:alice@example.net', 'sips:bob@example.net'],
      welcome: '', requireAuth: false,
    });
    assert.equal((await adminGet('/v1/rooms/news')).json.policy.history.size, 1000);
  });

  it('deleting the samples: room finalizers remove the rooms from the admin API; owned objects point at their (deleted) owner', async () => {
    await kubectlOk(['delete', '-f', path.join(SAMPLES, 'rooms.yaml'), '--timeout=60s']);
    for (const object of ['lobby', 'ops', 'announcements']) {
      assert.equal(await env.kube.getOptional(RESOURCES.chatRoom, NS, object), undefined, `ChatRoom ${object} gone`);
    }
    for (const roomName of ['lobby', 'ops', 'news']) assert.equal((await adminGet(`/v1/rooms/${roomName}`)).status, 404, `room ${roomName} deleted`);
    const deletes = (await adminGet('/v1/audit?limit=500&resource=/v1/rooms/')).json.items.filter((e: any) => e.action === 'room.delete');
    assert.equal(deletes.length, 3);

    await kubectlOk(['delete', '-f', path.join(SAMPLES, 'relay-cert-manager.yaml'), '-f', path.join(SAMPLES, 'relay-existing-secret.yaml'), '--timeout=60s']);
    // The garbage collector (absent here) deletes dependents whose controller owner's uid is gone.
    for (const name of ['relay', 'relay-ha']) {
      assert.equal(await env.kube.getOptional(RESOURCES.msrpRelay, NS, name), undefined);
      const owned: [keyof typeof RESOURCES, string][] = [
        ['serviceAccount', name], ['configMap', `${name}-config`], ['service', name], ['service', `${name}-mesh`],
        ['service', `${name}-admin`], ['podDisruptionBudget', name], ['networkPolicy', name], ['statefulSet', name],
      ];
      for (const [kind, objName] of owned) {
        const o = await env.kube.getOptional(RESOURCES[kind], NS, objName);
        assert.ok(o, `${kind}/${objName} exists (no garbage collector here)`);
        assert.deepEqual(o.metadata?.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller, r.blockOwnerDeletion]), [
          ['MsrpRelay', name, uids.get(name), true, true],
        ], `${kind}/${objName}`);
      }
    }
    // The operator leaves orphans alone once their owner is gone (no re-creation, no crash).
    // Provoke it rather than wait and hope: a change to an owned object brings its owner's key
    // to the queue (manager.ts), so touch the orphan and wait for MsrpRelay reconciles to run.
    const relayReconciles = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${operatorMetricsPort}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith('msrp_operator_reconcile_total{') && l.includes('kind="MsrpRelay"'))
        .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    };
    const before = await relayReconciles();
    await kubectlOk(['annotate', 'statefulset', 'relay-ha', '-n', NS, 'e2e.msrp.dev/touched=yes']);
    const rv = (await env.kube.get(RESOURCES.statefulSet, NS, 'relay-ha')).metadata?.resourceVersion;
    await eventually('an MsrpRelay reconcile after the orphan changed', async () => (await relayReconciles()) > before);
    assert.equal((await env.kube.get(RESOURCES.statefulSet, NS, 'relay-ha')).metadata?.resourceVersion, rv, 'the orphan was not re-applied');
    assert.equal(await env.kube.getOptional(RESOURCES.msrpRelay, NS, 'relay-ha'), undefined, 'nor its owner re-created');
  });
});
