// The mesh PKI Secrets against a real kube-apiserver + etcd (e2e/cluster), with the chart's
// RBAC (manifests/install.yaml): the operator process (--watch-namespaces relays) makes
// <relay>-mesh-ca and <relay>-mesh-tls for an MsrpRelay and repairs them; in namespace
// "direct", which that operator does not watch, the test calls ensureMeshSecrets itself
// with the operator's ServiceAccount token and a clock of its own, to walk through renewal
// and a CA rollover without waiting for real time to pass.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { checkServerIdentity } from 'node:tls';
import { clusterBinDir } from './cluster/cluster.ts';
import { eventually, skipReason, startOperatorCluster } from './operator-harness.ts';
import type { OperatorCluster, Proc } from './operator-harness.ts';
import type { MsrpRelay } from '../internal/operator/api/msrprelay.ts';
import type { EventRecorder } from '../internal/operator/events.ts';
import { KubeClient } from '../internal/operator/kube/client.ts';
import type { KubeObject } from '../internal/operator/kube/client.ts';
import { RESOURCES } from '../internal/operator/kube/resources.ts';
import { issueMeshCertificate, meshCertificateProblem, splitPemBundle } from '../internal/operator/mesh-pki.ts';
import { ensureMeshSecrets, ROLLOVER_ANNOTATION } from '../internal/operator/mesh-secrets.ts';
import { loadKubeConfig } from '../internal/operator/operator.ts';
import { adminDnsNames, meshDnsNames } from '../internal/operator/render/common.ts';
import { createLogger } from '../internal/telemetry/logger.ts';

const binDir = clusterBinDir();
const skip = skipReason({ binDir });
const NS = 'relays';
const DIRECT = 'direct';
const DAY = 86_400_000;
const MIN = 60_000;

type Secret = KubeObject & { type?: string; data?: Record<string, string> };
const pemOf = (s: Secret | undefined, key: string) => Buffer.from(s?.data?.[key] ?? '', 'base64').toString('utf8');
const b64 = (s: string) => Buffer.from(s).toString('base64');

function relayManifest(name: string, namespace: string) {
  return {
    apiVersion: 'msrp.dev/v1alpha1', kind: 'MsrpRelay', metadata: { name, namespace },
    spec: { publicHost: `${name}.example.com`, tls: { secretName: `${name}-tls` }, database: { secretRef: { name: `${name}-db`, key: 'url' } } },
  };
}

