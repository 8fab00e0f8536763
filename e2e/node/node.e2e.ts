// A real pod on a real node: etcd + kube-apiserver (e2e/cluster) + kube-controller-manager,
// kube-scheduler and kubelet, containerd + runc + the CNI bridge (e2e/node/node.ts). An
// image made here (busybox-static's httpd in a hand-made OCI archive) is imported into
// containerd, a Deployment of it goes Running and Ready, the host reaches the pod on its
// IP, `kubectl exec` and `kubectl logs` go through the kubelet, and stop() leaves nothing
// behind. A slow suite (20 s, 50 s with the project's images), so a *.e2e.ts file that
// `npm test` does not run: `npm run test:node` does (.ci/run, after `npm test`).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { clusterBinDir, NODE_NAME } from '../cluster/cluster.ts';
import type { Cluster } from '../cluster/cluster.ts';
import { nodeMissing } from './node.ts';
import type { Node } from './node.ts';
import { hostFile, writeOciArchive } from './oci.ts';
import { secs, startTestbed, stopTestbed } from './testbed.ts';
import type { Times } from './testbed.ts';
import { testPki } from '../../internal/transport/testcerts.ts';

const execFileP = promisify(execFile);
const BUSYBOX = '/bin/busybox'; // Debian busybox-static: one static binary, httpd included
const IMAGE = 'localhost/msrp/busybox-httpd:1';
const NS = 'node-e2e';
// The project's own images (`npm run images`: dist/images/images.json + one OCI archive).
const IMAGES_JSON = process.env.MSRP_IMAGES_JSON ?? fileURLToPath(new URL('../../dist/images/images.json', import.meta.url));
type ImagesJson = { archive: string; images: { target: string; reference: string }[] };

