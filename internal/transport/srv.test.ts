// SRV ordering (RFC 2782) as the relay's next hops and the `msrp` client use it (RFC 4976 §8).
// The lookups themselves are tested against a real DNS server in relay/next-hops-srv.test.ts
// and client/cli/relay-srv.test.ts.
import assert from 'node:assert/strict';
import type { SrvRecord } from 'node:dns';
import { describe, it } from 'node:test';
import { orderSrv } from './srv.ts';

const rec = (priority: number, weight: number, name: string, port = 2855): SrvRecord => ({ priority, weight, name, port });

/** A fixed sequence of draws in [0, 1). */
function draws(...values: number[]): () => number {
  return () => {
    const v = values.shift();
    assert.ok(v !== undefined, 'more draws than expected');
    return v;
  };
}

describe('orderSrv (RFC 2782)', () => {
  it('tries every target of a lower priority before any of a higher one, whatever the weights', () => {
    const records = [rec(20, 1000, 'late'), rec(10, 0, 'early-a'), rec(10, 0, 'early-b'), rec(30, 5, 'last')];
    for (const choice of ['weighted', 'heaviest-first'] as const) {
      const names = orderSrv(records, choice).map((t) => t.name);
      assert.deepEqual(names.slice(2), ['late', 'last'], choice);
      assert.deepEqual(new Set(names.slice(0, 2)), new Set(['early-a', 'early-b']), choice);
    }
  });

  it('heaviest-first puts the heavier target of one priority first, every time', () => {
    const names = orderSrv([rec(10, 1, 'light', 1), rec(10, 50, 'heavy', 2)], 'heaviest-first').map((t) => `${t.name}:${t.port}`);
    assert.deepEqual(names, ['heavy:2', 'light:1']);
  });

  it('weighted picks by running sums of the weights: a draw past the first sum picks the second', () => {
    // Weights 10 and 30: a draw in [0, 40] chooses "a" up to 10, "b" above.
    const records = [rec(10, 10, 'a'), rec(10, 30, 'b')];
    // 0.5 * 41 = 20.5 -> 20 > 10: "b" first; then only "a" is left.
    assert.deepEqual(orderSrv(records, 'weighted', draws(0.5, 0)).map((t) => t.name), ['b', 'a']);
    // 0.1 * 41 = 4.1 -> 4 <= 10: "a" first.
    assert.deepEqual(orderSrv(records, 'weighted', draws(0.1, 0)).map((t) => t.name), ['a', 'b']);
  });

  it('weighted spreads first choices by the weights over many draws, as RFC 2782 draws them', () => {
    const records = [rec(10, 1, 'one'), rec(10, 3, 'three')];
    let three = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) if (orderSrv(records, 'weighted')[0]!.name === 'three') three++;
    // RFC 2782 draws 0..4 inclusive; running sums 1 ("one") and 4 ("three"), so "one" takes
    // 0 and 1 and "three" 2..4: 60 %. Bounds far outside the binomial noise at n = 4000 (sd 0.8 %).
    assert.ok(three / n > 0.55 && three / n < 0.65, `share of "three": ${three / n}`);
  });

  it('a zero-weight target goes first among equals only on a draw of 0', () => {
    const records = [rec(10, 5, 'weighted'), rec(10, 0, 'zero')];
    assert.deepEqual(orderSrv(records, 'weighted', draws(0, 0)).map((t) => t.name), ['zero', 'weighted']);
    assert.deepEqual(orderSrv(records, 'weighted', draws(0.9, 0)).map((t) => t.name), ['weighted', 'zero']);
  });

  it('leaves out a target of "." (the service is not offered there)', () => {
    assert.deepEqual(orderSrv([rec(0, 0, '.')], 'weighted'), []);
    assert.deepEqual(orderSrv([rec(0, 0, ''), rec(5, 0, 'real', 9000)], 'heaviest-first'), [{ name: 'real', port: 9000 }]);
  });
});
