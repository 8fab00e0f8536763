import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionLimits, sourceOf } from './connection-limits.ts';

const admitted = (r: ReturnType<ConnectionLimits['admit']>) => r.ok;

describe('ConnectionLimits', () => {
  it('admits up to the limit per source and refuses the next one without counting it', () => {
    const limits = new ConnectionLimits({ max: 0, perSource: 2 });
    assert.equal(admitted(limits.admit('192.0.2.1')), true);
    assert.equal(admitted(limits.admit('192.0.2.1')), true);
    assert.deepEqual(limits.admit('192.0.2.1'), { ok: false, refusal: 'connections-per-source' });
    assert.equal(limits.count('192.0.2.1'), 2);
    assert.equal(admitted(limits.admit('192.0.2.2')), true, 'another address has its own count');
    assert.equal(limits.total, 3);
  });

  it('admits again once a connection from the source closes, and forgets a source with none left', () => {
    const limits = new ConnectionLimits({ max: 0, perSource: 1 });
    const r = limits.admit('2001:db8::1');
    assert.ok(r.ok);
    assert.equal(admitted(limits.admit('2001:db8::1')), false);
    limits.release(r.source);
    assert.equal(limits.count('2001:db8::1'), 0);
    assert.equal(limits.total, 0);
    assert.equal(admitted(limits.admit('2001:db8::1')), true);
  });

  it('caps the total over all sources', () => {
    const limits = new ConnectionLimits({ max: 3, perSource: 0 });
    for (const a of ['192.0.2.1', '192.0.2.2', '2001:db8::1']) assert.equal(admitted(limits.admit(a)), true);
    assert.deepEqual(limits.admit('192.0.2.9'), { ok: false, refusal: 'connections' });
  });

  it('counts an IPv6 /64 as one source, and an IPv4-mapped address as its IPv4 address', () => {
    const limits = new ConnectionLimits({ max: 0, perSource: 2 });
    assert.equal(admitted(limits.admit('2001:db8:1:2::1')), true);
    assert.equal(admitted(limits.admit('2001:db8:1:2:ffff:ffff:ffff:fffe')), true);
    assert.equal(admitted(limits.admit('2001:0db8:0001:0002:0:0:0:77')), false, 'same /64, another spelling');
    assert.equal(admitted(limits.admit('2001:db8:1:3::1')), true, 'the next /64');
    assert.equal(sourceOf('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(sourceOf('::ffff:c000:201'), '192.0.2.1');
    assert.equal(sourceOf('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(admitted(limits.admit('192.0.2.1')), true);
    assert.equal(admitted(limits.admit('::ffff:192.0.2.1')), true);
    assert.equal(admitted(limits.admit('::ffff:c000:201')), false, 'the mapped spelling counts for the IPv4 address');
  });

  it('has no limit when the caps are 0', () => {
    const limits = new ConnectionLimits({ max: 0, perSource: 0 });
    for (let i = 0; i < 1000; i++) assert.equal(admitted(limits.admit('192.0.2.1')), true);
    assert.equal(limits.count('192.0.2.1'), 1000);
  });

  it('reads the caps on every new connection (a live reconfigure may change them)', () => {
    const caps = { max: 0, perSource: 1 };
    const limits = new ConnectionLimits(caps);
    assert.equal(admitted(limits.admit('192.0.2.1')), true);
    caps.perSource = 3;
    assert.equal(admitted(limits.admit('192.0.2.1')), true);
  });
});
