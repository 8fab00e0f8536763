import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NonceManager } from './nonce.ts';

function manager(overrides: Partial<ConstructorParameters<typeof NonceManager>[0]> = {}) {
  let now = 1_700_000_000_000;
  const m = new NonceManager({ secret: randomBytes(32), lifetimeSec: 300, now: () => now, ...overrides });
  return { m, advance: (ms: number) => (now += ms) };
}

describe('NonceManager', () => {
  it('verifies its own nonce for the same realm and binding', () => {
    const { m } = manager();
    const n = m.issue('example.com', 'conn-1');
    assert.equal(m.check(n, 'example.com', 'conn-1'), 'valid');
  });

  it('issues a different nonce every time from the CSPRNG', () => {
    const { m } = manager();
    assert.notEqual(m.issue('r'), m.issue('r'));
  });

  it('rejects a nonce for another realm, another binding or another secret', () => {
    const { m } = manager();
    const other = manager().m;
    const n = m.issue('example.com', 'conn-1');
    assert.equal(m.check(n, 'example.org', 'conn-1'), 'invalid');
    assert.equal(m.check(n, 'example.com', 'conn-2'), 'invalid');
    assert.equal(other.check(n, 'example.com', 'conn-1'), 'invalid');
  });

  it('rejects a tampered, truncated or non-base64url nonce', () => {
    const { m } = manager();
    const n = m.issue('r');
    const flipped = (n[5] === 'A' ? 'B' : 'A');
    assert.equal(m.check(n.slice(0, 5) + flipped + n.slice(6), 'r'), 'invalid');
    assert.equal(m.check(n.slice(0, -2), 'r'), 'invalid');
    assert.equal(m.check('dcd98b7102dd2f0e8b11d0f600bfb0c093', 'r'), 'invalid');
    assert.equal(m.check('a"b', 'r'), 'invalid');
  });

  it('reports stale after the lifetime and invalid when issued in the future', () => {
    const clock = { now: 1_000_000 };
    const m = new NonceManager({ secret: randomBytes(32), lifetimeSec: 300, now: () => clock.now });
    const n = m.issue('r');
    clock.now += 300_000;
    assert.equal(m.check(n, 'r'), 'valid');
    clock.now += 1;
    assert.equal(m.check(n, 'r'), 'stale');
    clock.now -= 400_000;
    assert.equal(m.check(n, 'r'), 'invalid');
  });

  it('accepts increasing nonce counts and refuses a repeated or lower one', () => {
    const { m } = manager();
    const n = m.issue('r');
    assert.equal(m.useCount(n, '00000001'), 'ok');
    assert.equal(m.useCount(n, '00000002'), 'ok');
    assert.equal(m.useCount(n, '00000002'), 'replayed');
    assert.equal(m.useCount(n, '00000001'), 'replayed');
  });

  it('stays bounded and reports a forgotten nonce as stale instead of accepting a replay', () => {
    const { m, advance } = manager({ maxTracked: 3 });
    const first = m.issue('r');
    assert.equal(m.useCount(first, '00000001'), 'ok');
    for (let i = 0; i < 5; i++) {
      advance(1);
      assert.equal(m.useCount(m.issue('r'), '00000001'), 'ok');
    }
    assert.equal(m.trackedCount, 3);
    assert.equal(m.useCount(first, '00000001'), 'stale');
  });

  it('never counts a nonce that is not one of ours', () => {
    const { m } = manager();
    assert.equal(m.useCount('dcd98b7102dd2f0e8b11d0f600bfb0c093', '00000001'), 'stale');
    assert.equal(m.trackedCount, 0);
  });

  it('refuses a short secret', () => {
    assert.throws(() => new NonceManager({ secret: Buffer.alloc(16), lifetimeSec: 1 }), RangeError);
  });
});
