// MsrpRelay status conditions a person reads with kubectl (docs/relay.md "Status"), against a
// real kube-apiserver + etcd (e2e/cluster) with the chart's RBAC, the operator process and a
// real admin sidecar (`node cmd/admin.ts`) on its own PostgreSQL database (DATABASE_URL):
// CertificateReady from the TLS Secret's certificate (valid, then expiring within 14 days),
// LoadBalancerReady from the public Service's load-balancer status (pending, then an address
// written to the Service's status, as a cloud controller would), DatabaseReady from the
// relay's admin API (reachable, then the database dropped under it), and the printer
// columns of `kubectl get` showing them.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clusterBinDir } from './cluster/cluster.ts';
import { eventually, freshDatabase, skipReason, startAdmin, startOperatorCluster } from './operator-harness.ts';
import type { AdminProc, OperatorCluster } from './operator-harness.ts';
import type { KubeObject } from '../internal/operator/kube/client.ts';
import { RESOURCES } from '../internal/operator/kube/resources.ts';
import { issueMeshCertificate, newMeshCa } from '../internal/operator/mesh-pki.ts';

const binDir = clusterBinDir();
const skip = skipReason({ binDir, database: true });
const NS = 'status';
const DAY = 86_400_000;
const TOKEN = 'relay-status-e2e-token';

