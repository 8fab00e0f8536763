// The MsrpRelay's certificate, load-balancer and database conditions (docs/relay.md "Status")
// from observations: certificates are real X.509 issued with the operator's own PKI code at
// chosen validity windows, parsed from a Secret's base64 tls.crt as the API returns it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { issueMeshCertificate, newMeshCa } from './mesh-pki.ts';
import { observeCertificate, observeService } from './relay-health.ts';
import { computeRelayStatus, relayConditions, type RelayObservations } from './relay-status.ts';
import { relayFixture } from './render/testfixtures.ts';

const DAY = 86_400_000;
const now = new Date('2026-12-06T00:00:00Z');
const ca = newMeshCa('test CA', new Date(now.getTime() - 400 * DAY));
/** A Secret whose certificate runs from `from` for `days` days. */
const tlsSecret = (from: Date, days: number) => ({ data: { 'tls.crt': Buffer.from(issueMeshCertificate(ca, ['msrp.example.com'], from, days).certPem).toString('base64') } });
const base: RelayObservations = { tlsSecret: { name: 'relay-tls' }, statefulSet: undefined, missingApis: [], applyErrors: [], now };
const conditions = (o: Partial<RelayObservations>) =>
  Object.fromEntries(relayConditions(relayFixture(), { ...base, ...o }).map((c) => [c.type, c]));

describe('CertificateReady', () => {
  it('a valid certificate: True Valid, with its names and end date; status.certificateNotAfter is that date', () => {
    const certificate = observeCertificate(tlsSecret(new Date(now.getTime() - DAY), 90), 'relay-tls');
    const c = conditions({ certificate });
    assert.equal(`${c['CertificateReady']!.status} ${c['CertificateReady']!.reason}`, 'True Valid');
    assert.match(c['CertificateReady']!.message, /^certificate for msrp\.example\.com valid until 2027-03-\d\dT.*\(89 days\)$/);
    assert.equal(c['Degraded']!.status, 'False');
    const status = computeRelayStatus(relayFixture(), { ...base, certificate }, 't');
    assert.equal(status.certificateNotAfter, certificate.problem === undefined ? certificate.notAfter.toISOString().replace(/\.\d+Z$/, 'Z') : 'x');
  });

  it('expiring within 14 days: True ExpiringSoon, and Degraded CertificateExpiringSoon', () => {
    const c = conditions({ certificate: observeCertificate(tlsSecret(new Date(now.getTime() - 80 * DAY), 85), 'relay-tls') });
    assert.equal(`${c['CertificateReady']!.status} ${c['CertificateReady']!.reason}`, 'True ExpiringSoon');
    assert.match(c['CertificateReady']!.message, /in 5 days: renew it$/);
    assert.equal(`${c['Degraded']!.status} ${c['Degraded']!.reason}`, 'True CertificateExpiringSoon');
  });

  it('expired, not yet valid, missing or not a certificate: False with the reason', () => {
    assert.equal(conditions({ certificate: observeCertificate(tlsSecret(new Date(now.getTime() - 100 * DAY), 90), 'relay-tls') })['CertificateReady']!.reason, 'Expired');
    assert.equal(conditions({ certificate: observeCertificate(tlsSecret(new Date(now.getTime() + 2 * DAY), 90), 'relay-tls') })['CertificateReady']!.reason, 'NotYetValid');
    const missing = conditions({ certificate: observeCertificate(undefined, 'relay-tls') })['CertificateReady']!;
    assert.deepEqual([missing.status, missing.reason, missing.message], ['False', 'SecretMissing', 'TLS secret "relay-tls" not found']);
    const junk = conditions({ certificate: observeCertificate({ data: { 'tls.crt': Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n').toString('base64') } }, 'relay-tls') });
    assert.equal(`${junk['CertificateReady']!.status} ${junk['CertificateReady']!.reason}`, 'False Invalid');
  });
});

describe('LoadBalancerReady', () => {
  const svc = (type: string, ingress: { ip?: string; hostname?: string }[] = []): V1Service => ({ spec: { type, clusterIP: '10.96.0.12' }, status: { loadBalancer: { ingress } } });
  it('a LoadBalancer without an address is pending; with one it is True and status.address carries it', () => {
    const pending = conditions({ publicService: observeService(svc('LoadBalancer'), 'relay') })['LoadBalancerReady']!;
    assert.deepEqual([pending.status, pending.reason], ['False', 'AddressPending']);
    const svcObs = observeService(svc('LoadBalancer', [{ hostname: 'lb.example.net' }, { ip: '203.0.113.7' }]), 'relay');
    const ready = conditions({ publicService: svcObs })['LoadBalancerReady']!;
    assert.deepEqual([ready.status, ready.reason, ready.message], ['True', 'AddressAssigned', 'Service "relay" is reachable at lb.example.net, 203.0.113.7']);
    assert.equal(computeRelayStatus(relayFixture(), { ...base, publicService: svcObs }, 't').address, 'lb.example.net');
    assert.equal(computeRelayStatus(relayFixture(), { ...base, publicService: observeService(svc('LoadBalancer'), 'relay') }, 't').address, undefined);
  });
  it('another Service type needs no load balancer: True NotLoadBalancer, the address is the cluster IP', () => {
    const obs = observeService(svc('ClusterIP'), 'relay');
    assert.equal(conditions({ publicService: obs })['LoadBalancerReady']!.reason, 'NotLoadBalancer');
    assert.equal(computeRelayStatus(relayFixture(), { ...base, publicService: obs }, 't').address, '10.96.0.12');
  });
});

describe('DatabaseReady', () => {
  it('reachable, unreachable (Degraded), unknown, and a missing database Secret', () => {
    assert.equal(conditions({ database: { state: 'reachable' } })['DatabaseReady']!.reason, 'Reachable');
    const down = conditions({ database: { state: 'unreachable', message: 'the database did not answer' } });
    assert.deepEqual([down['DatabaseReady']!.status, down['DatabaseReady']!.reason], ['False', 'Unreachable']);
    assert.equal(`${down['Degraded']!.status} ${down['Degraded']!.reason}`, 'True DatabaseUnreachable');
    const unknown = conditions({ database: { state: 'unknown', message: 'no answer' } })['DatabaseReady']!;
    assert.deepEqual([unknown.status, unknown.reason], ['Unknown', 'AdminUnreachable']);
    const noSecret = conditions({ databaseSecret: { name: 'db', problem: 'missing' } })['DatabaseReady']!;
    assert.deepEqual([noSecret.status, noSecret.reason, noSecret.message], ['False', 'SecretMissing', 'database secret "db" not found']);
  });
  it('not observed: no such condition (the list stays as it was)', () => {
    assert.deepEqual(Object.keys(conditions({})), ['Ready', 'Progressing', 'Degraded']);
  });
});
