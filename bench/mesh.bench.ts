// Mesh benchmark (issue 11): `node bench/mesh.bench.ts [--quick] [--repeat N] [--profile]` (npm run bench:mesh).
//
// Three replicas of one relay, each in its own process (bench/mesh-replica.ts, one per "pod"):
// one public URI msrps://relay.msrp.test:2855;tcp, replica k mints `r<k>-` session ids and
// listens for the mesh on 127.0.1.k with the mesh certificate (testcerts.ts `mesh`, its own CA).
// The load generator (bench/loadgen.ts) runs in separate processes, one per measurement, and
// holds both ends of every pair; each client connects to its replica's own client port and
// AUTHs to the shared public URI. Two placements of the 10 pairs, over TLS:
//   same pod   A and B on one replica, pairs spread over replicas 0→0, 1→1, 2→2;
//   cross pod  A on replica i, B on replica j, pairs spread over 0→1, 1→2, 2→0: every SEND
//              crosses a mesh link (and its 200 comes back over it).
// Both placements keep all three replicas busy, so the ratio isolates the mesh hop.
// Measured: small SENDs per second (100-byte bodies, window 32 per pair) and one-way latency
// p50/p99/p99.9 at a fixed 1,000 SEND/s; median of 3 (--repeat N) interleaved repetitions (same,
// cross, same, cross, ...), plus the relays' CPU time and write system calls per delivered SEND
// (all three replicas), steadier than the rates when other work shares the cores.
// Prints a table, then as its very last line one JSON object:
//   samePodRate, crossPodRate, crossVsSame, p99MsSame, p99MsCross, goalsMet, loadAvg, quick.
// Goals: crossVsSame >= 0.6, p99MsCross <= 2 × p99MsSame.
// `--profile` instead profiles the replicas (V8 CPU profile of the measurement window) in a
// same-pod and a cross-pod rate run and prints, per function and per file, the CPU time per
// SEND in each and the difference (what the mesh hop costs), largest first.
// Figures are informative only (DESIGN.md §6): on 2 shared cores every figure is noisy.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../internal/relay/testrelay.ts';
import { testPki } from '../internal/transport/testcerts.ts';
import { BENCH_PASSWORD, BENCH_USER, rateRun, runNode, spawnNode, type Child, type RateRun } from './common.ts';
import type { CpuProfile } from './cpuprofile.ts';
import type { LoadSpec, Target } from './loadgen.ts';

const here = import.meta.dirname;
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const PROFILE = argv.includes('--profile');

// `--repeat N`: more interleaved repetitions (3 by default) when the machine is noisy.
const repeatArg = argv.indexOf('--repeat');
const REPEAT = repeatArg >= 0 ? Math.max(1, Number(argv[repeatArg + 1]) || 3) : 3;
const C = QUICK
  ? { durationMs: 1000, warmupMs: 300, latencyMs: 1500, repeat: REPEAT }
  : { durationMs: 3000, warmupMs: 500, latencyMs: 3000, repeat: REPEAT };
const PAIRS = 10;
const REPLICAS = 3;
const FD_LIMIT = 20_000;

const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

const pki = await testPki();
const caFile = join(pki.named.dir, 'ca.crt');
const meshPort = await freePort('127.0.1.0');
const nonceSecret = randomBytes(32).toString('hex');

interface ReplicaReady {
  ordinal: number;
  tlsPort: number;
  meshPort: number;
  publicUri: string;
}

async function startReplicas(nodeFlags: (k: number) => string[] = () => []): Promise<Child[]> {
  return Promise.all(Array.from({ length: REPLICAS }, (_, k) => spawnNode([
    ...nodeFlags(k), join(here, 'mesh-replica.ts'),
    JSON.stringify({ ordinal: k, meshPort, certDir: pki.named.dir, meshCertDir: pki.mesh.dir, nonceSecret }),
  ], { fdLimit: FD_LIMIT })));
}

type Placement = 'same' | 'cross';

function specOf(replicas: Child[], placement: Placement, s: Omit<LoadSpec, 'target' | 'routes'>): LoadSpec {
  const ready = replicas.map((r) => r.ready as unknown as ReplicaReady);
  const target: Target = { kind: 'ours', tls: true, port: ready[0]!.tlsPort, caFile, relayUri: ready[0]!.publicUri, user: BENCH_USER, password: BENCH_PASSWORD };
  // Pair i: A on replica i mod 3, B on the same replica or on the next one.
  const routes = ready.map((r, k) => ({ a: r.tlsPort, b: ready[placement === 'same' ? k : (k + 1) % REPLICAS]!.tlsPort }));
  return { ...s, target, routes };
}

