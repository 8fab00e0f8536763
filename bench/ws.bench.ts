// MSRP over WebSocket benchmark: `node bench/ws.bench.ts [--quick]` (npm run bench:ws).
//
// Our relay (bench/ours.ts, one process) with an msrps: (TLS) and a wss: (MSRP over WebSocket,
// RFC 7977) listener; the load generator (bench/loadgen.ts, its own process per run) holds both
// ends of every session pair, all on one transport per run:
//   - small SENDs (100-byte bodies) per second, 10 pairs, window 32 each: wss: against msrps:,
//     interleaved repetitions, the median of each (docs/architecture.md §6.4: ratios within one
//     run; these machines vary 20-30 % between runs);
//   - bulk MB/s of one message in 256 KiB chunks (window 8), wss: and msrps:.
// Prints a table, then as its very last line one JSON object:
//   { wsRate, tlsRate, wsVsTls, wsBulkMBps, tlsBulkMBps, wsBulkVsTls, relayCpuUsPerSend: {ws, tls}, load }
// Goal: wsVsTls >= 0.7.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { testPki } from '../internal/transport/testcerts.ts';
import { BENCH_PASSWORD, BENCH_USER, rateRun, runNode, spawnNode } from './common.ts';
import type { LoadSpec, Target } from './loadgen.ts';

const here = import.meta.dirname;
const QUICK = process.argv.includes('--quick');
const C = QUICK
  ? { durationMs: 1500, warmupMs: 300, repeat: 1, bulkBytes: 32 << 20 }
  : { durationMs: 3000, warmupMs: 500, repeat: 3, bulkBytes: 128 << 20 };
const FD_LIMIT = 20_000;
const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

const pki = await testPki();
const caFile = join(pki.server.dir, 'ca.crt');
const load0 = loadavg()[0]!;
log(`WebSocket benchmark${QUICK ? ' (--quick)' : ''}: load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const ours = await spawnNode(['--expose-gc', join(here, 'ours.ts'), JSON.stringify({ certDir: pki.server.dir })], { fdLimit: FD_LIMIT });
const ep = ours.ready as unknown as { tlsPort: number; wssPort: number; uriTls: string };

const target = (ws: boolean): Target => ({
  kind: 'ours', tls: true, port: ws ? ep.wssPort : ep.tlsPort, caFile, relayUri: ep.uriTls, user: BENCH_USER, password: BENCH_PASSWORD,
  ...(ws ? { websocket: true } : {}),
});
const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

try {
  const rates = { ws: [] as number[], tls: [] as number[] };
  const cpu = { ws: [] as number[], tls: [] as number[] };
  for (let round = 0; round < C.repeat; round++) {
    for (const ws of [true, false]) {
      const k = ws ? 'ws' : 'tls';
      const r = await rateRun({ mode: 'rate', target: target(ws), pairs: 10, window: 32, bodyBytes: 100, warmupMs: C.warmupMs, durationMs: C.durationMs }, [ours.pid], { fdLimit: FD_LIMIT });
      if (r.error !== undefined || r.errors > 0) {
        log(`  rate ${k}: ${r.error ?? `${r.errors} non-200 responses`}`);
        continue;
      }
      rates[k].push(r.sendsPerSec);
      if (r.cpuUsPerSend !== null) cpu[k].push(r.cpuUsPerSend);
      log(`  rate ${k}: ${Math.round(r.sendsPerSec)} SEND/s, relay CPU ${r.cpuUsPerSend?.toFixed(1) ?? 'n/a'} µs/SEND`);
    }
  }
  const bulk = { ws: null as number | null, tls: null as number | null };
  for (const ws of [true, false]) {
    const spec: LoadSpec = { mode: 'bulk', target: target(ws), chunkBytes: 256 * 1024, totalBytes: C.bulkBytes, window: 8 };
    const r = await runNode<{ MBps: number; bytes: number; errors: number; error?: string }>([join(here, 'loadgen.ts'), JSON.stringify(spec)], { fdLimit: FD_LIMIT, timeoutMs: 400_000 });
    const ok = r.error === undefined && r.bytes === C.bulkBytes && r.errors === 0;
    bulk[ws ? 'ws' : 'tls'] = ok ? r.MBps : null;
    log(`  bulk ${ws ? 'ws' : 'tls'}: ${ok ? `${r.MBps.toFixed(0)} MB/s` : `failed (${r.error ?? `${r.bytes} of ${C.bulkBytes} bytes, ${r.errors} errors`})`}`);
  }
  const wsRate = median(rates.ws);
  const tlsRate = median(rates.tls);
  const wsVsTls = wsRate !== null && tlsRate !== null ? wsRate / tlsRate : null;
  const round = (x: number | null, d = 0): number | null => (x === null ? null : Number(x.toFixed(d)));
  console.log('\n| transport | SEND/s (median) | relay µs/SEND | bulk MB/s |');
  console.log('|---|---:|---:|---:|');
  console.log(`| wss: (RFC 7977) | ${round(wsRate)} | ${round(median(cpu.ws), 1)} | ${round(bulk.ws)} |`);
  console.log(`| msrps: (TLS) | ${round(tlsRate)} | ${round(median(cpu.tls), 1)} | ${round(bulk.tls)} |`);
  console.log(`wss:/msrps: = ${round(wsVsTls, 2)} (goal >= 0.7)`);
  console.log(JSON.stringify({
    wsRate: round(wsRate), tlsRate: round(tlsRate), wsVsTls: round(wsVsTls, 3),
    wsBulkMBps: round(bulk.ws, 1), tlsBulkMBps: round(bulk.tls, 1),
    wsBulkVsTls: bulk.ws !== null && bulk.tls !== null ? round(bulk.ws / bulk.tls, 3) : null,
    relayCpuUsPerSend: { ws: round(median(cpu.ws), 1), tls: round(median(cpu.tls), 1) },
    load: { before: Number(load0.toFixed(2)), after: Number(loadavg()[0]!.toFixed(2)) },
  }));
} finally {
  await ours.stop();
}