describe('mesh PKI Secrets against a real API server', { skip, timeout: 300_000 }, () => {
  let oc: OperatorCluster;
  let operator: Proc;
  const secret = (name: string, ns = NS) => oc.kube.getOptional<Secret>(RESOURCES.secret, ns, name);

  before(async () => {
    assert.ok(binDir, 'kube-apiserver/etcd/kubectl not built: run e2e/cluster/build.sh');
    oc = await startOperatorCluster(binDir, [NS, DIRECT]);
    operator = await oc.startOperator('mesh', [`--watch-namespaces=${NS}`]);
  });
  after(async () => {
    if (process.env.MSRP_E2E_DUMP_LOGS === '1' && operator) process.stderr.write(readFileSync(operator.logPath, 'utf8'));
    await oc?.stop();
  });

  it('an MsrpRelay gets <relay>-mesh-ca (Opaque) and <relay>-mesh-tls (kubernetes.io/tls) valid for every replica, owned by it', async () => {
    const r = await oc.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(relayManifest('relay', NS)));
    assert.equal(r.code, 0, r.stderr);
    const relay = (await oc.kube.get<MsrpRelay & KubeObject>(RESOURCES.msrpRelay, NS, 'relay'));
    const ca = await eventually('relay-mesh-ca', () => secret('relay-mesh-ca'), 60_000);
    const tls = await eventually('relay-mesh-tls', () => secret('relay-mesh-tls'), 60_000);
    assert.equal(ca.type, 'Opaque');
    assert.deepEqual(Object.keys(ca.data ?? {}).sort(), ['ca.crt', 'ca.key']);
    assert.equal(tls.type, 'kubernetes.io/tls');
    assert.deepEqual(Object.keys(tls.data ?? {}).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    const owner = { apiVersion: 'msrp.dev/v1alpha1', kind: 'MsrpRelay', name: 'relay', uid: relay.metadata.uid, controller: true, blockOwnerDeletion: true };
    for (const s of [ca, tls]) {
      assert.deepEqual(s.metadata?.ownerReferences, [owner], `${s.metadata?.name} ownerReferences`);
      assert.equal(s.metadata?.labels?.['app.kubernetes.io/managed-by'], 'msrp-operator');
      assert.equal(s.metadata?.labels?.['app.kubernetes.io/instance'], 'relay');
    }
    assert.equal(pemOf(tls, 'ca.crt'), pemOf(ca, 'ca.crt'), 'the pods trust exactly the mesh CA');
    assert.equal(meshCertificateProblem(pemOf(tls, 'tls.crt'), pemOf(ca, 'ca.crt'), meshDnsNames(relay), new Date()), undefined);
    const leaf = new X509Certificate(pemOf(tls, 'tls.crt'));
    assert.equal(checkServerIdentity('relay-2.relay-mesh.relays.svc.cluster.local', leaf.toLegacyObject()), undefined);
    assert.ok(checkServerIdentity('relay-2.relay-mesh.other.svc.cluster.local', leaf.toLegacyObject()) instanceof Error);
    assert.ok(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(pemOf(tls, 'tls.key'))));

    const events = await eventually('MeshCertificateIssued event', async () => {
      const ev = await oc.kube.list<KubeObject & { reason: string; note: string }>(RESOURCES.event, NS);
      const mine = ev.items.filter((e) => e.reason === 'MeshCertificateIssued' || e.reason === 'MeshCACreated');
      return mine.length >= 2 ? mine : undefined;
    });
    for (const e of events) assert.doesNotMatch(e.note, /PRIVATE KEY|BEGIN/);
  });

  it('a second reconcile changes nothing (same resourceVersions)', async () => {
    const before = [(await secret('relay-mesh-ca'))!.metadata!.resourceVersion, (await secret('relay-mesh-tls'))!.metadata!.resourceVersion];
    // A spec change makes the operator reconcile the relay again; wait until it has.
    const p = await oc.kubectl(['patch', 'msrprelay', 'relay', '-n', NS, '--type=merge', '-p', '{"spec":{"limits":{"sessionsPerUser":7}}}']);
    assert.equal(p.code, 0, p.stderr);
    await eventually('status of the new generation', async () => {
      const o = await oc.kube.get<KubeObject & { status?: { observedGeneration?: number } }>(RESOURCES.msrpRelay, NS, 'relay');
      return o.status?.observedGeneration === o.metadata?.generation;
    });
    const after = [(await secret('relay-mesh-ca'))!.metadata!.resourceVersion, (await secret('relay-mesh-tls'))!.metadata!.resourceVersion];
    assert.deepEqual(after, before);
  });

  it('a leaf past its renewal time, or naming other hosts, is replaced by a fresh one from the same CA', async () => {
    const ca = await secret('relay-mesh-ca');
    const pair = { certPem: pemOf(ca, 'ca.crt'), keyPem: pemOf(ca, 'ca.key') };
    const relay = await oc.kube.get<MsrpRelay & KubeObject>(RESOURCES.msrpRelay, NS, 'relay');
    for (const [what, stale] of [
      ['issued 340 days ago', issueMeshCertificate(pair, meshDnsNames(relay), new Date(Date.now() - 340 * DAY))],
      ['for another namespace', issueMeshCertificate(pair, ['*.relay-mesh.other.svc.cluster.local'], new Date())],
    ] as const) {
      const staleSerial = new X509Certificate(stale.certPem).serialNumber;
      const r = await oc.kubectl(['patch', 'secret', 'relay-mesh-tls', '-n', NS, '--type=merge', '-p',
        JSON.stringify({ data: { 'tls.crt': b64(stale.certPem), 'tls.key': b64(stale.keyPem) } })]);
      assert.equal(r.code, 0, r.stderr);
      const fresh = await eventually(`replacement of a leaf ${what}`, async () => {
        const s = await secret('relay-mesh-tls');
        const serial = new X509Certificate(pemOf(s, 'tls.crt')).serialNumber;
        return serial !== staleSerial ? s : undefined;
      });
      assert.equal(meshCertificateProblem(pemOf(fresh, 'tls.crt'), pair.certPem, meshDnsNames(relay), new Date()), undefined, what);
    }
    assert.equal(pemOf(await secret('relay-mesh-ca'), 'ca.crt'), pair.certPem, 'the CA stays');
  });

  it('a deleted mesh-tls Secret comes back; the operator log holds no key material', async () => {
    const r = await oc.kubectl(['delete', 'secret', 'relay-mesh-tls', '-n', NS]);
    assert.equal(r.code, 0, r.stderr);
    const back = await eventually('relay-mesh-tls again', () => secret('relay-mesh-tls'));
    const log = readFileSync(operator.logPath, 'utf8');
    assert.match(log, /"object":"relay-mesh-tls","reason":"missing","serial":"[0-9A-F]{32}".*"msg":"mesh certificate issued"/);
    assert.doesNotMatch(log, /PRIVATE KEY/);
    for (const k of ['tls.key']) assert.ok(!log.includes(back.data![k]!.slice(0, 40)), `${k} not logged`);
  });

  describe('driven directly, with the operator ServiceAccount and a clock of the test', () => {
    let client: KubeClient;
    let relay: MsrpRelay;
    const recorded: string[] = [];
    const events: EventRecorder = { record: (_o, _t, reason) => void recorded.push(reason) };
    const deps = () => ({
      client,
      // No cache: every read goes to the API server.
      secrets: { read: () => Promise.resolve(undefined) },
      events,
      logger: createLogger({ name: 'mesh-e2e', level: 'silent' }),
      rolloverMs: 5 * MIN,
    });
    const rv = async (name: string) => (await secret(name, DIRECT))?.metadata?.resourceVersion;

    before(async () => {
      client = new KubeClient(loadKubeConfig(oc.operatorKubeconfig));
      const r = await oc.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(relayManifest('solo', DIRECT)));
      assert.equal(r.code, 0, r.stderr);
      relay = await oc.kube.get<MsrpRelay & KubeObject>(RESOURCES.msrpRelay, DIRECT, 'solo');
    });
    after(() => client?.close());

    it('creates both, then leaves them alone until the renewal time, then renews the leaf only', async () => {
      const t0 = new Date();
      const first = await ensureMeshSecrets(deps(), relay, t0);
      const leaf0 = pemOf(await secret('solo-mesh-tls', DIRECT), 'tls.crt');
      assert.equal(first.nextCheck.getTime(), new Date(new X509Certificate(leaf0).validTo).getTime() - 30 * DAY);
      const versions = [await rv('solo-mesh-ca'), await rv('solo-mesh-tls')];
      await ensureMeshSecrets(deps(), relay, new Date(t0.getTime() + 300 * DAY));
      assert.deepEqual([await rv('solo-mesh-ca'), await rv('solo-mesh-tls')], versions, 'nothing written before it is due');

      const later = new Date(t0.getTime() + 340 * DAY);
      await ensureMeshSecrets(deps(), relay, later);
      assert.equal(await rv('solo-mesh-ca'), versions[0]);
      const tls = await secret('solo-mesh-tls', DIRECT);
      assert.notEqual(tls?.metadata?.resourceVersion, versions[1]);
      const leaf1 = new X509Certificate(pemOf(tls, 'tls.crt'));
      assert.equal(new Date(leaf1.validFrom).getTime(), Math.floor(later.getTime() / 1000) * 1000 - 5 * MIN);
      assert.deepEqual(recorded, ['MeshCACreated', 'MeshCertificateIssued', 'AdminCertificateIssued', 'MeshCertificateIssued', 'AdminCertificateIssued']);
      // The admin API's certificate: the same CA, the admin Service's names only (not the mesh's).
      const admin = await secret('solo-admin-tls', DIRECT);
      assert.equal(meshCertificateProblem(pemOf(admin, 'tls.crt'), pemOf(await secret('solo-mesh-ca', DIRECT), 'ca.crt'), adminDnsNames(relay), later), undefined);
      assert.deepEqual(adminDnsNames(relay), [`solo-admin.${DIRECT}.svc`, `solo-admin.${DIRECT}.svc.cluster.local`]);
    });

    it('deleting the CA Secret rotates it: both CAs trusted, then a leaf from the new one, then the old CA dropped', async () => {
      const oldCa = pemOf(await secret('solo-mesh-ca', DIRECT), 'ca.crt');
      const oldLeaf = pemOf(await secret('solo-mesh-tls', DIRECT), 'tls.crt');
      const r = await oc.kubectl(['delete', 'secret', 'solo-mesh-ca', '-n', DIRECT]);
      assert.equal(r.code, 0, r.stderr);
      // The previous test's clock is 340 days on; continue from there.
      const t = new Date(Date.now() + 340 * DAY);
      const step1 = await ensureMeshSecrets(deps(), relay, t);
      const newCa = pemOf(await secret('solo-mesh-ca', DIRECT), 'ca.crt');
      assert.notEqual(newCa, oldCa);
      let tls = await secret('solo-mesh-tls', DIRECT);
      assert.equal(pemOf(tls, 'tls.crt'), oldLeaf, 'step 1 keeps the leaf');
      assert.deepEqual(splitPemBundle(pemOf(tls, 'ca.crt')), [newCa, oldCa]);
      assert.equal(tls?.metadata?.annotations?.[ROLLOVER_ANNOTATION], t.toISOString());
      assert.equal(step1.nextCheck.getTime(), t.getTime() + 5 * MIN);

      await ensureMeshSecrets(deps(), relay, new Date(t.getTime() + 2 * MIN));
      assert.equal(pemOf(await secret('solo-mesh-tls', DIRECT), 'tls.crt'), oldLeaf, 'waits for the pods to get ca.crt');

      await ensureMeshSecrets(deps(), relay, new Date(t.getTime() + 5 * MIN));
      tls = await secret('solo-mesh-tls', DIRECT);
      assert.notEqual(pemOf(tls, 'tls.crt'), oldLeaf, 'step 2: a leaf from the new CA');
      assert.equal(meshCertificateProblem(pemOf(tls, 'tls.crt'), newCa, meshDnsNames(relay), new Date(t.getTime() + 5 * MIN)), undefined);
      assert.deepEqual(splitPemBundle(pemOf(tls, 'ca.crt')), [newCa, oldCa]);

      await ensureMeshSecrets(deps(), relay, new Date(t.getTime() + 10 * MIN));
      tls = await secret('solo-mesh-tls', DIRECT);
      assert.deepEqual(splitPemBundle(pemOf(tls, 'ca.crt')), [newCa], 'step 3: only the new CA');
      assert.equal(tls?.metadata?.annotations?.[ROLLOVER_ANNOTATION], undefined, 'the annotation goes with server-side apply');
      const settled = await rv('solo-mesh-tls');
      await ensureMeshSecrets(deps(), relay, new Date(t.getTime() + 20 * MIN));
      assert.equal(await rv('solo-mesh-tls'), settled);
    });

    it('a CA within 30 days of its end is replaced (update), and the leaf follows it', async () => {
      const ca = await secret('solo-mesh-ca', DIRECT);
      const oldCa = pemOf(ca, 'ca.crt');
      const t = new Date(new Date(new X509Certificate(oldCa).validTo).getTime() - 10 * DAY);
      recorded.length = 0;
      await ensureMeshSecrets(deps(), relay, t);
      const newCa = pemOf(await secret('solo-mesh-ca', DIRECT), 'ca.crt');
      assert.notEqual(newCa, oldCa);
      assert.ok(new Date(new X509Certificate(newCa).validTo).getTime() > t.getTime() + 3000 * DAY);
      // Ten years on, the leaf had expired anyway: a new one at once, the old CA trusted a while longer.
      const tls = await secret('solo-mesh-tls', DIRECT);
      assert.equal(meshCertificateProblem(pemOf(tls, 'tls.crt'), newCa, meshDnsNames(relay), t), undefined);
      assert.deepEqual(splitPemBundle(pemOf(tls, 'ca.crt')), [newCa, oldCa]);
      assert.deepEqual(recorded, ['MeshCARenewed', 'MeshCertificateIssued', 'AdminCertificateIssued']);
    });

    it('a CA Secret that cannot sign is reported, not overwritten', async () => {
      const r = await oc.kubectl(['patch', 'secret', 'solo-mesh-ca', '-n', DIRECT, '--type=merge', '-p', JSON.stringify({ data: { 'ca.key': b64('nope') } })]);
      assert.equal(r.code, 0, r.stderr);
      await assert.rejects(ensureMeshSecrets(deps(), relay, new Date()), /mesh CA secret "solo-mesh-ca": unreadable.*delete it/);
    });
  });
});
