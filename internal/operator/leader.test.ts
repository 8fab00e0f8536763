import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ApiError } from './kube/client.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import { LeaderElector, microTime } from './leader.ts';

/** An in-memory Lease store with the API server's optimistic concurrency (resourceVersion). */
class FakeLeases {
  lease: KubeObject | undefined;
  rv = 0;
  failing = false;
  writes = 0;
  #check(): void {
    if (this.failing) throw new ApiError('GET', '/lease', 503, '{"message":"unavailable"}');
  }
  /** A client for one candidate; `calls` counts its requests (attempts, in operations, not ms). */
  client(calls = { n: 0 }): KubeClient {
    const get = (): Promise<KubeObject> => {
      calls.n++;
      this.#check();
      if (!this.lease) return Promise.reject(new ApiError('GET', '/lease', 404, '{"reason":"NotFound"}'));
      return Promise.resolve(structuredClone(this.lease));
    };
    const create = (_t: unknown, obj: KubeObject): Promise<KubeObject> => {
      this.#check();
      if (this.lease) return Promise.reject(new ApiError('POST', '/lease', 409, '{"reason":"AlreadyExists"}'));
      this.lease = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
      this.writes++;
      return Promise.resolve(this.lease);
    };
    const replace = (_t: unknown, obj: KubeObject): Promise<KubeObject> => {
      this.#check();
      if (obj.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) {
        return Promise.reject(new ApiError('PUT', '/lease', 409, '{"reason":"Conflict"}'));
      }
      this.lease = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
      this.writes++;
      return Promise.resolve(this.lease);
    };
    return { get, create, replace } as unknown as KubeClient;
  }
  holder(): string | undefined {
    return (this.lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? undefined;
  }
}

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const timing = { leaseDurationMs: 600, renewDeadlineMs: 400, retryPeriodMs: 50 };

function candidate(store: FakeLeases, identity: string, events: string[], calls = { n: 0 }): LeaderElector {
  return new LeaderElector({
    client: store.client(calls),
    namespace: 'ns',
    name: 'lock',
    identity,
    logger,
    ...timing,
    onStartedLeading: () => events.push(`${identity} leads`),
    onStoppedLeading: () => events.push(`${identity} lost`),
  });
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

describe('LeaderElector', () => {
  it('MicroTime has six fractional digits', () => {
    assert.equal(microTime(new Date('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05.678000Z');
  });

  it('one of two candidates leads; the other takes over only after the lease expires unrenewed', async () => {
    const store = new FakeLeases();
    const events: string[] = [];
    const a = candidate(store, 'a', events);
    const bCalls = { n: 0 };
    const b = candidate(store, 'b', events, bCalls);
    a.start();
    await until('a leads', () => a.isLeader);
    b.start();
    // Counted in attempts, not ms: b has tried several times, and a has renewed meanwhile.
    const writes = store.writes;
    await until('b to try five times while a renews twice', () => bCalls.n >= 5 && store.writes >= writes + 2);
    assert.equal(b.isLeader, false, 'b waits while a renews');
    assert.equal(store.holder(), 'a');
    // a stops renewing without releasing (as if SIGKILLed).
    await a.stop({ release: false });
    const stoppedAt = Date.now();
    await until('b leads', () => b.isLeader, 3000);
    const waited = Date.now() - stoppedAt;
    assert.ok(waited >= timing.leaseDurationMs - timing.retryPeriodMs * 2, `b waited ${waited} ms, about one lease duration`);
    assert.equal(store.holder(), 'b');
    assert.equal((store.lease?.spec as { leaseTransitions: number }).leaseTransitions, 1);
    assert.deepEqual(events, ['a leads', 'b leads']);
    await b.stop();
  });

  it('a leader that cannot renew within the renew deadline stops leading (and says so once)', async () => {
    const store = new FakeLeases();
    const events: string[] = [];
    const aCalls = { n: 0 };
    const a = candidate(store, 'a', events, aCalls);
    a.start();
    await until('a leads', () => a.isLeader);
    store.failing = true;
    const failingSince = Date.now();
    await until('a lost', () => events.includes('a lost'), 3000);
    const after = Date.now() - failingSince;
    assert.ok(after >= timing.renewDeadlineMs - timing.retryPeriodMs, `lost after ${after} ms`);
    assert.equal(a.isLeader, false);
    // "No more attempts": count a's requests from here while a later event takes at least a
    // lease duration (dozens of a's retry periods): a second candidate taking the lease over.
    const aCallsAtLoss = aCalls.n;
    store.failing = false;
    const b = candidate(store, 'b', events);
    b.start();
    await until('b leads after a\'s lease expired', () => b.isLeader);
    await b.stop();
    assert.equal(aCalls.n, aCallsAtLoss, 'a made no request after the loss');
    assert.deepEqual(events, ['a leads', 'a lost', 'b leads'], 'a said it lost once, and never led again');
  });

  it('releasing on stop lets the standby take over at once', async () => {
    const store = new FakeLeases();
    const events: string[] = [];
    const a = candidate(store, 'a', events);
    const bCalls = { n: 0 };
    const b = candidate(store, 'b', events, bCalls);
    a.start();
    await until('a leads', () => a.isLeader);
    b.start();
    await until('b, standing by, has seen the lease twice', () => bCalls.n >= 2);
    await a.stop();
    assert.equal(store.holder(), undefined);
    const before = bCalls.n;
    await until('b leads', () => b.isLeader);
    // Waiting out the lease would take leaseDuration / retryPeriod = 12 attempts; a released
    // lease is taken at the next one (an attempt in flight at the release may miss it).
    assert.ok(bCalls.n - before <= 2, `b took over after ${bCalls.n - before} attempts: no lease-duration wait`);
    await b.stop();
  });

  it('candidates racing for a new lease: exactly one wins', async () => {
    const store = new FakeLeases();
    const events: string[] = [];
    const cs = ['a', 'b', 'c', 'd'].map((id) => candidate(store, id, events));
    const results = await Promise.all(cs.map((c) => c.tryAcquireOrRenew().catch(() => false)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(store.writes, 1);
  });

  it('rejects timing where the renew deadline is not below the lease duration', () => {
    assert.throws(
      () => new LeaderElector({ client: new FakeLeases().client(), namespace: 'n', name: 'l', logger, leaseDurationMs: 10, renewDeadlineMs: 10, retryPeriodMs: 1, onStartedLeading: () => undefined, onStoppedLeading: () => undefined }),
      /leaseDuration must be greater/,
    );
  });
});
