// Relay benchmark: `node bench/relay.bench.ts [--quick] [--profile]` (npm run bench:relay).
//
// One invocation on loopback compares, each in its own process:
//   (a) our relay (bench/ours.ts → internal/relay startRelay, Digest AUTH, TCP + TLS);
//   (b) a minimal Node forwarder (bench/forwarder.ts: head, path rewrite, hop 200, forward);
//   (c) a raw socket pipe (bench/pipe.ts: bytes in → bytes out), the physical limit for bulk;
//   (d) Kamailio 5.6's msrp relay (e2e/kamailio), when installed.
// The load generator (bench/loadgen.ts) runs in separate processes, one per measurement,
// holding both ends of every session pair. Measured:
//   - small SENDs (100-byte bodies) per second, window 32 per pair, 1/10/100 pairs, TCP and TLS;
//   - one-way latency p50/p99 at a fixed 1,000 SEND/s over TCP (10 pairs);
//   - bulk MB/s of one large message over TLS (1 MiB chunks: ours vs pipe; 8 KB chunks: ours,
//     Kamailio and pipe, Kamailio refusing frames above ~14 KB);
//   - memory per idle authenticated TLS session: relay RSS before and with N sessions, each
//     taken after a memory-reducing full GC (bench/common.ts `mem`), in both processes alike:
//     V8 otherwise keeps its young generation at the size the connection burst grew it to,
//     which is not memory the sessions hold.
//   - workers (docs/relay.md "Workers"): small SENDs per second through one relay process of 1,
//     2 and 4 worker processes (bench/ours.ts `workers`), TLS and TCP, 20 pairs from two load
//     generator processes at once, with the share of pairs whose two sessions sit on different
//     workers (each of their SENDs crosses the link between workers) and the cores in use, and
//     TLS again with both ends of every pair on one worker (no SEND crosses a link: the upper
//     bound); `--only workers` runs just this part.
// Prints a table with ratios, then as its very last line one JSON object (keys below).
// `--profile` instead runs our relay under `node --cpu-prof` in the small-SEND case (10 pairs,
// TCP) and prints the hottest functions by self time.
// Figures are informative only (docs/architecture.md §6.4): compare ratios within one run, never absolute
// times across machines; on a loaded machine every figure is noisy.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { kamailioAvailable, startKamailio, type KamailioRelay } from '../e2e/kamailio/kamailio.ts';
import { testPki } from '../internal/transport/testcerts.ts';
import { BENCH_PASSWORD, BENCH_REALM, BENCH_USER, rateRun, runNode, spawnNode, sleep, type Child } from './common.ts';
import type { LoadSpec, Target } from './loadgen.ts';

const here = import.meta.dirname;
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const PROFILE = argv.includes('--profile');
const ONLY = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
if (ONLY !== undefined && ONLY !== 'workers') throw new Error(`--only ${ONLY}: only "workers" is known`);

const C = QUICK
  ? { durationMs: 1000, warmupMs: 300, pairs: [1, 10], repeat: 1, latencyMs: 1500, bulkBig: 64 << 20, bulkSmall: 8 << 20, idle: 1000 }
  : { durationMs: 3000, warmupMs: 500, pairs: [1, 10, 100], repeat: 2, latencyMs: 3000, bulkBig: 256 << 20, bulkSmall: 32 << 20, idle: 10_000 };

const FD_LIMIT = 20_000; // the hard limit on this machine kind; the child raises its soft limit to it (or to its own hard limit)

type Kind = 'ours' | 'forwarder' | 'kamailio' | 'pipe';

const pki = await testPki();
const certDir = pki.server.dir;
const caFile = join(certDir, 'ca.crt');
const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

function startChild(kind: 'ours' | 'forwarder' | 'pipe', nodeFlags: string[] = [], extra: Record<string, unknown> = {}): Promise<Child> {
  return spawnNode([...nodeFlags, '--expose-gc', join(here, `${kind}.ts`), JSON.stringify({ certDir, ...extra })], { fdLimit: FD_LIMIT });
}

interface Endpoint {
  tcpPort: number;
  tlsPort: number;
  uriTcp?: string;
  uriTls?: string;
}

