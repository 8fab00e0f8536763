import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuietReaderSweep, UnauthenticatedIdleSweep, type SweptConnection } from './idle-sweep.ts';

class FakeConnection implements SweptConnection {
  closed = false;
  bytesIn = 0;
  bytesOut = 0;
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
    this.closed = true;
  }
}

function sweepOf(idleMs: number, authenticated = new Set<FakeConnection>()) {
  const clock = { t: 0 };
  const idled: FakeConnection[] = [];
  const sweep = new UnauthenticatedIdleSweep<FakeConnection>({
    idleMs,
    authenticated: (c) => authenticated.has(c),
    onIdle: (c) => idled.push(c),
    now: () => clock.t,
  });
  return { sweep, clock, idled, authenticated };
}

describe('UnauthenticatedIdleSweep', () => {
  it('closes a connection that stays silent and unauthenticated for the idle time', () => {
    const { sweep, clock, idled } = sweepOf(30_000);
    const c = new FakeConnection();
    sweep.watch(c);
    clock.t = 29_999;
    sweep.sweep();
    assert.equal(c.destroyed, false);
    clock.t = 30_000;
    sweep.sweep();
    assert.equal(c.destroyed, true);
    assert.deepEqual(idled, [c]);
    assert.equal(sweep.running, false, 'the timer stops when nothing is watched');
  });

  it('counts idle time from the last byte read or written', () => {
    const { sweep, clock } = sweepOf(1000);
    const c = new FakeConnection();
    sweep.watch(c);
    clock.t = 900;
    c.bytesIn += 10;
    sweep.sweep();
    clock.t = 1800;
    c.bytesOut += 5;
    sweep.sweep();
    clock.t = 2700;
    sweep.sweep();
    assert.equal(c.destroyed, false);
    clock.t = 2800;
    sweep.sweep();
    assert.equal(c.destroyed, true);
    sweep.stop();
  });

  it('stops watching a connection that authenticated or closed', () => {
    const { sweep, clock, authenticated } = sweepOf(1000);
    const a = new FakeConnection();
    const b = new FakeConnection();
    sweep.watch(a);
    sweep.watch(b);
    authenticated.add(a);
    b.closed = true;
    clock.t = 5000;
    sweep.sweep();
    assert.equal(a.destroyed, false);
    assert.equal(b.destroyed, false);
    assert.equal(sweep.size, 0);
  });

  it('forget() drops a connection at once', () => {
    const { sweep, clock } = sweepOf(1000);
    const c = new FakeConnection();
    sweep.watch(c);
    sweep.forget(c);
    clock.t = 5000;
    sweep.sweep();
    assert.equal(c.destroyed, false);
    sweep.stop();
  });

  it('watches nothing when the idle time is 0, and sweeps every quarter of it within 20 ms to 5 s', () => {
    const { sweep } = sweepOf(0);
    sweep.watch(new FakeConnection());
    assert.equal(sweep.size, 0);
    assert.equal(sweep.running, false);
    assert.equal(sweepOf(30_000).sweep.periodMs, 5000);
    assert.equal(sweepOf(8000).sweep.periodMs, 2000);
    assert.equal(sweepOf(40).sweep.periodMs, 20);
  });

  it('runs one shared timer while connections are watched', () => {
    const { sweep } = sweepOf(1000);
    assert.equal(sweep.running, false);
    sweep.watch(new FakeConnection());
    sweep.watch(new FakeConnection());
    assert.equal(sweep.running, true);
    sweep.stop();
    assert.equal(sweep.running, false);
  });
});

describe('QuietReaderSweep', () => {
  it('asks every connection to release its reader on each pass', () => {
    let released = 0;
    const conns = [{ releaseIdleReader: () => released++ }, { releaseIdleReader: () => released++ }];
    const sweep = new QuietReaderSweep(conns, 60_000);
    sweep.sweep();
    assert.equal(released, 2);
    sweep.stop();
  });
});
