// The user's path, end to end, on a real node (issue 12, requirement 3): `helm install` of
// charts/msrp-operator with the images `npm run images` built, the operator pod Ready, the
// samples of manifests/samples/ applied (the relay with an existing Secret, its rooms) with a
// PostgreSQL of the test's own, the relay pods Ready and `kubectl get msrprelay` Ready, a
// 20 MB file sent with `msrp send` from the host through the relay's Service to `msrp listen`
// (sha256 equal), `msrp chat` in a ChatRoom served by a pod, `helm test`, `helm upgrade` to
// another image tag (the operator pod rolls), `helm rollback`, `helm uninstall` (CRDs kept,
// nothing of the release left).
//
// The node runs with `services: true` (kube-proxy, CoreDNS, the `kubernetes` Service's
// endpoint): see e2e/node/README.md. Steps run in order; after a failed step the later ones
// are skipped when they need it (the failure is the report). A slow suite: `npm run test:user-path`.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Agent, fetch as tlsFetch } from 'undici';
import { clusterBinDir } from '../cluster/cluster.ts';
import type { Cluster } from '../cluster/cluster.ts';
import { PG_BIN, startThrowawayPostgres } from '../postgres/throwaway.ts';
import type { ThrowawayPostgres } from '../postgres/throwaway.ts';
import { servicesMissing } from './node.ts';
import type { Node } from './node.ts';
import { hostFile, writeOciArchive } from './oci.ts';
import { secs, startTestbed, stopTestbed } from './testbed.ts';
import type { Times } from './testbed.ts';

const execFileP = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHART = path.join(ROOT, 'charts/msrp-operator');
const SAMPLES = path.join(ROOT, 'manifests/samples');
const MSRP_CLI = path.join(ROOT, 'cmd/msrp.ts');
const IMAGES_JSON = process.env.MSRP_IMAGES_JSON ?? path.join(ROOT, 'dist/images/images.json');
type ImagesJson = { tag: string; archive: string; images: { target: string; reference: string }[] };
const RELEASE = 'msrp';
const OPERATOR_NS = 'msrp-system';
const NS = 'default'; // the samples' namespace
const RELAY = 'relay-ha'; // manifests/samples/relay-existing-secret.yaml
const KUBECTL_IMAGE = 'localhost/msrp/kubectl:v1.34.4'; // helm test's image: our kubectl binary
const FILE_SIZE = 20 * 1024 * 1024;

