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
