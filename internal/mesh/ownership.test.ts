import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newSessionId } from '../msrp/transaction.ts';
import { ordinalOfHostname, ownerOf, peerHostOf, replicaPrefix } from './ownership.ts';

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
