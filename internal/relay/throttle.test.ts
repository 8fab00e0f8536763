import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../telemetry/metrics.ts';
import type { Connection } from '../transport/connection.ts';
import { createRelayMetrics } from './metrics.ts';
import type { RelaySession } from './sessions.ts';
import { Throttle } from './throttle.ts';

const off = { bytesPerSec: 0, burstBytes: 0 };

/** A source that records pause/resume calls. */
function source(): Connection & { paused: string[] } {
  const paused: string[] = [];
  return { paused, pause: (why: string) => paused.push(why), resume: () => undefined } as unknown as Connection & { paused: string[] };
}

describe('Throttle', () => {
  it('update() switches a rate on while running: the next bytes over the new burst pause the sender', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const throttle = new Throttle({ session: off, user: off, realm: off }, createRelayMetrics(createMetrics({ defaultMetrics: false })));
    const session = { id: 's1', user: 'alice', realm: 'example.test' } as RelaySession;
    const conn = source();
    throttle.account(session, 10_000, conn);
    assert.equal(throttle.enabled, false);
    assert.deepEqual(conn.paused, []);

    throttle.update({ session: { bytesPerSec: 1000, burstBytes: 1000 }, user: off, realm: off });
    assert.equal(throttle.enabled, true);
    throttle.account(session, 500, conn);
    assert.deepEqual(conn.paused, [], 'within the new burst');
    throttle.account(session, 1000, conn);
    assert.deepEqual(conn.paused, ['throttle'], 'over it: paused');
    throttle.forgetConnection(conn);

    throttle.update({ session: off, user: off, realm: off });
    throttle.account(session, 1_000_000, conn);
    assert.deepEqual(conn.paused, ['throttle'], 'off again: no more pauses');
  });
});
