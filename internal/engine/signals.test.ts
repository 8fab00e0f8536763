// onShutdownSignals with a stand-in for `process`: the first signal drains the engine, then
// runs the caller's closing, logs and exits 0; a second signal starts nothing; a failure
// logs "stop failed" and exits 1.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import pino from 'pino';
import { onShutdownSignals, type SignalTarget } from './signals.ts';

class FakeProcess extends EventEmitter implements SignalTarget {
  readonly exited: Promise<number>;
  exit!: (code: number) => void;
  constructor() {
    super();
    this.exited = new Promise((resolve) => (this.exit = resolve));
  }
}

function capture(): { logger: pino.Logger; messages: () => string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  return { logger, messages: () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg) };
}

describe('onShutdownSignals', () => {
  it('drains once on SIGTERM, then closes the caller\'s parts, logs "stopped" and exits 0; a second signal does nothing', async () => {
    const target = new FakeProcess();
    const { logger, messages } = capture();
    const order: string[] = [];
    let release!: () => void;
    const engine = {
      drain: () => {
        order.push('drain');
        return new Promise<void>((r) => (release = r));
      },
    };
    onShutdownSignals(engine, logger, { target, after: () => Promise.resolve(void order.push('after')) });
    target.emit('SIGTERM');
    target.emit('SIGINT');
    assert.deepEqual(order, ['drain'], 'the caller\'s parts wait for the drain');
    release();
    assert.equal(await target.exited, 0);
    assert.deepEqual(order, ['drain', 'after']);
    assert.deepEqual(messages(), ['draining', 'stopped']);
  });

  it('logs "stop failed" and exits 1 when closing fails', async () => {
    const target = new FakeProcess();
    const { logger, messages } = capture();
    onShutdownSignals({ drain: () => Promise.reject(new Error('chat close failed')) }, logger, { target });
    target.emit('SIGINT');
    assert.equal(await target.exited, 1);
    assert.deepEqual(messages(), ['draining', 'stop failed']);
  });
});
