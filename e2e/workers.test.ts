// One relay process with two workers (docs/relay.md "Workers"): the real msrpd
// (cmd/msrpd.ts) with `relay.workers: 2`, a real PostgreSQL for the relay-wide registry,
// real TLS. The primary hands connections to the workers in turn, so clients connecting
// one after another land on both; which worker holds a session shows in its id (`w1-` for
// worker 1, nothing for worker 0), and the test asserts it before relying on it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { stringify } from 'yaml';
import { getHeader, type MsrpRequest } from '../internal/msrp/frame.ts';
import { buildResponse, newMessageId } from '../internal/msrp/transaction.ts';
import { TestClient, usePathOf } from '../internal/relay/testclient.ts';
import { openStore, type Store } from '../internal/store/index.ts';
import { eventually, waitFor } from '../internal/testwait.ts';
import { testPki, type TestPki } from '../internal/transport/testcerts.ts';
import { freePorts } from './cluster/cluster.ts';
import { freshDatabase, ROOT, startProcess, type Proc } from './operator-harness.ts';
import { freePort } from '../internal/relay/testrelay.ts';

const skip = process.env.CI !== 'true' && !process.env.DATABASE_URL ? 'DATABASE_URL is not set (a real PostgreSQL; CI sets it in .ci/peers.d/10-postgres.sh)' : false;
const PUBLIC = 'relay.msrp.test';
const REALM = 'example.com';
const RELAY_URI = `msrps://${PUBLIC}:2855;tcp`;
const SESSIONS_PER_USER = 2;

interface WorkerState { index: number; pid?: number; ready: boolean; restarts: number }
interface Client { c: TestClient; session: string; worker: number; user: string }

/** msrpd with `config` (plus the test PKI and database), until every worker is ready. */
async function startMsrpd(work: string, name: string, config: Record<string, unknown>): Promise<{ proc: Proc; msrpsPort: number; httpPort: number }> {
  const [msrpsPort, httpPort, controlPort] = await freePorts(3) as [number, number, number];
  const file = path.join(work, `${name}.yaml`);
  const relay = config['relay'] as Record<string, unknown>;
  await writeFile(file, stringify({
    ...config,
    relay: { listen: [{ host: '127.0.0.1', port: msrpsPort, transport: 'tls' }], publicHost: PUBLIC, publicPort: 2855, aliases: ['127.0.0.1'], ...relay },
    auth: { realms: [{ name: REALM, hosts: [PUBLIC] }] },
    http: { host: '127.0.0.1', port: httpPort, controlPort },
  }));
  const proc = startProcess([path.join(ROOT, 'cmd', 'msrpd.ts'), '--config', file], path.join(work, `${name}.log`), { ...process.env, LOG_LEVEL: 'info' });
  await eventually(async () => {
    if (proc.child.exitCode !== null) throw new Error(`msrpd exited: ${await readFile(proc.logPath, 'utf8')}`);
    const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined);
    return res?.status === 200 && (await res.json() as { workers: WorkerState[] }).workers.every((w) => w.ready);
  }, `${name}: every worker ready`, 60_000);
  return { proc, msrpsPort, httpPort };
}

const workerOfSession = (uri: string): number => Number(/\/(?:r\d+-)?w(\d+)-/.exec(uri)?.[1] ?? 0);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** What every part here runs against: the test PKI, a fresh database with REALM, a work folder, the clients it opened. */
interface Bed { pki: TestPki; db: { url: string; drop: () => Promise<void> }; store: Store; work: string; clients: TestClient[] }

async function openBed(prefix: string): Promise<Bed> {
  const pki = await testPki();
  const db = await freshDatabase(process.env.DATABASE_URL!);
  const work = await mkdtemp(path.join(tmpdir(), prefix));
  const store = await openStore({ url: db.url, logger: pino({ level: 'silent' }) });
  await store.createRealm(REALM);
  return { pki, db, store, work, clients: [] };
}

async function closeBed(bed: Bed | undefined): Promise<void> {
  if (bed === undefined) return;
  for (const c of bed.clients) c.close();
  await bed.store.close();
  await bed.db.drop();
  if (process.env.MSRP_E2E_KEEP !== '1') await rm(bed.work, { recursive: true, force: true });
}

/** `user` of REALM (created when new) connects to `port` and sends its AUTH; the answer as it came. */
async function authAs(bed: Bed, port: number, user: string): Promise<{ c: TestClient; res: Awaited<ReturnType<TestClient['auth']>> }> {
  if ((await bed.store.getUserCredentials(REALM, user)) === undefined) await bed.store.createUser(REALM, user, `${user}-pw`);
  const c = await TestClient.connect({ port, ca: bed.pki.caPem });
  bed.clients.push(c);
  return { c, res: await c.auth(RELAY_URI, user, `${user}-pw`) };
}