function skipReason(): string | false {
  const why = nodeMissing(clusterBinDir()) ?? (existsSync(BUSYBOX) ? undefined : `${BUSYBOX} missing: apt-get install busybox-static`);
  // Under CI every piece must be there (.ci/peers.d/21-node.sh installs them): fail, do not skip.
  if (!why || process.env.CI === 'true') return false;
  return why;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('a real node: containerd + kubelet run a pod the host can reach', { skip: skipReason(), timeout: 420_000 }, () => {
  let cluster: Cluster | undefined;
  let node: Node | undefined;
  let work: string;
  const times: Times = {};

  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const child = execFileP(path.join(cluster!.binDir, 'kubectl'), ['--kubeconfig', cluster!.kubeconfigPath, ...args], { maxBuffer: 8 << 20 });
    if (input !== undefined) {
      child.child.stdin!.end(input);
    }
    return (await child).stdout;
  };

  before(async () => {
    const why = nodeMissing(clusterBinDir());
    assert.equal(why, undefined, why);
    assert.ok(existsSync(BUSYBOX), `${BUSYBOX} missing: apt-get install busybox-static`);
    work = await mkdtemp(path.join(os.tmpdir(), 'node-test-'));
    const image = path.join(work, 'busybox-httpd.oci.tar');
    await writeOciArchive(image, {
      ref: IMAGE,
      entries: [
        await hostFile(BUSYBOX, '/bin/busybox'),
        { path: '/bin/sh', type: 'symlink', target: 'busybox' },
        { path: '/www/index.html', type: 'file', content: 'hello from a pod\n' },
        { path: '/tmp', type: 'dir', mode: 0o1777 },
      ],
      entrypoint: ['/bin/busybox', 'httpd', '-f', '-v', '-p', '8080', '-h', '/www'],
      exposedPorts: [8080],
    });
    // MSRP_NODE_RUNTIME=/usr/bin/crun runs the same pods with crun instead of runc.
    ({ cluster, node } = await startTestbed({ images: [image], ...(process.env.MSRP_NODE_RUNTIME ? { runtimeBinary: process.env.MSRP_NODE_RUNTIME } : {}) }, times));
  });

  after(async () => {
    const n = node;
    node = undefined;
    await stopTestbed(n, cluster, times, async () => {
      if (work) await rm(work, { recursive: true, force: true });
    });
    if (n) {
      // Nothing left: processes, mounts, bridge, cgroups, the pods' network namespaces.
      if (process.env.MSRP_CLUSTER_KEEP !== '1') assert.ok(!existsSync(n.dir), `${n.dir} removed`);
      const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
      assert.ok(!links.includes(n.bridge), `bridge ${n.bridge} removed`);
      assert.ok(!/veth/.test(links.split('\n').filter((l) => l.includes(`master ${n.bridge}`)).join('')), 'no veth on the bridge');
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
      assert.ok(!mounts.includes(n.dir), 'no mounts under the node dir');
      for (const h of readdirSync('/sys/fs/cgroup')) {
        assert.ok(!existsSync(path.join('/sys/fs/cgroup', h, n.cgroupRoot)), `cgroup ${h}${n.cgroupRoot} removed`);
      }
      const procs = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(n.dir);
        } catch {
          return false;
        }
      });
      assert.deepEqual(procs, [], 'no process of the node left');
      const results = existsSync('/var/lib/cni/results') ? readdirSync('/var/lib/cni/results') : [];
      const ours = results.filter((f) => readFileSync(path.join('/var/lib/cni/results', f), 'utf8').includes(n.bridge));
      assert.deepEqual(ours, [], 'no cached CNI result of our sandboxes');
      const logLinks = existsSync('/var/log/containers') ? readdirSync('/var/log/containers') : [];
      assert.deepEqual(logLinks.filter((f) => f.includes(`_${NS}_`)), [], 'no /var/log/containers link to our pods');
    }
  });

  it('runs a Deployment to Ready, serves the host on the pod IP, and the pod has no route out', async () => {
    await kubectl(['create', 'namespace', NS]);
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 2,
            containers: [{
              name: 'httpd',
              image: IMAGE,
              imagePullPolicy: 'Never', // imported into containerd; there is no registry
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
            }],
          },
        },
      },
    };
    const t0 = performance.now();
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(deployment));
    let pod: { metadata: { name: string }; spec: { nodeName?: string; serviceAccountName?: string }; status: { podIP?: string; phase?: string; conditions?: { type: string; status: string }[] } } | undefined;
    const deadline = Date.now() + 180_000;
    for (;;) {
      const list = JSON.parse(await kubectl(['get', 'pods', '-n', NS, '-l', 'app=web', '-o', 'json'])) as { items: NonNullable<typeof pod>[] };
      pod = list.items[0];
      if (pod?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
      if (Date.now() > deadline) {
        const events = await kubectl(['get', 'events', '-n', NS, '-o', 'wide']).catch((e: Error) => e.message);
        assert.fail(`pod not Ready: ${JSON.stringify(pod?.status)}\n${events}`);
      }
      await sleep(500);
    }
    times.podReady = secs(t0);
    assert.equal(pod.spec.nodeName, NODE_NAME, 'the scheduler bound it to our node');
    assert.equal(pod.spec.serviceAccountName, 'default', 'ServiceAccount admission + the controller-manager\'s default ServiceAccount');
    const podIp = pod.status.podIP!;
    assert.match(podIp, new RegExp(`^${node!.podSubnet.replace(/\.0\/24$/, '').replace(/\./g, '\\.')}\\.\\d+$`), `pod IP ${podIp} in ${node!.podSubnet}`);

    // The host reaches the pod over the bridge.
    const res = await fetch(`http://${podIp}:8080/`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello from a pod\n');

    // exec and logs go API server -> kubelet (client certificate) -> containerd.
    const name = pod.metadata.name;
    const routes = await kubectl(['exec', '-n', NS, name, '--', '/bin/busybox', 'cat', '/proc/net/route']);
    const dests = routes.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[1]);
    assert.ok(dests.length >= 1, routes);
    // The pod cannot leave the machine: its only route is the bridge's /24 (no default).
    assert.ok(!dests.includes('00000000'), `no default route in the pod:\n${routes}`);
    const logs = await kubectl(['logs', '-n', NS, name]);
    assert.match(logs, new RegExp(`${node!.hostIp.replace(/\./g, '\\.')}`), `httpd logged the host's request:\n${logs}`);

    // Deleting the Deployment removes the pod (garbage collector, kubelet, containerd).
    await kubectl(['delete', 'deployment', '-n', NS, 'web', '--wait=true']);
    const gone = Date.now() + 60_000;
    while (JSON.parse(await kubectl(['get', 'pods', '-n', NS, '-o', 'json'])).items.length > 0) {
      assert.ok(Date.now() < gone, 'pod deleted in time');
      await sleep(500);
    }

    // A pod left running: node.stop() must clean it up too (checked in after()).
    const leftover = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'left-running', namespace: NS },
      spec: { containers: [{ name: 'httpd', image: IMAGE, imagePullPolicy: 'Never' }] } };
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(leftover));
    const running = Date.now() + 60_000;
    while ((JSON.parse(await kubectl(['get', 'pod', '-n', NS, 'left-running', '-o', 'json'])) as { status: { phase?: string } }).status.phase !== 'Running') {
      assert.ok(Date.now() < running, 'left-running pod Running in time');
      await sleep(500);
    }
  });

  it('runs the project\'s msrpd image (dist/images) to Ready and the relay answers TLS on the pod IP', {
    skip: existsSync(IMAGES_JSON) ? false : `no ${IMAGES_JSON}: build the images with \`npm run images\``,
  }, async () => {
    const meta = JSON.parse(readFileSync(IMAGES_JSON, 'utf8')) as ImagesJson;
    const ref = meta.images.find((i) => i.target === 'msrpd')?.reference;
    assert.ok(ref, 'images.json lists msrpd');
    let t0 = performance.now();
    await node!.importImage(path.join(path.dirname(IMAGES_JSON), meta.archive));
    times.importProjectImages = secs(t0);
    const pki = await testPki();
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'relay-tls', namespace: NS }, type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': pki.server.cert, 'tls.key': pki.server.key, 'ca.crt': pki.caPem } };
    await kubectl(['create', 'namespace', NS]).catch(() => '');
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(secret));
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'msrpd', namespace: NS },
      spec: {
        terminationGracePeriodSeconds: 5,
        containers: [{
          name: 'engine', image: ref, imagePullPolicy: 'Never',
          // PGlite in an emptyDir: no database server needed for this check.
          env: [{ name: 'MSRP_TLS__DIR', value: '/etc/msrp/tls' }, { name: 'MSRP_DATABASE__DATA_DIR', value: '/data/pglite' }],
          ports: [{ name: 'msrps', containerPort: 2855 }, { name: 'http', containerPort: 9090 }],
          readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 1 },
          volumeMounts: [{ name: 'tls', mountPath: '/etc/msrp/tls', readOnly: true }, { name: 'data', mountPath: '/data' }],
        }],
        volumes: [{ name: 'tls', secret: { secretName: 'relay-tls' } }, { name: 'data', emptyDir: {} }],
      },
    };
    t0 = performance.now();
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(pod));
    let status: { podIP?: string; conditions?: { type: string; status: string }[] } = {};
    const deadline = Date.now() + 180_000;
    for (;;) {
      status = (JSON.parse(await kubectl(['get', 'pod', '-n', NS, 'msrpd', '-o', 'json'])) as { status: typeof status }).status;
      if (status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
      if (Date.now() > deadline) {
        const logs = await kubectl(['logs', '-n', NS, 'msrpd']).catch((e: Error) => e.message);
        assert.fail(`msrpd not Ready: ${JSON.stringify(status)}\n${logs}`);
      }
      await sleep(500);
    }
    times.msrpdReady = secs(t0);
    const podIp = status.podIP!;
    const metrics = await (await fetch(`http://${podIp}:9090/metrics`)).text();
    assert.match(metrics, /^# TYPE /m, 'Prometheus metrics from the pod');
    // The relay's msrps listener on the pod IP, verified against the Secret's CA.
    const sock = tls.connect({ host: podIp, port: 2855, ca: pki.caPem, servername: 'localhost' });
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('secureConnect', resolve);
        sock.once('error', reject);
      });
      assert.ok(sock.authorized, String(sock.authorizationError));
    } finally {
      sock.destroy();
    }
    const logs = await kubectl(['logs', '-n', NS, 'msrpd']);
    assert.match(logs, /relay listening/, logs);
    await kubectl(['delete', 'pod', '-n', NS, 'msrpd', '--wait=true']);
  });
});
