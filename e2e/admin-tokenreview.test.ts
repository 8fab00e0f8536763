// Kubernetes TokenReview authentication of the admin API against a real kube-apiserver:
// ServiceAccount tokens minted by the API server (TokenRequest, `kubectl create token`)
// are verified with POST /apis/authentication.k8s.io/v1/tokenreviews and mapped to roles;
// an account not in the map, a token of a deleted account and garbage all get 401.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { client, type AdminSubject } from '../internal/admin/testcontract.ts';
import { buildAdminApp } from '../internal/admin/app.ts';
import { startFakeEngine } from '../internal/admin/testengine.ts';
import { createTokenReviewer } from '../internal/admin/tokenreview.ts';
import { openStore } from '../internal/store/open.ts';
import { createLogger } from '../internal/telemetry/logger.ts';
import { createMetrics } from '../internal/telemetry/metrics.ts';
import { clusterBinDir, startCluster, type Cluster } from './cluster/cluster.ts';

const binDir = clusterBinDir();
const skip = binDir === undefined && process.env.CI !== 'true' ? 'kube-apiserver/etcd/kubectl not built: run e2e/cluster/build.sh' : false;
const logger = createLogger({ name: 'tokenreview-test', level: 'silent', env: {} });

describe('admin API with Kubernetes TokenReview', { skip, timeout: 180_000 }, () => {
  let cluster: Cluster;
  let subject: AdminSubject;
  let dir: string;
  const kubectl = (...args: string[]): string =>
    execFileSync(path.join(cluster.binDir, 'kubectl'), ['--kubeconfig', cluster.kubeconfigPath, ...args], { encoding: 'utf8' }).trim();
  const call = client(() => subject);

  before(async () => {
    cluster = await startCluster();
    dir = mkdtempSync(path.join(tmpdir(), 'admin-tr-'));
    // The admin calls the API server with a token allowed to create tokenreviews.
    const ownToken = path.join(dir, 'token');
    writeFileSync(ownToken, cluster.adminToken + '\n');
    for (const sa of ['msrp-operator', 'viewer', 'stranger', 'gone']) kubectl('create', 'serviceaccount', sa, '-n', 'default');
    const store = await openStore({ dataDir: 'memory://', logger });
    const engine = await startFakeEngine();
    const tokenReview = createTokenReviewer({
      apiServer: cluster.server, caPem: cluster.caPem, tokenFile: ownToken,
      serviceAccounts: [
        { namespace: 'default', name: 'msrp-operator', role: 'admin' },
        { namespace: 'default', name: 'viewer', role: 'read-only' },
        { namespace: 'default', name: 'gone', role: 'admin' },
      ],
    });
    const app = await buildAdminApp({ store, logger, metrics: createMetrics({ defaultMetrics: false }), tokenReview, engineUrl: engine.url, tokenCacheTtlMs: 0 });
    await app.ready();
    subject = { app, store, engine, bootstrap: 'unused' };
  });
  after(async () => {
    await subject?.app.close();
    await subject?.engine.close();
    await subject?.store.close();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('maps ServiceAccounts to roles and refuses everyone else with the same 401', async () => {
    const operator = kubectl('create', 'token', 'msrp-operator', '-n', 'default');
    const viewer = kubectl('create', 'token', 'viewer', '-n', 'default');
    const stranger = kubectl('create', 'token', 'stranger', '-n', 'default');

    const put = await call('PUT', '/v1/rooms/k8s-room', { token: operator, body: { uri: 'sips:k8s-room@chat.example.com' } });
    assert.equal(put.status, 201, put.body);
    const audit = await call('GET', '/v1/audit?resource=/v1/rooms/k8s-room', { token: viewer });
    assert.equal(audit.status, 200, audit.body);
    assert.equal((audit.json['items'] as { actor: string }[])[0]!.actor, 'serviceaccount:default/msrp-operator');

    const denied = await call('DELETE', '/v1/rooms/k8s-room', { token: viewer });
    assert.equal(denied.status, 403, denied.body);

    const refused = [await call('GET', '/v1/rooms', { token: stranger }), await call('GET', '/v1/rooms', { token: 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln' })];
    for (const r of refused) {
      assert.equal(r.status, 401, r.body);
      assert.equal(r.json['type'], 'https://msrp.dev/problems/unauthenticated');
    }
    assert.equal(refused[0]!.body.replace(/"instance":"[^"]*"/, ''), refused[1]!.body.replace(/"instance":"[^"]*"/, ''));

    // A token whose ServiceAccount was deleted no longer passes TokenReview.
    const gone = kubectl('create', 'token', 'gone', '-n', 'default');
    assert.equal((await call('GET', '/v1/rooms', { token: gone })).status, 200);
    kubectl('delete', 'serviceaccount', 'gone', '-n', 'default');
    // The API server looks ServiceAccounts up through its informer cache: allow it a moment.
    let status = 200;
    for (let i = 0; i < 100 && status !== 401; i++) {
      status = (await call('GET', '/v1/rooms', { token: gone })).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 401);

    const m = await call('GET', '/metrics', { token: null });
    assert.match(m.body, /msrp_admin_auth_failures_total\{reason="tokenreview-not-mapped"\} [1-9]/);
    assert.match(m.body, /msrp_admin_auth_failures_total\{reason="tokenreview-unauthenticated"\} [1-9]/);
  });
});