function targetOf(kind: Kind, ep: Endpoint, tls: boolean): Target {
  return {
    kind, tls, port: tls ? ep.tlsPort : ep.tcpPort, caFile,
    ...(kind !== 'pipe' ? { relayUri: tls ? ep.uriTls! : ep.uriTcp!, user: BENCH_USER, password: BENCH_PASSWORD } : {}),
  };
}

async function load<T>(s: LoadSpec): Promise<T & { error?: string }> {
  return runNode<T & { error?: string }>([join(here, 'loadgen.ts'), JSON.stringify(s)], { fdLimit: FD_LIMIT, timeoutMs: 400_000 });
}

// ---------------------------------------------------------------------------------------------
if (PROFILE) {
  const dir = await mkdtemp(join(tmpdir(), 'msrp-relay-prof-'));
  const ours = await startChild('ours', ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const ep = ours.ready as unknown as Endpoint;
  for (const tls of [false, true]) {
    const r = await load<{ sendsPerSec: number }>({ mode: 'rate', target: targetOf('ours', ep, tls), pairs: 10, window: 32, warmupMs: 500, durationMs: QUICK ? 2000 : 5000 });
    log(`profiled run ${tls ? 'TLS' : 'TCP'}: ${Math.round(r.sendsPerSec)} SEND/s (under the profiler)`);
  }
  await ours.stop(30_000);
  const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`);
  const { topSelf } = await import('./cpuprofile.ts');
  const prof = JSON.parse(await readFile(join(dir, file), 'utf8')) as Parameters<typeof topSelf>[0];
  const { total, byFunction, byFile } = topSelf(prof, 30);
  console.log(`\nCPU profile of our relay (small SENDs, 10 pairs, TCP then TLS), ${(total / 1000).toFixed(0)} ms sampled: ${join(dir, file)}`);
  console.log('\nself time by function');
  for (const r of byFunction) console.log(`${r.pct.toFixed(1).padStart(5)}%  ${r.name}`);
  console.log('\nself time by file');
  for (const r of byFile.slice(0, 15)) console.log(`${r.pct.toFixed(1).padStart(5)}%  ${r.name}`);
  process.exit(0);
}

// --- workers: one relay process of 1, 2 and 4 worker processes --------------------------------
const WORKER_COUNTS = [1, 2, 4];
const WORKER_GENS = 2;
const WORKER_PAIRS = 20;
interface WorkersRun { sendsPerSec: number; crossWorkerPairs: number; relayCores: number | null; cpuUsPerSend: number | null; loadgenCores: number | null; errors: number }
/** tls and tcp: pairs wherever the relay put them; local: TLS with both ends of every pair on one worker (loadgen sameWorker). */
interface WorkersResult { tls: Map<number, WorkersRun | null>; tcp: Map<number, WorkersRun | null>; local: Map<number, WorkersRun | null> }

async function workersRuns(): Promise<WorkersResult> {
  const result: WorkersResult = { tls: new Map(), tcp: new Map(), local: new Map() };
  // Interleaved rounds (1, 2, 4, 1, 2, 4, …), best of them per count: the machine's other work moves every figure.
  for (let round = 0; round < C.repeat; round++) {
    for (const n of WORKER_COUNTS) {
      const relay = await startChild('ours', [], { workers: n });
      try {
        const ep = relay.ready as unknown as Endpoint & { pids?: number[] };
        const pids = [relay.pid, ...(ep.pids ?? [])];
        const kinds = n === 1 ? (['tls', 'tcp'] as const) : (['tls', 'tcp', 'local'] as const);
        for (const kind of kinds) {
          const tls = kind !== 'tcp';
          // Two load generators at once (each a process of its own, half the pairs each): one alone would be the bottleneck.
          const runs = await Promise.all(Array.from({ length: WORKER_GENS }, () => rateRun({
            mode: 'rate', target: targetOf('ours', ep, tls), pairs: WORKER_PAIRS / WORKER_GENS, window: 32, bodyBytes: 100, warmupMs: C.warmupMs, durationMs: C.durationMs,
            ...(kind === 'local' ? { sameWorker: true } : {}),
          }, pids, { fdLimit: FD_LIMIT })));
          const failed = runs.find((r) => r.error !== undefined);
          const run: WorkersRun | null = failed !== undefined ? null : {
            sendsPerSec: runs.reduce((a, r) => a + r.sendsPerSec, 0),
            crossWorkerPairs: runs.reduce((a, r) => a + (r.crossWorkerPairs ?? 0), 0),
            // The generators' windows overlap all but their start-up: the first one's figures stand for the relay's.
            relayCores: runs[0]!.cpuCores,
            // Relay CPU (primary and workers) per delivered SEND of both generators: steadier than the rates on a shared machine.
            cpuUsPerSend: runs[0]!.cpuCores === null ? null : (runs[0]!.cpuCores * 1e6) / runs.reduce((a, r) => a + r.sendsPerSec, 0),
            loadgenCores: runs.reduce((a, r) => a + (r.loadgenCores ?? 0), 0),
            errors: runs.reduce((a, r) => a + r.errors, 0),
          };
          // One worker: every pair is local already.
          const m = result[kind];
          if (n === 1 && kind === 'tls') result.local.set(1, run);
          const prev = m.get(n);
          if (run !== null && run.sendsPerSec > (prev?.sendsPerSec ?? 0)) m.set(n, run);
          else if (prev === undefined) m.set(n, run);
          log(`  workers ${n} ${kind === 'local' ? 'TLS, pairs on one worker' : tls ? 'TLS' : 'TCP'}: ${run === null ? `failed (${failed?.error ?? ''})` : `${Math.round(run.sendsPerSec)} SEND/s, ${run.crossWorkerPairs}/${WORKER_PAIRS} pairs across workers, relay ${fmt(run.relayCores, 2)} cores (${fmt(run.cpuUsPerSend, 1)} µs/SEND), load generators ${fmt(run.loadgenCores, 2)} cores${run.errors > 0 ? `, ${run.errors} errors` : ''}`}`);
        }
      } finally {
        await relay.stop();
      }
    }
  }
  return result;
}

// Declared here, not with the report below: the workers part (`--only workers`) prints before it.
function round(v: number | null | undefined, d = 2): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(d));
}

function fmt(v: number | null | undefined, digits = 0): string {
  return v === null || v === undefined ? 'n/a' : v.toFixed(digits);
}

function workersTable(w: WorkersResult): string[] {
  const out = [`One relay process of several workers: small SENDs per second (${WORKER_PAIRS} pairs from ${WORKER_GENS} load generator processes, window 32)`];
  const widths = [8, 10, 8, 10, 8, 12, 12, 12, 12, 14, 8];
  const pad = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  out.push(pad(['workers', 'TLS', 'vs 1', 'TCP', 'vs 1', 'relay cores', 'µs/SEND TLS', 'µs/SEND TCP', 'across (TLS)', 'TLS, on 1 wkr', 'vs 1']));
  const base = { tls: w.tls.get(1)?.sendsPerSec, tcp: w.tcp.get(1)?.sendsPerSec };
  for (const n of WORKER_COUNTS) {
    const t = w.tls.get(n);
    const c = w.tcp.get(n);
    const vs = (v: number | undefined, b: number | undefined): string => (v === undefined || b === undefined ? 'n/a' : `${(v / b).toFixed(2)}×`);
    out.push(pad([String(n), t ? String(Math.round(t.sendsPerSec)) : 'n/a', vs(t?.sendsPerSec, base.tls), c ? String(Math.round(c.sendsPerSec)) : 'n/a', vs(c?.sendsPerSec, base.tcp),
      fmt(t?.relayCores, 2), fmt(t?.cpuUsPerSend, 1), fmt(c?.cpuUsPerSend, 1),
      t ? `${t.crossWorkerPairs}/${WORKER_PAIRS}` : 'n/a', w.local.get(n) ? String(Math.round(w.local.get(n)!.sendsPerSec)) : 'n/a', vs(w.local.get(n)?.sendsPerSec, base.tls)]));
  }
  out.push(`(${cpus().length} CPUs on this machine, shared by the relay and the load generators: past that many busy processes the figures measure the sharing)`);
  return out;
}

function workersSummary(w: WorkersResult): Record<string, unknown> {
  const by = (m: Map<number, WorkersRun | null>): Record<string, number | null> => Object.fromEntries(WORKER_COUNTS.map((n) => [String(n), m.get(n) ? Math.round(m.get(n)!.sendsPerSec) : null]));
  return {
    workersRate: by(w.tls),
    workersRateTcp: by(w.tcp),
    workersRateSameWorker: by(w.local),
    workersCrossPairs: Object.fromEntries(WORKER_COUNTS.map((n) => [String(n), w.tls.get(n)?.crossWorkerPairs ?? null])),
    workersCpuUsPerSend: Object.fromEntries(WORKER_COUNTS.map((n) => [String(n), { tls: round(w.tls.get(n)?.cpuUsPerSend, 1), tcp: round(w.tcp.get(n)?.cpuUsPerSend, 1) }])),
  };
}

if (ONLY === 'workers') {
  const l0 = loadavg()[0]!;
  log(`relay benchmark, workers only${QUICK ? ' (--quick)' : ''}: load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ${cpus().length} CPUs`);
  const w = await workersRuns();
  console.log(['', ...workersTable(w), `load average at start ${l0.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)}`].join('\n'));
  console.log(JSON.stringify({ ...workersSummary(w), quick: QUICK, loadAvg: Number(l0.toFixed(1)) }));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
const load0 = loadavg()[0]!;
log(`relay benchmark${QUICK ? ' (--quick)' : ''}: load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ${(await import('node:os')).cpus().length} CPUs`);
const ours = await startChild('ours');
const forwarder = await startChild('forwarder');
const pipe = await startChild('pipe');
const haveKamailio = kamailioAvailable();
let kam: KamailioRelay | undefined;
if (haveKamailio) {
  kam = await startKamailio({
    certFile: join(pki.peer.dir, 'tls.crt'), keyFile: join(pki.peer.dir, 'tls.key'), caFile: join(pki.peer.dir, 'ca.crt'),
    user: BENCH_USER, password: BENCH_PASSWORD, realm: BENCH_REALM, maxExpires: 3600, shmMb: 256,
  });
} else {
  log('kamailio is not installed: its figures are null (apt-get install kamailio kamailio-tls-modules)');
}
const endpoints: Record<Kind, Endpoint | undefined> = {
  ours: ours.ready as unknown as Endpoint,
  forwarder: forwarder.ready as unknown as Endpoint,
  pipe: pipe.ready as unknown as Endpoint,
  kamailio: kam ? { tcpPort: kam.tcpPort, tlsPort: kam.tlsPort, uriTcp: kam.uriTcp, uriTls: kam.uriTls } : undefined,
};

const cleanup = async (): Promise<void> => {
  await Promise.all([ours.stop(), forwarder.stop(), pipe.stop(), kam?.stop()]);
};

// --- small SENDs per second -----------------------------------------------------------------
const relays: Kind[] = ['ours', 'forwarder', ...(kam ? ['kamailio' as const] : [])];
const rates = new Map<string, number | null>();
const cpuPer = new Map<string, number>();
const pidsOf: Record<Kind, number[]> = { ours: [ours.pid], forwarder: [forwarder.pid], pipe: [pipe.pid], kamailio: kam ? [kam.pid] : [] };
const key = (k: Kind, tls: boolean, pairs: number): string => `${k}/${tls ? 'tls' : 'tcp'}/${pairs}`;
for (const tls of [false, true]) {
  for (const pairs of C.pairs) {
    // Headline configuration (10 pairs) gets best-of-`repeat`, interleaved, to damp the noise.
    const rounds = pairs === 10 ? C.repeat : 1;
    for (let round = 0; round < rounds; round++) {
      for (const k of relays) {
        const r = await rateRun({
          mode: 'rate', target: targetOf(k, endpoints[k]!, tls), pairs, window: 32, bodyBytes: 100, warmupMs: C.warmupMs, durationMs: C.durationMs,
        }, pidsOf[k], { fdLimit: FD_LIMIT });
        const v = r.error !== undefined ? null : r.sendsPerSec;
        if (r.error !== undefined) log(`  ${key(k, tls, pairs)}: ${r.error}`);
        else if (r.errors > 0) log(`  ${key(k, tls, pairs)}: ${r.errors} non-200 responses`);
        const kk = key(k, tls, pairs);
        const prev = rates.get(kk);
        if (v !== null && v > (prev ?? 0)) rates.set(kk, v);
        else if (prev === undefined) rates.set(kk, v);
        // CPU cost per SEND: the lowest seen (least disturbed by other work on the machine).
        if (r.cpuUsPerSend !== null && r.cpuUsPerSend < (cpuPer.get(kk) ?? Infinity)) cpuPer.set(kk, r.cpuUsPerSend);
        log(`  rate ${kk}: ${v === null ? 'failed' : Math.round(v)} SEND/s, relay CPU ${r.cpuUsPerSend === null ? 'n/a' : r.cpuUsPerSend.toFixed(1)} µs/SEND, ${r.cpuCores === null ? 'n/a' : r.cpuCores.toFixed(2)} cores busy`);
      }
    }
  }
}
for (const k of ['kamailio'] as const) if (!kam) for (const tls of [false, true]) for (const p of C.pairs) rates.set(key(k, tls, p), null);

// --- latency at 1,000 SEND/s ------------------------------------------------------------------
interface Lat { p50Ms: number; p99Ms: number; p999Ms: number; samples: number; errors: number; achievedPerSec: number }
const lat = new Map<Kind, Lat | null>();
for (const k of relays) {
  const r = await load<Lat>({ mode: 'latency', target: targetOf(k, endpoints[k]!, false), pairs: 10, rate: 1000, warmupMs: C.warmupMs, durationMs: C.latencyMs });
  lat.set(k, r.error !== undefined ? null : r);
  log(`  latency ${k}: ${r.error ?? `p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms (${r.samples} samples, ${Math.round(r.achievedPerSec)}/s)`}`);
}
if (!kam) lat.set('kamailio', null);

// --- bulk over TLS ----------------------------------------------------------------------------
const bulk = new Map<string, number | null>();
const bulkRuns: [Kind, number, number, number][] = [
  ['ours', 1 << 20, C.bulkBig, 4], ['pipe', 1 << 20, C.bulkBig, 4],
  ['ours', 8192, C.bulkSmall, 64], ['pipe', 8192, C.bulkSmall, 64], ...(kam ? [['kamailio', 8192, C.bulkSmall, 64] as [Kind, number, number, number]] : []),
];
for (const [k, chunkBytes, totalBytes, window] of bulkRuns) {
  const r = await load<{ MBps: number; bytes: number; errors: number }>({ mode: 'bulk', target: targetOf(k, endpoints[k]!, true), chunkBytes, totalBytes, window });
  const ok = r.error === undefined && r.bytes === totalBytes;
  bulk.set(`${k}/${chunkBytes}`, ok ? r.MBps : null);
  log(`  bulk ${k} ${chunkBytes} B chunks: ${ok ? `${r.MBps.toFixed(0)} MB/s` : `failed (${r.error ?? `${r.bytes} of ${totalBytes} bytes`})`}`);
}
if (!kam) bulk.set('kamailio/8192', null);

await cleanup();

// --- memory per idle TLS session ---------------------------------------------------------------
const mem = new Map<Kind, number | null>();
for (const k of ['ours', 'forwarder'] as const) {
  const relay = await startChild(k);
  try {
    const ep = relay.ready as unknown as Endpoint;
    relay.send('mem');
    const before = await relay.next<{ rss: number }>('mem');
    const gen = await spawnNode([join(here, 'loadgen.ts'), JSON.stringify({ mode: 'idle', target: targetOf(k, ep, true), sessions: C.idle, concurrency: 50 } satisfies LoadSpec)], { fdLimit: FD_LIMIT });
    const r = await gen.next<{ sessions: number; setupMs: number; error?: string }>('result', 600_000);
    if (r.error !== undefined) throw new Error(r.error);
    await sleep(1000);
    relay.send('stats');
    const stats = await relay.next<{ sessions: number }>('stats');
    relay.send('mem');
    const after = await relay.next<{ rss: number }>('mem');
    await gen.stop();
    const kb = (after.rss - before.rss) / r.sessions / 1024;
    mem.set(k, kb);
    log(`  memory ${k}: ${r.sessions} TLS sessions (${stats.sessions} in the relay's table) in ${(r.setupMs / 1000).toFixed(1)} s; RSS ${(before.rss / 2 ** 20).toFixed(0)} → ${(after.rss / 2 ** 20).toFixed(0)} MiB = ${kb.toFixed(1)} kB/session`);
  } catch (err) {
    mem.set(k, null);
    log(`  memory ${k}: failed: ${(err as Error).message}`);
  } finally {
    await relay.stop();
  }
}

