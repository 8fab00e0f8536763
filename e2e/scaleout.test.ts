// Three engine processes (cmd/msrpd.ts) as pods 0-2 of one MsrpRelay, sharing a real
// PostgreSQL: the engine config is the operator's own rendering (renderEngineConfig) of a
// 3-replica MsrpRelay, with only what a pod network gives and this machine lacks rewritten:
//  - listeners (relay, chat SIP and switch, HTTP) bind 127.0.0.1 on free ports (each pod has
//    its own IP in a cluster);
//  - the headless Service names `relay-{ordinal}.relay-mesh.<ns>.svc.cluster.local` become
//    `127.0.1.{ordinal}` (what cluster DNS would resolve them to), and pod k's mesh listener
//    binds 127.0.1.k; the mesh certificate names those addresses (testcerts.ts MESH_SAN);
//  - $(POD_IP) is 127.0.0.1, the ordinal comes from MSRP_MESH__ORDINAL as the downward API
//    gives it, the certificate folders are the test PKI's.
// Clients reach "their" pod directly, as a load balancer would send them, and all AUTH to
// the one public URI. Real TLS everywhere; files through the real `msrp` CLI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { stringify } from 'yaml';
import { offerSdp, SipUac } from '../internal/client/sip-uac.ts';
import { TlsParticipant } from '../internal/chat/testparticipant.ts';
import { formatCpim } from '../internal/msrp/cpim.ts';
import { buildResponse } from '../internal/msrp/transaction.ts';
import { renderEngineConfig } from '../internal/operator/render/config.ts';
import { relayFixture } from '../internal/operator/render/testfixtures.ts';
import { TestClient, usePathOf } from '../internal/relay/testclient.ts';
import { freePort, startTestRelay, type TestRelay } from '../internal/relay/testrelay.ts';
import { openStore, type Store } from '../internal/store/index.ts';
import { testPki, type TestPki } from '../internal/transport/testcerts.ts';
import { freePorts } from './cluster/cluster.ts';
import { eventually, freshDatabase, ROOT, startProcess, type Proc } from './operator-harness.ts';

const skip = process.env.CI !== 'true' && !process.env.DATABASE_URL ? 'DATABASE_URL is not set (a real PostgreSQL; CI sets it in .ci/peers.d/10-postgres.sh)' : false;
const PUBLIC = 'relay.msrp.test';
const REALM = 'example.com';
const RELAY_URI = `msrps://${PUBLIC}:2855;tcp`;
const DRAIN_SEC = 6;
/** Every other test uses a user per client; the relay-wide limit test fills it over the pods. */
const SESSIONS_PER_USER = 3;
const MSRP_CLI = path.join(ROOT, 'cmd', 'msrp.ts');

interface Pod {
  ordinal: number;
  proc: Proc;
  msrpsPort: number;
  httpPort: number;
  sipPort: number;
  switchPort: number;
  /** The engine's control endpoint (the admin sidecar's view of the pod). */
  controlPort: number;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function cli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MSRP_CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const r = { stdout: '', stderr: '', exited: new Promise<number | null>((res) => child.once('exit', (code) => res(code))), kill: () => child.kill('SIGKILL') };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (r.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (r.stderr += d));
  return r;
}

