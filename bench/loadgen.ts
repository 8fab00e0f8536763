// Load generator for bench/relay.bench.ts, run as its own process (so the relay under test
// keeps a core to itself as far as 2 cores allow):
//   node bench/loadgen.ts '<json LoadSpec>'
// Prints `{"ready":{}}`, then `{"result": ...}` on stdout, then exits (idle mode: holds its
// sessions until stdin says `exit` or closes).
//
// Both ends of every session pair live here: A sends, B receives and answers 200, so the
// end-to-end delivery time needs no clock sync. Targets: our relay and Kamailio (Digest AUTH,
// MD5 when offered), the minimal forwarder (AUTH answered at once), the raw pipe (no AUTH;
// B connects first and A second, which is how the pipe pairs them).
//
// Modes:
//   rate     `pairs` session pairs, each keeps `window` SENDs (100-byte bodies) in flight from
//            A until B received them; counts deliveries per second after a warm-up.
//   latency  `pairs` pairs, SENDs paced at `rate` per second in total; one-way A→B time per SEND.
//   bulk     one message of `totalBytes` in `chunkBytes` chunks, at most `window` chunks not yet
//            delivered at B (and the sender's socket backpressure); MB/s = 10^6 bytes/s.
//   idle     `sessions` authenticated sessions (one connection each), then hold them.
// With `target.websocket`, every client speaks MSRP over WebSocket (RFC 7977, the `ws`
// package, subprotocol msrp) instead: each frame goes out as one message (a frame written in
// pieces, as bulk does, as one message of several fragments).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import { FrameEndScanner } from '../internal/msrp/frame-ends.ts';
import { computeResponse, ha1, parseAuthParams, splitScheme, type DigestAlgorithm } from '../internal/auth/index.ts';
import { MsrpParser } from '../internal/msrp/parser.ts';
import { workerOf } from '../internal/mesh/ownership.ts';
import { emit, headersOf, percentile, Scanner, serveControl, sleep, type ScannedFrame } from './common.ts';

export interface Target {
  kind: 'ours' | 'forwarder' | 'kamailio' | 'pipe';
  port: number;
  tls: boolean;
  /** The relay URI for AUTH (not for the pipe). */
  relayUri?: string;
  user?: string;
  password?: string;
  /** PEM file of the CA to trust. */
  caFile?: string;
  /** MSRP over WebSocket (wss: with tls, else ws:) on `port`. */
  websocket?: boolean;
}

export interface LoadSpec {
  mode: 'rate' | 'latency' | 'bulk' | 'idle';
  target: Target;
  pairs?: number;
  window?: number;
  bodyBytes?: number;
  warmupMs?: number;
  durationMs?: number;
  rate?: number;
  totalBytes?: number;
  chunkBytes?: number;
  sessions?: number;
  concurrency?: number;
  /**
   * Where each pair's two clients connect when they are not both on `target.port` (replicas
   * of one relay, bench/mesh.bench.ts): pair i's A (sender) connects to `routes[i % n].a` and
   * its B (receiver) to `routes[i % n].b`; both AUTH to `target.relayUri`.
   */
  routes?: { a: number; b: number }[];
  /**
   * Our relay with workers (docs/relay.md "Workers"): B connects again (up to 16 times) until
   * its session is on A's worker, so that no SEND crosses a link between workers.
   */
  sameWorker?: boolean;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
const target = spec.target;
const ca = target.caFile !== undefined ? readFileSync(target.caFile) : undefined;
let tidSeq = 0;
const newTid = (): string => `t${(++tidSeq).toString(36).padStart(7, '0')}`;

/** What a Peer writes its frames to: a TCP/TLS socket, or a WebSocket (one message per frame). */
interface Wire {
  /** The TCP/TLS socket (under the WebSocket for a WebSocket peer). */
  readonly socket: Socket;
  write(data: string | Buffer, encoding?: BufferEncoding): boolean;
  cork(): void;
  uncork(): void;
}

class SocketWire implements Wire {
  readonly socket: Socket;
  constructor(socket: Socket) {
    this.socket = socket;
  }
  write(data: string | Buffer, encoding: BufferEncoding = 'utf8'): boolean {
    return typeof data === 'string' ? this.socket.write(data, encoding) : this.socket.write(data);
  }
  cork(): void {
    this.socket.cork();
  }
  uncork(): void {
    this.socket.uncork();
  }
}

/** A WebSocket carrying MSRP: the frames in what is written are found (FrameEndScanner) and each sent as one message. */
class WebSocketWire implements Wire {
  readonly socket: Socket;
  readonly #ws: WebSocket;
  readonly #scanner = new FrameEndScanner();
  readonly #ends: number[] = [];

