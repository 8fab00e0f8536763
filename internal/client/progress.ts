// Progress display for the `msrp` command: a redrawn bar when stderr is a terminal, a line
// every few seconds otherwise (CI logs, pipes). The formatting functions are pure.

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** Decimal megabytes per second, as network tools print it. */
export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0) return '- MB/s';
  return `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One status line: `[#####-----]  48%  12.0 MiB / 25.0 MiB  85.3 MB/s  ETA 2s`. */
export function progressLine(done: number, total: number | undefined, elapsedMs: number, width = 24): string {
  const rate = formatRate(done, elapsedMs);
  if (total === undefined || total === 0) return `${formatBytes(done)}  ${rate}`;
  const f = Math.min(1, done / total);
  const filled = Math.round(f * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  const pct = `${Math.floor(f * 100)}%`.padStart(4);
  const bytesPerMs = elapsedMs > 0 ? done / elapsedMs : 0;
  const eta = bytesPerMs > 0 && done < total ? `  ETA ${formatDuration((total - done) / bytesPerMs)}` : '';
  return `[${bar}] ${pct}  ${formatBytes(done)} / ${formatBytes(total)}  ${rate}${eta}`;
}

export interface ProgressOutput {
  write(s: string): unknown;
  readonly isTTY?: boolean;
}

/** Throttled progress to a stream: bar redraws at most 10 times a second, plain lines every `lineEveryMs`. */
export class ProgressReporter {
  readonly #out: ProgressOutput;
  readonly #label: string;
  readonly #started = performance.now();
  readonly #lineEveryMs: number;
  #last = 0;
  #drawn = false;

  constructor(out: ProgressOutput, label: string, lineEveryMs = 2000) {
    this.#out = out;
    this.#label = label;
    this.#lineEveryMs = lineEveryMs;
    // The first draw waits one interval, so the rate is measured over some time.
    this.#last = this.#started;
  }

  update(done: number, total: number | undefined): void {
    const now = performance.now();
    const every = this.#out.isTTY === true ? 100 : this.#lineEveryMs;
    if (now - this.#last < every && done !== total) return;
    this.#last = now;
    const line = `${this.#label} ${progressLine(done, total, now - this.#started)}`;
    if (this.#out.isTTY === true) {
      this.#out.write(`\r\x1b[2K${line}`);
      this.#drawn = true;
    } else {
      this.#out.write(`${line}\n`);
    }
  }

  /** Ends the bar's line so the next output starts clean. */
  finish(): void {
    if (this.#drawn) this.#out.write('\n');
    this.#drawn = false;
  }
}
