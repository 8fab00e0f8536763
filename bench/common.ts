// Shared pieces of the relay benchmark (bench/relay.bench.ts): the control protocol of the
// child processes (relay under test, load generator), a lean MSRP frame scanner for the load
// generator and the minimal forwarder, and small statistics helpers.
//
// Child protocol: a child prints JSON lines on stdout; the first `{"ready": ...}` line says
// it is listening. It reads commands from stdin, one per line:
//   mem   -> gc() (when started with --expose-gc), then {"mem": {rss, heapUsed, external, arrayBuffers}}
//   exit  -> process.exit(0) (so --cpu-prof writes its profile)
// A child whose stdin closes exits too (the orchestrator died: never leave strays).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { LoadSpec } from './loadgen.ts';

/** The one user of our relay under test (bench/ours.ts) and of Kamailio in the benchmark. */
export const BENCH_USER = 'bench';
export const BENCH_PASSWORD = 'bench-pw';
export const BENCH_REALM = 'bench.test';

/** Prints one JSON line on stdout. */
export function emit(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

/** Child side of the control protocol. `extra` handles other commands (return true when handled). */
export function serveControl(ready: unknown, extra?: (cmd: string) => boolean): void {
  emit({ ready });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const cmd = line.trim();
    if (cmd === 'mem') {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) {
        // A memory-reducing full GC: V8 otherwise keeps the young generation at the size it
        // grew to during the last burst (up to tens of MB, released only by its memory
        // reducer seconds later), which is not memory held by what is being measured.
        (gc as unknown as (o: { type: string; execution: string; flavor: string }) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
        gc();
      }
      const m = process.memoryUsage();
      emit({ mem: { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers } });
    } else if (cmd === 'exit') {
      process.exit(0);
    } else if (extra?.(cmd) !== true) {
      emit({ error: `unknown command ${cmd}` });
    }
  });
  rl.on('close', () => process.exit(0));
}

export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** The payload of the child's `ready` line. */
  readonly ready: Record<string, unknown>;
  /** The next JSON line that has `key`. */
  next<T = unknown>(key: string, timeoutMs?: number): Promise<T>;
  send(cmd: string): void;
  /** stderr collected so far (for error messages). */
  stderr(): string;
  /** `exit` command, then wait (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns `node <args>` through bash so the open-file limit can be raised to the hard limit
 * first (`ulimit -n` cannot be raised from inside node); `exec` keeps the pid, so RSS read for
 * this pid is node's own.
 */
export function spawnNode(nodeArgs: string[], opts: { fdLimit?: number; env?: NodeJS.ProcessEnv; readyTimeoutMs?: number; cpus?: string } = {}): Promise<Child> {
  // `cpus`: run on these CPUs only (taskset's list, e.g. "0" or "1-3"); taskset execs node, so the pid stays node's.
  const argv = [...(opts.cpus !== undefined ? ['taskset', '-c', opts.cpus] : []), process.execPath, ...nodeArgs];
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const limit = opts.fdLimit !== undefined ? `ulimit -n ${opts.fdLimit} 2>/dev/null || ulimit -n $(ulimit -Hn); ` : '';
  const proc = spawn('bash', ['-c', `${limit}exec ${quoted}`], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
  // A child that exited on its own between our check and our write (EPIPE) is not an error
  // of the benchmark: without a listener it crashed the whole run.
  proc.stdin.on('error', () => undefined);
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d: string) => {
    err = (err + d).slice(-20_000);
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { key: string; resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  let exited: Error | undefined;
  const deliver = (): void => {
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      const j = lines.findIndex((l) => w.key in l);
      if (j >= 0) {
        const [line] = lines.splice(j, 1);
        waiters.splice(i--, 1);
        clearTimeout(w.timer);
        w.resolve(line![w.key]);
      }
    }
  };
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return;
    }
    deliver();
  });
  const exitP = new Promise<void>((resolve) => proc.once('exit', (code, sig) => {
    exited = new Error(`child ${nodeArgs.join(' ')} exited (${code ?? sig})\n${err.slice(-3000)}`);
    for (const w of waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(exited);
    }
    resolve();
  }));
  const next = <T>(key: string, timeoutMs = 120_000): Promise<T> => new Promise<T>((resolve, reject) => {
    if (exited) {
      const j = lines.findIndex((l) => key in l);
      if (j >= 0) resolve(lines.splice(j, 1)[0]![key] as T);
      else reject(exited);
      return;
    }
    const w = {
      key, resolve: resolve as (v: unknown) => void, reject,
      timer: setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`no "${key}" from ${nodeArgs.join(' ')} within ${timeoutMs} ms\n${err.slice(-3000)}`));
      }, timeoutMs),
    };
    waiters.push(w);
    deliver();
  });
  return next<Record<string, unknown>>('ready', opts.readyTimeoutMs ?? 60_000).then((ready) => ({
    proc,
    pid: proc.pid!,
    ready,
    next,
    send(cmd: string) {
      if (!exited && proc.stdin.writable) proc.stdin.write(`${cmd}\n`);
    },
    stderr: () => err,
    async stop(graceMs = 10_000) {
      if (exited) return;
      if (proc.stdin.writable) proc.stdin.write('exit\n');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exitP;
      clearTimeout(t);
    },
  }), (e: Error) => {
    proc.kill('SIGKILL');
    throw e;
  });
}