async function say(from: Client, to: Client, text: string): Promise<void> {
  const sent = from.c.sendMessage([from.session, to.session, to.c.uri], text);
  assert.equal((await from.c.response(sent.transactionId, 10_000)).status, 200, text);
  const got = await to.c.request('SEND', 10_000);
  to.c.write(buildResponse(got, 200));
  assert.equal(Buffer.concat(got.body).toString(), text);
  assert.deepEqual(got.toPath, [to.c.uri]);
  assert.deepEqual(got.fromPath, [to.session, from.session, from.c.uri], 'paths as on a relay of one process');
}

describe('one relay process with two workers (real PostgreSQL)', { skip, timeout: 300_000 }, () => {
  let bed: Bed;
  let proc: Proc;
  let msrpsPort: number;
  let httpPort: number;
  let userSeq = 0;

  const workers = async (): Promise<WorkerState[]> => ((await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).json()) as { workers: WorkerState[] }).workers;

  async function client(user = `u${userSeq++}`): Promise<Client> {
    const { c, res } = await authAs(bed, msrpsPort, user);
    assert.equal(res.status, 200, `AUTH ${user}: ${res.status} ${res.comment ?? ''}`);
    const session = usePathOf(res);
    return { c, session, worker: workerOfSession(session), user };
  }

  /** Clients until one is on `worker` (the primary hands connections out in turn: a few at most). */
  async function clientOn(worker: number): Promise<Client> {
    for (let i = 0; i < 10; i++) {
      const got = await client();
      if (got.worker === worker) return got;
      got.c.close();
    }
    throw new Error(`no connection landed on worker ${worker} in 10 attempts`);
  }

  before(async () => {
    bed = await openBed('workers-');
    ({ proc, msrpsPort, httpPort } = await startMsrpd(bed.work, 'msrpd', {
      relay: { workers: 2 },
      tls: { dir: bed.pki.named.dir },
      limits: { sessionsPerUser: SESSIONS_PER_USER, streamThresholdBytes: 16384 },
      database: { url: bed.db.url },
      liveSessions: { heartbeatSec: 1, staleAfterSec: 3 },
    }));
  });

  after(async () => {
    for (const c of bed?.clients ?? []) c.close();
    if (proc !== undefined) assert.equal(await proc.stop(20_000), 0, 'SIGTERM: the primary drains the workers and exits 0');
    await closeBed(bed);
  });

  it('connections land on both workers, and clients on different workers exchange messages and a chunked file', async () => {
    const a = await clientOn(0);
    const b = await clientOn(1);
    assert.equal(a.worker, 0);
    assert.equal(b.worker, 1);
    assert.match(b.session, /\/w1-/, 'worker 1 mints ids that name it');
    await say(a, b, 'from worker 0 to worker 1');
    await say(b, a, 'from worker 1 to worker 0');

    // A file in three chunks, each larger than the stream threshold (streamed through the link).
    const file = randomBytes(3 * 50_000);
    const messageId = newMessageId();
    for (let i = 0; i < 3; i++) {
      const part = file.subarray(i * 50_000, (i + 1) * 50_000);
      const sent = a.c.send('SEND', [a.session, b.session, b.c.uri], [
        { name: 'Message-ID', value: messageId },
        { name: 'Byte-Range', value: `${i * 50_000 + 1}-${(i + 1) * 50_000}/${file.length}` },
        { name: 'Content-Type', value: 'application/octet-stream' },
      ], part, [a.c.uri], i < 2 ? '+' : '$');
      assert.equal((await a.c.response(sent.transactionId, 10_000)).status, 200, `chunk ${i}`);
    }
    const parts: Buffer[] = [];
    const chunks: MsrpRequest[] = [];
    while (parts.reduce((n, p) => n + p.length, 0) < file.length) {
      const got = await b.c.request('SEND', 10_000);
      b.c.write(buildResponse(got, 200));
      chunks.push(got);
      parts.push(...got.body);
    }
    assert.equal(sha(Buffer.concat(parts)), sha(file), 'the file arrives whole');
    assert.ok(chunks.every((f) => getHeader(f, 'Message-ID') === messageId));
    assert.equal(chunks[chunks.length - 1]!.continuation, '$');
  });

  it('the limit of sessions per user holds across the workers', async () => {
    const user = `limited${userSeq++}`;
    const held: Client[] = [];
    const workersSeen = new Set<number>();
    // Fill the limit with sessions on both workers (connections alternate between them).
    while (held.length < SESSIONS_PER_USER) {
      const got = await client(user);
      held.push(got);
      workersSeen.add(got.worker);
    }
    assert.equal(workersSeen.size, 2, 'the user\'s sessions are on both workers');
    // Whichever worker the next connection lands on, the user is at the limit.
    for (let i = 0; i < 2; i++) assert.equal((await authAs(bed, msrpsPort, user)).res.status, 403, `attempt ${i}: over the relay-wide limit`);
  });

  it('a killed worker: its sessions end (481 for the peer), the other worker\'s sessions go on, and it is restarted', async () => {
    const a = await clientOn(0);
    const b = await clientOn(1);
    const c = await clientOn(0);
    const d = await clientOn(0);
    await say(a, b, 'before');
    const before = (await workers()).find((w) => w.index === 1)!;
    assert.ok(before.pid !== undefined);
    const closed = new Promise<void>((resolve) => b.c.socket.once('close', () => resolve()));
    process.kill(before.pid, 'SIGKILL');
    await closed;
    // The peer's SEND to the gone session: 481 (the link to worker 1 is gone, or the new worker
    // 1 does not know the session). A SEND written to the link in the instant before worker 0
    // saw it close got its hop-by-hop 200 and then a failure REPORT (RFC 4975 §7.1.2).
    await eventually(async () => {
      const sent = a.c.sendMessage([a.session, b.session, b.c.uri], 'to a dead worker', [{ name: 'Failure-Report', value: 'yes' }]);
      const res = await a.c.response(sent.transactionId, 10_000);
      if (res.status === 200) {
        const report = await a.c.request('REPORT', 40_000);
        assert.match(getHeader(report, 'Status') ?? '', /^000 (408|481)/, 'a failure REPORT follows');
      }
      return res.status === 481;
    }, '481 for a session of the killed worker', 60_000);
    // Worker 0's own sessions are untouched.
    await say(c, d, 'worker 0 goes on');
    const restarted = await waitFor(async () => (await workers()).find((w) => w.index === 1 && w.ready && w.pid !== before.pid), 'worker 1 restarted and ready', 30_000);
    assert.equal(restarted.restarts, before.restarts + 1);
    // And serves again: a new client on worker 1 talks to one on worker 0.
    const e = await clientOn(1);
    await say(c, e, 'to the new worker 1');
    await say(e, c, 'from the new worker 1');
  });

  it('each worker runs with the garbage collector on its own thread (--single-threaded-gc)', async () => {
    const ws = await workers();
    assert.equal(ws.length, 2);
    for (const w of ws) {
      assert.ok(w.pid !== undefined);
      const argv = readFileSync(`/proc/${w.pid}/cmdline`, 'utf8').split('\0');
      assert.ok(argv.includes('--single-threaded-gc'), `worker ${w.index}: ${argv.join(' ')}`);
    }
  });

  it('/metrics on the primary shows the series of both workers, and its own', async () => {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    for (const w of [0, 1]) {
      assert.match(text, new RegExp(`^msrp_relay_ready\\{worker="${w}"\\} 1$`, 'm'), `worker ${w} ready`);
      assert.match(text, new RegExp(`^msrp_relay_sessions\\{worker="${w}"\\} \\d+$`, 'm'), `worker ${w} sessions`);
    }
    const links = [...text.matchAll(/^msrp_relay_worker_links\{direction="outbound",worker="(\d)"\} (\d+)$/gm)];
    assert.ok(links.some((m) => Number(m[2]) >= 1), `worker links in use: ${links.map((m) => m[0]).join(', ')}`);
    assert.match(text, /^msrp_relay_worker_restarts_total 1$/m);
    assert.match(text, /^msrp_relay_workers\{state="running"\} 2$/m);
  });
});

