// Proof that what the operator renders runs: an MsrpRelay applied to a real API server
// with the operator running becomes a StatefulSet; its pod template (ordinal 0) is
// materialised on this machine by e2e/podrun/materialize.ts (ConfigMap and Secret volumes
// read back from the API server, env resolved, `command` + `args` started from the repo
// root, probes awaited; see that file for the exact rewrites: mount path prefixes, ports,
// bind addresses). Then a user is created through the pod's own admin API with the
// bootstrap token from the relay's admin-token Secret, and a file goes through the pod's
// relay with the real `msrp` CLI (listen + send), byte for byte.
// No kubelet here: the materialiser is the kubelet. Needs DATABASE_URL (a real PostgreSQL:
// spec.database points the pod at it) and the cluster binaries.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { Agent, fetch } from 'undici';
import { parse as parseYaml } from 'yaml';
import { clusterBinDir } from './cluster/cluster.ts';
import { eventually, freshDatabase, ROOT, skipReason, startOperatorCluster } from './operator-harness.ts';
import type { OperatorCluster, Proc } from './operator-harness.ts';
import { offerSdp, SipUac } from '../internal/client/sip-uac.ts';
import { materializePod } from './podrun/materialize.ts';
import type { MaterializedPod } from './podrun/materialize.ts';
import type { KubeObject } from '../internal/operator/kube/client.ts';
import { RESOURCES } from '../internal/operator/kube/resources.ts';
import { ENGINE_CONTROL_PORT } from '../internal/operator/render/common.ts';
import { testPki } from '../internal/transport/testcerts.ts';

const binDir = clusterBinDir();
const skip = skipReason({ binDir, database: true });
const NS = 'podrun';
const RELAY = 'relay';
const MSRP_CLI = path.join(ROOT, 'cmd', 'msrp.ts');

interface CliRun {
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
  kill(): void;
}