describe('three engine processes as pods 0-2 of one relay (mesh, real PostgreSQL)', { skip, timeout: 600_000 }, () => {
  let pki: TestPki;
  let db: { url: string; drop: () => Promise<void> };
  let store: Store;
  let work: string;
  let meshPort: number;
  let chatMeshPort: number;
  const pods: (Pod | undefined)[] = [];
  const clients: TestClient[] = [];
  let userSeq = 0;
  const others: TestRelay[] = [];
  const relay = relayFixture({ replicas: 3, publicHost: PUBLIC, realms: [{ name: REALM, hosts: [PUBLIC] }], drain: { timeoutSeconds: DRAIN_SEC }, limits: { sessionsPerUser: SESSIONS_PER_USER } }, 'relay', 'scaleout');

  async function startPod(k: number): Promise<Pod> {
    // The mesh ports are bound on 127.0.1.k, so a port free on 127.0.0.1 may be one of them;
    // the engine refuses a config where they coincide (seen once in CI), so pick again.
    let ports: number[];
    do ports = await freePorts(6);
    while (ports.some((p) => p === meshPort || p === chatMeshPort));
    const [msrpsPort, httpPort, controlPort, sipPort, sipTlsPort, switchPort] = ports as [number, number, number, number, number, number];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a rendered config, rewritten field by field like the materialiser does
    const c = renderEngineConfig(relay) as Record<string, any>;
    assert.equal(c.mesh.peerHost, 'relay-{ordinal}.relay-mesh.scaleout.svc.cluster.local', 'the operator\'s rendering');
    c.relay.listen = [{ host: '127.0.0.1', port: msrpsPort, transport: 'tls' }];
    c.http = { host: '127.0.0.1', port: httpPort, controlPort };
    c.tls.dir = pki.named.dir;
    // The chat server (on by default in an MsrpRelay) on this pod's own loopback ports.
    c.chat = { ...c.chat, sip: { host: '127.0.0.1', udpPort: sipPort, tcpPort: sipPort, tlsPort: sipTlsPort }, msrp: { ...c.chat.msrp, host: '127.0.0.1', port: switchPort } };
    c.mesh = { ...c.mesh, peerHost: '127.0.1.{ordinal}', listenHost: `127.0.1.${k}`, port: meshPort, chatPort: chatMeshPort, tlsDir: pki.mesh.dir };
    c.database = { dataDir: path.join(work, `pglite-${k}`) };
    const file = path.join(work, `msrpd-${k}.yaml`);
    await writeFile(file, stringify(c));
    const proc = startProcess([path.join(ROOT, 'cmd', 'msrpd.ts'), '--config', file], path.join(work, `pod-${k}.log`), {
      ...process.env, MSRP_MESH__ORDINAL: String(k), MSRP_DATABASE__URL: db.url, MSRP_RELAY__ALIASES__2: '127.0.0.1', LOG_LEVEL: 'info',
    });
    await eventually(`pod ${k} ready`, async () => {
      if (proc.child.exitCode !== null) throw new Error(`pod ${k} exited: ${await readFile(proc.logPath, 'utf8')}`);
      return (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.status === 200;
    }, 60_000);
    const pod = { ordinal: k, proc, msrpsPort, httpPort, sipPort, switchPort, controlPort };
    pods[k] = pod;
    return pod;
  }

  async function client(k: number): Promise<{ c: TestClient; session: string; user: string }> {
    const user = `u${userSeq++}`;
    await store.createUser(REALM, user, `${user}-pw`);
    const c = await TestClient.connect({ port: pods[k]!.msrpsPort, ca: pki.caPem });
    clients.push(c);
    const res = await c.auth(RELAY_URI, user, `${user}-pw`);
    assert.equal(res.status, 200, `AUTH ${user} on pod ${k}: ${res.status} ${res.comment ?? ''}`);
    return { c, session: usePathOf(res), user };
  }

  async function metric(k: number, name: string, labels: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${pods[k]!.httpPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`msrp_${name}{${labels}}`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  }

  before(async () => {
    pki = await testPki();
    assert.ok(process.env.DATABASE_URL, 'DATABASE_URL is required (a real PostgreSQL)');
    db = await freshDatabase(process.env.DATABASE_URL);
    work = await mkdtemp(path.join(tmpdir(), 'scaleout-'));
    store = await openStore({ url: db.url, logger: pino({ level: 'silent' }) });
    await store.createRealm(REALM);
    await store.rooms.put('lobby', { policy: { history: { enabled: true, size: 10 } } });
    meshPort = await freePort('127.0.1.0');
    do chatMeshPort = await freePort('127.0.1.0');
    while (chatMeshPort === meshPort);
    await Promise.all([0, 1, 2].map((k) => startPod(k)));
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const r of others) await r.relay.stop();
    for (const p of pods) if (p) await p.proc.stop(2000);
    await store?.close();
    await db?.drop();
    if (work && process.env.MSRP_E2E_KEEP !== '1') await rm(work, { recursive: true, force: true });
  });

  it('30 clients spread over the pods all reach each other: 870 messages, none lost, paths as on one relay', async () => {
    const spread = await Promise.all(Array.from({ length: 30 }, (_, i) => client(i % 3)));
    const prefixes = spread.map((s) => /\/(r\d+)-/.exec(s.session)?.[1]);
    assert.deepEqual(prefixes.slice(0, 3), ['r0', 'r1', 'r2'], 'each pod mints ids that name it');
    // Every client sends one message to every other one.
    await Promise.all(spread.map(async (from, i) => {
      for (const [j, to] of spread.entries()) {
        if (i === j) continue;
        const sent = from.c.sendMessage([from.session, to.session, to.c.uri], `${i}->${j}`);
        const res = await from.c.response(sent.transactionId, 20_000);
        assert.equal(res.status, 200, `${i}->${j}`);
      }
    }));
    await Promise.all(spread.map(async (to, j) => {
      const got = new Set<string>();
      for (let n = 0; n < 29; n++) {
        const f = await to.c.request('SEND', 20_000);
        to.c.write(buildResponse(f, 200));
        const text = Buffer.concat(f.body).toString();
        const i = Number(text.split('->')[0]);
        assert.equal(text, `${i}->${j}`);
        assert.deepEqual(f.toPath, [to.c.uri]);
        assert.deepEqual(f.fromPath, [to.session, spread[i]!.session, spread[i]!.c.uri]);
        got.add(text);
      }
      assert.equal(got.size, 29, `client ${j} got a message from each other client`);
    }));
    for (const k of [0, 1, 2]) assert.ok(await metric(k, 'relay_mesh_connections', 'direction="outbound"') >= 2, `pod ${k} has links to both others`);
  });

  it('a partner relay that reaches pod 0 delivers to clients on each of the three pods', async () => {
    const partner = await startTestRelay({
      nextHops: { allow: [{ host: PUBLIC }], allowPrivate: true, connectTimeoutMs: 3000, staticHosts: { [PUBLIC]: { address: '127.0.0.1', port: pods[0]!.msrpsPort } } },
    }, pki.peer);
    others.push(partner);
    const p = await TestClient.connect({ port: partner.port, ca: partner.ca });
    clients.push(p);
    const sp = usePathOf(await p.auth(partner.relay.uri, 'alice', 'alice-pw'));
    for (const k of [0, 1, 2]) {
      const to = await client(k);
      const sent = p.sendMessage([sp, to.session, to.c.uri], `from the partner to pod ${k}`);
      assert.equal((await p.response(sent.transactionId, 10_000)).status, 200);
      const got = await to.c.request('SEND', 10_000);
      to.c.write(buildResponse(got, 200));
      assert.equal(Buffer.concat(got.body).toString(), `from the partner to pod ${k}`);
      assert.deepEqual(got.fromPath, [to.session, sp, p.uri]);
    }
  });

  it('one chat room across the three pods: participants joining through each (SIP and MSRP over TLS to their own pod) are in one room', async () => {
    const ROOM = `sip:lobby@${PUBLIC}`;
    const people = [0, 1, 2].map((k) => new TlsParticipant(`sip:p${k}@example.com`));
    const uacs: SipUac[] = [];
    try {
      for (const [k, p] of people.entries()) {
        const uac = await SipUac.open('TCP', pods[k]!.sipPort, `p${k}`);
        uacs.push(uac);
        const d = uac.newDialog(ROOM);
        const res = await uac.send(d, 'INVITE', { body: offerSdp(p.uri) });
        assert.equal(res.status, 200, `p${k} joins through pod ${k}`);
        await uac.send(d, 'ACK');
        p.focusUri = /^a=path:(\S+)$/m.exec(res.body.toString())![1]!;
        await p.connect(pods[k]!.switchPort, pki.caPem, PUBLIC);
        const tid = p.send();
        await p.seen(`MSRP ${tid} 200`);
      }
      const owners = new Set(people.map((p) => /\/(r\d+)-/.exec(p.focusUri)?.[1]));
      assert.deepEqual([...owners], ['r0'], 'one owner, the pod of the first join');
      assert.equal((await store.leases.get(ROOM))?.holder, 0);
      const say = (p: TlsParticipant, text: string) => p.send(formatCpim({ from: { uri: p.sipUri }, to: [{ uri: ROOM }], contentType: 'text/plain', content: text }).toString('latin1'));
      say(people[2]!, 'hello from pod 2');
      say(people[1]!, 'hello from pod 1');
      for (const p of [people[0]!, people[1]!]) await p.seen('hello from pod 2');
      for (const p of [people[0]!, people[2]!]) await p.seen('hello from pod 1');
      // The live participant list (what the admin API and ChatRoom status read) is the same on
      // every pod: the owner's, asked over the mesh by the others.
      for (const k of [0, 1, 2]) {
        const res = await fetch(`http://127.0.0.1:${pods[k]!.controlPort}/rooms/lobby/participants`);
        assert.equal(res.status, 200, `pod ${k}`);
        const list = (await res.json() as { participants: { uri: string }[] }).participants.map((x) => x.uri).sort();
        assert.deepEqual(list, people.map((x) => x.sipUri).sort(), `participants seen from pod ${k}`);
      }
    } finally {
      for (const p of people) p.socket?.destroy();
      for (const u of uacs) u.close();
    }
  });

  it('carries a 50 MB file between every pair of pods with the msrp CLI, byte for byte', async () => {
    const ca = path.join(work, 'ca.crt');
    await writeFile(ca, pki.caPem);
    const body = randomBytes(50 * 1024 * 1024);
    const src = path.join(work, 'big.bin');
    await writeFile(src, body);
    for (const [from, to] of [[0, 1], [1, 2], [2, 0]] as const) {
      const sender = `fs${from}${to}`;
      const receiver = `fr${from}${to}`;
      await store.createUser(REALM, sender, 'file-pw-1');
      await store.createUser(REALM, receiver, 'file-pw-2');
      const out = path.join(work, `out-${from}-${to}`);
      const relayOf = (k: number) => `msrps://127.0.0.1:${pods[k]!.msrpsPort}`;
      const listen = cli(['listen', '--relay', relayOf(to), '--user', receiver, '--ca', ca, '--out', out, '--count', '1'], { MSRP_PASSWORD: 'file-pw-2' });
      try {
        const path_ = await eventually('listen to print its path', async () => {
          if (listen.stdout === '' && (await Promise.race([listen.exited.then(() => true), Promise.resolve(false)]))) throw new Error(`listen exited: ${listen.stderr}`);
          return listen.stdout.split('\n').find((l) => l.startsWith('path:'))?.slice('path:'.length).trim();
        }, 20_000);
        assert.match(path_, new RegExp(`^msrps://relay\\.msrp\\.test:2855/r${to}-`));
        const send = cli(['send', '--relay', relayOf(from), '--user', sender, '--ca', ca, '--to', path_, '--file', src], { MSRP_PASSWORD: 'file-pw-1' });
        assert.equal(await send.exited, 0, send.stderr);
        assert.equal(await listen.exited, 0, listen.stderr);
        assert.equal(sha(await readFile(path.join(out, 'big.bin'))), sha(body), `pod ${from} -> pod ${to}`);
      } finally {
        listen.kill();
      }
    }
  });

  it('limits sessions per user relay-wide: the fourth session of a user is refused on any pod, a session ending frees a slot', async () => {
    const user = `u${userSeq++}`;
    await store.createUser(REALM, user, `${user}-pw`);
    const held: TestClient[] = [];
    const auth = async (k: number) => {
      const c = await TestClient.connect({ port: pods[k]!.msrpsPort, ca: pki.caPem });
      clients.push(c);
      return { c, res: await c.auth(RELAY_URI, user, `${user}-pw`) };
    };
    for (const k of [0, 1, 2]) {
      const { c, res } = await auth(k);
      assert.equal(res.status, 200, `session ${k + 1} of ${SESSIONS_PER_USER} on pod ${k}`);
      held.push(c);
    }
    for (const k of [0, 1, 2]) {
      const { res } = await auth(k);
      assert.equal(res.status, 403, `a fourth session on pod ${k}`);
      assert.match(res.comment ?? '', /too many sessions/);
    }
    assert.equal(await metric(2, 'relay_limit_rejections_total', 'limit="sessions-per-user"'), 1);
    // Every pod registered and heartbeats (every 10 s): three live replicas, no registry errors.
    for (const k of [0, 1, 2]) {
      const text = await eventually(`pod ${k} to count three live replicas`, async () => {
        const t = await (await fetch(`http://127.0.0.1:${pods[k]!.httpPort}/metrics`)).text();
        return /^msrp_relay_replicas_live 3$/m.test(t) ? t : undefined;
      }, 25_000);
      assert.doesNotMatch(text, /^msrp_relay_live_registry_errors_total\{/m, `pod ${k}`);
    }
    held[0]!.close();
    await eventually('a slot to be free again, on pod 2', async () => (await auth(2)).res.status === 200, 10_000);
  });

  it('pod 1 killed (SIGKILL): its clients are cut, its sessions get 481 with a mesh metric, pods 0 and 2 go on', async () => {
    const a = await client(0);
    const b = await client(1);
    const z = await client(2);
    const warm = a.c.sendMessage([a.session, b.session, b.c.uri], 'before');
    assert.equal((await a.c.response(warm.transactionId)).status, 200);
    b.c.write(buildResponse(await b.c.request('SEND'), 200));

    pods[1]!.proc.child.kill('SIGKILL');
    await pods[1]!.proc.exited;
    await b.c.closed;
    await eventually('pod 0 to see its link to pod 1 close', async () => (await metric(0, 'relay_mesh_connections', 'direction="outbound"')) === 1);
    const failuresBefore = await metric(0, 'relay_mesh_link_failures_total', 'reason="unreachable"');
    const lost = a.c.sendMessage([a.session, b.session, b.c.uri], 'to a dead pod');
    assert.equal((await a.c.response(lost.transactionId)).status, 481);
    assert.equal(await metric(0, 'relay_mesh_link_failures_total', 'reason="unreachable"'), failuresBefore + 1);

    const ok = a.c.sendMessage([a.session, z.session, z.c.uri], 'still here');
    assert.equal((await a.c.response(ok.transactionId)).status, 200);
    const got = await z.c.request('SEND');
    z.c.write(buildResponse(got, 200));
    assert.equal(Buffer.concat(got.body).toString(), 'still here');

    // The pod comes back (the StatefulSet recreates it) and serves new sessions, reached from pod 0 again.
    await startPod(1);
    const b2 = await client(1);
    const again = a.c.sendMessage([a.session, b2.session, b2.c.uri], 'welcome back');
    assert.equal((await a.c.response(again.transactionId)).status, 200);
    const back = await b2.c.request('SEND');
    b2.c.write(buildResponse(back, 200));
    assert.equal(Buffer.concat(back.body).toString(), 'welcome back');
  });

  it('a rolling restart (SIGTERM pod by pod): idle sessions served until the drain timeout, a transfer in progress completes', async () => {
    const ca = path.join(work, 'ca.crt');
    for (const k of [2, 1, 0]) {
      // An idle session on the pod about to go, and a peer on the next pod.
      const idle = await client(k);
      const peer = await client((k + 1) % 3);
      // A transfer through this pod, in progress when SIGTERM comes.
      const body = randomBytes(20 * 1024 * 1024);
      const src = path.join(work, `roll-${k}.bin`);
      await writeFile(src, body);
      const out = path.join(work, `roll-out-${k}`);
      await store.createUser(REALM, `roll-s${k}`, 'roll-pw');
      await store.createUser(REALM, `roll-r${k}`, 'roll-pw');
      const listen = cli(['listen', '--relay', `msrps://127.0.0.1:${pods[(k + 1) % 3]!.msrpsPort}`, '--user', `roll-r${k}`, '--ca', ca, '--out', out, '--count', '1'], { MSRP_PASSWORD: 'roll-pw' });
      const to = await eventually('listen to print its path', () => Promise.resolve(listen.stdout.split('\n').find((l) => l.startsWith('path:'))?.slice('path:'.length).trim()), 20_000);
      const forwardedBefore = await metric(k, 'relay_bytes_forwarded_total', 'method="SEND"');
      const send = cli(['send', '--relay', `msrps://127.0.0.1:${pods[k]!.msrpsPort}`, '--user', `roll-s${k}`, '--ca', ca, '--to', to, '--file', src], { MSRP_PASSWORD: 'roll-pw' });
      await eventually('the transfer to be under way', async () => (await metric(k, 'relay_bytes_forwarded_total', 'method="SEND"')) - forwardedBefore > 1024 * 1024, 20_000);

      const termAt = Date.now();
      pods[k]!.proc.child.kill('SIGTERM');
      await eventually(`pod ${k} not ready`, async () => (await fetch(`http://127.0.0.1:${pods[k]!.httpPort}/readyz`)).status === 503, 5000);
      // The idle session still works while the pod drains, and a newcomer is sent away.
      const m = idle.c.sendMessage([idle.session, peer.session, peer.c.uri], `draining ${k}`);
      assert.equal((await idle.c.response(m.transactionId)).status, 200);
      const got = await peer.c.request('SEND');
      peer.c.write(buildResponse(got, 200));
      const newcomer = await TestClient.connect({ port: pods[k]!.msrpsPort, ca: pki.caPem });
      clients.push(newcomer);
      assert.equal((await newcomer.auth(RELAY_URI, idle.user, `${idle.user}-pw`)).status, 403);

      assert.equal(await send.exited, 0, send.stderr);
      assert.equal(await listen.exited, 0, listen.stderr);
      assert.equal(sha(await readFile(path.join(out, `roll-${k}.bin`))), sha(body), `transfer through pod ${k} while it drained`);

      await idle.c.closed;
      const servedMs = Date.now() - termAt;
      assert.ok(servedMs >= DRAIN_SEC * 1000 - 500, `idle session on pod ${k} served ${servedMs} ms after SIGTERM (drain ${DRAIN_SEC} s)`);
      assert.equal(await pods[k]!.proc.exited, 0, `pod ${k} exits cleanly after its drain`);
      await startPod(k);
    }
  });
});