describe('two replicas of two workers each (mesh and workers, real PostgreSQL)', { skip, timeout: 300_000 }, () => {
  let bed: Bed;
  const pods: { proc: Proc; msrpsPort: number; httpPort: number }[] = [];
  let userSeq = 0;

  async function clientOn(pod: number, worker: number): Promise<Client> {
    for (let i = 0; i < 10; i++) {
      const user = `m${userSeq++}`;
      const { c, res } = await authAs(bed, pods[pod]!.msrpsPort, user);
      assert.equal(res.status, 200);
      const session = usePathOf(res);
      if (workerOfSession(session) === worker) {
        assert.match(session, new RegExp(`/r${pod}-`), `pod ${pod} mints its ids`);
        return { c, session, worker, user };
      }
      c.close();
    }
    throw new Error(`no connection landed on worker ${worker} of pod ${pod}`);
  }

  before(async () => {
    bed = await openBed('workers-mesh-');
    const meshPort = await freePort('127.0.1.0');
    for (const k of [0, 1]) {
      pods.push(await startMsrpd(bed.work, `pod-${k}`, {
        relay: { workers: 2 },
        tls: { dir: bed.pki.named.dir },
        database: { url: bed.db.url },
        mesh: { enabled: true, ordinal: k, peerHost: '127.0.1.{ordinal}', listenHost: `127.0.1.${k}`, port: meshPort, tlsDir: bed.pki.mesh.dir },
      }));
    }
  });

  after(async () => {
    for (const c of bed?.clients ?? []) c.close();
    for (const p of pods) assert.equal(await p.proc.stop(20_000), 0);
    await closeBed(bed);
  });

  it('a frame for another pod\'s session reaches its worker: the mesh link lands on either worker of that pod, which passes it on to the owner', async () => {
    // Senders on both workers of pod 0, receivers on both workers of pod 1: whichever worker of
    // pod 1 a sender's mesh link lands on, one of the two receivers is on the other one.
    const senders = [await clientOn(0, 0), await clientOn(0, 1)];
    const receivers = [await clientOn(1, 0), await clientOn(1, 1)];
    for (const from of senders) for (const to of receivers) await say(from, to, `pod 0 worker ${from.worker} to pod 1 worker ${to.worker}`);
    for (const from of receivers) for (const to of senders) await say(from, to, `pod 1 worker ${from.worker} to pod 0 worker ${to.worker}`);
    const text = await (await fetch(`http://127.0.0.1:${pods[1]!.httpPort}/metrics`)).text();
    const links = [...text.matchAll(/^msrp_relay_worker_links\{direction="outbound",worker="\d"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(links >= 1, 'pod 1 passed frames from the mesh on to its other worker');
  });
});

describe('workers that cannot start', { skip, timeout: 120_000 }, () => {
  it('msrpd gives up after three failed starts in a row and exits 1, as one process that cannot start does', async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'workers-fail-'));
    try {
      const [msrpsPort, httpPort, controlPort] = await freePorts(3) as [number, number, number];
      const file = path.join(work, 'msrpd.yaml');
      await writeFile(file, stringify({
        relay: { listen: [{ host: '127.0.0.1', port: msrpsPort, transport: 'tls' }], publicHost: PUBLIC, workers: 2 },
        // No certificate there: every worker fails to start its TLS listener.
        tls: { dir: path.join(work, 'no-such-folder') },
        http: { host: '127.0.0.1', port: httpPort, controlPort },
        database: { url: process.env.DATABASE_URL! },
      }));
      const proc = startProcess([path.join(ROOT, 'cmd', 'msrpd.ts'), '--config', file], path.join(work, 'msrpd.log'), { ...process.env, LOG_LEVEL: 'info' });
      const code = await Promise.race([proc.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
      if (code === 'hung') await proc.stop(1000);
      const log = await readFile(proc.logPath, 'utf8');
      assert.equal(code, 1, log);
      assert.match(log, /exited before it was ready 3 times in a row/);
      assert.match(log, /no-such-folder/, 'the workers said why');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('SIGTERM to a relay of two workers (real PostgreSQL)', { skip, timeout: 120_000 }, () => {
  it('drains every worker: not ready, new AUTHs refused, sessions across workers served until the drain deadline, then exit 0', async () => {
    const bed = await openBed('workers-drain-');
    try {
      const relay = await startMsrpd(bed.work, 'msrpd', { relay: { workers: 2 }, tls: { dir: bed.pki.named.dir }, database: { url: bed.db.url }, drain: { deadlineSec: 4 } });
      let seq = 0;
      const connect = (): ReturnType<typeof authAs> => authAs(bed, relay.msrpsPort, `d${seq++}`);
      const on: (Client | undefined)[] = [undefined, undefined];
      while (on[0] === undefined || on[1] === undefined) {
        const { c, res } = await connect();
        const session = usePathOf(res);
        on[workerOfSession(session)] ??= { c, session, worker: workerOfSession(session), user: '' };
      }
      const [a, b] = on as [Client, Client];
      const exited = relay.proc.exited;
      const t0 = Date.now();
      relay.proc.child.kill('SIGTERM');
      await eventually(async () => (await fetch(`http://127.0.0.1:${relay.httpPort}/readyz`).catch(() => undefined))?.status === 503, 'not ready once draining');
      // Both workers refuse new sessions (connections alternate between them).
      for (let i = 0; i < 2; i++) assert.equal((await connect()).res.status, 403, `new AUTH ${i} during the drain`);
      // The sessions held, on different workers, still reach each other.
      await say(a, b, 'during the drain, worker 0 to worker 1');
      await say(b, a, 'during the drain, worker 1 to worker 0');
      assert.equal(await exited, 0);
      assert.ok(Date.now() - t0 >= 3000, 'the workers waited for the sessions up to the drain deadline');
      assert.match(await readFile(relay.proc.logPath, 'utf8'), /drain timeout: closing the sessions left/);
    } finally {
      await closeBed(bed);
    }
  });
});