const stats = async (replicas: Child[]): Promise<{ sessions: number; connections: number; meshLinks: number }[]> =>
  Promise.all(replicas.map((r) => {
    r.send('stats');
    return r.next<{ sessions: number; connections: number; meshLinks: number }>('stats', 10_000);
  }));

// ---------------------------------------------------------------------------------------------
if (PROFILE) {
  const { topSelf } = await import('./cpuprofile.ts');
  const P = { warmupMs: 500, durationMs: QUICK ? 2000 : 5000 };
  const by: Record<Placement, { fn: Map<string, number>; file: Map<string, number>; scale: number; dir: string }> = {} as never;
  for (const placement of ['same', 'cross'] as const) {
    const dir = await mkdtemp(join(tmpdir(), `msrp-mesh-prof-${placement}-`));
    const replicas = await startReplicas();
    const r = await rateRun(specOf(replicas, placement, { mode: 'rate', pairs: PAIRS, window: 32, bodyBytes: 100, ...P }), replicas.map((x) => x.pid), {
      fdLimit: FD_LIMIT,
      window: {
        start: () => replicas.forEach((x) => x.send('profile-start')),
        end: () => replicas.forEach((x, k) => x.send(`profile-stop ${join(dir, `replica-${k}.cpuprofile`)}`)),
      },
    });
    await Promise.all(replicas.map((x) => x.next('profiled', 30_000)));
    log(`profiled ${placement}-pod run: ${Math.round(r.sendsPerSec)} SEND/s, ${r.cpuUsPerSend?.toFixed(1) ?? 'n/a'} µs relay CPU per SEND (under the profiler)`);
    await Promise.all(replicas.map((x) => x.stop()));
    // The three replicas' profiles summed (the same code in each).
    const fn = new Map<string, number>();
    const file = new Map<string, number>();
    let busy = 0;
    for (const f of (await readdir(dir)).filter((x) => x.endsWith('.cpuprofile'))) {
      const p = topSelf(JSON.parse(await readFile(join(dir, f), 'utf8')) as CpuProfile, 100_000);
      for (const row of p.byFunction) fn.set(row.name, (fn.get(row.name) ?? 0) + row.us);
      for (const row of p.byFile) file.set(row.name, (file.get(row.name) ?? 0) + row.us);
      busy += p.total - (p.byFile.find((x) => x.name === '(idle)')?.us ?? 0);
    }
    // V8 samples by wall clock: on a loaded machine a descheduled thread still collects samples.
    // So each function's share of the busy samples is applied to the CPU time /proc measured.
    by[placement] = { fn, file, scale: (r.cpuUsPerSend ?? 0) / (busy || 1), dir };
  }
  const perSend = (p: Placement, m: 'fn' | 'file', name: string): number => (by[p][m].get(name) ?? 0) * by[p].scale;
  const table = (m: 'fn' | 'file', n: number): void => {
    const names = [...new Set([...by.same[m].keys(), ...by.cross[m].keys()])].filter((x) => !x.startsWith('(idle)'));
    const busy = (p: Placement): number => names.reduce((t, x) => t + perSend(p, m, x), 0);
    console.log(`${'same'.padStart(8)}  ${'cross'.padStart(8)}  ${'extra'.padStart(8)}  µs per SEND, all 3 replicas (self time)`);
    console.log(`${busy('same').toFixed(2).padStart(8)}  ${busy('cross').toFixed(2).padStart(8)}  ${(busy('cross') - busy('same')).toFixed(2).padStart(8)}  (busy, all functions)`);
    for (const x of names.sort((a, b) => (perSend('cross', m, b) - perSend('same', m, b)) - (perSend('cross', m, a) - perSend('same', m, a))).slice(0, n)) {
      const s0 = perSend('same', m, x);
      const s1 = perSend('cross', m, x);
      console.log(`${s0.toFixed(2).padStart(8)}  ${s1.toFixed(2).padStart(8)}  ${(s1 - s0).toFixed(2).padStart(8)}  ${x}`);
    }
  };
  console.log(`\nCPU profiles of the 3 replicas, small SENDs (10 pairs, TLS); same pod ${by.same.dir}, cross pod ${by.cross.dir}`);
  console.log('measurement window only; µs per SEND = share of busy samples × relay CPU µs/SEND from /proc; the largest cross-pod extras first\n');
  console.log('by function');
  table('fn', 35);
  console.log('\nby file');
  table('file', 15);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
const load0 = loadavg();
log(`mesh benchmark${QUICK ? ' (--quick)' : ''}: load average ${load0.map((x) => x.toFixed(1)).join(' ')}, ${cpus().length} CPUs`);
const replicas = await startReplicas();
const pids = replicas.map((r) => r.pid);
log(`  replicas: ${replicas.map((r) => { const x = r.ready as unknown as ReplicaReady; return `r${x.ordinal} client port ${x.tlsPort}, mesh 127.0.1.${x.ordinal}:${x.meshPort}`; }).join('; ')}`);

interface Lat { p50Ms: number; p99Ms: number; p999Ms: number; samples: number; errors: number; achievedPerSec: number; sent: number; received: number; error?: string }
const rates: Record<Placement, RateRun[]> = { same: [], cross: [] };
const lats: Record<Placement, Lat[]> = { same: [], cross: [] };
const linksAfter: Partial<Record<Placement, number[]>> = {};
let failed = false;

try {
  for (let rep = 0; rep < C.repeat; rep++) {
    for (const placement of ['same', 'cross'] as const) {
      const r = await rateRun(specOf(replicas, placement, { mode: 'rate', pairs: PAIRS, window: 32, bodyBytes: 100, warmupMs: C.warmupMs, durationMs: C.durationMs }), pids, { fdLimit: FD_LIMIT });
      if (r.error !== undefined) {
        log(`  rate ${placement}: failed: ${r.error}`);
        failed = true;
      } else {
        rates[placement].push(r);
        log(`  rate ${placement} #${rep + 1}: ${Math.round(r.sendsPerSec)} SEND/s${r.errors > 0 ? ` (${r.errors} non-200)` : ''}, relays ${r.cpuUsPerSend?.toFixed(1) ?? 'n/a'} µs CPU/SEND, ${r.writesPerSend?.toFixed(2) ?? 'n/a'} writes/SEND, ${r.cpuCores?.toFixed(2) ?? 'n/a'} cores; loadgen ${r.loadgenCores?.toFixed(2) ?? 'n/a'} cores`);
      }
      // Sanity: same-pod traffic opens no mesh link (the first same run comes before any cross run); cross-pod traffic does.
      linksAfter[placement] ??= (await stats(replicas)).map((s) => s.meshLinks);
    }
    for (const placement of ['same', 'cross'] as const) {
      const spec = specOf(replicas, placement, { mode: 'latency', pairs: PAIRS, rate: 1000, bodyBytes: 100, warmupMs: C.warmupMs, durationMs: C.latencyMs });
      const l = await runNode<Lat>([join(here, 'loadgen.ts'), JSON.stringify(spec)], { fdLimit: FD_LIMIT, timeoutMs: 120_000 });
      if (l.error !== undefined) {
        log(`  latency ${placement}: failed: ${l.error}`);
        failed = true;
      } else {
        lats[placement].push(l);
        log(`  latency ${placement} #${rep + 1}: p50 ${l.p50Ms.toFixed(2)} ms, p99 ${l.p99Ms.toFixed(2)} ms, p99.9 ${l.p999Ms.toFixed(2)} ms (${l.samples} samples, ${Math.round(l.achievedPerSec)}/s${l.received < l.sent ? `, ${l.sent - l.received} lost` : ''}${l.errors > 0 ? `, ${l.errors} non-200` : ''})`);
      }
    }
  }
} finally {
  await Promise.all(replicas.map((r) => r.stop()));
}

// --- report -------------------------------------------------------------------------------------
const median = (xs: number[]): number | null => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};
const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);
const fmt = (v: number | null | undefined, digits = 0): string => (v === null || v === undefined ? 'n/a' : v.toFixed(digits));
const fx = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(2)}×`);
const pad = (cells: string[], widths: number[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');

const rate = (p: Placement): number | null => median(rates[p].map((r) => r.sendsPerSec));
const cpu = (p: Placement): number | null => median(rates[p].flatMap((r) => (r.cpuUsPerSend === null ? [] : [r.cpuUsPerSend])));
const med = (p: Placement, k: 'cpuCores' | 'loadgenCores' | 'writesPerSend'): number | null => median(rates[p].flatMap((r) => (r[k] === null ? [] : [r[k]])));
const lat = (p: Placement, k: 'p50Ms' | 'p99Ms' | 'p999Ms'): number | null => median(lats[p].map((l) => l[k]));
const load1 = loadavg();

const out: string[] = [];
out.push('');
out.push(`MSRP relay mesh benchmark${QUICK ? ' (--quick)' : ''} — 3 replica processes on loopback, TLS, ${cpus().length} cores shared with the load generator;`);
out.push(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${load1.map((x) => x.toFixed(2)).join(' ')} (noisy: compare the ratios)`);
if (Math.max(load0[0]!, load1[0]!) > cpus().length) {
  out.push(`WARNING: load average above ${cpus().length} (the number of cores): other work preempts the replicas and the load generator,`);
  out.push('so the rates and the p99s below swing run to run; the relays\' CPU µs/SEND and write calls/SEND are the steadier figures');
}
out.push(`median of ${C.repeat} interleaved repetitions; ${PAIRS} pairs: same pod 0→0 1→1 2→2, cross pod 0→1 1→2 2→0`);
out.push('');
out.push(`Small SENDs per second (100-byte bodies, window 32 per pair, ${C.durationMs / 1000} s after ${C.warmupMs} ms warm-up)`);
const w = [26, 10, 10, 10];
out.push(pad(['', 'same pod', 'cross pod', 'cross/same'], w));
out.push(pad(['SEND/s', fmt(rate('same')), fmt(rate('cross')), fx(ratio(rate('cross'), rate('same')))], w));
out.push(pad(['relay CPU µs/SEND (all 3)', fmt(cpu('same'), 1), fmt(cpu('cross'), 1), fx(ratio(cpu('cross'), cpu('same')))], w));
out.push(pad(['relay write syscalls/SEND', fmt(med('same', 'writesPerSend'), 2), fmt(med('cross', 'writesPerSend'), 2), fx(ratio(med('cross', 'writesPerSend'), med('same', 'writesPerSend')))], w));
out.push(pad(['relay cores busy', fmt(med('same', 'cpuCores'), 2), fmt(med('cross', 'cpuCores'), 2), ''], w));
out.push(pad(['loadgen cores busy', fmt(med('same', 'loadgenCores'), 2), fmt(med('cross', 'loadgenCores'), 2), ''], w));
// Two steadier views of the same ratio on a shared machine: each repetition's cross run against
// the same run just before it, and the relays' CPU cost (the rate ratio when they are CPU-bound).
const paired = median(rates.cross.flatMap((c, i) => (rates.same[i] !== undefined ? [c.sendsPerSec / rates.same[i].sendsPerSec] : [])));
out.push(pad(['cross/same per repetition', '', '', fx(paired)], w));
out.push(pad(['same/cross relay CPU', '', '', fx(ratio(cpu('same'), cpu('cross')))], w));
out.push(`  runs, SEND/s: same ${rates.same.map((r) => Math.round(r.sendsPerSec)).join(' / ')}; cross ${rates.cross.map((r) => Math.round(r.sendsPerSec)).join(' / ')}`);
out.push('');
out.push(`One-way latency A→B at a fixed 1,000 SEND/s (${PAIRS} pairs, ${C.latencyMs / 1000} s)`);
out.push(pad(['', 'same pod', 'cross pod', 'cross/same'], w));
for (const [name, k] of [['p50 ms', 'p50Ms'], ['p99 ms', 'p99Ms'], ['p99.9 ms', 'p999Ms']] as const) {
  out.push(pad([name, fmt(lat('same', k), 2), fmt(lat('cross', k), 2), fx(ratio(lat('cross', k), lat('same', k)))], w));
}
out.push(`  runs, p99 ms: same ${lats.same.map((l) => l.p99Ms.toFixed(2)).join(' / ')}; cross ${lats.cross.map((l) => l.p99Ms.toFixed(2)).join(' / ')}`);
out.push('');
out.push(`Mesh links open per replica after the first same-pod run: ${linksAfter.same?.join(',') ?? 'n/a'}; after the first cross-pod run: ${linksAfter.cross?.join(',') ?? 'n/a'}`);