const workers = await workersRuns();

// --- report -------------------------------------------------------------------------------------
const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;
const fx = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(2)}×`);
const pad = (cells: string[], widths: number[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');

const out: string[] = [];
out.push('');
out.push(`MSRP relay benchmark${QUICK ? ' (--quick)' : ''} — loopback, ${(await import('node:os')).cpus().length} cores, load average at start ${load0.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)} (noisy: compare ratios within this run)`);
out.push('');
out.push('Small SENDs per second (100-byte bodies, window 32 per pair)');
const w1 = [14, 10, 10, 10, 12, 12];
out.push(pad(['transport/pairs', 'ours', 'forwarder', 'kamailio', 'ours/fwd', 'ours/kam'], w1));
for (const tls of [false, true]) {
  for (const p of C.pairs) {
    const o = rates.get(key('ours', tls, p));
    const f = rates.get(key('forwarder', tls, p));
    const k = rates.get(key('kamailio', tls, p));
    out.push(pad([`${tls ? 'TLS' : 'TCP'} ${p}`, fmt(o), fmt(f), fmt(k), fx(ratio(o, f)), fx(ratio(o, k))], w1));
  }
}
out.push('');
out.push('Relay CPU time per delivered SEND, µs (user+system of the relay process(es) in the measurement window;');
out.push('less sensitive to the machine\'s load than the rates; cost ratio fwd/ours = the rate ratio on an idle core)');
out.push(pad(['transport/pairs', 'ours', 'forwarder', 'kamailio', 'fwd/ours', 'kam/ours'], w1));
for (const tls of [false, true]) {
  for (const p of C.pairs) {
    const o = cpuPer.get(key('ours', tls, p));
    const f = cpuPer.get(key('forwarder', tls, p));
    const k = cpuPer.get(key('kamailio', tls, p));
    out.push(pad([`${tls ? 'TLS' : 'TCP'} ${p}`, fmt(o, 1), fmt(f, 1), fmt(k, 1), fx(ratio(f, o)), fx(ratio(k, o))], w1));
  }
}
out.push('');
out.push('Latency at a fixed 1,000 SEND/s (TCP, 10 pairs, one-way A→B)');
const w2 = [14, 10, 10, 10];
out.push(pad(['relay', 'p50 ms', 'p99 ms', 'p99.9 ms'], w2));
for (const k of ['ours', 'forwarder', 'kamailio'] as const) {
  const l = lat.get(k);
  out.push(pad([k, fmt(l?.p50Ms, 2), fmt(l?.p99Ms, 2), fmt(l?.p999Ms, 2)], w2));
}
out.push(`ours/forwarder p99: ${fx(ratio(lat.get('ours')?.p99Ms, lat.get('forwarder')?.p99Ms))}`);
out.push('');
out.push('Bulk over TLS, one message (MB/s = 10^6 bytes/s)');
const w3 = [34, 10];
out.push(pad([`1 MiB chunks, ${C.bulkBig >> 20} MiB: ours`, fmt(bulk.get('ours/1048576'))], w3));
out.push(pad(['                   pipe', fmt(bulk.get('pipe/1048576'))], w3));
out.push(pad(['                   ours/pipe', fx(ratio(bulk.get('ours/1048576'), bulk.get('pipe/1048576')))], w3));
out.push(pad([`8 KB chunks, ${C.bulkSmall >> 20} MiB: ours`, fmt(bulk.get('ours/8192'))], w3));
out.push(pad(['                   kamailio', fmt(bulk.get('kamailio/8192'))], w3));
out.push(pad(['                   pipe', fmt(bulk.get('pipe/8192'))], w3));
out.push(pad(['                   ours/pipe', fx(ratio(bulk.get('ours/8192'), bulk.get('pipe/8192')))], w3));
out.push(pad(['                   ours/kamailio', fx(ratio(bulk.get('ours/8192'), bulk.get('kamailio/8192')))], w3));
out.push('');
out.push(`Memory per idle authenticated TLS session (${C.idle} sessions, RSS after a memory-reducing full GC)`);
out.push(pad(['ours kB', fmt(mem.get('ours'), 1)], [34, 10]));
out.push(pad(['forwarder kB', fmt(mem.get('forwarder'), 1)], [34, 10]));
const memDiff = mem.get('ours') != null && mem.get('forwarder') != null ? mem.get('ours')! - mem.get('forwarder')! : null;
out.push(pad(['ours − forwarder kB', fmt(memDiff, 1)], [34, 10]));

out.push('');
out.push(...workersTable(workers));

const vsForwarder = ratio(rates.get(key('ours', false, 10)), rates.get(key('forwarder', false, 10)));
const vsForwarderTls = ratio(rates.get(key('ours', true, 10)), rates.get(key('forwarder', true, 10)));
const bulkVsPipe = ratio(bulk.get('ours/1048576'), bulk.get('pipe/1048576'));
const p99VsForwarder = ratio(lat.get('ours')?.p99Ms, lat.get('forwarder')?.p99Ms);
const verdict = (ok: boolean | null): string => (ok === null ? 'unknown' : ok ? 'met' : 'NOT met');
const goals = {
  sendRateTcp: vsForwarder === null ? null : vsForwarder >= 0.7,
  sendRateTls: vsForwarderTls === null ? null : vsForwarderTls >= 0.7,
  bulkTls: bulkVsPipe === null ? null : bulkVsPipe >= 0.8,
  p99: p99VsForwarder === null ? null : p99VsForwarder <= 1.5,
  memory: memDiff === null ? null : memDiff <= 4,
};
out.push('');
out.push('Goals');
out.push(`  small-SEND rate ≥ 0.7× forwarder, TCP (10 pairs): ${fx(vsForwarder)} ${verdict(goals.sendRateTcp)}`);
out.push(`  small-SEND rate ≥ 0.7× forwarder, TLS (10 pairs): ${fx(vsForwarderTls)} ${verdict(goals.sendRateTls)}`);
out.push(`  bulk over TLS ≥ 0.8× pipe (1 MiB chunks):         ${fx(bulkVsPipe)} ${verdict(goals.bulkTls)}`);
out.push(`  p99 ≤ 1.5× forwarder's at 1,000/s:                ${fx(p99VsForwarder)} ${verdict(goals.p99)}`);
out.push(`  idle TLS session ≤ forwarder + 4 kB:              ${memDiff === null ? 'n/a' : `${memDiff >= 0 ? '+' : ''}${memDiff.toFixed(1)} kB`} ${verdict(goals.memory)}`);
if (!kam) out.push('  (kamailio not installed: its figures are null)');
console.log(out.join('\n'));

