// The local control plane is real: etcd + kube-apiserver with token auth, RBAC, the Node
// authorizer and TokenRequest, driven with the kubectl built next to them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiGet, clusterBinDir, NODE_NAME, startCluster } from './cluster.ts';
import type { Cluster } from './cluster.ts';

type Run = { code: number; stdout: string; stderr: string };

function run(bin: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

const binDir = clusterBinDir();
const skipReason =
  binDir === undefined && process.env.CI !== 'true' ? 'kube-apiserver not built: run e2e/cluster/build.sh' : false;

describe('local kube-apiserver + etcd', { skip: skipReason, timeout: 240_000 }, () => {
  let cluster: Cluster;
  let kubectl: (args: string[], token?: string) => Promise<Run>;

  before(async () => {
    // Under CI=true a missing binary fails here instead of skipping.
    assert.ok(binDir, 'kube-apiserver/etcd/kubectl not built (KUBE_BIN_DIR unset or empty): run e2e/cluster/build.sh');
    const t0 = performance.now();
    cluster = await startCluster({ binDir });
    console.log(`# cluster ready in ${((performance.now() - t0) / 1000).toFixed(1)}s at ${cluster.server}`);
    const bin = path.join(cluster.binDir, 'kubectl');
    kubectl = (args, token) =>
      run(bin, ['--kubeconfig', cluster.kubeconfigPath, ...(token ? ['--token', token] : []), ...args]);
  });

  after(async () => {
    await cluster?.stop();
  });

  it('/readyz is ok and /version is the pinned release', async () => {
    const ready = await apiGet(cluster, '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.trim(), 'ok');
    const version = await apiGet(cluster, '/version');
    assert.equal(version.status, 200);
    assert.match((JSON.parse(version.body) as { gitVersion: string }).gitVersion, /^v1\.34\.\d+$/);
  });

  it('creates a namespace and a ConfigMap with kubectl', async () => {
    let r = await kubectl(['create', 'namespace', 'e2e']);
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(['-n', 'e2e', 'create', 'configmap', 'greeting', '--from-literal=hello=world']);
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(['-n', 'e2e', 'get', 'configmap', 'greeting', '-o', 'jsonpath={.data.hello}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'world');
  });

  it('enforces RBAC: an unprivileged static user cannot list secrets', async () => {
    const who = await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], cluster.userToken);
    assert.equal(who.code, 0, who.stderr);
    assert.equal(who.stdout, 'alice');
    const list = await kubectl(['-n', 'e2e', 'get', 'secrets'], cluster.userToken);
    assert.notEqual(list.code, 0);
    assert.match(list.stderr, /forbidden/i);
    const raw = await apiGet(cluster, '/api/v1/namespaces/e2e/secrets', cluster.userToken);
    assert.equal(raw.status, 403);
    const admin = await kubectl(['auth', 'can-i', 'list', 'secrets', '-n', 'e2e']);
    assert.equal(admin.stdout.trim(), 'yes');
  });

  it('has tokens for the scheduler, the controller-manager and the node, bound by the default roles', async () => {
    const whoami = async (token: string) => {
      const r = await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username} {.status.userInfo.groups}'], token);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.match(await whoami(cluster.componentTokens.scheduler), /^system:kube-scheduler /);
    assert.match(await whoami(cluster.componentTokens.controllerManager), /^system:kube-controller-manager /);
    assert.match(await whoami(cluster.componentTokens.node), new RegExp(`^system:node:${NODE_NAME} .*system:nodes`));
    assert.match(await whoami(cluster.componentTokens.proxy), /^system:kube-proxy /);
    // The scheduler may bind pods (system:kube-scheduler ClusterRole); the node authorizer
    // lets a node read its own Node object only.
    const bind = await kubectl(['auth', 'can-i', 'create', 'pods', '--subresource=binding', '-n', 'e2e'], cluster.componentTokens.scheduler);
    assert.equal(bind.stdout.trim(), 'yes');
    const secrets = await kubectl(['auth', 'can-i', 'list', 'secrets', '-n', 'e2e'], cluster.componentTokens.node);
    assert.match(secrets.stdout.trim(), /^no\b/); // "no - No Object name found" (Node authorizer)
  });

  it('issues ServiceAccount tokens through TokenRequest and accepts them', async () => {
    let r = await kubectl(['-n', 'e2e', 'create', 'serviceaccount', 'bot']);
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(['-n', 'e2e', 'create', 'token', 'bot', '--duration=10m']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iss: string; sub: string };
    assert.equal(claims.iss, cluster.serviceAccountIssuer);
    assert.equal(claims.sub, 'system:serviceaccount:e2e:bot');
    const who = await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], token);
    assert.equal(who.code, 0, who.stderr);
    assert.equal(who.stdout, 'system:serviceaccount:e2e:bot');
    const can = await kubectl(['auth', 'can-i', 'list', 'secrets', '-n', 'e2e'], token);
    assert.equal(can.stdout.trim(), 'no');
  });

  it('stops cleanly: processes gone, ports free, temp dir removed', async () => {
    const { ports, dir } = cluster;
    await cluster.stop();
    for (const [name, port] of Object.entries(ports)) {
      assert.ok(await portIsFree(port), `${name} port ${port} still in use after stop()`);
    }
    assert.equal(existsSync(dir), false);
    await cluster.stop(); // idempotent
  });
});
