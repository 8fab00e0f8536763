// Summarises a V8 .cpuprofile (node --cpu-prof) by self time: per function (name, file:line)
// and per file, heaviest first. Used by `node bench/relay.bench.ts --profile`.
import { relative } from 'node:path';

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  us: number;
  pct: number;
}

const root = relative('/', new URL('..', import.meta.url).pathname);

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const rel = path.startsWith(`/${root}`) ? path.slice(root.length + 2) : path;
  return rel.replace(/^.*node_modules\//, 'node_modules/');
}

export function topSelf(p: CpuProfile, n: number): { total: number; byFunction: Row[]; byFile: Row[] } {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const selfUs = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const d = p.timeDeltas[i] ?? 0;
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + d);
    total += d;
  }
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const cf = node.callFrame;
    const url = shortUrl(cf.url);
    const name = `${cf.functionName || '(anonymous)'}  ${url}${cf.url !== '' ? `:${cf.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const f = cf.url === '' ? cf.functionName || '(native)' : url;
    file.set(f, (file.get(f) ?? 0) + us);
  }
  const rows = (m: Map<string, number>): Row[] => [...m].map(([name, us]) => ({ name, us, pct: (100 * us) / (total || 1) })).sort((a, b) => b.us - a.us);
  return { total, byFunction: rows(fn).slice(0, n), byFile: rows(file) };
}

/** A stage of the per-frame path: the functions whose inclusive time it is (matched on "name file"). */
export interface Stage {
  name: string;
  /** Function name and file suffix, e.g. ['push', 'internal/msrp/parser.ts']; several: their union (a sample counts once). */
  fns: [string, string][];
}

export interface StageRow {
  name: string;
  /** Inclusive µs in the profile. */
  us: number;
  /** Share of the process's busy (not idle) time. */
  pctBusy: number;
}

/**
 * Inclusive time per stage: a sample counts for a stage when any of the stage's functions is
 * on its stack (once, however deep). Also the busy total and the (garbage collector) and
 * (program)/(idle) splits, so the stages can be turned into µs per frame.
 */
export function stages(p: CpuProfile & { nodes: { id: number; children?: number[] }[] }, defs: Stage[]): { busyUs: number; gcUs: number; rows: StageRow[] } {
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  // Per node: which stages its stack includes (memoised up the tree).
  const memo = new Map<number, number>();
  const matchOf = (id: number): number => {
    const m = memo.get(id);
    if (m !== undefined) return m;
    const node = byId.get(id)!;
    const cf = node.callFrame;
    const url = shortUrl(cf.url);
    let bits = 0;
    defs.forEach((d, i) => {
      if (d.fns.some(([fn, file]) => cf.functionName === fn && url.endsWith(file))) bits |= 1 << i;
    });
    const up = parent.get(id);
    const all = bits | (up === undefined ? 0 : matchOf(up));
    memo.set(id, all);
    return all;
  };
  const us = defs.map(() => 0);
  let busyUs = 0;
  let gcUs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const d = p.timeDeltas[i] ?? 0;
    const node = byId.get(p.samples[i]!)!;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') continue;
    busyUs += d;
    if (fn === '(garbage collector)') gcUs += d;
    const bits = matchOf(node.id);
    for (let k = 0; k < defs.length; k++) if ((bits & (1 << k)) !== 0) us[k]! += d;
  }
  return { busyUs, gcUs, rows: defs.map((d, k) => ({ name: d.name, us: us[k]!, pctBusy: (100 * us[k]!) / (busyUs || 1) })) };
}