function cli(args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, [MSRP_CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: CliRun = {
    stdout: '', stderr: '',
    exited: new Promise((res) => child.once('exit', (code) => res(code))),
    kill: () => child.kill('SIGKILL'),
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (r.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (r.stderr += d));
  return r;
}

describe('apply YAML -> a working relay: the rendered pod runs', { skip, timeout: 300_000 }, () => {
  let env: OperatorCluster;
  let pod: MaterializedPod | undefined;
  let work: string;
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let operator: Proc;
  const adminToken = randomBytes(24).toString('hex');
  const realm = 'example.com';

  before(async () => {
    assert.ok(binDir, 'kube-apiserver/etcd/kubectl not built: run e2e/cluster/build.sh');
    assert.ok(process.env.DATABASE_URL, 'DATABASE_URL is required (a real PostgreSQL)');
    db = await freshDatabase(process.env.DATABASE_URL);
    env = await startOperatorCluster(binDir, [NS]);
    work = await mkdtemp(path.join(tmpdir(), 'podrun-test-'));
    operator = await env.startOperator('a', []);
  });

  after(async () => {
    await pod?.stop();
    await env?.stop();
    await db?.drop();
    if (work && process.env.MSRP_E2E_KEEP !== '1') await rm(work, { recursive: true, force: true });
  });

  it('materialises the StatefulSet pod, which passes its probes and relays a file for users made through its admin API', async () => {
    // The Secrets a user creates before applying the relay (see manifests/samples).
    const pki = await testPki();
    const secrets = [
      { metadata: { name: 'relay-tls' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': pki.server.cert, 'tls.key': pki.server.key, 'ca.crt': pki.caPem } },
      { metadata: { name: 'relay-db' }, type: 'Opaque', stringData: { url: db!.url } },
      { metadata: { name: 'relay-admin-token' }, type: 'Opaque', stringData: { token: adminToken } },
      // The mesh certificate between replicas (one replica here: its mesh listener runs, unused).
      { metadata: { name: 'relay-mesh-tls' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': pki.mesh.cert, 'tls.key': pki.mesh.key, 'ca.crt': await readFile(path.join(pki.mesh.dir, 'ca.crt'), 'utf8') } },
    ];
    for (const s of secrets) {
      const r = await env.kubectl(['apply', '--server-side', '-n', NS, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Secret', ...s }));
      assert.equal(r.code, 0, r.stderr);
    }
    const relayYaml = {
      apiVersion: 'msrp.dev/v1alpha1', kind: 'MsrpRelay', metadata: { name: RELAY, namespace: NS },
      spec: {
        publicHost: 'msrp.example.com',
        tls: { secretName: 'relay-tls' },
        database: { secretRef: { name: 'relay-db', key: 'url' } },
        realms: [{ name: realm }],
      },
    };
    const applied = await env.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(relayYaml));
    assert.equal(applied.code, 0, applied.stderr);

    const sts = await eventually('the operator\'s StatefulSet', () => env.kube.getOptional<KubeObject>(RESOURCES.statefulSet, NS, RELAY), 30_000);
    pod = await materializePod({ kube: env.kube, statefulSet: sts as V1StatefulSet, workdir: ROOT, readyTimeoutMs: 90_000, logDir: work,
      // The engine's control endpoint binds 127.0.0.1 inside the pod: not a containerPort.
      internalPorts: [ENGINE_CONTROL_PORT],
    });

    // What ran, and what the materialiser changed to run it here.
    const engine = pod.containers.find((c) => c.name === 'engine')!;
    const admin = pod.containers.find((c) => c.name === 'admin')!;
    assert.deepEqual(engine.argv, ['node', 'cmd/msrpd.ts', '--config', pod.hostPath('/etc/msrp/config/msrpd.yaml')]);
    assert.deepEqual(admin.argv, ['node', 'cmd/admin.ts', '--config', pod.hostPath('/etc/msrp/config/admin.yaml')]);
    assert.equal(engine.env.MSRP_DATABASE__URL, db!.url);
    assert.equal(admin.env.MSRP_ADMIN_DATABASE__URL, db!.url);
    assert.equal(engine.env.MSRP_RELAY__ALIASES__2, '127.0.0.1', '$(POD_IP) expanded');
    const engineConfig = parseYaml(await readFile(pod.hostPath('/etc/msrp/config/msrpd.yaml'), 'utf8'));
    assert.equal(engineConfig.tls.dir, pod.hostPath('/etc/msrp/tls'));
    assert.equal(engineConfig.relay.listen[0].port, pod.port('engine', 'msrps'));
    const rewrites = pod.rewrites.map((r) => r.where);
    process.stderr.write(`# materialiser rewrites:\n${pod.rewrites.map((r) => `#   ${r.where}: ${r.from} -> ${r.to}`).join('\n')}\n`);
    assert.ok(rewrites.every((w) => /^(containerPort|internalPort|engine |admin |msrpd\.yaml|admin\.yaml)/.test(w)), rewrites.join(', '));
    const adminConfig = parseYaml(await readFile(pod.hostPath('/etc/msrp/config/admin.yaml'), 'utf8'));
    assert.equal(adminConfig.engine.controlUrl, `http://127.0.0.1:${pod.ports.get(ENGINE_CONTROL_PORT)}`);
    assert.equal(engineConfig.http.controlPort, pod.ports.get(ENGINE_CONTROL_PORT), 'the admin reaches the engine it runs next to');

    // The admin API of the pod over HTTPS, with the certificate the operator issued for the
    // admin Service (checked for that name and against its CA), and the bootstrap token the
    // relay's Secret holds.
    const adminTls = await env.kube.get<KubeObject & { data: Record<string, string> }>(RESOURCES.secret, NS, `${RELAY}-admin-tls`);
    const adminAgent = new Agent({ connect: { ca: Buffer.from(adminTls.data['ca.crt']!, 'base64').toString('utf8'), servername: `${RELAY}-admin.${NS}.svc` } });
    const adminUrl = `https://127.0.0.1:${pod.port('admin', 'admin')}`;
    const plain = await fetch(`http://127.0.0.1:${pod.port('admin', 'admin')}/v1/realms`, { headers: { authorization: `Bearer ${adminToken}` } }).then(() => 'answered', () => 'refused');
    assert.equal(plain, 'refused', 'no plain HTTP on the admin port');
    const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    let res = await fetch(`${adminUrl}/v1/realms`, { dispatcher: adminAgent, method: 'POST', headers, body: JSON.stringify({ name: realm }) });
    assert.equal(res.status, 201, await res.text());
    for (const [username, password] of [['alice', 'alice-password'], ['bob', 'bob-password']]) {
      res = await fetch(`${adminUrl}/v1/realms/${realm}/users`, { dispatcher: adminAgent, method: 'POST', headers, body: JSON.stringify({ username, password }) });
      assert.equal(res.status, 201, await res.text());
    }
    res = await fetch(`${adminUrl}/v1/realms`, { dispatcher: adminAgent, headers: { authorization: 'Bearer wrong-token' } });
    assert.equal(res.status, 401, 'only the Secret\'s token opens the admin API');

    // A file through the pod's relay with the real CLI, over TLS, authenticated.
    const relayUri = `msrps://127.0.0.1:${pod.port('engine', 'msrps')}`;
    const ca = path.join(work, 'ca.crt');
    await writeFile(ca, pki.caPem);
    await writeFile(path.join(work, 'bob.pw'), 'bob-password\n');
    const src = path.join(work, 'payload.bin');
    const body = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(src, body);
    const out = path.join(work, 'out');
    const listen = cli(['listen', '--relay', relayUri, '--user', 'bob', '--password-file', path.join(work, 'bob.pw'), '--ca', ca, '--out', out, '--count', '1']);
    try {
      const to = await eventually('listen to print its path', async () => {
        if (await Promise.race([listen.exited.then(() => true), Promise.resolve(false)])) throw new Error(`listen exited: ${listen.stderr}`);
        return listen.stdout.split('\n').find((l) => l.startsWith('path:'))?.slice('path:'.length).trim();
      }, 20_000);
      assert.match(to, /^msrps:\/\/msrp\.example\.com:\d+\/\S+;tcp /, 'Use-Path names the relay by its publicHost');
      // The admin's live view comes from the engine's control endpoint in the same pod.
      const sessions = await (await fetch(`${adminUrl}/v1/sessions`, { dispatcher: adminAgent, headers })).json() as { items: { user?: string; realm?: string }[] };
      assert.ok(sessions.items.some((s) => s.user === 'bob'), JSON.stringify(sessions));
      const send = cli(['send', '--relay', relayUri, '--user', 'alice', '--ca', ca, '--to', to, '--file', src], { MSRP_PASSWORD: 'alice-password' });
      assert.equal(await send.exited, 0, send.stderr);
      assert.equal(await listen.exited, 0, listen.stderr);
      assert.match(send.stdout, new RegExp(`^delivered payload\\.bin: ${body.length} bytes`));
      const received = await readFile(path.join(out, 'payload.bin'));
      assert.equal(createHash('sha256').update(received).digest('hex'), createHash('sha256').update(body).digest('hex'));
      assert.equal(received.length, body.length);
    } finally {
      listen.kill();
    }

    // A ChatRoom served by the real pod: the operator (restarted with the pod's admin address,
    // which the cluster DNS would give it) stores the room through the pod's admin API, the
    // pod's engine serves it, and a participant joining over SIP shows in the room's status.
    await operator.stop();
    await env.startOperator('b', [`--admin-url-template=${adminUrl}`, '--room-status-interval=1s']);
    const room = await env.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'msrp.dev/v1alpha1', kind: 'ChatRoom', metadata: { name: 'lobby', namespace: NS }, spec: { relayRef: { name: RELAY }, subject: 'Hello' },
    }));
    assert.equal(room.code, 0, room.stderr);
    const served = await eventually('ChatRoom lobby Ready (served by the pod)', async () => {
      const o = await env.kube.getOptional<KubeObject & { status?: { conditions?: { type: string; status: string; reason: string }[]; uri?: string } }>(RESOURCES.chatRoom, NS, 'lobby');
      return o?.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True') !== undefined ? o : undefined;
    }, 60_000);
    assert.equal(served.status?.uri, 'sips:lobby@msrp.example.com');
    const uac = await SipUac.open('TCP', pod.port('engine', 'sip-tcp'), 'carol');
    try {
      const d = uac.newDialog('sips:lobby@msrp.example.com');
      const answer = await uac.send(d, 'INVITE', { body: offerSdp('msrps://127.0.0.1:7654/carol;tcp') });
      assert.equal(answer.status, 200, answer.body.toString());
      assert.match(answer.body.toString(), /^a=path:msrps:\/\/msrp\.example\.com:\d+\/r0-\S+;tcp\r?$/m, 'the switch answers under the public host, with the replica prefix');
      await uac.send(d, 'ACK');
      const count = async () => (await env.kube.get<KubeObject & { status?: { participants?: number } }>(RESOURCES.chatRoom, NS, 'lobby')).status?.participants;
      await eventually('ChatRoom status: 1 participant, from the pod', async () => (await count()) === 1, 30_000);
      assert.equal((await uac.send(d, 'BYE', { inDialog: true })).status, 200);
      await eventually('ChatRoom status: nobody', async () => (await count()) === 0, 30_000);
    } finally {
      uac.close();
    }

    // The engine's metrics saw it (the probe port serves /metrics too).
    const metrics = await (await fetch(`http://127.0.0.1:${pod.port('engine', 'http')}/metrics`)).text();
    const forwarded = /^msrp_relay_bytes_forwarded_total\{method="SEND"\} (\d+)$/m.exec(metrics)?.[1];
    assert.ok(Number(forwarded) >= 3 * 1024 * 1024, `SEND bytes forwarded: ${forwarded}`);

    // A clean stop: SIGTERM drains both containers, which exit 0.
    const p = pod;
    pod = undefined;
    const codes = Promise.all(p.containers.map((c) => c.exited));
    await p.stop();
    assert.deepEqual(await codes, [0, 0], `exit codes; logs in ${work}`);
  });
});
