import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { ExponentialBackoff, WorkQueue } from './workqueue.ts';
import { eventually } from '../testwait.ts';

describe('ExponentialBackoff', () => {
  it('doubles from 5 ms per failure of the same key and caps at 1000 s, like client-go', () => {
    const b = new ExponentialBackoff();
    const delays = Array.from({ length: 20 }, () => b.when('ns/a'));
    assert.deepEqual(delays.slice(0, 5), [5, 10, 20, 40, 80]);
    assert.equal(delays[17], 5 * 2 ** 17); // 655 360 ms
    assert.equal(delays[18], 1_000_000); // capped
    assert.equal(delays[19], 1_000_000);
    assert.equal(b.retries('ns/a'), 20);
  });

  it('keeps failures per key, and forget() starts a key over', () => {
    const b = new ExponentialBackoff();
    b.when('ns/a');
    b.when('ns/a');
    assert.equal(b.when('ns/b'), 5);
    assert.equal(b.when('ns/a'), 20);
    b.forget('ns/a');
    assert.equal(b.retries('ns/a'), 0);
    assert.equal(b.when('ns/a'), 5);
  });

  it('never overflows: after a thousand failures the delay is still the cap', () => {
    const b = new ExponentialBackoff(5, 1_000_000);
    let last = 0;
    for (let i = 0; i < 1000; i++) last = b.when('k');
    assert.equal(last, 1_000_000);
  });
});

describe('WorkQueue', () => {
  it('hands out keys in order and holds a waiting key only once', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.length, 0);
  });

  it('never gives a key in flight to a second worker, and processes it again after done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    assert.equal(first, 'a');
    q.add('a'); // changed while being processed
    q.add('a'); // and again: still one more round, not two
    assert.equal(q.length, 0, 'not handed out while in flight');
    let second: string | undefined;
    const waiting = q.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    assert.equal(second, undefined);
    q.done('a');
    await waiting;
    assert.equal(second, 'a');
    q.done('a');
    assert.equal(q.length, 0);
    assert.equal(q.inFlight, 0);
  });

  it('a waiting worker receives a key as soon as it is added', async () => {
    const q = new WorkQueue();
    const got = q.get();
    q.add('x');
    assert.equal(await got, 'x');
    assert.equal(q.inFlight, 1);
  });

  it('addAfter delays a key and keeps the earliest due time', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    try {
      const q = new WorkQueue();
      q.addAfter('a', 1000);
      q.addAfter('a', 100);
      q.addAfter('a', 5000);
      mock.timers.tick(99);
      assert.equal(q.length, 0);
      mock.timers.tick(1);
      assert.equal(q.length, 1);
      mock.timers.tick(10_000);
      assert.equal(q.length, 1, 'the later schedules were folded into the earlier one');
    } finally {
      mock.timers.reset();
    }
  });

  it('addRateLimited backs off per key until forget()', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    try {
      const q = new WorkQueue();
      assert.equal(q.addRateLimited('a'), 5);
      assert.equal(q.addRateLimited('a'), 10, 'already scheduled at +5 ms: the earlier time stays');
      mock.timers.tick(5);
      assert.equal(q.length, 1);
      assert.equal(q.addRateLimited('a'), 20);
      q.forget('a');
      assert.equal(q.addRateLimited('a'), 5);
    } finally {
      mock.timers.reset();
    }
  });

  it('reports its depth on every change', async () => {
    const depths: number[] = [];
    const q = new WorkQueue({ onDepth: (d) => depths.push(d) });
    q.add('a');
    q.add('b');
    await q.get();
    assert.deepEqual(depths, [1, 2, 1]);
  });

  it('shutDown releases waiting workers, drops delayed keys and ignores new adds', async () => {
    // A mocked clock: the delayed key's due time certainly passes (a real 80 ms pause might not
    // reach it under load, and then "dropped" would pass without being checked).
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    try {
      const q = new WorkQueue();
      const waiting = q.get();
      q.addAfter('late', 50);
      q.shutDown();
      assert.equal(await waiting, undefined);
      q.add('new');
      assert.equal(q.length, 0);
      mock.timers.tick(1000);
      assert.equal(q.length, 0, 'the delayed key was dropped');
      assert.equal(await q.get(), undefined);
    } finally {
      mock.timers.reset();
    }
  });

  it('shutDownWithDrain waits for the keys in flight', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = (await q.get())!;
    let drained = false;
    const drain = q.shutDownWithDrain().then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(drained, false);
    q.done(key);
    await drain;
    assert.equal(drained, true);
  });

  it('many workers over many adds: each key is processed at least once after its last add, never concurrently', async () => {
    const q = new WorkQueue();
    const active = new Set<string>();
    const lastAdd = new Map<string, number>();
    const lastStart = new Map<string, number>();
    let tick = 0;
    let overlap = false;
    const worker = async () => {
      for (;;) {
        const k = await q.get();
        if (k === undefined) return;
        if (active.has(k)) overlap = true;
        active.add(k);
        lastStart.set(k, ++tick);
        await new Promise((r) => setTimeout(r, Math.random() * 2));
        active.delete(k);
        q.done(k);
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    for (let i = 0; i < 300; i++) {
      const k = `ns/k${i % 7}`;
      lastAdd.set(k, ++tick);
      q.add(k);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await eventually(() => q.length === 0 && q.inFlight === 0, 'the workers to empty the queue', 20_000);
    await q.shutDownWithDrain();
    await Promise.all(workers);
    assert.equal(overlap, false);
    for (const [k, added] of lastAdd) assert.ok((lastStart.get(k) ?? 0) > added, `${k} processed after its last add`);
  });
});