const crossVsSame = ratio(rate('cross'), rate('same'));
const p99Ratio = ratio(lat('cross', 'p99Ms'), lat('same', 'p99Ms'));
const verdict = (ok: boolean | null): string => (ok === null ? 'unknown' : ok ? 'met' : 'NOT met');
const goals = {
  crossVsSame: crossVsSame === null ? null : crossVsSame >= 0.6,
  p99: p99Ratio === null ? null : p99Ratio <= 2,
};
out.push('');
out.push('Goals');
out.push(`  cross-pod rate ≥ 0.6× same-pod:  ${fx(crossVsSame)} ${verdict(goals.crossVsSame)}`);
out.push(`  cross-pod p99 ≤ 2× same-pod p99: ${fx(p99Ratio)} ${verdict(goals.p99)}`);
if (failed) out.push('  (some runs failed: see the log above)');
console.log(out.join('\n'));

const round = (v: number | null, d = 2): number | null => (v === null || !Number.isFinite(v) ? null : Number(v.toFixed(d)));
console.log(JSON.stringify({
  samePodRate: round(rate('same'), 0),
  crossPodRate: round(rate('cross'), 0),
  crossVsSame: round(crossVsSame),
  p99MsSame: round(lat('same', 'p99Ms'), 3),
  p99MsCross: round(lat('cross', 'p99Ms'), 3),
  goalsMet: goals,
  loadAvg: round(load0[0]!, 1),
  quick: QUICK,
}));
