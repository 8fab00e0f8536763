import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UdpGuard } from './udp-guard.ts';

describe('UdpGuard (SIP over UDP: rate limit and anti-amplification)', () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it('drops datagrams of one address beyond the burst, and lets it in again at the refill rate', () => {
    const c = clock();
    const g = new UdpGuard({ ratePerSec: 10, burst: 5, now: c.now });
    const results = Array.from({ length: 8 }, (_, i) => g.received('192.0.2.1', 1000 + i, 100));
    assert.deepEqual(results, [undefined, undefined, undefined, undefined, undefined, 'rate', 'rate', 'rate']);
    assert.equal(g.received('192.0.2.2', 1000, 100), undefined, 'another address has its own bucket');
    c.advance(100);
    assert.equal(g.received('192.0.2.1', 1000, 100), undefined);
    assert.equal(g.received('192.0.2.1', 1000, 100), 'rate');
  });

  it('sends an unvalidated peer at most factor x what it sent, plus the first transmission of one request', () => {
    const g = new UdpGuard({ factor: 3, now: clock().now });
    g.received('192.0.2.1', 5060, 100);
    assert.equal(g.maySend('192.0.2.1', 5060, 250, false), undefined);
    assert.equal(g.maySend('192.0.2.1', 5060, 100, false), 'amplification', 'a retransmission beyond the credit');
    assert.equal(g.maySend('192.0.2.1', 5060, 2000, true), undefined, 'the first NOTIFY goes once');
    assert.equal(g.maySend('192.0.2.1', 5060, 2000, true), 'amplification', 'only one free request per peer');
    assert.equal(g.maySend('192.0.2.1', 5061, 10, false), 'amplification', 'a port that sent nothing gets nothing');
  });

  it('sends freely to a validated peer until it has been silent for the TTL', () => {
    const c = clock();
    const g = new UdpGuard({ validatedTtlMs: 1000, now: c.now });
    g.validate('192.0.2.1', 5060);
    assert.equal(g.maySend('192.0.2.1', 5060, 10_000, false), undefined);
    c.advance(1001);
    assert.equal(g.isValidated('192.0.2.1', 5060), false);
    assert.equal(g.maySend('192.0.2.1', 5060, 10_000, false), 'amplification');
  });
  it('keeps a validated peer through a flood of fresh source addresses past maxTracked', () => {
    const c = clock();
    const g = new UdpGuard({ maxTracked: 100, now: c.now });
    g.received('192.0.2.1', 5060, 100);
    g.validate('192.0.2.1', 5060);
    // Spoofed sources: each new address:port fills the table once, never validated.
    for (let i = 0; i < 1000; i++) g.received(`198.51.100.${i % 250}`, 10_000 + i, 100);
    assert.equal(g.isValidated('192.0.2.1', 5060), true, 'the flood did not evict the validated peer');
    assert.equal(g.maySend('192.0.2.1', 5060, 10_000, false), undefined);
  });

  it('evicts the least recently heard unvalidated peer first, not the first one inserted', () => {
    const c = clock();
    const g = new UdpGuard({ maxTracked: 100, factor: 3, now: c.now });
    // An active but not yet validated peer: one datagram every 20 fresh sources.
    for (let i = 0; i < 1000; i++) {
      if (i % 20 === 0) g.received('192.0.2.7', 5060, 100);
      g.received(`198.51.100.${i % 250}`, 10_000 + i, 100);
      c.advance(10);
    }
    // 50 datagrams of 100 bytes: 15,000 bytes of credit if the peer was never forgotten.
    assert.equal(g.maySend('192.0.2.7', 5060, 14_000, false), undefined, 'its credit was kept');
  });
  it('forgets the least recently heard validated peer when every tracked peer is a live validated one', () => {
    const c = clock();
    const g = new UdpGuard({ maxTracked: 3, now: c.now });
    for (const port of [1, 2, 3]) g.validate('192.0.2.1', port);
    g.received('192.0.2.9', 5060, 100);
    assert.deepEqual(
      [1, 2, 3].map((port) => g.isValidated('192.0.2.1', port)),
      [false, true, true],
      'the table stays bounded: the least recently validated goes',
    );
    assert.equal(g.maySend('192.0.2.9', 5060, 300, false), undefined, 'the new peer is tracked');
  });
});