  constructor(ws: WebSocket, socket: Socket) {
    this.#ws = ws;
    this.socket = socket;
  }

  write(data: string | Buffer, encoding: BufferEncoding = 'utf8'): boolean {
    const b = typeof data === 'string' ? Buffer.from(data, encoding) : data;
    this.#scanner.scan(b, this.#ends);
    let start = 0;
    for (const end of this.#ends) {
      this.#send(start === 0 && end === b.length ? b : b.subarray(start, end), true);
      start = end;
    }
    if (start < b.length) this.#send(b.subarray(start), false);
    return !this.socket.writableNeedDrain;
  }

  #send(piece: Buffer, fin: boolean): void {
    this.#ws.send(piece, { binary: true, fin, compress: false });
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }
}

/** One client connection: a socket, a frame scanner with a swappable handler, pending AUTH transactions. */
class Peer {
  readonly socket: Socket;
  readonly wire: Wire;
  readonly uri: string;
  /** The relay's Use-Path URI for this peer's session. */
  sid = '';
  onFrame: (f: ScannedFrame) => void;
  /** Called after each read was scanned (flush batched writes here). */
  afterRead: () => void = () => {};
  readonly #pending = new Map<string, (f: { status: number; headers: (n: string) => string[] }) => void>();
  readonly scanner: Scanner;
  /** Received bytes (a WebSocket peer: one message); default: the frame scanner. */
  onData: (d: Buffer) => void;
  errors = 0;

  constructor(socket: Socket, ws?: WebSocket) {
    this.socket = socket;
    this.uri = ws !== undefined
      ? `msrps://${randomBytes(5).toString('hex')}.invalid:2855/${randomBytes(6).toString('hex')};ws`
      : `${target.tls ? 'msrps' : 'msrp'}://127.0.0.1:${socket.localPort}/${randomBytes(6).toString('hex')};tcp`;
    this.onFrame = (f) => this.#setup(f);
    this.scanner = new Scanner((f) => this.onFrame(f));
    this.onData = (d) => this.scanner.push(d);
    if (ws === undefined) {
      this.wire = new SocketWire(socket);
      socket.on('data', (d: Buffer) => {
        this.onData(d);
        this.afterRead();
      });
    } else {
      this.wire = new WebSocketWire(ws, socket);
      ws.on('message', (d: Buffer) => this.onData(d));
      // After ws's own 'data' listener (added before 'open'): once the messages of one read were handled.
      socket.on('data', () => this.afterRead());
      ws.on('error', () => {
        this.errors++;
      });
    }
    socket.on('error', () => {
      this.errors++;
    });
  }

