// What the operator holds of Secrets (issue 13 req 6, docs/security.md "Operator"), against a
// real kube-apiserver + etcd (e2e/cluster) with the chart's RBAC (manifests/install.yaml): the
// operator's Manager runs in this process, with the msrp-operator ServiceAccount's token, so
// the test can look into its Secret cache. Every Secret of a watched namespace is held as
// metadata only (listed and watched as PartialObjectMetadata); data is held only for the
// Secrets a relay names, read with a GET; and a rotated certificate Secret still reaches the
// relay's status through that metadata watch (nothing else would bring the relay back: the
// resync and status intervals are an hour).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { clusterBinDir } from './cluster/cluster.ts';
import { eventually, skipReason, startOperatorCluster } from './operator-harness.ts';
import type { OperatorCluster } from './operator-harness.ts';
import { KubeClient } from '../internal/operator/kube/client.ts';
import type { KubeObject, RequestOptions } from '../internal/operator/kube/client.ts';
import { RESOURCES } from '../internal/operator/kube/resources.ts';
import { Manager } from '../internal/operator/manager.ts';
import { issueMeshCertificate, newMeshCa } from '../internal/operator/mesh-pki.ts';
import { loadKubeConfig } from '../internal/operator/operator.ts';
import { SecretCache } from '../internal/operator/secret-cache.ts';
import { createLogger } from '../internal/telemetry/logger.ts';
import { createMetrics } from '../internal/telemetry/metrics.ts';

const binDir = clusterBinDir();
const skip = skipReason({ binDir });
const NS = 'secrets';
const UNWATCHED = 'elsewhere';
/** Watched, without a single Secret: its metadata list is empty (`items: null`) and must still sync. */
const EMPTY = 'empty';
const DAY = 86_400_000;
const HOUR = 3_600_000;
/** A value no Secret the operator may hold contains. */
const MARKER = 'not-for-the-operator-';

/** The real client, counting the GETs of single Secrets it sends (what the data cache should save). */
class CountingClient extends KubeClient {
  secretGets = 0;
  override request<T>(method: string, path: string, options?: RequestOptions): Promise<T> {
    if (method === 'GET' && /\/secrets\/[^/]+$/.test(path)) this.secretGets++;
    return super.request<T>(method, path, options);
  }
}

