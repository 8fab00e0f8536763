import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { conditionChanged, mergeConditions } from './conditions.ts';
import { computeRelayStatus, publicUris, relayConditions, rolloutInProgress } from './relay-status.ts';
import type { RelayObservations } from './relay-status.ts';
import { relayFixture } from './render/testfixtures.ts';

function sts(replicas: number, status: V1StatefulSet['status'] | undefined, generation = 1): V1StatefulSet {
  return { metadata: { generation }, spec: { replicas, selector: {}, serviceName: 'x', template: {} }, ...(status ? { status } : {}) };
}
const settled = (replicas: number, ready: number) =>
  sts(replicas, { observedGeneration: 1, replicas, readyReplicas: ready, updatedReplicas: replicas, currentRevision: 'a', updateRevision: 'a' });

const ok: RelayObservations = { tlsSecret: { name: 'relay-tls' }, statefulSet: settled(1, 1), missingApis: [], applyErrors: [] };
const byType = (o: RelayObservations, spec: Record<string, unknown> = {}) =>
  Object.fromEntries(relayConditions(relayFixture(spec), o).map((c) => [c.type, `${c.status} ${c.reason}`]));

describe('relay conditions', () => {
  it('all replicas ready on the current revision: Ready, not Progressing, not Degraded', () => {
    assert.deepEqual(byType(ok), { Ready: 'True Available', Progressing: 'False RolloutComplete', Degraded: 'False AsExpected' });
  });

  it('a missing TLS Secret says which one and how to fix it', () => {
    const [ready] = relayConditions(relayFixture(), { ...ok, tlsSecret: { name: 'relay-tls', problem: 'missing' } });
    assert.equal(ready?.reason, 'TLSSecretMissing');
    assert.match(ready.message, /secret "relay-tls" not found.*issuerRef/);
  });

  it('a database Secret without its key is DatabaseSecretMissing', () => {
    const c = byType({ ...ok, databaseSecret: { name: 'db', problem: 'key-missing', key: 'url' } });
    assert.equal(c.Ready, 'False DatabaseSecretMissing');
    const [ready] = relayConditions(relayFixture(), { ...ok, databaseSecret: { name: 'db', problem: 'key-missing', key: 'url' } });
    assert.match(ready!.message, /has no key "url"/);
  });

  it('a missing admin token Secret is AdminTokenSecretMissing (the pods mount it), after TLS and database', () => {
    const missing = { name: 'relay-admin-token', problem: 'missing' as const };
    const [ready] = relayConditions(relayFixture(), { ...ok, adminTokenSecret: missing });
    assert.equal(ready?.reason, 'AdminTokenSecretMissing');
    assert.match(ready.message, /admin token secret "relay-admin-token" not found/);
    assert.equal(byType({ ...ok, adminTokenSecret: missing, tlsSecret: { name: 'relay-tls', problem: 'missing' } }).Ready, 'False TLSSecretMissing');
    assert.equal(byType({ ...ok, adminTokenSecret: { name: 'relay-admin-token' } }).Ready, 'True Available');
  });

    it('issuerRef: CertManagerMissing (Degraded) without cert-manager, CertificatePending with it', () => {
    const spec = { tls: { issuerRef: { name: 'le' } } };
    const missing = byType({ ...ok, tlsSecret: { name: 'relay-tls', problem: 'missing' }, missingApis: ['cert-manager'] }, spec);
    assert.equal(missing.Ready, 'False CertManagerMissing');
    assert.equal(missing.Degraded, 'True CertManagerMissing');
    const pending = byType({ ...ok, tlsSecret: { name: 'relay-tls', problem: 'missing' } }, spec);
    assert.equal(pending.Ready, 'False CertificatePending');
    assert.equal(pending.Degraded, 'False AsExpected');
  });

  it('fewer ready replicas than wanted: RolloutInProgress while rolling, ReplicasUnavailable once settled', () => {
    const rolling = sts(1, { observedGeneration: 1, replicas: 1, readyReplicas: 0, updatedReplicas: 0 });
    assert.deepEqual(byType({ ...ok, statefulSet: rolling }), {
      Ready: 'False RolloutInProgress',
      Progressing: 'True RolloutInProgress',
      Degraded: 'False AsExpected',
    });
    assert.equal(byType({ ...ok, statefulSet: settled(1, 0) }).Ready, 'False ReplicasUnavailable');
  });

  it('apply failures make Ready False and Degraded True with the message', () => {
    const c = relayConditions(relayFixture(), { ...ok, applyErrors: ['apply Service relay: 422 invalid'] });
    assert.equal(c[0]?.reason, 'ApplyFailed');
    assert.equal(c[2]?.status, 'True');
    assert.match(c[2].message, /422 invalid/);
  });

  it('rollout detection: generation not observed, revisions differ, scaling down', () => {
    assert.equal(rolloutInProgress(settled(1, 1)), false);
    assert.equal(rolloutInProgress(sts(1, { observedGeneration: 1, replicas: 1, updatedReplicas: 1 }, 2)), true);
    assert.equal(rolloutInProgress(sts(1, { observedGeneration: 1, replicas: 1, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'b' })), true);
    assert.equal(rolloutInProgress(sts(1, { observedGeneration: 1, replicas: 3, updatedReplicas: 1 })), true);
    assert.equal(rolloutInProgress(sts(1, undefined)), true);
  });

  it('public URIs: msrps always, msrp with a TCP port', () => {
    assert.deepEqual(publicUris(relayFixture({ ports: { msrpTls: 2855, msrpTcp: 2856 } })), [
      'msrps://msrp.example.com:2855;tcp',
      'msrp://msrp.example.com:2856;tcp',
    ]);
  });

  it('status carries observedGeneration, counts, selector; lastTransitionTime moves only with status', () => {
    const r = relayFixture();
    r.metadata.generation = 4;
    const first = computeRelayStatus(r, { ...ok, statefulSet: settled(1, 0) }, '2026-01-01T00:00:00Z');
    assert.equal(first.observedGeneration, 4);
    assert.equal(first.readyReplicas, 0);
    assert.equal(first.replicas, 1);
    assert.equal(first.conditions?.[0]?.observedGeneration, 4);
    r.status = first;
    const same = computeRelayStatus(r, { ...ok, statefulSet: settled(1, 0) }, '2026-01-01T00:05:00Z');
    assert.deepEqual(same, first, 'nothing changed: identical status, so no write');
    const ready = computeRelayStatus(r, ok, '2026-01-01T00:10:00Z');
    assert.equal(ready.conditions?.[0]?.lastTransitionTime, '2026-01-01T00:10:00Z');
    assert.equal(ready.conditions?.[2]?.lastTransitionTime, '2026-01-01T00:00:00Z', 'Degraded stayed False');
  });

  it('status.version: the image once every pod runs the current template; the previous one while a rollout is on', () => {
    const r = relayFixture({ image: { repository: 'reg.example/msrpd', tag: '1.0.0' } });
    assert.equal(computeRelayStatus(r, ok, 't').version, 'reg.example/msrpd:1.0.0');
    assert.equal(computeRelayStatus(r, { ...ok, statefulSet: settled(1, 0) }, 't').version, undefined, 'not ready: not running it yet');
    r.status = { version: 'reg.example/msrpd:1.0.0' };
    const upgraded = relayFixture({ image: { repository: 'reg.example/msrpd', tag: '1.1.0' } });
    upgraded.status = r.status;
    const rolling = sts(1, { observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 0, currentRevision: 'a', updateRevision: 'b' });
    assert.equal(computeRelayStatus(upgraded, { ...ok, statefulSet: rolling }, 't').version, 'reg.example/msrpd:1.0.0');
    assert.equal(computeRelayStatus(upgraded, ok, 't').version, 'reg.example/msrpd:1.1.0');
  });
});

describe('conditions', () => {
  it('keeps lastTransitionTime when only reason or message change', () => {
    const before = mergeConditions(undefined, [{ type: 'Ready', status: 'False', reason: 'A', message: 'a' }], 1, 't0');
    const after = mergeConditions(before, [{ type: 'Ready', status: 'False', reason: 'B', message: 'b' }], 2, 't1');
    assert.equal(after[0]?.lastTransitionTime, 't0');
    assert.equal(after[0]?.observedGeneration, 2);
    assert.equal(conditionChanged(before[0], after[0]), true, 'a reason change is worth an Event');
    assert.equal(conditionChanged(after[0], after[0]), false);
  });
});