const summary = {
  sendRate: { ours: round(rates.get(key('ours', false, 10)), 0), forwarder: round(rates.get(key('forwarder', false, 10)), 0), kamailio: round(rates.get(key('kamailio', false, 10)), 0) },
  vsKamailio: round(ratio(rates.get(key('ours', false, 10)), rates.get(key('kamailio', false, 10)))),
  vsForwarder: round(vsForwarder),
  vsForwarderTls: round(vsForwarderTls),
  bulkMBps: { ours: round(bulk.get('ours/1048576'), 1), pipe: round(bulk.get('pipe/1048576'), 1) },
  bulkVsPipe: round(bulkVsPipe),
  p99Ms: { ours: round(lat.get('ours')?.p99Ms, 3), forwarder: round(lat.get('forwarder')?.p99Ms, 3) },
  p99VsForwarder: round(p99VsForwarder),
  kbPerSessionTls: { ours: round(mem.get('ours'), 1), forwarder: round(mem.get('forwarder'), 1) },
  cpuUsPerSend: {
    ours: round(cpuPer.get(key('ours', false, 10)), 1), forwarder: round(cpuPer.get(key('forwarder', false, 10)), 1), kamailio: round(cpuPer.get(key('kamailio', false, 10)), 1),
    oursTls: round(cpuPer.get(key('ours', true, 10)), 1), forwarderTls: round(cpuPer.get(key('forwarder', true, 10)), 1),
  },
  ...workersSummary(workers),
  goalsMet: goals,
  quick: QUICK,
  loadAvg: round(load0, 1),
};
console.log(JSON.stringify(summary));
