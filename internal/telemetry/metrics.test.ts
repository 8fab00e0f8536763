import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from './metrics.ts';
import { TelemetryError } from './logger.ts';

describe('createMetrics', () => {
  it('exposes default process metrics under their standard names', async () => {
    const m = createMetrics();
    const text = await m.render();
    assert.match(text, /^process_cpu_user_seconds_total /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });

  it('registers project metrics with the msrp_ prefix and labels', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const frames = m.counter({ name: 'frames_forwarded_total', help: 'Frames forwarded', labelNames: ['transport'] });
    frames.inc({ transport: 'tls' }, 3);
    const text = await m.render();
    assert.match(text, /^msrp_frames_forwarded_total\{transport="tls"\} 3$/m);
  });

  it('keeps instances independent so tests can create several', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.gauge({ name: 'sessions', help: 'Live sessions' }).set(5);
    b.gauge({ name: 'sessions', help: 'Live sessions' }).set(7);
    assert.match(await a.render(), /^msrp_sessions 5$/m);
    assert.match(await b.render(), /^msrp_sessions 7$/m);
  });

  it('returns the same metric when a definition is requested twice', () => {
    const m = createMetrics({ defaultMetrics: false });
    const h1 = m.histogram({ name: 'auth_seconds', help: 'AUTH latency', buckets: [0.01, 0.1] });
    const h2 = m.histogram({ name: 'auth_seconds', help: 'AUTH latency' });
    assert.equal(h1, h2);
  });

  it('rejects a type clash, a counter without _total and a repeated prefix', () => {
    const m = createMetrics({ defaultMetrics: false });
    m.gauge({ name: 'rooms', help: 'Rooms' });
    const isInvalid = (e: unknown) => e instanceof TelemetryError && e.code === 'invalid-metric';
    assert.throws(() => m.histogram({ name: 'rooms', help: 'Rooms' }), isInvalid);
    assert.throws(() => m.counter({ name: 'frames', help: 'x' }), isInvalid);
    assert.throws(() => m.gauge({ name: 'msrp_rooms', help: 'x' }), isInvalid);
  });

  it('adds default labels to every series', async () => {
    const m = createMetrics({ defaultMetrics: false, defaultLabels: { replica: '2' } });
    m.counter({ name: 'auth_failures_total', help: 'x' }).inc();
    assert.match(await m.render(), /^msrp_auth_failures_total\{replica="2"\} 1$/m);
  });
});