type Relay = KubeObject & { status?: { certificateNotAfter?: string; conditions?: { type: string; reason: string }[] } };
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe("the operator's Secret cache against a real API server", { skip, timeout: 300_000 }, () => {
  let oc: OperatorCluster;
  let client: KubeClient;
  let manager: Manager;
  const ca = newMeshCa('secret cache e2e CA', new Date(Date.now() - DAY));
  const tlsData = (days: number) => {
    const leaf = issueMeshCertificate(ca, ['msrp.secrets.example.com'], new Date(Date.now() - DAY), days);
    return { 'tls.crt': b64(leaf.certPem), 'tls.key': b64(leaf.keyPem) };
  };
  const createSecret = (namespace: string, name: string, data: Record<string, string>, type = 'Opaque') =>
    oc.kube.create(RESOURCES.secret, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type, data });
  const relayStatus = (test: (r: Relay) => boolean, what: string) =>
    eventually(what, async () => {
      const r = await oc.kube.get<Relay>(RESOURCES.msrpRelay, NS, 'relay');
      return test(r) ? r : undefined;
    }, 60_000);

  before(async () => {
    assert.ok(binDir, 'kube-apiserver/etcd/kubectl not built: run e2e/cluster/build.sh');
    oc = await startOperatorCluster(binDir, [NS, UNWATCHED, EMPTY]);
    // Secrets that are none of the operator's business, in a watched namespace and in another one.
    await createSecret(NS, 'bulk', { payload: b64(MARKER + 'x'.repeat(64 * 1024)) });
    await createSecret(UNWATCHED, 'bulk', { payload: b64(MARKER + 'elsewhere') });
    await createSecret(NS, 'relay-tls', tlsData(90), 'kubernetes.io/tls');
    await createSecret(NS, 'relay-db', { url: b64('postgres://msrp@db.invalid/msrp') });
    await createSecret(NS, 'relay-admin-token', { token: b64('secret-cache-e2e-token') });
    const r = await oc.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'msrp.dev/v1alpha1', kind: 'MsrpRelay', metadata: { name: 'relay', namespace: NS },
      spec: { publicHost: 'msrp.secrets.example.com', tls: { secretName: 'relay-tls' }, database: { secretRef: { name: 'relay-db', key: 'url' } } },
    }));
    assert.equal(r.code, 0, r.stderr);

    const kubeConfig = loadKubeConfig(oc.operatorKubeconfig);
    client = new KubeClient(kubeConfig);
    manager = new Manager({
      kubeConfig,
      client,
      logger: createLogger({ name: 'secret-cache-e2e', level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      metrics: createMetrics(),
      namespaces: [NS, EMPTY],
      identity: 'secret-cache-e2e',
      // Nothing answers there: the database probe reports "unknown", which is not under test.
      adminUrlTemplate: 'http://127.0.0.1:1',
      workers: 1,
      resyncPeriodMs: HOUR,
      roomStatusIntervalMs: HOUR,
      relayStatusIntervalMs: HOUR,
      informerStaleAfterMs: HOUR,
      apiRecheckMs: HOUR,
    });
    await manager.start();
  }, { timeout: 120_000 });
  after(async () => {
    await manager?.stop(5000);
    await client?.close();
    await oc?.stop();
  });

  it('holds every Secret of a watched namespace as metadata only, listed or watched; data only of the Secrets the relay names', async () => {
    const relay = await relayStatus((o) => o.status?.certificateNotAfter !== undefined, 'the relay reconciled with its certificate');
    assert.ok(relay.status?.conditions?.some((c) => c.type === 'CertificateReady' && c.reason === 'Valid'));
    // Created after the first list: it comes through the watch, which must ask for metadata too.
    await createSecret(NS, 'bulk-later', { payload: b64(MARKER + 'later') });
    const cache = manager.secretCache;
    await eventually('bulk-later in the cache', () => Promise.resolve(cache.metadata.get('bulk-later', NS)));

    const held = cache.metadata.list();
    const names = held.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`).sort();
    for (const n of [`${NS}/bulk`, `${NS}/bulk-later`, `${NS}/relay-tls`, `${NS}/relay-db`, `${NS}/relay-admin-token`, `${NS}/relay-mesh-tls`]) {
      assert.ok(names.includes(n), `${n} in ${names.join(' ')}`);
    }
    assert.ok(!names.includes(`${UNWATCHED}/bulk`), 'a namespace the operator does not watch is not cached');
    for (const s of held) {
      assert.equal(s.kind, 'PartialObjectMetadata', `${s.metadata?.name}: ${s.kind}`);
      assert.equal(s.data, undefined, `${s.metadata?.name} is held with its data`);
      assert.equal(s.type, undefined, `${s.metadata?.name} is held with its type`);
      assert.ok(s.metadata?.resourceVersion, `${s.metadata?.name} has a resourceVersion`);
    }
    assert.ok(!JSON.stringify(held).includes(b64(MARKER).slice(0, 16)), 'no Secret data in the metadata cache');

    const withData = cache.heldData();
    assert.ok(!withData.some((k) => k.endsWith('/bulk') || k.endsWith('/bulk-later')), `data held for ${withData.join(' ')}`);
    assert.ok(withData.includes(`${NS}/relay-tls`), `the relay's TLS Secret is read: ${withData.join(' ')}`);
    assert.ok(withData.includes(`${NS}/relay-db`), `its database Secret is read (digest on the pod template): ${withData.join(' ')}`);
  });

  it('a rotated certificate Secret reaches the relay status through the metadata watch, and the old data is let go', async () => {
    const before = await relayStatus((o) => o.status?.certificateNotAfter !== undefined, 'certificateNotAfter');
    const was = new Date(before.status!.certificateNotAfter!).getTime();
    assert.ok(Math.abs(was - (Date.now() + 89 * DAY)) < 2 * DAY, before.status!.certificateNotAfter);

    const rotated = await oc.kube.mergePatch<KubeObject>(RESOURCES.secret, NS, 'relay-tls', { data: tlsData(30) });
    const after = await relayStatus((o) => o.status?.certificateNotAfter !== before.status!.certificateNotAfter, 'the rotated certificate in status');
    const now = new Date(after.status!.certificateNotAfter!).getTime();
    assert.ok(Math.abs(now - (Date.now() + 29 * DAY)) < 2 * DAY, after.status!.certificateNotAfter);

    const read = await manager.secretCache.read('relay-tls', NS);
    assert.equal(read?.metadata?.resourceVersion, rotated.metadata?.resourceVersion, 'the held data is the rotated Secret');
  });

  it('reads the data of a Secret with one GET while it is unchanged, again once it changed, none for a Secret the watch has not seen, and lets go of data nobody read for a sweep', async () => {
    const counting = new CountingClient(loadKubeConfig(oc.operatorKubeconfig));
    try {
      const cache = new SecretCache(manager.secretCache.metadata, counting);
      const url = (s: KubeObject | undefined) => Buffer.from(String((s?.data as Record<string, string> | undefined)?.url), 'base64').toString();
      const [a, b] = await Promise.all([cache.read('relay-db', NS), cache.read('relay-db', NS)]);
      assert.equal(url(a), 'postgres://msrp@db.invalid/msrp');
      assert.equal(b, a);
      assert.equal(counting.secretGets, 1, 'two reads at once share one GET');
      assert.equal(await cache.read('relay-db', NS), a);
      assert.equal(counting.secretGets, 1, 'an unchanged Secret is not fetched again');
      assert.equal(await cache.read('no-such-secret', NS), undefined);
      assert.equal(counting.secretGets, 1, 'a Secret the watch has not seen costs no GET');

      const patched = await oc.kube.mergePatch<KubeObject>(RESOURCES.secret, NS, 'relay-db', { data: { url: b64('postgres://msrp@db2.invalid/msrp') } });
      await eventually('the new resourceVersion in the metadata cache', () =>
        Promise.resolve(cache.metadata.get('relay-db', NS)?.metadata?.resourceVersion === patched.metadata?.resourceVersion));
      assert.equal(url(await cache.read('relay-db', NS)), 'postgres://msrp@db2.invalid/msrp');
      assert.equal(counting.secretGets, 2, 'a changed Secret is fetched once more');

      await cache.read('relay-admin-token', NS);
      cache.sweep();
      await cache.read('relay-db', NS);
      cache.sweep();
      assert.deepEqual(cache.heldData(), [`${NS}/relay-db`], 'read since the last sweep: kept; not read: dropped');
    } finally {
      await counting.close();
    }
  });
});
