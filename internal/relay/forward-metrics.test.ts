import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ForwardMetrics } from './forward-metrics.ts';

/** prom-client-like children recording what they were given, by label value. */
function fakeMetrics() {
  const seen: Record<string, number[]> = {};
  const child = (name: string) => (labels: Record<string, string>) => {
    const key = `${name} ${Object.values(labels).join(',')}`;
    const push = (n: number): void => void (seen[key] ??= []).push(n);
    return { inc: push, observe: push };
  };
  return {
    seen,
    metrics: {
      framesForwarded: { labels: child('frames') },
      bytesForwarded: { labels: child('bytes') },
      forwardLatency: { labels: child('latency') },
      responses: { labels: child('responses') },
    },
  };
}

describe('ForwardMetrics', () => {
  it('adds the counts of one event-loop turn in one call per metric, with one latency sample per method', () => {
    const { seen, metrics } = fakeMetrics();
    const clock = { t: 1000 };
    const scheduled: (() => void)[] = [];
    const fm = new ForwardMetrics(metrics as never, () => clock.t, (f) => scheduled.push(f));
    fm.forwarded('SEND', 100, 990);
    fm.forwarded('SEND', 50, 900);
    fm.forwarded('REPORT', 0, 1000);
    fm.response(200);
    fm.response(200);
    assert.equal(scheduled.length, 1, 'one flush scheduled per turn');
    assert.deepEqual(seen, {}, 'nothing reaches prom-client before the flush');
    scheduled[0]!();
    assert.deepEqual(seen, {
      'frames SEND': [2], 'bytes SEND': [150], 'latency SEND': [0.01],
      'frames REPORT': [1], 'bytes REPORT': [0], 'latency REPORT': [0],
      'responses 200': [2],
    });
  });

  it('flushes only what changed since the previous flush, and schedules again after it', () => {
    const { seen, metrics } = fakeMetrics();
    const scheduled: (() => void)[] = [];
    const fm = new ForwardMetrics(metrics as never, () => 0, (f) => scheduled.push(f));
    fm.forwarded('SEND', 10, 0);
    fm.response(413);
    scheduled[0]!();
    fm.forwarded('SEND', 5, 0);
    assert.equal(scheduled.length, 2);
    scheduled[1]!();
    assert.deepEqual(seen['frames SEND'], [1, 1]);
    assert.deepEqual(seen['bytes SEND'], [10, 5]);
    assert.deepEqual(seen['responses 413'], [1], 'no zero increments');
  });
  it('labels only known methods and statuses by name: anything from the wire else is "other"', () => {
    const { seen, metrics } = fakeMetrics();
    const scheduled: (() => void)[] = [];
    const fm = new ForwardMetrics(metrics as never, () => 0, (f) => scheduled.push(f));
    for (const m of ['NICKNAME', 'FOO', 'BAR', 'SEND']) fm.forwarded(m, 1, 0);
    for (const st of [481, 299, 999, 200]) fm.response(st);
    scheduled[0]!();
    assert.deepEqual(Object.keys(seen).sort(), [
      'bytes NICKNAME', 'bytes SEND', 'bytes other', 'frames NICKNAME', 'frames SEND', 'frames other',
      'latency NICKNAME', 'latency SEND', 'latency other', 'responses 200', 'responses 481', 'responses other',
    ]);
    assert.deepEqual(seen['frames other'], [2]);
    assert.deepEqual(seen['responses other'], [2]);
  });
});
