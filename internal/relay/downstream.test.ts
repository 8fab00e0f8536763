import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { DownstreamTransactions, type AwaitedTransaction } from './downstream.ts';

class Tx implements AwaitedTransaction {
  readonly outTid: string;
  deadline = 0;
  constructor(outTid: string) {
    this.outTid = outTid;
  }
}

/** A tracker on mocked timers and clock; `timeoutMs` is read as the tracker reads its option. */
function setup(t: TestContext, timeoutMs: () => number = () => 1000) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const clock = { t: 0 };
  const expired: string[] = [];
  const tracker = new DownstreamTransactions<Tx>({ timeoutMs, expired: (x) => expired.push(x.outTid), now: () => clock.t });
  /** Moves the clock and the mocked timers together. */
  const advance = (ms: number): void => {
    clock.t += ms;
    t.mock.timers.tick(ms);
  };
  /** New transactions, each registered on `conn` under its own id. */
  const registered = (conn: object, ...ids: string[]): Tx[] => ids.map((id) => {
    const tx = new Tx(id);
    tracker.register(tx, conn, id);
    return tx;
  });
  return { tracker, expired, advance, registered };
}

describe('DownstreamTransactions', () => {
  it('matches a response by our transaction id on its connection', (t) => {
    const { tracker } = setup(t);
    const conn = {};
    const tx = new Tx('a1');
    tracker.register(tx, conn, 'a1');
    assert.equal(tracker.pending(conn, 'a1'), tx);
    assert.equal(tracker.pending({}, 'a1'), undefined, 'another connection');
    tracker.settle(tx, conn, 'a1');
    assert.equal(tracker.pending(conn, 'a1'), undefined);
  });

  it('fails a transaction with no response within the timeout (RFC 4975 §7.1), oldest first', (t) => {
    const { tracker, expired, advance, registered } = setup(t);
    const conn = {};
    const [a, b] = registered(conn, 'a', 'b') as [Tx, Tx];
    tracker.arm(a, conn);
    advance(400);
    tracker.arm(b, conn);
    advance(600);
    assert.deepEqual(expired, ['a']);
    assert.equal(tracker.pending(conn, 'a'), undefined, 'forgotten when it expires');
    advance(400);
    assert.deepEqual(expired, ['a', 'b']);
  });

  it('an answered transaction never expires', (t) => {
    const { tracker, expired, advance, registered } = setup(t);
    const conn = {};
    const [a] = registered(conn, 'a') as [Tx];
    tracker.arm(a, conn);
    advance(500);
    tracker.settle(a, conn, 'a');
    assert.equal(a.deadline, 0);
    advance(5000);
    assert.deepEqual(expired, []);
  });

  it('hands back the open transactions of a closed connection, and stops its timer', (t) => {
    const { tracker, expired, advance, registered } = setup(t);
    const conn = {};
    const [a, b] = registered(conn, 'a', 'b') as [Tx, Tx];
    tracker.arm(a, conn);
    const open = [...(tracker.closed(conn) ?? [])];
    assert.deepEqual(open, [a, b]);
    assert.equal(a.deadline, 0);
    advance(5000);
    assert.deepEqual(expired, []);
    assert.equal(tracker.closed(conn), undefined, 'nothing left');
    tracker.arm(b, conn); // armed after the close: ignored
    assert.equal(b.deadline, 0);
  });

  it('reads the timeout when a transaction is armed (a live option)', (t) => {
    let timeoutMs = 1000;
    const { tracker, expired, advance, registered } = setup(t, () => timeoutMs);
    const conn = {};
    const [a] = registered(conn, 'a') as [Tx];
    timeoutMs = 200;
    tracker.arm(a, conn);
    advance(200);
    assert.deepEqual(expired, ['a']);
  });
});
