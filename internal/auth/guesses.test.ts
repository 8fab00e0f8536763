import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GuessLimiter, sourceKey } from './guesses.ts';

describe('GuessLimiter (failed passwords per user and per source)', () => {
  const clock = () => {
    let t = 1_000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it('refuses a user after perUser failures from any source, until the window ends', () => {
    const c = clock();
    const g = new GuessLimiter({ perUser: 3, perSource: 100, windowMs: 60_000 }, { now: c.now });
    for (const src of ['10.0.0.1', '10.0.0.2']) assert.equal(g.failed('r', 'alice', src).ok, true);
    const third = g.failed('r', 'alice', '10.0.0.3');
    assert.deepEqual(third, { ok: false, scope: 'user', retryAfterMs: 60_000 });
    assert.equal(g.check('r', 'bob', '10.0.0.3').ok, true, 'other users are not affected');
    assert.equal(g.check('other', 'alice', '10.0.0.3').ok, true, 'nor the same name in another realm');
    c.advance(59_999);
    assert.equal(g.check('r', 'alice', '10.0.0.9').ok, false);
    c.advance(1);
    assert.equal(g.check('r', 'alice', '10.0.0.9').ok, true);
  });

  it('refuses a source after perSource failures across users; a success forgives the user, not the source', () => {
    const g = new GuessLimiter({ perUser: 100, perSource: 2, windowMs: 1_000 }, { now: clock().now });
    g.failed('r', 'a', '192.0.2.7');
    g.succeeded('r', 'a');
    const v = g.failed('r', 'b', '192.0.2.7');
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.scope, 'source');
    assert.equal(g.check('r', 'c', '192.0.2.8').ok, true);
  });

  it('groups IPv6 sources by /64 and v4-mapped addresses with IPv4', () => {
    assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), sourceKey('2001:db8:1:2:bbbb::9'));
    assert.notEqual(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:3::1'));
    assert.equal(sourceKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(sourceKey('[::ffff:c000:201]'), '192.0.2.1', 'hex-form mapped, bracketed: as the connection caps count it');
    const g = new GuessLimiter({ perUser: 0, perSource: 1, windowMs: 1_000 }, { now: clock().now });
    g.failed('r', 'a', '2001:db8::1');
    assert.equal(g.check('r', 'a', '2001:db8::ffff').ok, false);
  });

  it('stays bounded: the oldest windows are forgotten first', () => {
    const g = new GuessLimiter({ perUser: 5, perSource: 5, windowMs: 60_000 }, { now: clock().now, maxTracked: 10 });
    for (let i = 0; i < 50; i++) g.failed('r', `u${i}`, `10.0.0.${i}`);
    assert.equal(g.tracked, 20);
  });
  it('forgets ended windows as new ones start, without waiting for the bound', () => {
    const c = clock();
    const g = new GuessLimiter({ perUser: 5, perSource: 5, windowMs: 1_000 }, { now: c.now });
    for (let i = 0; i < 50; i++) g.failed('r', `u${i}`, `10.0.0.${i}`);
    assert.equal(g.tracked, 100);
    c.advance(1_000);
    g.failed('r', 'late', '10.0.1.1');
    assert.equal(g.tracked, 2, 'only the new user and source windows are left');
  });

  it('counts a long (made-up) username, keyed by its hash, as one user of its own', () => {
    const g = new GuessLimiter({ perUser: 2, perSource: 100, windowMs: 60_000 }, { now: clock().now });
    const long = 'x'.repeat(16_000);
    g.failed('r', long, '10.0.0.1');
    assert.equal(g.failed('r', long, '10.0.0.2').ok, false, 'the same long name is one user');
    assert.equal(g.check('r', `${long}y`, '10.0.0.3').ok, true, 'another long name is another user');
    g.succeeded('r', long);
    assert.equal(g.check('r', long, '10.0.0.3').ok, true, 'a success forgives it');
  });
});
