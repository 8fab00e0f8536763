import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newSessionId } from '../msrp/transaction.ts';
import { MAX_WORKERS, ordinalOfHostname, ownerOf, peerHostOf, registryOrdinal, replicaPrefix, workerOf, workerPrefix } from './ownership.ts';

describe('session ownership', () => {
  it('reads back the replica that minted a session id', () => {
    for (const k of [0, 1, 2, 9, 10, 123, 9999]) {
      const id = newSessionId(replicaPrefix(k));
      assert.equal(ownerOf(id), k, id);
    }
  });

  it('names no owner for ids minted without the mesh or not of its shape', () => {
    for (const id of ['', 'r', 'r-abc', 'rx1-abc', 'R1-abc', 'r12345-abc', 'abc', 'r1abc', '1-abc']) {
      assert.equal(ownerOf(id), undefined, id);
    }
  });

  it('refuses ordinals it could not read back', () => {
    assert.throws(() => replicaPrefix(-1), RangeError);
    assert.throws(() => replicaPrefix(10000), RangeError);
    assert.throws(() => replicaPrefix(1.5), RangeError);
  });

  it('takes the ordinal from a StatefulSet pod name', () => {
    assert.equal(ordinalOfHostname('msrp-relay-2'), 2);
    assert.equal(ordinalOfHostname('relay-10'), 10);
    assert.equal(ordinalOfHostname('laptop'), undefined);
  });

  it('renders the peer host of a replica', () => {
    assert.equal(peerHostOf('relay-{ordinal}.relay-mesh.ns.svc.cluster.local', 3), 'relay-3.relay-mesh.ns.svc.cluster.local');
    assert.equal(peerHostOf('127.0.1.{ordinal}', 0), '127.0.1.0');
  });
});

describe('worker ownership', () => {
  it('reads back the worker that minted a session id, with or without a replica prefix', () => {
    for (const replica of ['', 'r0-', 'r7-', 'r9999-']) {
      for (const w of [0, 1, 2, 9, 10, 255]) {
        const id = newSessionId(workerPrefix(replica, w));
        assert.equal(workerOf(id), w, id);
        // The replica part reads as it always did.
        if (replica !== '') assert.equal(ownerOf(id), Number(replica.slice(1, -1)), id);
      }
    }
  });
  it('gives worker 0 the ids of a replica of one worker, unchanged', () => {
    assert.equal(workerPrefix('r3-', 0), 'r3-');
    assert.equal(workerPrefix('', 0), '');
    for (const id of ['', 'abc', 'r3-abc', 'w-abc', 'wx1-abc', 'r3-w-abc', 'r3w1-abc', 'rw1-abc', 'w12345-abc', 'W1-abc']) {
      assert.equal(workerOf(id), 0, id);
    }
  });
  it('reads no worker after a replica prefix that ownerOf does not read either (five digits)', () => {
    // Past MAX_ORDINAL no replica minted the id: it is nobody's, not worker 1's to be passed on to.
    const id = 'r12345-w1-abc';
    assert.equal(ownerOf(id), undefined, id);
    assert.equal(workerOf(id), 0, id);
  });
  it('refuses workers it could not read back', () => {
    assert.throws(() => workerPrefix('', -1), RangeError);
    assert.throws(() => workerPrefix('', MAX_WORKERS), RangeError);
    assert.throws(() => workerPrefix('', 1.5), RangeError);
  });
  it('numbers each worker apart in the relay-wide registry, worker 0 as its replica', () => {
    assert.equal(registryOrdinal(2, 0), 2);
    const seen = new Set<number>();
    for (const k of [0, 1, 9999]) for (const w of [0, 1, 255]) seen.add(registryOrdinal(k, w));
    assert.equal(seen.size, 9);
  });
});
