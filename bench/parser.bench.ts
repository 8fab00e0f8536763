// MSRP parser benchmark: `node bench/parser.bench.ts` (npm run bench:parser).
//
// Measures, in one process:
//   (a) small SEND frames (100-byte body) per second, fed as 64 KiB pushes;
//   (b) MB/s for SEND frames with a 1 MiB body, whole-frame and streaming mode;
//   (c) the physical limit: a bare Buffer#indexOf scan for the end-line over the same bytes.
// Prints a table, then as the very last line one JSON object:
//   { smallFramesPerSec, largeMBps, scanMBps, largeVsScan }
// Figures are informative only (docs/architecture.md §6.4: benchmarks never gate CI on absolute times).

import { MsrpParser } from '../internal/msrp/parser.ts';
import { serializeToBuffer } from '../internal/msrp/serializer.ts';
import type { MsrpFrame } from '../internal/msrp/frame.ts';

const PUSH = 64 * 1024;

function sendFrame(i: number, body: Buffer): MsrpFrame {
  return {
    kind: 'request',
    transactionId: `tx${i.toString(36).padStart(8, '0')}`,
    method: 'SEND',
    toPath: ['msrps://relay.example.com:2855/s8dk3jw9e;tcp', 'msrps://bob.example.com:2855/kd83jfye;tcp'],
    fromPath: ['msrps://alice.example.com:2855/a93kdjw;tcp'],
    headers: [
      { name: 'Message-ID', value: `m${i.toString(36)}x9` },
      { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
      { name: 'Success-Report', value: 'no' },
      { name: 'Content-Type', value: 'text/plain' },
    ],
    body: [body],
    continuation: '$',
  };
}

function pushes(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) out.push(stream.subarray(i, Math.min(stream.length, i + size)));
  return out;
}

/**
 * Runs the jobs in interleaved rounds for about `ms` after a warm-up and returns each job's best
 * rate (units / second). Interleaving and best-of keep the ratios meaningful on a busy machine;
 * each run lasts only a few milliseconds, so that some runs get the CPU without being
 * descheduled (a 50 ms run on a loaded machine almost never does, and best-of then measures the
 * load, not the parser).
 */
function measure(jobs: ReadonlyArray<readonly [units: number, fn: () => void]>, ms = 3000): number[] {
  for (const [, fn] of jobs) for (let i = 0; i < 3; i++) fn();
  const best = jobs.map(() => 0);
  const until = performance.now() + ms;
  while (performance.now() < until) {
    jobs.forEach(([units, fn], j) => {
      const t0 = performance.now();
      fn();
      best[j] = Math.max(best[j]!, units / ((performance.now() - t0) / 1000));
    });
  }
  return best;
}

// (a) small frames: 2000 frames (about 12 pushes of 64 KiB) per run
const SMALL = 2000;
const smallBody = Buffer.alloc(100, 0x61);
const smallStream = Buffer.concat(Array.from({ length: SMALL }, (_, i) => serializeToBuffer(sendFrame(i, smallBody))));
const smallPushes = pushes(smallStream, PUSH);
let count = 0;
const [smallFramesPerSec = 0] = measure([[SMALL, () => {
  count = 0;
  const p = new MsrpParser({ onFrame: () => count++, onError: (e) => { throw new Error(e.message); } });
  for (const b of smallPushes) p.push(b);
  if (count !== SMALL) throw new Error(`parsed ${count} of ${SMALL}`);
}]]);

// (b) 1 MiB chunks, 8 per run
const LARGE = 8;
const largeBody = Buffer.alloc(1024 * 1024);
for (let i = 0; i < largeBody.length; i++) largeBody[i] = (i * 131 + (i >> 7)) & 0xff; // binary, no end-line
const largeStream = Buffer.concat(Array.from({ length: LARGE }, (_, i) => serializeToBuffer(sendFrame(i, largeBody))));
const largePushes = pushes(largeStream, PUSH);
const mb = largeStream.length / (1024 * 1024);

const parseWhole = (): void => {
  let frames = 0;
  const p = new MsrpParser({ onFrame: () => frames++, onError: (e) => { throw new Error(e.message); } }, { maxBufferedBody: 2 * 1024 * 1024 });
  for (const b of largePushes) p.push(b);
  if (frames !== LARGE) throw new Error(`parsed ${frames} of ${LARGE}`);
};

const parseStreaming = (): void => {
  let ends = 0;
  let bytes = 0;
  const p = new MsrpParser({ onHead: () => {}, onBody: (b) => (bytes += b.length), onEnd: () => ends++, onError: (e) => { throw new Error(e.message); } }, { streamBodies: true });
  for (const b of largePushes) p.push(b);
  if (ends !== LARGE || bytes !== LARGE * largeBody.length) throw new Error('streaming lost bytes');
};

// (c) physical limit: indexOf over the same pushes for the constant end-line needle.
const needle = Buffer.from('\r\n-------', 'latin1');
let sink = 0;
const scan = (): void => {
  for (const b of largePushes) {
    let i = b.indexOf(needle);
    while (i >= 0) {
      sink += i;
      i = b.indexOf(needle, i + 1);
    }
  }
};
const [largeMBps = 0, streamMBps = 0, scanMBps = 1] = measure([[mb, parseWhole], [mb, parseStreaming], [mb, scan]], 4000);
if (sink < 0) console.log(sink);

const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;
const rows = [
  ['small SEND frames (100 B body), 64 KiB pushes', `${round(smallFramesPerSec / 1000, 0)} k frames/s`, `${round((smallFramesPerSec * smallStream.length) / SMALL / 1048576)} MB/s`],
  ['1 MiB SEND chunks, whole-frame mode', `${round(largeMBps)} MB/s`, `${round((largeMBps / scanMBps) * 100)} % of scan`],
  ['1 MiB SEND chunks, streaming mode', `${round(streamMBps)} MB/s`, `${round((streamMBps / scanMBps) * 100)} % of scan`],
  ['Buffer#indexOf end-line scan (physical limit)', `${round(scanMBps)} MB/s`, '100 %'],
];
const w0 = Math.max(...rows.map((r) => r[0]!.length));
const w1 = Math.max(...rows.map((r) => r[1]!.length));
console.log(`MSRP parser benchmark (node ${process.version}, ${process.arch})`);
for (const [a, b, c] of rows) console.log(`  ${a!.padEnd(w0)}  ${b!.padStart(w1)}  ${c}`);
console.log(
  JSON.stringify({
    smallFramesPerSec: Math.round(smallFramesPerSec),
    largeMBps: round(Math.min(largeMBps, streamMBps)),
    scanMBps: round(scanMBps),
    largeVsScan: round(Math.min(largeMBps, streamMBps) / scanMBps, 3),
  }),
);
