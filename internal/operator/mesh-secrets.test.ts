import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { issueMeshCertificate, newMeshCa } from './mesh-pki.ts';
import { planMeshTls, redact } from './mesh-secrets.ts';
import type { MeshTlsPlan, MeshTlsState } from './mesh-secrets.ts';

const NOW = new Date('2026-12-06T01:00:00Z');
const DAY = 86_400_000;
const MIN = 60_000;
const ROLLOVER = 5 * MIN;
const NAMES = ['*.relay-mesh.ns.svc.cluster.local', '*.relay-mesh.ns.svc'];
const at = (ms: number) => new Date(NOW.getTime() + ms);

/** What the controller would write for `plan`, as the state the next reconcile reads. */
function applyPlan(ca: { certPem: string; keyPem: string }, state: MeshTlsState | undefined, plan: MeshTlsPlan, now: Date): MeshTlsState {
  assert.equal(plan.action, 'write');
  if (plan.action !== 'write') throw new Error('unreachable');
  const leaf = plan.issue || !state ? issueMeshCertificate(ca, NAMES, now) : state;
  return { certPem: leaf.certPem, keyPem: leaf.keyPem, caPems: plan.caPems, ...(plan.rolloverSince ? { rolloverSince: plan.rolloverSince } : {}) };
}

describe('mesh-tls Secret plan', () => {
  const ca = newMeshCa('relay.ns mesh CA', NOW);

  it('missing: issue a leaf with ca.crt = the CA; then keep it until its renewal time', () => {
    const plan = planMeshTls(undefined, ca.certPem, NAMES, NOW, ROLLOVER);
    assert.deepEqual(plan, { action: 'write', reason: 'missing', issue: true, caPems: [ca.certPem] });
    const state = applyPlan(ca, undefined, plan, NOW);
    assert.deepEqual(planMeshTls(state, ca.certPem, NAMES, at(DAY), ROLLOVER), { action: 'keep', nextCheck: at(335 * DAY) });
  });

  it('due, wrong names, or a key that does not match: a new leaf', () => {
    const state = applyPlan(ca, undefined, planMeshTls(undefined, ca.certPem, NAMES, NOW, ROLLOVER), NOW);
    const due = planMeshTls(state, ca.certPem, NAMES, at(340 * DAY), ROLLOVER);
    assert.equal(due.action === 'write' && due.issue, true);
    assert.match(due.action === 'write' ? due.reason : '', /^due for renewal/);
    const renamed = planMeshTls(state, ca.certPem, ['*.other-mesh.ns.svc'], NOW, ROLLOVER);
    assert.match(renamed.action === 'write' ? renamed.reason : '', /^names /);
    const other = issueMeshCertificate(ca, NAMES, NOW);
    const mismatched = planMeshTls({ ...state, keyPem: other.keyPem }, ca.certPem, NAMES, NOW, ROLLOVER);
    assert.deepEqual(mismatched, { action: 'write', reason: 'tls.crt and tls.key are not a readable pair', issue: true, caPems: [ca.certPem] });
  });

  it('a new CA rolls out in three steps, each after the rollover time, so replicas always trust each other', () => {
    const old = newMeshCa('old', NOW);
    let state = applyPlan(old, undefined, planMeshTls(undefined, old.certPem, NAMES, NOW, ROLLOVER), NOW);
    const oldLeaf = state.certPem;
    const next = ca;

    // 1. Same leaf, both CAs trusted.
    let plan = planMeshTls(state, next.certPem, NAMES, at(MIN), ROLLOVER);
    assert.deepEqual(plan, { action: 'write', reason: 'mesh CA rollover: new CA added to ca.crt', issue: false, caPems: [next.certPem, old.certPem], rolloverSince: at(MIN) });
    state = applyPlan(next, state, plan, at(MIN));
    assert.equal(state.certPem, oldLeaf);
    assert.deepEqual(planMeshTls(state, next.certPem, NAMES, at(3 * MIN), ROLLOVER), { action: 'keep', nextCheck: at(6 * MIN) });

    // 2. A leaf from the new CA, both still trusted.
    plan = planMeshTls(state, next.certPem, NAMES, at(6 * MIN), ROLLOVER);
    assert.equal(plan.action === 'write' && plan.issue, true);
    assert.deepEqual(plan.action === 'write' && plan.caPems, [next.certPem, old.certPem]);
    state = applyPlan(next, state, plan, at(6 * MIN));
    assert.ok(new X509Certificate(state.certPem).verify(new X509Certificate(next.certPem).publicKey));
    assert.deepEqual(planMeshTls(state, next.certPem, NAMES, at(7 * MIN), ROLLOVER), { action: 'keep', nextCheck: at(11 * MIN) });

    // 3. The old CA goes; then nothing until renewal.
    plan = planMeshTls(state, next.certPem, NAMES, at(11 * MIN), ROLLOVER);
    assert.deepEqual(plan, { action: 'write', reason: 'mesh CA rollover: old CA removed from ca.crt', issue: false, caPems: [next.certPem] });
    state = applyPlan(next, state, plan, at(11 * MIN));
    assert.equal(planMeshTls(state, next.certPem, NAMES, at(12 * MIN), ROLLOVER).action, 'keep');
  });

  it('a leaf from a CA no one trusts any more is replaced at once', () => {
    const stranger = newMeshCa('stranger', NOW);
    const leaf = issueMeshCertificate(stranger, NAMES, NOW);
    const plan = planMeshTls({ ...leaf, caPems: [ca.certPem] }, ca.certPem, NAMES, NOW, ROLLOVER);
    assert.deepEqual(plan, { action: 'write', reason: 'not signed by the mesh CA', issue: true, caPems: [ca.certPem] });
  });
});

describe('redact', () => {
  it('removes PEM blocks and long base64 runs from error messages', () => {
    const key = newMeshCa('x', NOW).keyPem.trim();
    const msg = redact(`PATCH secrets/relay-mesh-tls: 422 bad ${key} and ${Buffer.from(key).toString('base64')} end`);
    assert.equal(msg, 'PATCH secrets/relay-mesh-tls: 422 bad [redacted] and [redacted] end');
  });
});