interface Condition { type: string; status: string; reason: string; message: string }
type Relay = KubeObject & { status?: { conditions?: Condition[]; address?: string; certificateNotAfter?: string } };
const cond = (o: Relay | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('MsrpRelay status conditions against a real API server', { skip, timeout: 300_000 }, () => {
  let oc: OperatorCluster;
  let admin: AdminProc;
  let db: { url: string; drop: () => Promise<void> };
  const ca = newMeshCa('status e2e CA', new Date(Date.now() - DAY));
  const tlsData = (from: Date, days: number) => {
    const leaf = issueMeshCertificate(ca, ['msrp.status.example.com'], from, days);
    return { 'tls.crt': b64(leaf.certPem), 'tls.key': b64(leaf.keyPem) };
  };
  const getRelay = () => oc.kube.get<Relay>(RESOURCES.msrpRelay, NS, 'relay');
  const waitFor = (what: string, test: (r: Relay) => boolean, timeoutMs = 30_000) =>
    eventually(what, async () => {
      const r = await getRelay();
      return test(r) ? r : undefined;
    }, timeoutMs);

  before(async () => {
    assert.ok(binDir, 'kube-apiserver/etcd/kubectl not built: run e2e/cluster/build.sh');
    assert.ok(process.env.DATABASE_URL, 'DATABASE_URL is not set');
    oc = await startOperatorCluster(binDir, [NS]);
    db = await freshDatabase(process.env.DATABASE_URL);
    const tokenFile = path.join(oc.cluster.dir, 'status-admin-token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    admin = await startAdmin({ dir: oc.cluster.dir, tokenFile, databaseUrl: db.url, logPath: path.join(oc.cluster.dir, 'status-admin.log') });
    const secret = (name: string, data: Record<string, string>, type = 'Opaque') =>
      oc.kube.create(RESOURCES.secret, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, type, data });
    await secret('relay-tls', tlsData(new Date(Date.now() - DAY), 90), 'kubernetes.io/tls');
    await secret('relay-db', { url: b64(db.url) });
    await secret('relay-admin-token', { token: b64(TOKEN) });
    await oc.startOperator('status', [`--watch-namespaces=${NS}`, `--admin-url-template=${admin.url}`, '--relay-status-interval=1s']);
    const r = await oc.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'msrp.dev/v1alpha1', kind: 'MsrpRelay', metadata: { name: 'relay', namespace: NS },
      spec: {
        publicHost: 'msrp.status.example.com', tls: { secretName: 'relay-tls' }, database: { secretRef: { name: 'relay-db', key: 'url' } },
        service: { type: 'LoadBalancer' },
      },
    }));
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await admin?.stop();
    await oc?.stop();
    await db?.drop();
  });

  it('certificate: True Valid with its end date in status.certificateNotAfter; a renewed Secret expiring within 14 days turns it ExpiringSoon and Degraded', async () => {
    let relay = await waitFor('CertificateReady', (o) => cond(o, 'CertificateReady')?.reason === 'Valid');
    assert.equal(cond(relay, 'CertificateReady')!.status, 'True');
    assert.match(cond(relay, 'CertificateReady')!.message, /^certificate for msrp\.status\.example\.com valid until \S+ \(8[89] days\)$/);
    const notAfter = new Date(relay.status!.certificateNotAfter!).getTime();
    assert.ok(Math.abs(notAfter - (Date.now() + 89 * DAY)) < 2 * DAY, relay.status!.certificateNotAfter);

    await oc.kube.mergePatch(RESOURCES.secret, NS, 'relay-tls', { data: tlsData(new Date(Date.now() - 85 * DAY), 90) });
    relay = await waitFor('CertificateReady ExpiringSoon', (o) => cond(o, 'CertificateReady')?.reason === 'ExpiringSoon');
    assert.equal(cond(relay, 'CertificateReady')!.status, 'True');
    assert.match(cond(relay, 'CertificateReady')!.message, /in [45] days: renew it$/);
    assert.equal(cond(relay, 'Degraded')!.status, 'True');
    assert.match(cond(relay, 'Degraded')!.message, /certificate for msrp\.status\.example\.com expires at/);
  });

  it('load balancer: False AddressPending until the Service has an address, then True with status.address, shown by kubectl get', async () => {
    let relay = await waitFor('LoadBalancerReady pending', (o) => cond(o, 'LoadBalancerReady')?.reason === 'AddressPending');
    assert.equal(cond(relay, 'LoadBalancerReady')!.status, 'False');
    assert.equal(relay.status?.address, undefined);
    // What a cloud controller does: write the address into the Service's status.
    const r = await oc.kubectl(['patch', 'service', 'relay', '-n', NS, '--subresource=status', '--type=merge', '-p',
      JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } } })]);
    assert.equal(r.code, 0, r.stderr);
    relay = await waitFor('LoadBalancerReady True', (o) => cond(o, 'LoadBalancerReady')?.status === 'True');
    assert.equal(cond(relay, 'LoadBalancerReady')!.reason, 'AddressAssigned');
    assert.equal(relay.status?.address, '203.0.113.7');
    const table = await oc.kubectl(['get', 'msrprelay', 'relay', '-n', NS, '-o', 'wide']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout.split('\n')[0]!, /ADDRESS\s+.*CERT EXPIRES\s+DATABASE/);
    assert.match(table.stdout.split('\n')[1]!, /203\.0\.113\.7/);
    const wait = await oc.kubectl(['wait', '--for=condition=LoadBalancerReady', '--timeout=10s', 'msrprelay/relay', '-n', NS]);
    assert.equal(wait.code, 0, wait.stderr);
  });

  it('database: True Reachable through the relay\'s admin API; False Unreachable (and Degraded) once the database is gone', async () => {
    let relay = await waitFor('DatabaseReady True', (o) => cond(o, 'DatabaseReady')?.status === 'True');
    assert.equal(cond(relay, 'DatabaseReady')!.reason, 'Reachable');
    await db.drop();
    relay = await waitFor('DatabaseReady False', (o) => cond(o, 'DatabaseReady')?.status === 'False', 60_000);
    assert.equal(cond(relay, 'DatabaseReady')!.reason, 'Unreachable');
    assert.match(cond(relay, 'DatabaseReady')!.message, /admin API reports/);
    assert.match(cond(relay, 'Degraded')!.message, /admin API reports/);
    const table = await oc.kubectl(['get', 'msrprelay', 'relay', '-n', NS, '-o', 'wide']);
    assert.match(table.stdout.split('\n')[1]!, /\sFalse\s+\S+\s*$/, table.stdout); // DATABASE, then AGE
  });
});
