// npm run bench:chat — the RFC 7701 switch on loopback: a room of 200 participants, 50
// public messages per second coming in (from 10 senders in turn), each fanned out to the
// 199 others. Reports deliveries per second and the delivery latency (sender's write to a
// recipient's parsed end-line, same process clock), then the same run with one participant
// that stops reading, to show that a slow reader does not slow the room (outbox.ts).
// Prints a table, then one JSON line. Never gates CI on absolute figures (docs/architecture.md §6.4).
import { connect, type Socket } from 'node:net';
import pino from 'pino';
import { formatCpim } from '../internal/msrp/cpim.ts';
import { MsrpParser } from '../internal/msrp/parser.ts';
import { toBuffers } from '../internal/msrp/serializer.ts';
import { newMessageId, newSessionId, newTransactionId } from '../internal/msrp/transaction.ts';
import { ChatSwitch, startChatMsrpListener } from '../internal/chat/switch/switch.ts';
import type { Room } from '../internal/chat/switch/room.ts';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const PARTICIPANTS = Number(process.env['PARTICIPANTS'] ?? 200);
const RATE = Number(process.env['RATE'] ?? 50);
const SECONDS = Number(process.env['SECONDS'] ?? 5);
const SENDERS = 10;
const ROOM = 'sip:bench@chat.example.com';

interface PeerSpec {
  uri: string;
  focusUri: string;
  sipUri: string;
}

interface Peer extends PeerSpec {
  socket: Socket;
  latencies: number[];
  received: number;
}

interface WorkerResult {
  latencies: number[];
  received: number;
  elapsedSec: number;
}

// Wall-clock milliseconds that mean the same in both threads (performance.now() does not).
const now = (): number => performance.timeOrigin + performance.now();