/** Runs `node <args>` to completion and returns the last JSON line with `result`. */
export async function runNode<T>(nodeArgs: string[], opts: { fdLimit?: number; timeoutMs?: number } = {}): Promise<T> {
  const child = await spawnNode(nodeArgs, { ...opts, readyTimeoutMs: opts.timeoutMs ?? 180_000 });
  try {
    return await child.next<T>('result', opts.timeoutMs ?? 180_000);
  } finally {
    await child.stop(2000);
  }
}

/** CPU seconds (user + system) used so far by the processes in `pids`' process groups (Kamailio forks workers). */
export function cpuSeconds(pgrps: number[]): number {
  let ticks = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      // fields[0] is state (stat field 3): pgrp is field 5, utime 14, stime 15.
      if (pgrps.includes(Number(fields[2])) || pgrps.includes(Number(d))) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100; // USER_HZ
}

/** Write system calls (write, writev, sendmsg, ...) made so far by the processes `pids` (/proc/PID/io `syscw`). */
export function writeSyscalls(pids: number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      n += Number(/^syscw: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

export interface RateRun {
  sendsPerSec: number;
  errors: number;
  delivered: number;
  /** CPU time of the relay process(es) per delivered SEND, µs, and the cores they kept busy. */
  cpuUsPerSend: number | null;
  cpuCores: number | null;
  /** Write system calls of the relay process(es) per delivered SEND (each is a TLS record or more). */
  writesPerSend: number | null;
  /** Cores the load generator itself kept busy (on 2 cores it competes with the relay). */
  loadgenCores: number | null;
  /** Pairs whose two sessions are on different workers (a relay with workers; 0 otherwise). */
  crossWorkerPairs?: number;
  error?: string;
}

/**
 * A rate run of bench/loadgen.ts in its own process that also measures the relay's CPU time
 * per delivered SEND inside the measurement window (between the generator's two marks);
 * `window` is told when that window starts and ends (e.g. to profile just that).
 */
export async function rateRun(s: LoadSpec, relayPids: number[], opts: { fdLimit?: number; window?: { start(): void; end(): void }; cpus?: string } = {}): Promise<RateRun> {
  const gen = await spawnNode([join(import.meta.dirname, 'loadgen.ts'), JSON.stringify(s)], {
    ...(opts.fdLimit !== undefined ? { fdLimit: opts.fdLimit } : {}), ...(opts.cpus !== undefined ? { cpus: opts.cpus } : {}), readyTimeoutMs: 120_000,
  });
  try {
    const first = await gen.next<string>('mark', 300_000);
    if (first === 'error') {
      const e = await gen.next<{ error: string }>('result', 10_000);
      return { sendsPerSec: 0, errors: 0, delivered: 0, cpuUsPerSend: null, cpuCores: null, writesPerSend: null, loadgenCores: null, error: e.error };
    }
    opts.window?.start();
    const c0 = cpuSeconds(relayPids);
    const w0 = writeSyscalls(relayPids);
    const g0 = cpuSeconds([gen.pid]);
    const t0 = performance.now();
    await gen.next('mark', 60_000);
    opts.window?.end();
    const c1 = cpuSeconds(relayPids);
    const w1 = writeSyscalls(relayPids);
    const g1 = cpuSeconds([gen.pid]);
    const t1 = performance.now();
    const r = await gen.next<{ sendsPerSec: number; errors: number; delivered: number; error?: string }>('result', 60_000);
    if (r.error !== undefined) return { ...r, cpuUsPerSend: null, cpuCores: null, writesPerSend: null, loadgenCores: null };
    const secs = (t1 - t0) / 1000;
    return { ...r, cpuUsPerSend: r.delivered > 0 ? ((c1 - c0) * 1e6) / r.delivered : null, cpuCores: (c1 - c0) / secs,
      writesPerSend: r.delivered > 0 ? (w1 - w0) / r.delivered : null, loadgenCores: (g1 - g0) / secs };
  } finally {
    await gen.stop(2000);
  }
}

/** Percentile (0..100) of an ascending-sorted array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A lean MSRP frame scanner (not a validating parser): finds each frame's start line and its
 * end-line `CRLF -------<tid><flag>CRLF` with Buffer#indexOf, and hands out offsets into the
 * buffer. Enough for well-formed traffic between trusted benchmark peers; small frames only
 * (a partial frame is kept and joined with the next push).
 */
export interface ScannedFrame {
  /** The buffer holding the whole frame (valid during the callback only). */
  buf: Buffer;
  /** Frame start, end of the start line (CRLF position), end-line start (its CRLF), frame end. */
  start: number;
  lineEnd: number;
  endLine: number;
  end: number;
  tid: string;
  /** Request method, or '' for a response. */
  method: string;
  /** Response status, or 0 for a request. */
  status: number;
  flag: number;
}

export class Scanner {
  #rest: Buffer | undefined;
  readonly #onFrame: (f: ScannedFrame) => void;
  readonly #frame: ScannedFrame = { buf: Buffer.alloc(0), start: 0, lineEnd: 0, endLine: 0, end: 0, tid: '', method: '', status: 0, flag: 0 };

  constructor(onFrame: (f: ScannedFrame) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    const buf = this.#rest === undefined ? chunk : Buffer.concat([this.#rest, chunk]);
    this.#rest = undefined;
    let pos = 0;
    const len = buf.length;
    const f = this.#frame;
    f.buf = buf;
    while (pos < len) {
      const lineEnd = buf.indexOf('\r\n', pos, 'latin1');
      if (lineEnd < 0) break;
      // "MSRP <tid> <METHOD>" or "MSRP <tid> <code>[ comment]"
      const sp1 = pos + 4;
      const sp2 = buf.indexOf(32, sp1 + 1);
      if (sp2 < 0 || sp2 > lineEnd) throw new Error(`bad start line: ${buf.toString('latin1', pos, lineEnd)}`);
      const tid = buf.toString('latin1', sp1 + 1, sp2);
      const sp3 = buf.indexOf(32, sp2 + 1);
      const word = buf.toString('latin1', sp2 + 1, sp3 < 0 || sp3 > lineEnd ? lineEnd : sp3);
      const endLine = buf.indexOf(`\r\n-------${tid}`, lineEnd, 'latin1');
      if (endLine < 0) break;
      const flagAt = endLine + 9 + tid.length;
      if (flagAt + 3 > len) break;
      f.start = pos;
      f.lineEnd = lineEnd;
      f.endLine = endLine;
      f.end = flagAt + 3;
      f.tid = tid;
      const c = word.charCodeAt(0);
      if (c >= 48 && c <= 57) {
        f.method = '';
        f.status = Number(word);
      } else {
        f.method = word;
        f.status = 0;
      }
      f.flag = buf[flagAt]!;
      pos = f.end;
      this.#onFrame(f);
    }
    if (pos < len) this.#rest = buf.subarray(pos);
  }
}

/** The value of header `name` (case-sensitive prefix "Name: ") in a frame's head, or undefined. */
export function headerOf(f: ScannedFrame, name: string): string | undefined {
  const head = f.buf.toString('latin1', f.lineEnd + 2, f.endLine);
  const lines = head.split('\r\n');
  const want = name.toLowerCase() + ':';
  for (const l of lines) {
    if (l === '') break;
    if (l.toLowerCase().startsWith(want)) return l.slice(want.length).trim();
  }
  return undefined;
}

/** All values of header `name`. */
export function headersOf(f: ScannedFrame, name: string): string[] {
  const head = f.buf.toString('latin1', f.lineEnd + 2, f.endLine);
  const want = name.toLowerCase() + ':';
  const out: string[] = [];
  for (const l of head.split('\r\n')) {
    if (l === '') break;
    if (l.toLowerCase().startsWith(want)) out.push(l.slice(want.length).trim());
  }
  return out;
}
