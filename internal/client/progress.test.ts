import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDuration, formatRate, progressLine, ProgressReporter } from './progress.ts';
import { parseSize } from './cli/common.ts';

describe('progress display', () => {
  it('formats sizes, rates and durations for people', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(300_000_000), '286.1 MiB');
    assert.equal(formatRate(50_000_000, 2000), '25.0 MB/s');
    assert.equal(formatDuration(61_000), '1m01s');
  });

  it('draws a bar with percentage and ETA', () => {
    assert.equal(progressLine(50, 100, 1000, 10), '[#####-----]  50%  50 B / 100 B  0.0 MB/s  ETA 1s');
    assert.equal(progressLine(10, undefined, 1000), '10 B  0.0 MB/s');
  });

  it('writes plain lines when the output is not a terminal, always including the final one', () => {
    const lines: string[] = [];
    const p = new ProgressReporter({ write: (s: string) => lines.push(s), isTTY: false }, 'sending x', 60_000);
    p.update(1, 10);
    p.update(5, 10);
    p.update(10, 10);
    p.finish();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^sending x \[#+\] 100% .*\n$/);
  });
});

describe('size arguments', () => {
  it('accepts bytes and binary multiples', () => {
    assert.equal(parseSize('65536'), 65536);
    assert.equal(parseSize('64k'), 65536);
    assert.equal(parseSize('64KiB'), 65536);
    assert.equal(parseSize('1MiB'), 1 << 20);
    assert.equal(parseSize('1.5M'), 1.5 * (1 << 20));
    assert.throws(() => parseSize('lots'), /not a size/);
    assert.throws(() => parseSize('0'), /out of range/);
  });
});