/** The participants' side, in a worker thread so their parsing does not share the switch's event loop. */
async function participants(port: number, specs: PeerSpec[], slowReader: boolean): Promise<WorkerResult> {
  const peers: Peer[] = [];
  for (const spec of specs) {
    const socket = await new Promise<Socket>((res, rej) => {
      const s = connect({ host: '127.0.0.1', port }, () => res(s));
      s.once('error', rej);
    });
    socket.on('error', () => undefined);
    const peer: Peer = { ...spec, socket, latencies: [], received: 0 };
    const parser = new MsrpParser({
      onFrame: (f) => {
        if (f.kind !== 'request' || f.method !== 'SEND' || f.body.length === 0) return;
        peer.received++;
        const text = f.body.length === 1 ? f.body[0]!.toString('latin1') : Buffer.concat(f.body).toString('latin1');
        const m = /t=([\d.]+);/.exec(text);
        if (m !== null) peer.latencies.push(now() - Number(m[1]));
      },
    });
    socket.on('data', (c: Buffer) => parser.push(c));
    write(peer, []); // the empty SEND that binds the session (RFC 4975 §5.4)
    peers.push(peer);
  }
  await new Promise((r) => setTimeout(r, 300));
  const slow = slowReader ? peers[peers.length - 1]! : undefined;
  slow?.socket.pause();
  const readers = peers.filter((p) => p !== slow);
  for (const p of readers) {
    p.received = 0;
    p.latencies = [];
  }
  const total = RATE * SECONDS;
  const t0 = performance.now();
  for (let seq = 0; seq < total; seq++) {
    const wait = t0 + (seq * 1000) / RATE - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sendMessage(peers[seq % SENDERS]!, seq);
  }
  // Every reader gets every message but its own.
  const expected = total * readers.length - total;
  const deadline = performance.now() + 10_000;
  const got = () => readers.reduce((n, p) => n + p.received, 0);
  while (got() < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const elapsedSec = (performance.now() - t0) / 1000;
  for (const p of peers) p.socket.destroy();
  return { latencies: readers.flatMap((p) => p.latencies), received: got(), elapsedSec };
}

function write(p: Peer, headers: { name: string; value: string }[], body?: Buffer): void {
  p.socket.write(Buffer.concat(toBuffers({
    kind: 'request', method: 'SEND', transactionId: newTransactionId(), toPath: [p.focusUri], fromPath: [p.uri],
    headers, body: body === undefined ? [] : [body], continuation: '$',
  })));
}

function sendMessage(p: Peer, seq: number): void {
  const body = formatCpim({
    from: { uri: p.sipUri }, to: [{ uri: ROOM }], contentType: 'text/plain',
    content: `t=${now().toFixed(3)}; message ${seq} ${'x'.repeat(200)}`,
  });
  write(p, [
    { name: 'Message-ID', value: newMessageId() },
    { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
    { name: 'Failure-Report', value: 'no' },
    { name: 'Content-Type', value: 'message/cpim' },
  ], body);
}

const pct = (sorted: number[], q: number) => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;

async function run(slowReader: boolean): Promise<{ deliveriesPerSec: number; p50: number; p99: number; max: number; slowRemoved: boolean; slowQueued: number }> {
  const sw = new ChatSwitch({ publicHost: '127.0.0.1', logger: pino({ level: 'silent' }) });
  const listener = await startChatMsrpListener(sw, { hosts: ['127.0.0.1'], port: 0 });
  const room: Room = sw.createRoom({ uri: ROOM, policy: { maxParticipants: PARTICIPANTS + 10, historySize: 0, notices: false, messagesPerSec: 0, bytesPerSec: 0 } });
  const specs: PeerSpec[] = [];
  for (let i = 0; i < PARTICIPANTS; i++) {
    const uri = `msrp://p${i}.invalid:9/${newSessionId()};tcp`;
    const sipUri = `sip:user${i}@example.com`;
    const r = room.admit({ sipUri, remotePath: [uri] });
    if (!r.ok) throw new Error(r.message);
    specs.push({ uri, focusUri: r.localUri, sipUri });
  }
  let slowRemoved = false;
  room.onChange((e) => {
    if (e.type === 'device-left' && e.reason === 'slow-reader') slowRemoved = true;
  });
  let slowQueued = 0;
  const sampler = setInterval(() => {
    const d = room.participants().find((p) => p.sipUri === specs[specs.length - 1]!.sipUri)?.devices[0];
    slowQueued = Math.max(slowQueued, d?.queuedBytes ?? 0);
  }, 100);
  const before = sw.deliveries;
  const worker = new Worker(new URL(import.meta.url), { workerData: { port: listener.port, specs, slowReader } });
  const result = await new Promise<WorkerResult>((res, rej) => {
    worker.once('message', (m: WorkerResult) => res(m));
    worker.once('error', rej);
  });
  await worker.terminate();
  clearInterval(sampler);
  const deliveries = sw.deliveries - before;
  sw.close();
  listener.close();
  const lat = result.latencies.sort((a, b) => a - b);
  return { deliveriesPerSec: deliveries / result.elapsedSec, p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: lat[lat.length - 1] ?? NaN, slowRemoved, slowQueued };
}

if (!isMainThread) {
  const { port, specs, slowReader } = workerData as { port: number; specs: PeerSpec[]; slowReader: boolean };
  parentPort!.postMessage(await participants(port, specs, slowReader));
} else {
const normal = await run(false);
const withSlow = await run(true);
const rows = [
  ['scenario', 'deliveries/s', 'p50 ms', 'p99 ms', 'max ms', 'slow reader'],
  [`${PARTICIPANTS} readers, ${RATE} msg/s in`, normal.deliveriesPerSec.toFixed(0), normal.p50.toFixed(2), normal.p99.toFixed(2), normal.max.toFixed(2), '-'],
  ['same, 1 reader stopped', withSlow.deliveriesPerSec.toFixed(0), withSlow.p50.toFixed(2), withSlow.p99.toFixed(2), withSlow.max.toFixed(2),
    withSlow.slowRemoved ? 'removed (queue overflow)' : `still in, max ${withSlow.slowQueued} B queued`],
];
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
console.log(JSON.stringify({ deliveriesPerSec: Math.round(normal.deliveriesPerSec), p99Ms: Number(normal.p99.toFixed(2)), p99MsWithSlowReader: Number(withSlow.p99.toFixed(2)) }));
}
