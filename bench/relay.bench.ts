// Relay benchmark: `node bench/relay.bench.ts [--quick] [--profile]` (npm run bench:relay).
//
// One invocation on loopback compares, each in its own process:
//   (a) our relay (bench/ours.ts → internal/relay startRelay, Digest AUTH, TCP + TLS);
//   (b) a minimal Node forwarder (bench/forwarder.ts: head, path rewrite, hop 200, forward);
//   (c) a raw socket pipe (bench/pipe.ts: bytes in → bytes out), the physical limit for bulk;
//   (d) Kamailio 5.6's msrp relay (e2e/kamailio), when installed.
// The load generator (bench/loadgen.ts) runs in separate processes, one per measurement,
// holding both ends of every session pair. Every measurement is repeated (3 interleaved
// repetitions, each a full sweep with the relays innermost; latency 5) and the medians are
// reported, with the machine's load average at the start of each repetition. Measured:
//   - small SENDs (100-byte bodies) per second, window 32 per pair, 1/10/100 pairs, TCP and TLS,
//     and the relay's CPU time per delivered SEND;
//   - one-way latency p50/p99/p99.9 at a fixed 1,000 SEND/s over TCP (10 pairs);
//   - bulk MB/s of one large message over TLS (1 MiB chunks: ours vs pipe; 8 KB chunks: ours,
//     the forwarder, Kamailio and pipe, Kamailio refusing frames above ~14 KB);
//   - memory of idle authenticated TLS sessions: a curve of relay RSS at 0 to 19,000 sessions
//     (one load generator process per step), each point after a memory-reducing full GC
//     (bench/common.ts `mem`), in both processes alike (V8 otherwise keeps its young generation
//     at the size the connection burst grew it to, which is not memory the sessions hold); the
//     line through it gives kB per session and the estimate for 100,000 sessions (a process on
//     these machines cannot hold more than 20,000 open files, so that many cannot be measured);
//   - one core (docs/relay.md "Garbage collector threads"): our relay with V8's default GC threads
//     and with --single-threaded-gc, and the forwarder, each confined to CPU 0 (taskset) with the
//     load generator on the others, so the relay is the bottleneck; `--only pinned` runs just this
//     (and `--only memory` just the memory curve);
//   - workers (docs/relay.md "Workers"): small SENDs per second through one relay process of 1,
//     2 and 4 worker processes (bench/ours.ts `workers`), TLS and TCP, 20 pairs from two load
//     generator processes at once, with the share of pairs whose two sessions sit on different
//     workers (each of their SENDs crosses the link between workers) and the cores in use, and
//     TLS again with both ends of every pair on one worker (no SEND crosses a link: the upper
//     bound); `--only workers` runs just this part.
// Prints a table with ratios, then as its very last line one JSON object (keys below).
// `--profile` instead runs our relay and the forwarder under `node --cpu-prof` in the small-SEND
// case (10 pairs, TCP) and prints our hottest functions by self time, then the CPU of one SEND
// by stage (parse, route, forward, responses, writes, GC) in both.
// Figures are informative only (docs/architecture.md §6.4): compare ratios within one run, never absolute
// times across machines; on a loaded machine every figure is noisy.
import { execFileSync } from 'node:child_process';
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
if (ONLY !== undefined && ONLY !== 'workers' && ONLY !== 'pinned' && ONLY !== 'memory') throw new Error(`--only ${ONLY}: "workers", "pinned" and "memory" are known`);

// reps: interleaved repetitions of the rate and bulk runs (medians reported); latReps: of the
// latency runs (the p99 goal is judged on their median); idleSteps: the memory curve, sessions
// held at each step (the last bounded by the open-file limit below, sockets being files).
const C = QUICK
  ? { durationMs: 1000, warmupMs: 300, pairs: [1, 10], reps: 1, latReps: 1, repeat: 1, latencyMs: 1500, bulkBig: 64 << 20, bulkSmall: 8 << 20, idleSteps: [500, 1000] }
  : { durationMs: 3000, warmupMs: 500, pairs: [1, 10, 100], reps: 3, latReps: 5, repeat: 2, latencyMs: 3000, bulkBig: 256 << 20, bulkSmall: 32 << 20, idleSteps: [2500, 5000, 10_000, 15_000, 19_000] };

const FD_LIMIT = 20_000; // the hard limit on this machine kind; the child raises its soft limit to it (or to its own hard limit)

type Kind = 'ours' | 'forwarder' | 'kamailio' | 'pipe';

const pki = await testPki();
const certDir = pki.server.dir;
const caFile = join(certDir, 'ca.crt');
const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