function skipReason(): string | false {
  const why = servicesMissing(clusterBinDir())
    ?? (existsSync(IMAGES_JSON) ? undefined : `no ${IMAGES_JSON}: build the images with \`npm run images\``)
    ?? (existsSync(path.join(PG_BIN, 'initdb')) ? undefined : `no ${PG_BIN}/initdb: apt-get install postgresql`)
    ?? (clusterBinDir() && existsSync(path.join(clusterBinDir()!, 'helm')) ? undefined : 'helm not built: run e2e/cluster/build.sh');
  // Under CI every piece must be there: fail, do not skip.
  if (!why || process.env.CI === 'true') return false;
  return why;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
type Cond = { type: string; status: string; reason?: string; message?: string };
type Obj = { metadata: { name: string; labels?: Record<string, string> }; spec?: Record<string, unknown>; status?: { conditions?: Cond[]; phase?: string; podIP?: string; [k: string]: unknown } };

describe('the user\'s path: helm install, samples, msrp send and chat, helm test/upgrade/rollback/uninstall', { skip: skipReason(), timeout: 1_500_000 }, () => {
  let cluster: Cluster | undefined;
  let node: Node | undefined;
  let pg: ThrowawayPostgres | undefined;
  let work: string;
  let meta: ImagesJson;
  let broken: string | undefined;
  const times: Times = {};
  const creds = { alice: randomBytes(9).toString('hex'), bob: randomBytes(9).toString('hex') };
  const adminToken = randomBytes(24).toString('hex');
  let serviceIp = '';
  let podIps: string[] = [];

  const env = () => ({ ...process.env, KUBECONFIG: cluster!.kubeconfigPath });
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const child = execFileP(path.join(cluster!.binDir, 'kubectl'), args, { env: env(), maxBuffer: 32 << 20 });
    if (input !== undefined) child.child.stdin!.end(input);
    return (await child).stdout;
  };
  const helm = async (args: string[]): Promise<string> =>
    (await execFileP(path.join(cluster!.binDir, 'helm'), args, { env: env(), maxBuffer: 8 << 20 })).stdout;
  const getJson = async <T = Obj>(args: string[]): Promise<T> => JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as T;
  const ready = (o: Obj | undefined) => !!o?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const diagnose = async (): Promise<string> => {
    const parts = await Promise.all([
      kubectl(['get', 'pods,svc,endpointslices,msrprelays,chatrooms', '-A', '-o', 'wide']).catch((e: Error) => e.message),
      kubectl(['get', 'events', '-A', '--sort-by=.lastTimestamp']).then((s) => s.split('\n').slice(-40).join('\n')).catch((e: Error) => e.message),
      kubectl(['logs', '-n', OPERATOR_NS, '-l', 'app.kubernetes.io/name=msrp-operator', '--tail=40']).catch((e: Error) => e.message),
    ]);
    return parts.join('\n---\n');
  };
  /** Polls until `check` returns a value (not undefined) or fails with the last state and a diagnosis. */
  const waitFor = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 240_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await check();
        if (v !== undefined) return v;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > deadline) assert.fail(`${what}: not in ${timeoutMs / 1000} s (last: ${String(last)})\n${await diagnose()}`);
      await sleep(1000);
    }
  };
  /**
   * Runs a step unless a step it needs failed. Steps 1 and 2 (operator, relay) are needed by
   * all later ones; 3 and 4 (send, chat) by none, so helm test/upgrade/rollback/uninstall
   * still run and assert when the MSRP traffic fails.
   */
  const step = (name: string, fn: () => Promise<void>, needed = false) => it(name, async (t: TestContext) => {
    if (broken) {
      t.skip(`an earlier step failed: ${broken}`);
      return;
    }
    const t0 = performance.now();
    try {
      await fn();
    } catch (e) {
      if (needed) broken = name;
      throw e;
    } finally {
      times[name] = secs(t0);
    }
  });

  before(async () => {
    const why = servicesMissing(clusterBinDir());
    assert.equal(why, undefined, why);
    assert.ok(existsSync(IMAGES_JSON), `no ${IMAGES_JSON}: build the images with \`npm run images\``);
    meta = JSON.parse(readFileSync(IMAGES_JSON, 'utf8')) as ImagesJson;
    work = await mkdtemp(path.join(os.tmpdir(), 'user-path-'));
    // helm test's Pod runs `kubectl get crd ...`: our own kubectl binary (static) in an image.
    const kubectlImage = path.join(work, 'kubectl.oci.tar');
    await writeOciArchive(kubectlImage, {
      ref: KUBECTL_IMAGE,
      entries: [await hostFile(path.join(clusterBinDir()!, 'kubectl'), '/usr/local/bin/kubectl'), { path: '/tmp', type: 'dir', mode: 0o1777 }],
      entrypoint: ['/usr/local/bin/kubectl'],
    });
    ({ cluster, node } = await startTestbed({ services: true, images: [path.join(path.dirname(IMAGES_JSON), meta.archive), kubectlImage] }, times));
  });

  after(async () => {
    const n = node;
    node = undefined;
    await stopTestbed(n, cluster, times, async () => {
      await pg?.remove();
      if (work) await rm(work, { recursive: true, force: true });
    });
    if (n) {
      // Nothing of the services part left: our FORWARD rules, kube-proxy's chains, the lock.
      const rules = (await execFileP('iptables-save', [])).stdout;
      assert.ok(!rules.includes(n.bridge), `no iptables rule names ${n.bridge}`);
      assert.ok(!/KUBE-SERVICES/.test(rules), 'kube-proxy chains removed');
      assert.ok(!existsSync('/run/msrp-e2e-services.lock'), 'services lock released');
    }
  });

  const tag = () => meta.tag;
  const ref = (target: string) => meta.images.find((i) => i.target === target)!.reference;

  step('1. helm install: the operator pod Ready, and it reaches the API server through the kubernetes Service', async () => {
    const operatorRef = ref('operator');
    const repo = operatorRef.slice(0, operatorRef.lastIndexOf(':'));
    await helm(['install', RELEASE, CHART, '-n', OPERATOR_NS, '--create-namespace',
      '--set', `image.repository=${repo}`, '--set', `image.tag=${tag()}`, '--set', 'image.pullPolicy=IfNotPresent',
      '--set', `test.image.repository=${KUBECTL_IMAGE.split(':')[0]}`, '--set', `test.image.tag=${KUBECTL_IMAGE.split(':')[1]}`,
      '--wait', '--timeout', '4m']);
    const deploys = await getJson<{ items: { status: { readyReplicas?: number } }[] }>(['deployments', '-n', OPERATOR_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`]);
    assert.equal(deploys.items.length, 1);
    const deploy = deploys.items[0]!;
    assert.equal(deploy.status.readyReplicas, 1, 'operator Deployment ready');
    const pods = await getJson<{ items: (Obj & { spec: { containers: { image: string }[] } })[] }>(['pods', '-n', OPERATOR_NS]);
    assert.equal(pods.items.length, 1);
    assert.equal(pods.items[0]!.spec.containers[0]!.image, operatorRef);
    // It holds its Lease: it talked to the API server from the pod (10.0.0.1 -> kube-proxy -> apiserver).
    await waitFor('operator Lease', async () => {
      const leases = await getJson<{ items: Obj[] }>(['leases', '-n', OPERATOR_NS]);
      return leases.items.length > 0 ? true : undefined;
    }, 60_000);
  }, true);

  step('2. samples applied with their Secrets and a PostgreSQL: relay pods Ready, kubectl get msrprelay Ready', async () => {
    // PostgreSQL for the pods: a throwaway server, restarted to listen on the bridge address too.
    pg = startThrowawayPostgres();
    await pg.stop();
    await appendFile(path.join(pg.dir, 'data', 'pg_hba.conf'), `host all all ${node!.podSubnet} scram-sha-256\n`);
    await execFileP('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'pg_ctl'), '-D', path.join(pg.dir, 'data'), '-l', path.join(pg.dir, 'server.log'), '-w', '-t', '30',
      '-o', `-c listen_addresses=127.0.0.1,${node!.hostIp} -p ${pg.port} -k ${path.join(pg.dir, 'sock')} -c fsync=off -c max_connections=200`, 'start']);
    const dbUrl = new URL(pg.url);
    dbUrl.hostname = node!.hostIp;

    // The relay's certificate: relay.example.net (its publicHost) from a CA of the test.
    await makeCert(work, 'relay.example.net');
    await kubectl(['create', 'secret', 'tls', `${RELAY}-tls`, '-n', NS, `--cert=${path.join(work, 'tls.crt')}`, `--key=${path.join(work, 'tls.key')}`]);
    await kubectl(['create', 'secret', 'generic', `${RELAY}-db`, '-n', NS, `--from-literal=url=${dbUrl.href}`]);
    await kubectl(['create', 'secret', 'generic', `${RELAY}-admin-token`, '-n', NS, `--from-literal=token=${adminToken}`]);

    // The sample as a user would apply it, with the image this commit built (the sample's
    // default is the chart's appVersion, which no registry here serves).
    const sample = readFileSync(path.join(SAMPLES, 'relay-existing-secret.yaml'), 'utf8');
    await kubectl(['apply', '-f', '-'], sample);
    const msrpdRef = ref('msrpd');
    await kubectl(['patch', 'msrprelay', RELAY, '-n', NS, '--type=merge', '-p', JSON.stringify({
      spec: { image: { repository: msrpdRef.slice(0, msrpdRef.lastIndexOf(':')), tag: tag(), pullPolicy: 'IfNotPresent' } },
    })]);
    await kubectl(['apply', '-f', path.join(SAMPLES, 'rooms.yaml')]);

    const relay = await waitFor('MsrpRelay Ready', async () => {
      const r = await getJson([`msrprelay/${RELAY}`, '-n', NS]);
      return ready(r) ? r : undefined;
    }, 420_000);
    const pods = await getJson<{ items: Obj[] }>(['pods', '-n', NS, '-l', `app.kubernetes.io/instance=${RELAY}`]);
    assert.equal(pods.items.length, 3, 'three replicas');
    for (const p of pods.items) assert.ok(ready(p), `${p.metadata.name} Ready`);
    const printed = await kubectl(['get', 'msrprelay', RELAY, '-n', NS]);
    assert.match(printed, /True/, printed);
    process.stderr.write(`# kubectl get msrprelay:\n${printed}# status: ${JSON.stringify(relay.status)}\n`);
    const svc = await getJson<{ spec: { clusterIP: string } }>([`service/${RELAY}`, '-n', NS]);
    serviceIp = svc.spec.clusterIP;
    assert.match(serviceIp, /^10\.0\.0\.\d+$/);
  }, true);

  step('3. msrp send of 20 MB from the host through the relay Service to msrp listen: sha256 equal', async () => {
    // Users alice and bob through the relay's admin API (the Service's admin port).
    const admin = await getJson<{ spec: { clusterIP: string; ports: { name: string; port: number }[] } }>([`service/${RELAY}-admin`, '-n', NS]);
    // HTTPS with the certificate the operator issued for the admin Service's names (docs/security.md).
    const adminTls = await getJson<{ data: Record<string, string> }>([`secret/${RELAY}-admin-tls`, '-n', NS]);
    const adminAgent = new Agent({ connect: { ca: Buffer.from(adminTls.data['ca.crt']!, 'base64').toString('utf8'), servername: `${RELAY}-admin.${NS}.svc` } });
    const adminUrl = `https://${admin.spec.clusterIP}:${admin.spec.ports[0]!.port}`;
    // spec.realms configures the engine; the realm's users live in the store (admin API).
    const realm = await tlsFetch(`${adminUrl}/v1/realms`, {
      dispatcher: adminAgent, method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'example.net' }),
    });
    assert.ok(realm.status === 201 || realm.status === 409, `create realm: ${realm.status} ${await realm.text()}`);
    for (const [user, password] of Object.entries(creds)) {
      const r = await tlsFetch(`${adminUrl}/v1/realms/example.net/users`, {
        dispatcher: adminAgent, method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: user, password }),
      });
      assert.ok(r.status === 201 || r.status === 409, `create ${user}: ${r.status} ${await r.text()}`);
    }
    // MSRP clients dial a relay pod's IP: an AUTH's To-Path must name the relay, and the
    // engine's aliases are its publicHost (relay.example.net, which this host cannot resolve
    // without editing /etc/hosts for everyone), the Service's DNS names (cluster DNS, which the
    // host's resolver does not use) and the pod IP (operator render/config.ts); the ClusterIP
    // is none of them, so AUTH to msrps://<ClusterIP> is answered 481. The certificate must
    // name the pod IPs: re-issued once they exist, and the Secret updated in place (the
    // kubelet refreshes the volume, the relay reloads it).
    podIps = (await getJson<{ items: Obj[] }>(['pods', '-n', NS, '-l', `app.kubernetes.io/instance=${RELAY}`, '--sort-by=.metadata.name'])).items.map((p) => p.status!.podIP!);
    await makeCert(work, 'relay.example.net', [serviceIp, ...podIps]);
    const secretYaml = await kubectl(['create', 'secret', 'tls', `${RELAY}-tls`, '-n', NS, `--cert=${path.join(work, 'tls.crt')}`, `--key=${path.join(work, 'tls.key')}`, '--dry-run=client', '-o', 'json']);
    await kubectl(['apply', '-f', '-'], secretYaml);
    const ca = readFileSync(path.join(work, 'ca.crt'), 'utf8');
    for (const host of podIps) {
      await waitFor(`relay certificate for ${host} served`, () => new Promise<true | undefined>((resolve) => {
        const sock = tls.connect({ host, port: 2855, ca });
        sock.once('secureConnect', () => { sock.destroy(); resolve(sock.authorized ? true : undefined); });
        sock.once('error', () => { sock.destroy(); resolve(undefined); });
      }), 180_000);
    }

    const file = path.join(work, 'payload.bin');
    await writeFile(file, randomBytes(FILE_SIZE));
    const want = await sha256(file);
    // bob on replica 0, alice on replica 1: the file crosses the mesh between two pods.
    const out = path.join(work, 'received');
    await mkdir(out);
    const t0 = performance.now();
    const listener = runCli(['listen', '--relay', `msrps://${podIps[0]}:2855`, '--user', 'bob', '--ca', path.join(work, 'ca.crt'), '--out', out, '--count', '1'], creds.bob);
    const toPath = await listener.line(/^path: (.+)$/m, 30_000);
    const sender = await runCli(['send', '--relay', `msrps://${podIps[1]}:2855`, '--user', 'alice', '--ca', path.join(work, 'ca.crt'), '--to', toPath, '--file', file], creds.alice).done;
    assert.equal(sender.code, 0, `msrp send:\n${sender.out}`);
    assert.match(sender.out, /delivered/, sender.out);
    const received = await listener.done;
    assert.equal(received.code, 0, `msrp listen:\n${received.out}`);
    times.send20MB = secs(t0);
    const files = await readdir(out);
    assert.equal(files.length, 1, `one file received: ${files.join(', ')}`);
    assert.equal(await sha256(path.join(out, files[0]!)), want, 'sha256 of the received file equals the sent one');
  });

  step('4. msrp chat: two participants in the ChatRoom ops, served by a relay pod', async () => {
    await waitFor('ChatRoom ops Ready', async () => (ready(await getJson(['chatroom/ops', '-n', NS])) ? true : undefined), 180_000);
    // SIP over TCP for both (the focus's UDP listener is off by default, docs/security.md) and MSRP both to replica 0, whose focus serves the room.
    const common = (user: string) => ['chat', 'sips:ops@relay.example.net', '--focus', `${podIps[0]}:5060`, '--transport', 'tcp', '--relay', `msrps://${podIps[0]}:2855`, '--user', user,
      '--ca', path.join(work, 'ca.crt'), '--from', `sip:${user}@example.net`, '--nick', user, '--expect-timeout', '20000'];
    await writeFile(path.join(work, 'alice.txt'), 'wait:1500\nhello from alice\nexpect:^<sip:bob@example.net> hi alice$\nwait:200\n');
    await writeFile(path.join(work, 'bob.txt'), 'expect:^<sip:alice@example.net> hello from alice$\nhi alice\nwait:500\n');
    const alice = runCli([...common('alice'), '--script', path.join(work, 'alice.txt')], creds.alice).done;
    await sleep(300);
    const bob = runCli([...common('bob'), '--transport', 'tcp', '--script', path.join(work, 'bob.txt')], creds.bob).done;
    const [a, b] = await Promise.all([alice, bob]);
    if (a.code !== 0 || b.code !== 0) {
      const logs = await Promise.all([0, 1, 2].map((k) => kubectl(['logs', '-n', NS, `${RELAY}-${k}`, '-c', 'engine', '--tail=400'])
        .then((l) => `--- ${RELAY}-${k}\n` + l.split('\n').filter((x) => /chat|focus|switch|next hop|mesh|40[0-9]|481|warn|error/i.test(x)).slice(-25).join('\n')).catch((e: Error) => e.message)));
      process.stderr.write(`# chat failed; engine logs:\n${logs.join('\n')}\n`);
    }
    assert.equal(b.code, 0, `bob:\n${b.out}`);
    assert.equal(a.code, 0, `alice:\n${a.out}`);
    assert.match(a.out, /^\* you are alice$/m, a.out);
  });


  step('5. helm test passes', async () => {
    // No --logs: the chart's hook-delete-policy (hook-succeeded) removes the pod before helm reads them.
    const out = await helm(['test', RELEASE, '-n', OPERATOR_NS, '--timeout', '3m']);
    assert.match(out, /Phase:\s+Succeeded/, out);
  });

  step('6. helm upgrade to another image tag rolls the operator pod; helm rollback rolls it back', async () => {
    const operatorRef = ref('operator');
    const repo = operatorRef.slice(0, operatorRef.lastIndexOf(':'));
    const tag2 = `${tag()}-retag`;
    await node!.ctr(['images', 'tag', operatorRef, `${repo}:${tag2}`]);
    const podsNow = async () => (await getJson<{ items: (Obj & { spec: { containers: { image: string }[] } })[] }>(['pods', '-n', OPERATOR_NS, '-l', 'app.kubernetes.io/name=msrp-operator'])).items;
    const before = (await podsNow()).map((p) => p.metadata.name);
    await helm(['upgrade', RELEASE, CHART, '-n', OPERATOR_NS, '--reuse-values', '--set', `image.tag=${tag2}`, '--wait', '--timeout', '4m']);
    const upgraded = await waitFor('operator pod rolled to the new tag', async () => {
      const ps = await podsNow();
      return ps.length === 1 && !before.includes(ps[0]!.metadata.name) && ps[0]!.spec.containers[0]!.image === `${repo}:${tag2}` && ready(ps[0]) ? ps[0] : undefined;
    }, 180_000);
    await helm(['rollback', RELEASE, '1', '-n', OPERATOR_NS, '--wait', '--timeout', '4m']);
    await waitFor('operator pod rolled back', async () => {
      const ps = await podsNow();
      return ps.length === 1 && ps[0]!.metadata.name !== upgraded.metadata.name && ps[0]!.spec.containers[0]!.image === operatorRef && ready(ps[0]) ? true : undefined;
    }, 180_000);
    const history = await helm(['history', RELEASE, '-n', OPERATOR_NS]);
    assert.match(history, /Rollback to 1/, history);
  });

  step('7. helm uninstall: CRDs kept (resource-policy keep), nothing of the release left', async () => {
    await helm(['uninstall', RELEASE, '-n', OPERATOR_NS, '--wait', '--timeout', '3m']);
    const crds = await kubectl(['get', 'crd', 'msrprelays.msrp.dev', 'chatrooms.msrp.dev', '-o', 'name']);
    assert.match(crds, /msrprelays\.msrp\.dev/);
    assert.match(crds, /chatrooms\.msrp\.dev/);
    await waitFor('release objects gone', async () => {
      const left = await kubectl(['get', 'deploy,rs,pods,svc,sa,roles,rolebindings,leases', '-n', OPERATOR_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name']);
      const cluster = await kubectl(['get', 'clusterroles,clusterrolebindings', '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name']);
      const pods = await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-o', 'name']);
      return (left + cluster + pods).trim() === '' ? true : undefined;
    }, 120_000);
    // The user's relays stay (their CRD is kept); they are theirs to delete.
    const relays = await kubectl(['get', 'msrprelays', '-A', '-o', 'name']);
    assert.match(relays, new RegExp(RELAY));
  });

});

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** `node cmd/msrp.ts ...` with MSRP_PASSWORD; `line(re)` waits for a line of its output. */
function runCli(args: string[], password: string): { done: Promise<{ code: number | null; out: string }>; line(re: RegExp, timeoutMs: number): Promise<string> } {
  const child = spawn(process.execPath, [MSRP_CLI, ...args], { env: { ...process.env, MSRP_PASSWORD: password }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.once('close', (code) => {
    for (const w of waiters.splice(0)) w();
    resolve({ code, out });
  }));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000); // the chat client can outlive a failed INVITE
  void done.then(() => clearTimeout(timer));
  return {
    done,
    line: (re, timeoutMs) => new Promise<string>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`no ${re} in ${timeoutMs} ms:\n${out}`)), timeoutMs);
      const check = () => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(deadline);
          resolve(m[1]!.trim());
        } else if (child.exitCode !== null) {
          clearTimeout(deadline);
          reject(new Error(`exited ${child.exitCode} before ${re}:\n${out}`));
        } else {
          waiters.push(check);
        }
      };
      check();
    }),
  };
}

/** A CA and a server certificate for `host` (tls.crt, tls.key, ca.crt in `dir`), with openssl. */
async function makeCert(dir: string, host: string, ips: string[] = []): Promise<void> {
  const f = (n: string) => path.join(dir, n);
  const openssl = (args: string[]) => execFileP('openssl', args, { cwd: dir });
  if (!existsSync(f('ca.key'))) {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key')]);
    await openssl(['req', '-x509', '-new', '-key', f('ca.key'), '-sha256', '-days', '2', '-subj', '/CN=user-path-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', f('ca.crt')]);
  }
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('tls.key')]);
  await openssl(['req', '-new', '-key', f('tls.key'), '-subj', `/CN=${host}`, '-out', f('tls.csr')]);
  await writeFile(f('tls.ext'), ['basicConstraints=CA:FALSE', 'keyUsage=digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth,clientAuth',
    `subjectAltName=${[`DNS:${host}`, ...ips.map((i) => `IP:${i}`)].join(',')}`].join('\n'));
  await openssl(['x509', '-req', '-in', f('tls.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-set_serial', '0x' + randomBytes(16).toString('hex'),
    '-days', '2', '-sha256', '-extfile', f('tls.ext'), '-out', f('tls.crt')]);
}