  static connect(port = target.port): Promise<Peer> {
    if (target.websocket === true) {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${target.tls ? 'wss' : 'ws'}://127.0.0.1:${port}/`, ['msrp'], {
          perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, ...(target.tls ? { ca, servername: 'localhost' } : {}),
        });
        let socket: Socket | undefined;
        ws.once('upgrade', (res) => (socket = res.socket));
        ws.once('open', () => {
          socket!.setNoDelay(true);
          resolve(new Peer(socket!, ws));
        });
        ws.once('error', reject);
      });
    }
    return new Promise((resolve, reject) => {
      const s: Socket = target.tls
        ? tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(new Peer(s)))
        : netConnect({ host: '127.0.0.1', port }, () => resolve(new Peer(s)));
      s.setNoDelay(true);
      s.once('error', reject);
    });
  }

  #setup(f: ScannedFrame): void {
    if (f.status === 0) return;
    const w = this.#pending.get(f.tid);
    if (w === undefined) return;
    this.#pending.delete(f.tid);
    // Copy what the AUTH code needs: the buffer is only valid during the callback.
    const heads = new Map<string, string[]>();
    for (const n of ['WWW-Authenticate', 'Use-Path']) heads.set(n, headersOf(f, n));
    w({ status: f.status, headers: (n) => heads.get(n) ?? [] });
  }

  #transact(extra: string): Promise<{ status: number; headers: (n: string) => string[] }> {
    const tid = newTid();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to AUTH ${tid}`)), 30_000);
      this.#pending.set(tid, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.wire.write(`MSRP ${tid} AUTH\r\nTo-Path: ${target.relayUri}\r\nFrom-Path: ${this.uri}\r\n${extra}-------${tid}$\r\n`, 'latin1');
    });
  }

  /** RFC 4976 §5 AUTH; answers a Digest challenge (MD5 when offered, else the first); keeps the Use-Path URI. */
  async auth(): Promise<void> {
    let res = await this.#transact('Expires: 3600\r\n');
    if (res.status === 401) {
      const challenges = res.headers('WWW-Authenticate').map((v) => splitScheme(v)).flatMap((s) => (s.ok && s.value.scheme.toLowerCase() === 'digest' ? [parseAuthParams(s.value.rest)] : []))
        .flatMap((p) => (p.ok ? [p.value] : []));
      const chosen = challenges.find((c) => (c.get('algorithm') ?? 'MD5').toUpperCase() === 'MD5') ?? challenges[0];
      if (chosen === undefined) throw new Error('401 without a Digest challenge');
      const algorithm = (chosen.get('algorithm') ?? 'MD5') as DigestAlgorithm;
      const realm = chosen.get('realm') ?? '';
      const nonce = chosen.get('nonce') ?? '';
      const opaque = chosen.get('opaque');
      const cnonce = randomBytes(8).toString('hex');
      const uri = target.relayUri!;
      const response = computeResponse({ algorithm, ha1: ha1(algorithm.startsWith('SHA-256') ? 'SHA-256' : 'MD5', target.user!, realm, target.password!), nonce, cnonce, nc: '00000001', qop: 'auth', method: 'AUTH', uri });
      const fields = [`username="${target.user}"`, `realm="${realm}"`, `nonce="${nonce}"`, `uri="${uri}"`, `response="${response}"`,
        `algorithm=${algorithm}`, 'qop=auth', 'nc=00000001', `cnonce="${cnonce}"`];
      if (opaque !== undefined) fields.push(`opaque="${opaque}"`);
      res = await this.#transact(`Authorization: Digest ${fields.join(', ')}\r\nExpires: 3600\r\n`);
    }
    if (res.status !== 200) throw new Error(`AUTH failed: ${res.status}`);
    const use = res.headers('Use-Path')[0];
    if (use === undefined) throw new Error('200 to AUTH without Use-Path');
    this.sid = use.trim().split(/\s+/)[0]!;
  }

  close(): void {
    this.socket.destroy();
  }
}

interface Pair {
  a: Peer;
  b: Peer;
  toPath: string;
  outstanding: number;
  delivered: number;
}

async function mapLimit<T>(n: number, limit: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

async function makePair(i = 0): Promise<Pair> {
  const route = spec.routes?.[i % spec.routes.length];
  if (target.kind === 'pipe') {
    const b = await Peer.connect();
    await sleep(20); // the pipe pairs connections in the order it accepted them
    const a = await Peer.connect();
    return { a, b, toPath: b.uri, outstanding: 0, delivered: 0 };
  }
  const [a, first] = await Promise.all([Peer.connect(route?.a), Peer.connect(route?.b)]);
  await Promise.all([a.auth(), first.auth()]);
  let b = first;
  for (let tries = 0; spec.sameWorker === true && workerOfSid(b.sid) !== workerOfSid(a.sid) && tries < 16; tries++) {
    b.close();
    b = await Peer.connect(route?.b);
    await b.auth();
  }
  return { a, b, toPath: `${a.sid} ${b.sid} ${b.uri}`, outstanding: 0, delivered: 0 };
}

/** B's hop-by-hop 200 to the relay (To-Path: the relay's session URI for B). */
function ok200(b: Peer, tid: string): string {
  return `MSRP ${tid} 200 OK\r\nTo-Path: ${b.sid === '' ? b.uri : b.sid}\r\nFrom-Path: ${b.uri}\r\n-------${tid}$\r\n`;
}

function smallSend(p: Pair, tid: string, body: string): string {
  return `MSRP ${tid} SEND\r\nTo-Path: ${p.toPath}\r\nFrom-Path: ${p.a.uri}\r\nMessage-ID: ${tid}\r\nByte-Range: 1-${body.length}/${body.length}\r\nContent-Type: text/plain\r\n\r\n${body}\r\n-------${tid}$\r\n`;
}

/** Counts A's responses: 200 fine, anything else (and REPORTs) an error. */
function countA(p: Pair, errors: { n: number }): void {
  p.a.onFrame = (f) => {
    if (f.status !== 200) errors.n++;
  };
}

async function rate(): Promise<unknown> {
  const window = spec.window ?? 32;
  const bodyBytes = spec.bodyBytes ?? 100;
  const pairs = await mapLimit(spec.pairs ?? 10, 20, (i) => makePair(i));
  const errors = { n: 0 };
  let stopped = false;
  let total = 0;
  for (const p of pairs) {
    countA(p, errors);
    const body = 'x'.repeat(bodyBytes);
    const refill = (): void => {
      if (stopped) return;
      let out = '';
      while (p.outstanding < window) {
        p.outstanding++;
        out += smallSend(p, newTid(), body);
      }
      if (out !== '') p.a.wire.write(out, 'latin1');
    };
    let answers = '';
    p.b.onFrame = (f) => {
      if (f.method !== 'SEND') return;
      answers += ok200(p.b, f.tid);
      p.outstanding--;
      p.delivered++;
      total++;
    };
    p.b.afterRead = () => {
      if (answers !== '') {
        p.b.wire.write(answers, 'latin1');
        answers = '';
      }
      refill();
    };
    refill();
  }
  await sleep(spec.warmupMs ?? 500);
  const c0 = total;
  const t0 = performance.now();
  emit({ mark: 'start' }); // the orchestrator samples the relay's CPU time here and at 'end'
  await sleep(spec.durationMs ?? 3000);
  const c1 = total;
  const t1 = performance.now();
  emit({ mark: 'end' });
  stopped = true;
  await sleep(100);
  for (const p of pairs) {
    p.a.close();
    p.b.close();
  }
  return { sendsPerSec: ((c1 - c0) * 1000) / (t1 - t0), delivered: c1 - c0, errors: errors.n, pairs: pairs.length, crossWorkerPairs: pairs.filter(crossWorker).length };
}

/** A pair whose two sessions are on different workers of our relay (docs/relay.md "Workers"): each SEND takes the link between them. */
function crossWorker(p: Pair): boolean {
  return workerOfSid(p.a.sid) !== workerOfSid(p.b.sid);
}

/** The worker that owns the session of a Use-Path URI (internal/mesh/ownership.ts). */
function workerOfSid(uri: string): number {
  return workerOf(/\/([^/;]+);tcp$/.exec(uri)?.[1] ?? '');
}

async function latency(): Promise<unknown> {
  const bodyBytes = spec.bodyBytes ?? 100;
  const perSec = spec.rate ?? 1000;
  const warmupMs = spec.warmupMs ?? 500;
  const durationMs = spec.durationMs ?? 3000;
  const pairs = await mapLimit(spec.pairs ?? 10, 20, (i) => makePair(i));
  const maxN = Math.ceil(((warmupMs + durationMs) / 1000) * perSec) + 10;
  const sentAt = new Float64Array(maxN);
  const lat: number[] = [];
  const errors = { n: 0 };
  let measureFrom = Infinity;
  let received = 0;
  for (const p of pairs) {
    countA(p, errors);
    let answers = '';
    p.b.onFrame = (f) => {
      if (f.method !== 'SEND') return;
      const now = performance.now();
      const bodyAt = f.buf.indexOf('\r\n\r\n', f.lineEnd, 'latin1') + 4;
      const seq = parseInt(f.buf.toString('latin1', bodyAt, bodyAt + 12), 36);
      if (seq >= measureFrom) lat.push(now - sentAt[seq]!);
      received++;
      answers += ok200(p.b, f.tid);
    };
    p.b.afterRead = () => {
      if (answers !== '') {
        p.b.wire.write(answers, 'latin1');
        answers = '';
      }
    };
  }
  const pad = 'x'.repeat(Math.max(0, bodyBytes - 12));
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + warmupMs + durationMs;
  // Paced sending: every ~1 ms, send what is due so far (bounded by the end time).
  while (performance.now() < end) {
    const due = Math.min(maxN, Math.floor(((performance.now() - t0) / 1000) * perSec));
    while (sent < due) {
      if (measureFrom === Infinity && performance.now() - t0 >= warmupMs) measureFrom = sent;
      const p = pairs[sent % pairs.length]!;
      const body = sent.toString(36).padStart(12, '0') + pad;
      sentAt[sent] = performance.now();
      p.a.wire.write(smallSend(p, newTid(), body), 'latin1');
      sent++;
    }
    await sleep(1);
  }
  // Bounded wait for the last ones.
  for (let i = 0; i < 100 && received < sent; i++) await sleep(20);
  for (const p of pairs) {
    p.a.close();
    p.b.close();
  }
  lat.sort((x, y) => x - y);
  return {
    p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), p999Ms: percentile(lat, 99.9), maxMs: lat.at(-1) ?? NaN,
    samples: lat.length, sent, received, achievedPerSec: (sent * 1000) / (performance.now() - t0), errors: errors.n,
  };
}

async function bulk(): Promise<unknown> {
  const total = spec.totalBytes ?? 256 * 1024 * 1024;
  const chunk = spec.chunkBytes ?? 1024 * 1024;
  const window = spec.window ?? 4;
  const p = await makePair();
  const errors = { n: 0 };
  countA(p, errors);
  // B: our streaming parser (bodies are never joined), 200 per chunk, bytes counted.
  let got = 0;
  let chunksDone = 0;
  let tid = '';
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  let onDelivered: () => void = () => {};
  const parser = new MsrpParser({
    onHead: (h) => {
      tid = h.transactionId;
    },
    onBody: (seg) => {
      got += seg.length;
    },
    onEnd: () => {
      p.b.wire.write(ok200(p.b, tid), 'latin1');
      chunksDone++;
      onDelivered();
      if (got >= total) done();
    },
    onFrame: (f) => {
      if (f.kind !== 'request') return;
      for (const s of f.body) got += s.length;
      p.b.wire.write(ok200(p.b, f.transactionId), 'latin1');
      chunksDone++;
      onDelivered();
      if (got >= total) done();
    },
    onError: () => {
      errors.n++;
    },
  }, { streamBodies: true, byteRangeCheck: 'off' });
  p.b.onData = (d) => parser.push(d);

  // Body bytes: letters only, so no end-line can appear inside.
  const body = Buffer.alloc(chunk);
  const rnd = randomBytes(chunk);
  for (let i = 0; i < chunk; i++) body[i] = 97 + (rnd[i]! % 26);
  const mid = randomBytes(8).toString('hex');
  const n = Math.ceil(total / chunk);
  let sentChunks = 0;
  const t0 = performance.now();
  const sock = p.a.wire;
  let waitingDrain = false;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (waitingDrain) return;
      while (sentChunks < n && sentChunks - chunksDone < window) {
        const start = sentChunks * chunk;
        const len = Math.min(chunk, total - start);
        const t = newTid();
        const last = sentChunks === n - 1;
        sock.cork();
        sock.write(`MSRP ${t} SEND\r\nTo-Path: ${p.toPath}\r\nFrom-Path: ${p.a.uri}\r\nMessage-ID: ${mid}\r\nByte-Range: ${start + 1}-${start + len}/${total}\r\nContent-Type: application/octet-stream\r\n\r\n`, 'latin1');
        sock.write(len === chunk ? body : body.subarray(0, len));
        const more = sock.write(`\r\n-------${t}${last ? '$' : '+'}\r\n`, 'latin1');
        sock.uncork();
        sentChunks++;
        if (!more) {
          waitingDrain = true;
          sock.socket.once('drain', () => {
            waitingDrain = false;
            pump();
          });
          return;
        }
      }
      if (sentChunks === n) resolve();
    };
    onDelivered = pump;
    pump();
  });
  // Bounded: give up after 5 minutes.
  await Promise.race([finished, sleep(300_000)]);
  const ms = performance.now() - t0;
  p.a.close();
  p.b.close();
  return { MBps: got / 1e6 / (ms / 1000), bytes: got, ms, chunks: chunksDone, errors: errors.n };
}

async function idle(): Promise<unknown> {
  const n = spec.sessions ?? 10_000;
  const t0 = performance.now();
  const peers = await mapLimit(n, spec.concurrency ?? 50, async () => {
    const p = await Peer.connect();
    if (target.kind !== 'pipe') await p.auth();
    return p;
  });
  const ms = performance.now() - t0;
  // Held until the orchestrator says `exit` (serveControl) or closes stdin.
  return { sessions: peers.length, setupMs: ms, keep: peers.length };
}

serveControl({});
const run = { rate, latency, bulk, idle }[spec.mode];
run().then((result) => {
  emit({ result });
  if (spec.mode !== 'idle') process.exit(0);
}, (err: Error) => {
  emit({ mark: 'error' }); // a rate run's orchestrator waits for marks first
  emit({ result: { error: err.message } });
  process.exit(1);
});