function startChild(kind: 'ours' | 'forwarder' | 'pipe', nodeFlags: string[] = [], extra: Record<string, unknown> = {}, cpus?: string): Promise<Child> {
  return spawnNode([...nodeFlags, '--expose-gc', join(here, `${kind}.ts`), JSON.stringify({ certDir, ...extra })], { fdLimit: FD_LIMIT, ...(cpus !== undefined ? { cpus } : {}) });
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
  // Each relay under the profiler in turn (small SENDs, 10 pairs, TCP): self time by function for
  // ours, then where the CPU of one SEND goes, by stage, in ours and in the forwarder. A stage's
  // time is inclusive (everything its functions call); µs per SEND = its share of the busy time
  // (module loading excluded) × the relay CPU per delivered SEND of the profiled run.
  const { topSelf, stages } = await import('./cpuprofile.ts');
  type Prof = Parameters<typeof stages>[0];
  const profiles = new Map<'ours' | 'forwarder', { prof: Prof; file: string; cpuUsPerSend: number | null; sendsPerSec: number }>();
  for (const k of ['ours', 'forwarder'] as const) {
    const dir = await mkdtemp(join(tmpdir(), `msrp-${k}-prof-`));
    const child = await startChild(k, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    const ep = child.ready as unknown as Endpoint;
    const r = await rateRun({ mode: 'rate', target: targetOf(k, ep, false), pairs: 10, window: 32, bodyBytes: 100, warmupMs: 500, durationMs: QUICK ? 2000 : 5000 }, [child.pid], { fdLimit: FD_LIMIT });
    log(`profiled run ${k} TCP: ${Math.round(r.sendsPerSec)} SEND/s, ${fmt(r.cpuUsPerSend, 1)} µs/SEND (under the profiler)`);
    await child.stop(30_000);
    const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`);
    profiles.set(k, { prof: JSON.parse(await readFile(join(dir, file), 'utf8')) as Prof, file: join(dir, file), cpuUsPerSend: r.cpuUsPerSend, sendsPerSec: r.sendsPerSec });
  }
  const o = profiles.get('ours')!;
  const { total, byFunction, byFile } = topSelf(o.prof, 30);
  console.log(`\nCPU profile of our relay (small SENDs, 10 pairs, TCP), ${(total / 1000).toFixed(0)} ms sampled: ${o.file}`);
  console.log('\nself time by function');
  for (const r of byFunction) console.log(`${r.pct.toFixed(1).padStart(5)}%  ${r.name}`);
  console.log('\nself time by file');
  for (const r of byFile.slice(0, 15)) console.log(`${r.pct.toFixed(1).padStart(5)}%  ${r.name}`);

  const startup = { name: 'module loading', fns: [['executeUserEntryPoint', 'node:internal/modules/run_main'] as [string, string]] };
  const oursStages = stages(o.prof, [
    startup,
    { name: 'socket reads (onStreamRead)', fns: [['onStreamRead', 'node:internal/stream_base_commons']] },
    { name: 'read → parse → relay', fns: [['received', 'internal/transport/connection.ts']] },
    { name: 'relay logic (frame handler)', fns: [['onFrame', 'internal/relay/frame-handler.ts'], ['onHead', 'internal/relay/frame-handler.ts'], ['onBody', 'internal/relay/frame-handler.ts'], ['onEnd', 'internal/relay/frame-handler.ts']] },
    { name: '  route', fns: [['route', 'internal/relay/router.ts']] },
    { name: '  SEND: forward + 200', fns: [['begin', 'internal/relay/forwarder.ts']] },
    { name: '  responses: match, settle', fns: [['onResponse', 'internal/relay/forwarder.ts']] },
    { name: 'gathered writes (uncork)', fns: [['uncorkAll', 'internal/transport/connection.ts']] },
  ]);
  const f = profiles.get('forwarder')!;
  const fwdStages = stages(f.prof, [
    startup,
    { name: 'socket reads (onStreamRead)', fns: [['onStreamRead', 'node:internal/stream_base_commons']] },
    { name: 'read → scan → forward', fns: [['push', 'bench/common.ts']] },
    { name: 'forward logic (onFrame)', fns: [['onFrame', 'bench/forwarder.ts']] },
    { name: 'corked writes (uncork)', fns: [['Writable.uncork', 'node:internal/streams/writable']] },
  ]);
  const per = (st: ReturnType<typeof stages>, cpu: number | null, i: number): { pct: number; us: number | null } => {
    const busy = st.busyUs - st.rows[0]!.us;
    const pct = (100 * (i < 0 ? st.gcUs : st.rows[i]!.us)) / (busy || 1);
    return { pct, us: cpu === null ? null : (pct / 100) * cpu };
  };
  const line = (name: string, v: { pct: number; us: number | null }): string => `  ${name.padEnd(34)} ${v.pct.toFixed(1).padStart(5)} %  ${fmt(v.us, 2).padStart(6)} µs`;
  console.log(`\nWhere one SEND's relay CPU goes (inclusive time by stage; share of busy time without module loading × CPU per SEND)`);
  console.log(`ours: ${fmt(o.cpuUsPerSend, 2)} µs per delivered SEND (its 200 from the receiver included)`);
  for (let i = 1; i < oursStages.rows.length; i++) console.log(line(oursStages.rows[i]!.name, per(oursStages, o.cpuUsPerSend, i)));
  // The gathered writes leave at the end of the read (connection.ts received → uncorkAll).
  const parseOnly = per(oursStages, o.cpuUsPerSend, 2).pct - per(oursStages, o.cpuUsPerSend, 3).pct - per(oursStages, o.cpuUsPerSend, 7).pct;
  console.log(line('parse (read − relay − writes)', { pct: parseOnly, us: o.cpuUsPerSend === null ? null : (parseOnly / 100) * o.cpuUsPerSend }));
  console.log(line('garbage collector', per(oursStages, o.cpuUsPerSend, -1)));
  console.log(`forwarder: ${fmt(f.cpuUsPerSend, 2)} µs per delivered SEND`);
  for (let i = 1; i < fwdStages.rows.length; i++) console.log(line(fwdStages.rows[i]!.name, per(fwdStages, f.cpuUsPerSend, i)));
  const scanOnly = per(fwdStages, f.cpuUsPerSend, 2).pct - per(fwdStages, f.cpuUsPerSend, 3).pct;
  console.log(line('scan (read − forward logic)', { pct: scanOnly, us: f.cpuUsPerSend === null ? null : (scanOnly / 100) * f.cpuUsPerSend }));
  console.log(line('garbage collector', per(fwdStages, f.cpuUsPerSend, -1)));
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

/** Samples by key, one per repetition; the report takes their median. */
class Samples {
  readonly #m = new Map<string, number[]>();
  add(key: string, v: number | null | undefined): void {
    const a = this.#m.get(key) ?? [];
    if (v !== null && v !== undefined && Number.isFinite(v)) a.push(v);
    this.#m.set(key, a);
  }
  median(key: string): number | null {
    const a = [...(this.#m.get(key) ?? [])].sort((x, y) => x - y);
    if (a.length === 0) return null;
    const h = a.length >> 1;
    return a.length % 2 === 1 ? a[h]! : (a[h - 1]! + a[h]!) / 2;
  }
  all(key: string): number[] {
    return this.#m.get(key) ?? [];
  }
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;
}

function fx(v: number | null): string {
  return v === null ? 'n/a' : `${v.toFixed(2)}×`;
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

// --- one core: the relay confined to CPU 0, the load generator on the others ------------------
// docs/relay.md "Garbage collector threads": what a relay process with one core (or a quota of
// one) does, with V8's default GC threads and with --single-threaded-gc, against the forwarder
// on the same core. The relay is the bottleneck here, so the rate is its capacity.
type PinnedKind = 'ours' | 'oursSingleThreadedGc' | 'forwarder';
const PINNED: PinnedKind[] = ['ours', 'oursSingleThreadedGc', 'forwarder'];
interface PinnedResult { rate: Samples; cpu: Samples }
const relayOf = (k: PinnedKind): 'ours' | 'forwarder' => (k === 'forwarder' ? 'forwarder' : 'ours');
function tasksetAvailable(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
async function pinnedRuns(): Promise<PinnedResult | null> {
  if (cpus().length < 2 || !tasksetAvailable()) {
    log(`  pinned: skipped (${cpus().length < 2 ? 'one CPU' : 'no taskset (util-linux)'})`);
    return null;
  }
  const others = `1-${cpus().length - 1}`;
  const res: PinnedResult = { rate: new Samples(), cpu: new Samples() };
  const kids = new Map<PinnedKind, Child>();
  try {
    for (const k of PINNED) kids.set(k, await startChild(relayOf(k), k === 'oursSingleThreadedGc' ? ['--single-threaded-gc'] : [], {}, '0'));
    const run = (k: PinnedKind, tls: boolean, warmupMs: number, durationMs: number): Promise<Awaited<ReturnType<typeof rateRun>>> => rateRun({
      mode: 'rate', target: targetOf(relayOf(k), kids.get(k)!.ready as unknown as Endpoint, tls), pairs: 10, window: 32, bodyBytes: 100, warmupMs, durationMs,
    }, [kids.get(k)!.pid], { fdLimit: FD_LIMIT, cpus: others });
    // A run of each first, not counted: a fresh process is slower while its code warms up.
    for (const k of PINNED) await run(k, false, 500, 2000);
    for (let rep = 0; rep < C.reps; rep++) {
      for (const tls of [false, true]) {
        for (const k of PINNED) {
          const r = await run(k, tls, Math.max(C.warmupMs, 1000), C.durationMs);
          const kk = `${k}/${tls ? 'tls' : 'tcp'}`;
          if (r.error === undefined) {
            res.rate.add(kk, r.sendsPerSec);
            res.cpu.add(kk, r.cpuUsPerSend);
          }
          log(`  pinned ${kk} (${rep + 1}/${C.reps}): ${r.error ?? `${Math.round(r.sendsPerSec)} SEND/s, ${fmt(r.cpuUsPerSend, 1)} µs/SEND, relay ${fmt(r.cpuCores, 2)} cores`}`);
        }
      }
    }
  } finally {
    await Promise.all([...kids.values()].map((c) => c.stop()));
  }
  return res;
}

function pinnedTable(p: PinnedResult | null): string[] {
  const out = ['Relay confined to one core (taskset CPU 0; load generator on the others): small SENDs per second, 10 pairs, window 32, medians'];
  if (p === null) return [...out, '  n/a (needs 2 CPUs and taskset)'];
  const w = [26, 10, 12, 10, 12];
  const padr = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  out.push(padr(['relay', 'TCP', 'µs/SEND', 'TLS', 'µs/SEND']));
  for (const k of PINNED) {
    out.push(padr([k === 'oursSingleThreadedGc' ? 'ours --single-threaded-gc' : k, fmt(p.rate.median(`${k}/tcp`)), fmt(p.cpu.median(`${k}/tcp`), 2), fmt(p.rate.median(`${k}/tls`)), fmt(p.cpu.median(`${k}/tls`), 2)]));
  }
  const r = (a: PinnedKind, b: PinnedKind, t: string): string => fx(ratio(p.rate.median(`${a}/${t}`), p.rate.median(`${b}/${t}`)));
  out.push(`ours/forwarder ${r('ours', 'forwarder', 'tcp')} TCP, ${r('ours', 'forwarder', 'tls')} TLS; with --single-threaded-gc ${r('oursSingleThreadedGc', 'forwarder', 'tcp')} TCP, ${r('oursSingleThreadedGc', 'forwarder', 'tls')} TLS`);
  return out;
}

function pinnedSummary(p: PinnedResult | null): Record<string, unknown> {
  const m = (k: PinnedKind, t: string): number | null => p?.rate.median(`${k}/${t}`) ?? null;
  const vs = (k: PinnedKind, t: string): number | null => round(ratio(m(k, t), m('forwarder', t)));
  return {
    pinnedRate: Object.fromEntries(PINNED.map((k) => [k, { tcp: round(m(k, 'tcp'), 0), tls: round(m(k, 'tls'), 0) }])),
    pinnedVsForwarder: { tcp: vs('ours', 'tcp'), tls: vs('ours', 'tls') },
    pinnedSingleThreadedGcVsForwarder: { tcp: vs('oursSingleThreadedGc', 'tcp'), tls: vs('oursSingleThreadedGc', 'tls') },
  };
}

if (ONLY === 'pinned') {
  const l0 = loadavg()[0]!;
  log(`relay benchmark, pinned only${QUICK ? ' (--quick)' : ''}: load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ${cpus().length} CPUs`);
  const p = await pinnedRuns();
  console.log(['', ...pinnedTable(p), `load average at start ${l0.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)}`].join('\n'));
  console.log(JSON.stringify({ ...pinnedSummary(p), repetitions: C.reps, quick: QUICK, loadAvg: Number(l0.toFixed(1)) }));
  process.exit(0);
}

if (ONLY === 'workers') {
  const l0 = loadavg()[0]!;
  log(`relay benchmark, workers only${QUICK ? ' (--quick)' : ''}: load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ${cpus().length} CPUs`);
  const w = await workersRuns();
  console.log(['', ...workersTable(w), `load average at start ${l0.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)}`].join('\n'));
  console.log(JSON.stringify({ ...workersSummary(w), quick: QUICK, loadAvg: Number(l0.toFixed(1)) }));
  process.exit(0);
}

if (ONLY === 'memory') {
  const l0 = loadavg()[0]!;
  log(`relay benchmark, memory only${QUICK ? ' (--quick)' : ''}: load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const o = await memCurve('ours');
  const f = await memCurve('forwarder');
  console.log(`\nidle TLS sessions: ours ${o.kbPerSession.toFixed(1)} kB/session (fitted ${o.fitKbPerSession.toFixed(1)}), forwarder ${f.kbPerSession.toFixed(1)} (fitted ${f.fitKbPerSession.toFixed(1)}); 100,000 est. ours ${o.at100kMiB.toFixed(0)} MiB`);
  console.log(JSON.stringify({ kbPerSessionTls: { ours: round(o.kbPerSession, 1), forwarder: round(f.kbPerSession, 1) }, memory100kMiB: { ours: round(o.at100kMiB, 0), forwarder: round(f.at100kMiB, 0), measuredUpTo: C.idleSteps.at(-1) }, quick: QUICK, loadAvg: Number(l0.toFixed(1)) }));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
const load0 = loadavg()[0]!;
const loadNow = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');
log(`relay benchmark${QUICK ? ' (--quick)' : ''}: load average ${loadNow()}, ${cpus().length} CPUs; ${C.reps} interleaved repetitions (latency ${C.latReps}), medians reported`);
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

// Every repetition is a full sweep of the configurations, relays innermost: a change in the
// machine's load during the run touches every relay alike, and the medians drop the outliers.
// --- small SENDs per second -----------------------------------------------------------------
const relays: Kind[] = ['ours', 'forwarder', ...(kam ? ['kamailio' as const] : [])];
const rates = new Samples();
const cpuPer = new Samples();
const pidsOf: Record<Kind, number[]> = { ours: [ours.pid], forwarder: [forwarder.pid], pipe: [pipe.pid], kamailio: kam ? [kam.pid] : [] };
const key = (k: Kind, tls: boolean, pairs: number): string => `${k}/${tls ? 'tls' : 'tcp'}/${pairs}`;
for (let rep = 0; rep < C.reps; rep++) {
  log(` repetition ${rep + 1} of ${C.reps}: load average ${loadNow()}`);
  for (const tls of [false, true]) {
    for (const pairs of C.pairs) {
      for (const k of relays) {
        const r = await rateRun({
          mode: 'rate', target: targetOf(k, endpoints[k]!, tls), pairs, window: 32, bodyBytes: 100, warmupMs: C.warmupMs, durationMs: C.durationMs,
        }, pidsOf[k], { fdLimit: FD_LIMIT });
        const kk = key(k, tls, pairs);
        if (r.error !== undefined) log(`  ${kk}: ${r.error}`);
        else if (r.errors > 0) log(`  ${kk}: ${r.errors} non-200 responses`);
        rates.add(kk, r.error !== undefined ? null : r.sendsPerSec);
        cpuPer.add(kk, r.cpuUsPerSend);
        log(`  rate ${kk}: ${r.error !== undefined ? 'failed' : Math.round(r.sendsPerSec)} SEND/s, relay CPU ${r.cpuUsPerSend === null ? 'n/a' : r.cpuUsPerSend.toFixed(1)} µs/SEND, ${r.cpuCores === null ? 'n/a' : r.cpuCores.toFixed(2)} cores busy, load generator ${r.loadgenCores === null ? 'n/a' : r.loadgenCores.toFixed(2)} cores`);
      }
    }
  }
}

// --- latency at 1,000 SEND/s ------------------------------------------------------------------
interface Lat { p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; samples: number; errors: number; achievedPerSec: number }
const lat = new Samples();
for (let rep = 0; rep < C.latReps; rep++) {
  for (const k of relays) {
    const r = await load<Lat>({ mode: 'latency', target: targetOf(k, endpoints[k]!, false), pairs: 10, rate: 1000, warmupMs: C.warmupMs, durationMs: C.latencyMs });
    if (r.error === undefined) {
      lat.add(`${k}/p50`, r.p50Ms);
      lat.add(`${k}/p99`, r.p99Ms);
      lat.add(`${k}/p999`, r.p999Ms);
      lat.add(`${k}/max`, r.maxMs);
    }
    log(`  latency ${k} (${rep + 1}/${C.latReps}): ${r.error ?? `p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, p99.9 ${r.p999Ms.toFixed(2)} ms, max ${r.maxMs.toFixed(2)} ms (${r.samples} samples, ${Math.round(r.achievedPerSec)}/s)`}`);
  }
}

// --- bulk over TLS ----------------------------------------------------------------------------
const bulk = new Samples();
const bulkRuns: [Kind, number, number, number][] = [
  ['ours', 1 << 20, C.bulkBig, 4], ['pipe', 1 << 20, C.bulkBig, 4],
  ['ours', 8192, C.bulkSmall, 64], ['forwarder', 8192, C.bulkSmall, 64], ['pipe', 8192, C.bulkSmall, 64],
  ...(kam ? [['kamailio', 8192, C.bulkSmall, 64] as [Kind, number, number, number]] : []),
];
for (let rep = 0; rep < C.reps; rep++) {
  for (const [k, chunkBytes, totalBytes, window] of bulkRuns) {
    const r = await load<{ MBps: number; bytes: number; errors: number }>({ mode: 'bulk', target: targetOf(k, endpoints[k]!, true), chunkBytes, totalBytes, window });
    const ok = r.error === undefined && r.bytes === totalBytes;
    bulk.add(`${k}/${chunkBytes}`, ok ? r.MBps : null);
    log(`  bulk ${k} ${chunkBytes} B chunks (${rep + 1}/${C.reps}): ${ok ? `${r.MBps.toFixed(0)} MB/s` : `failed (${r.error ?? `${r.bytes} of ${totalBytes} bytes`})`}`);
  }
}

await cleanup();

// --- memory per idle TLS session: a curve ------------------------------------------------------
// One relay process holds ever more idle authenticated TLS sessions (one connection each), from
// load generator processes of their own (one per step); its RSS is read at each step after a
// memory-reducing full GC (bench/common.ts `mem`), in both relays alike. A process here may
// hold at most FD_LIMIT open files (the machine's hard limit, which a process cannot raise), so
// the curve stops below it; the line fitted through it gives the cost per session and the
// figure for 100,000 sessions (docs/relay.md "Memory").
interface MemPoint { sessions: number; rssMiB: number }
interface MemCurve { points: MemPoint[]; kbPerSession: number; fitKbPerSession: number; baseMiB: number; at100kMiB: number; setupMs: number }
async function memCurve(k: 'ours' | 'forwarder'): Promise<MemCurve> {
  const relay = await startChild(k);
  const gens: Child[] = [];
  try {
    const ep = relay.ready as unknown as Endpoint;
    relay.send('mem');
    const base = (await relay.next<{ rss: number }>('mem')).rss;
    const points: MemPoint[] = [{ sessions: 0, rssMiB: base / 2 ** 20 }];
    let held = 0;
    let setupMs = 0;
    for (const step of C.idleSteps) {
      const gen = await spawnNode([join(here, 'loadgen.ts'), JSON.stringify({ mode: 'idle', target: targetOf(k, ep, true), sessions: step - held, concurrency: 50 } satisfies LoadSpec)], { fdLimit: FD_LIMIT });
      gens.push(gen);
      const r = await gen.next<{ sessions: number; setupMs: number; error?: string }>('result', 600_000);
      if (r.error !== undefined) throw new Error(r.error);
      held += r.sessions;
      setupMs += r.setupMs;
      // Past the idle sweep (2–4 s of quiet, docs/relay.md "Idle sessions stay small"): the
      // sessions just opened give back their parser state, as idle sessions do.
      await sleep(5000);
      relay.send('stats');
      const stats = await relay.next<{ sessions: number }>('stats');
      if (stats.sessions !== held) throw new Error(`${k} holds ${stats.sessions} sessions, ${held} were opened`);
      relay.send('mem');
      const rss = (await relay.next<{ rss: number }>('mem')).rss;
      points.push({ sessions: held, rssMiB: rss / 2 ** 20 });
      log(`  memory ${k}: ${held} idle TLS sessions, RSS ${(rss / 2 ** 20).toFixed(0)} MiB (${((rss - base) / held / 1024).toFixed(1)} kB/session), load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    }
    // Least squares through the points (sessions → MiB).
    const n = points.length;
    const mx = points.reduce((a, p) => a + p.sessions, 0) / n;
    const my = points.reduce((a, p) => a + p.rssMiB, 0) / n;
    const slope = points.reduce((a, p) => a + (p.sessions - mx) * (p.rssMiB - my), 0) / points.reduce((a, p) => a + (p.sessions - mx) ** 2, 0);
    const intercept = my - slope * mx;
    const last = points[n - 1]!;
    return { points, kbPerSession: ((last.rssMiB - points[0]!.rssMiB) * 1024) / last.sessions, fitKbPerSession: slope * 1024, baseMiB: intercept, at100kMiB: intercept + slope * 100_000, setupMs };
  } finally {
    await Promise.all(gens.map((g) => g.stop()));
    await relay.stop();
  }
}
const mem = new Map<'ours' | 'forwarder', MemCurve | null>();
for (const k of ['ours', 'forwarder'] as const) {
  try {
    mem.set(k, await memCurve(k));
  } catch (err) {
    mem.set(k, null);
    log(`  memory ${k}: failed: ${(err as Error).message}`);
  }
}

const pinned = await pinnedRuns();
const workers = await workersRuns();

// --- report -------------------------------------------------------------------------------------
const pad = (cells: string[], widths: number[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
const spread = (s: Samples, k: string, d = 0): string => {
  const a = s.all(k);
  return a.length < 2 ? '' : `${Math.min(...a).toFixed(d)}–${Math.max(...a).toFixed(d)}`;
};

const out: string[] = [];
out.push('');
out.push(`MSRP relay benchmark${QUICK ? ' (--quick)' : ''} — loopback, ${cpus().length} cores, load average at start ${load0.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)}`);
out.push(`Medians of ${C.reps} interleaved repetitions (latency: ${C.latReps}); noisy on a shared machine: compare ratios within this run`);
out.push('');
out.push('Small SENDs per second (100-byte bodies, window 32 per pair); range over the repetitions in the last columns');
const w1 = [14, 10, 10, 10, 10, 10, 16, 16];
out.push(pad(['transport/pairs', 'ours', 'forwarder', 'kamailio', 'ours/fwd', 'ours/kam', 'ours range', 'forwarder range'], w1));
for (const tls of [false, true]) {
  for (const p of C.pairs) {
    const o = rates.median(key('ours', tls, p));
    const f = rates.median(key('forwarder', tls, p));
    const k = rates.median(key('kamailio', tls, p));
    out.push(pad([`${tls ? 'TLS' : 'TCP'} ${p}`, fmt(o), fmt(f), fmt(k), fx(ratio(o, f)), fx(ratio(o, k)), spread(rates, key('ours', tls, p)), spread(rates, key('forwarder', tls, p))], w1));
  }
}
out.push('');
out.push('Relay CPU time per delivered SEND, µs (user+system of the relay process in the measurement window;');
out.push('steadier than the rates on a shared machine; cost ratio fwd/ours = the rate ratio on an idle core)');
const w1b = [14, 10, 10, 10, 10, 10];
out.push(pad(['transport/pairs', 'ours', 'forwarder', 'kamailio', 'fwd/ours', 'kam/ours'], w1b));
for (const tls of [false, true]) {
  for (const p of C.pairs) {
    const o = cpuPer.median(key('ours', tls, p));
    const f = cpuPer.median(key('forwarder', tls, p));
    const k = cpuPer.median(key('kamailio', tls, p));
    out.push(pad([`${tls ? 'TLS' : 'TCP'} ${p}`, fmt(o, 1), fmt(f, 1), fmt(k, 1), fx(ratio(f, o)), fx(ratio(k, o))], w1b));
  }
}
out.push('');
out.push(`Latency at a fixed 1,000 SEND/s (TCP, 10 pairs, one-way A→B), median of ${C.latReps} runs (p99 range over the runs)`);
const w2 = [14, 10, 10, 10, 10, 16];
out.push(pad(['relay', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'p99 range'], w2));
for (const k of ['ours', 'forwarder', 'kamailio'] as const) {
  out.push(pad([k, fmt(lat.median(`${k}/p50`), 2), fmt(lat.median(`${k}/p99`), 2), fmt(lat.median(`${k}/p999`), 2), fmt(lat.median(`${k}/max`), 2), spread(lat, `${k}/p99`, 2)], w2));
}
out.push(`ours/forwarder p99: ${fx(ratio(lat.median('ours/p99'), lat.median('forwarder/p99')))}, p99.9: ${fx(ratio(lat.median('ours/p999'), lat.median('forwarder/p999')))}`);
out.push('');
out.push('Bulk over TLS, one message (MB/s = 10^6 bytes/s)');
const w3 = [34, 10, 14];
const b = (k: string): number | null => bulk.median(k);
out.push(pad([`1 MiB chunks, ${C.bulkBig >> 20} MiB: ours`, fmt(b('ours/1048576')), spread(bulk, 'ours/1048576')], w3));
out.push(pad(['                   pipe', fmt(b('pipe/1048576')), spread(bulk, 'pipe/1048576')], w3));
out.push(pad(['                   ours/pipe', fx(ratio(b('ours/1048576'), b('pipe/1048576')))], w3));
out.push(pad([`8 KB chunks, ${C.bulkSmall >> 20} MiB: ours`, fmt(b('ours/8192')), spread(bulk, 'ours/8192')], w3));
out.push(pad(['                   forwarder', fmt(b('forwarder/8192')), spread(bulk, 'forwarder/8192')], w3));
out.push(pad(['                   kamailio', fmt(b('kamailio/8192')), spread(bulk, 'kamailio/8192')], w3));
out.push(pad(['                   pipe', fmt(b('pipe/8192')), spread(bulk, 'pipe/8192')], w3));
out.push(pad(['                   ours/forwarder', fx(ratio(b('ours/8192'), b('forwarder/8192')))], w3));
out.push(pad(['                   ours/kamailio', fx(ratio(b('ours/8192'), b('kamailio/8192')))], w3));
out.push(pad(['                   ours/pipe', fx(ratio(b('ours/8192'), b('pipe/8192')))], w3));
out.push('');
out.push('Memory of idle authenticated TLS sessions (one connection each; RSS after a memory-reducing full GC)');
const w4 = [12, 10, 10];
out.push(pad(['sessions', 'ours MiB', 'fwd MiB'], w4));
const om = mem.get('ours');
const fm = mem.get('forwarder');
for (let i = 0; i < ((om ?? fm)?.points.length ?? 0); i++) {
  out.push(pad([String((om ?? fm)!.points[i]!.sessions), fmt(om?.points[i]?.rssMiB, 0), fmt(fm?.points[i]?.rssMiB, 0)], w4));
}
out.push(pad(['kB/session', fmt(om?.kbPerSession, 1), fmt(fm?.kbPerSession, 1)], w4));
out.push(pad(['fitted', fmt(om?.fitKbPerSession, 1), fmt(fm?.fitKbPerSession, 1)], w4));
out.push(pad(['100,000 est.', fmt(om?.at100kMiB, 0), fmt(fm?.at100kMiB, 0)], w4));
out.push(`(the curve stops at ${C.idleSteps.at(-1)} sessions: a process here may not hold more than ${FD_LIMIT} open files; 100,000 is the fitted line, not a measurement)`);
const memDiff = om != null && fm != null ? om.kbPerSession - fm.kbPerSession : null;

out.push('');
out.push(...pinnedTable(pinned));
out.push('');
out.push(...workersTable(workers));

const vs = (tls: boolean, p: number): number | null => ratio(rates.median(key('ours', tls, p)), rates.median(key('forwarder', tls, p)));
const vsForwarder = vs(false, 10);
const vsForwarderTls = vs(true, 10);
const vsForwarder100 = vs(false, 100);
const vsForwarderTls100 = vs(true, 100);
const bulkVsPipe = ratio(b('ours/1048576'), b('pipe/1048576'));
const bulk8kVsKamailioTls = ratio(b('ours/8192'), b('kamailio/8192'));
const bulk8kVsForwarderTls = ratio(b('ours/8192'), b('forwarder/8192'));
const p99VsForwarder = ratio(lat.median('ours/p99'), lat.median('forwarder/p99'));
/** docs/relay.md "Memory": what 100,000 idle TLS sessions take in one relay process. */
const DOC_100K_MIB = 8192; // "give the container 8 GiB" for 100,000
const at = (v: number | null, ok: (x: number) => boolean): boolean | null => (v === null ? null : ok(v));
const goals = {
  sendRateTcp: at(vsForwarder, (x) => x >= 0.9),
  sendRateTls: at(vsForwarderTls, (x) => x >= 0.9),
  sendRateTcp100: at(vsForwarder100, (x) => x >= 0.9),
  sendRateTls100: at(vsForwarderTls100, (x) => x >= 0.9),
  bulk8kVsKamailio: at(bulk8kVsKamailioTls, (x) => x >= 1.5),
  bulk8kVsForwarder: at(bulk8kVsForwarderTls, (x) => x >= 0.8),
  bulkTls: at(bulkVsPipe, (x) => x >= 0.9),
  p99: at(p99VsForwarder, (x) => x <= 1.5),
  memory: at(memDiff, (x) => x <= 2),
  memory100k: at(om?.at100kMiB ?? null, (x) => x <= DOC_100K_MIB),
};
const verdict = (ok: boolean | null): string => (ok === null ? 'unknown' : ok ? 'met' : 'NOT met');
out.push('');
out.push('Goals (medians)');
out.push(`  small-SEND rate ≥ 0.9× forwarder, TCP, 10 pairs:   ${fx(vsForwarder)} ${verdict(goals.sendRateTcp)}`);
out.push(`  small-SEND rate ≥ 0.9× forwarder, TLS, 10 pairs:   ${fx(vsForwarderTls)} ${verdict(goals.sendRateTls)}`);
out.push(`  small-SEND rate ≥ 0.9× forwarder, TCP, 100 pairs:  ${fx(vsForwarder100)} ${verdict(goals.sendRateTcp100)}`);
out.push(`  small-SEND rate ≥ 0.9× forwarder, TLS, 100 pairs:  ${fx(vsForwarderTls100)} ${verdict(goals.sendRateTls100)}`);
out.push(`  bulk 8 KB chunks over TLS ≥ 1.5× kamailio:         ${fx(bulk8kVsKamailioTls)} ${verdict(goals.bulk8kVsKamailio)}`);
out.push(`  bulk 8 KB chunks over TLS ≥ 0.8× forwarder:        ${fx(bulk8kVsForwarderTls)} ${verdict(goals.bulk8kVsForwarder)}`);
out.push(`  bulk 1 MiB chunks over TLS ≥ 0.9× pipe:            ${fx(bulkVsPipe)} ${verdict(goals.bulkTls)}`);
out.push(`  p99 at 1,000/s ≤ 1.5× forwarder's:                 ${fx(p99VsForwarder)} ${verdict(goals.p99)}`);
out.push(`  idle TLS session ≤ forwarder + 2 kB:               ${memDiff === null ? 'n/a' : `${memDiff >= 0 ? '+' : ''}${memDiff.toFixed(1)} kB`} ${verdict(goals.memory)}`);
out.push(`  100,000 idle TLS sessions ≤ ${DOC_100K_MIB} MiB (docs):      ${om ? `${om.at100kMiB.toFixed(0)} MiB (fitted)` : 'n/a'} ${verdict(goals.memory100k)}`);
if (!kam) out.push('  (kamailio not installed: its figures are null)');
console.log(out.join('\n'));

const r0 = (v: number | null | undefined): number | null => round(v, 0);
const summary = {
  sendRate: { ours: r0(rates.median(key('ours', false, 10))), forwarder: r0(rates.median(key('forwarder', false, 10))), kamailio: r0(rates.median(key('kamailio', false, 10))) },
  sendRateTls: { ours: r0(rates.median(key('ours', true, 10))), forwarder: r0(rates.median(key('forwarder', true, 10))), kamailio: r0(rates.median(key('kamailio', true, 10))) },
  vsKamailio: round(ratio(rates.median(key('ours', false, 10)), rates.median(key('kamailio', false, 10)))),
  vsForwarder: round(vsForwarder),
  vsForwarderTls: round(vsForwarderTls),
  vsForwarder100: round(vsForwarder100),
  vsForwarderTls100: round(vsForwarderTls100),
  bulkMBps: { ours: round(b('ours/1048576'), 1), pipe: round(b('pipe/1048576'), 1) },
  bulk8kMBps: { ours: round(b('ours/8192'), 1), forwarder: round(b('forwarder/8192'), 1), kamailio: round(b('kamailio/8192'), 1), pipe: round(b('pipe/8192'), 1) },
  bulkVsPipe: round(bulkVsPipe),
  bulk8kVsKamailioTls: round(bulk8kVsKamailioTls),
  bulk8kVsForwarderTls: round(bulk8kVsForwarderTls),
  p99Ms: { ours: round(lat.median('ours/p99'), 3), forwarder: round(lat.median('forwarder/p99'), 3), kamailio: round(lat.median('kamailio/p99'), 3) },
  p999Ms: { ours: round(lat.median('ours/p999'), 3), forwarder: round(lat.median('forwarder/p999'), 3), kamailio: round(lat.median('kamailio/p999'), 3) },
  p99VsForwarder: round(p99VsForwarder),
  kbPerSessionTls: { ours: round(om?.kbPerSession, 1), forwarder: round(fm?.kbPerSession, 1) },
  memory100kMiB: { ours: round(om?.at100kMiB, 0), forwarder: round(fm?.at100kMiB, 0), measuredUpTo: C.idleSteps.at(-1) },
  cpuUsPerSend: {
    ours: round(cpuPer.median(key('ours', false, 10)), 1), forwarder: round(cpuPer.median(key('forwarder', false, 10)), 1), kamailio: round(cpuPer.median(key('kamailio', false, 10)), 1),
    oursTls: round(cpuPer.median(key('ours', true, 10)), 1), forwarderTls: round(cpuPer.median(key('forwarder', true, 10)), 1),
    ours100: round(cpuPer.median(key('ours', false, 100)), 1), forwarder100: round(cpuPer.median(key('forwarder', false, 100)), 1),
  },
  ...pinnedSummary(pinned),
  ...workersSummary(workers),
  goalsMet: goals,
  repetitions: C.reps,
  quick: QUICK,
  loadAvg: round(load0, 1),
  loadAvgEnd: round(loadavg()[0], 1),
};
console.log(JSON.stringify(summary));
