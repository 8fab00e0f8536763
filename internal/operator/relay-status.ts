// MsrpRelay status from what was observed (STYLE.md: conditions say what is true now).
// Pure: the controller gathers the observations, this decides what they mean.
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { MsrpRelay, MsrpRelayStatus } from './api/msrprelay.ts';
import { mergeConditions } from './conditions.ts';
import type { ConditionInput } from './conditions.ts';
import { CERT_EXPIRY_WARNING_DAYS, type CertificateObservation, type DatabaseObservation, type ServiceObservation } from './relay-health.ts';
import { relayImage, selectorString, tlsSecretName } from './render/common.ts';

export interface SecretObservation {
  name: string;
  /** undefined: found with all keys. */
  problem?: 'missing' | 'key-missing';
  key?: string;
}

export interface RelayObservations {
  tlsSecret: SecretObservation;
  databaseSecret?: SecretObservation;
  /** The admin sidecar's bootstrap token (`<relay>-admin-token`, key `token`): the pods mount it. */
  adminTokenSecret?: SecretObservation;
  statefulSet: V1StatefulSet | undefined;
  missingApis: readonly ('cert-manager' | 'prometheus-operator')[];
  /** Apply or delete failures of owned objects, as messages. */
  applyErrors: readonly string[];
  // The extra conditions (docs/relay.md "Status"); each is written only when observed.
  certificate?: CertificateObservation;
  publicService?: ServiceObservation;
  database?: DatabaseObservation;
  /** The clock for certificate expiry (default: now). */
  now?: Date;
}

const DAY_MS = 86_400_000;

function certificateCondition(c: CertificateObservation, now: Date): ConditionInput {
  if (c.problem !== undefined) return { type: 'CertificateReady', status: 'False', reason: c.problem === 'missing' ? 'SecretMissing' : 'Invalid', message: c.message };
  const until = c.notAfter.toISOString();
  const names = c.dnsNames.length > 0 ? c.dnsNames.join(', ') : c.subject;
  if (now < c.notBefore) return { type: 'CertificateReady', status: 'False', reason: 'NotYetValid', message: `certificate for ${names} is valid from ${c.notBefore.toISOString()}` };
  const days = (c.notAfter.getTime() - now.getTime()) / DAY_MS;
  if (days <= 0) return { type: 'CertificateReady', status: 'False', reason: 'Expired', message: `certificate for ${names} expired at ${until}` };
  if (days <= CERT_EXPIRY_WARNING_DAYS) {
    return { type: 'CertificateReady', status: 'True', reason: 'ExpiringSoon', message: `certificate for ${names} expires at ${until}, in ${Math.floor(days)} days: renew it` };
  }
  return { type: 'CertificateReady', status: 'True', reason: 'Valid', message: `certificate for ${names} valid until ${until} (${Math.floor(days)} days)` };
}

function loadBalancerCondition(s: ServiceObservation): ConditionInput {
  if (s.type !== 'LoadBalancer') {
    return { type: 'LoadBalancerReady', status: 'True', reason: 'NotLoadBalancer', message: `Service "${s.name}" is ${s.type}${s.clusterIp ? `, cluster IP ${s.clusterIp}` : ''}` };
  }
  if (s.ingress.length === 0) return { type: 'LoadBalancerReady', status: 'False', reason: 'AddressPending', message: `waiting for an address for Service "${s.name}" (type LoadBalancer)` };
  return { type: 'LoadBalancerReady', status: 'True', reason: 'AddressAssigned', message: `Service "${s.name}" is reachable at ${s.ingress.join(', ')}` };
}

function databaseCondition(o: RelayObservations): ConditionInput {
  if (o.databaseSecret?.problem) return { type: 'DatabaseReady', status: 'False', reason: 'SecretMissing', message: secretMessage(o.databaseSecret, 'database') };
  const d = o.database!;
  if (d.state === 'reachable') return { type: 'DatabaseReady', status: 'True', reason: 'Reachable', message: 'the relay\'s admin API reaches the database' };
  if (d.state === 'unreachable') return { type: 'DatabaseReady', status: 'False', reason: 'Unreachable', message: d.message };
  return { type: 'DatabaseReady', status: 'Unknown', reason: 'AdminUnreachable', message: d.message };
}

/** The address for status.address: the first load-balancer ingress, else the cluster IP of a non-LoadBalancer Service. */
export function relayAddress(s: ServiceObservation | undefined): string | undefined {
  if (s === undefined) return undefined;
  return s.ingress[0] ?? (s.type !== 'LoadBalancer' ? s.clusterIp : undefined);
}

export function publicUris(r: MsrpRelay): string[] {
  const uris = [`msrps://${r.spec.publicHost}:${r.spec.ports.msrpTls};tcp`];
  if (r.spec.ports.msrpTcp !== undefined) uris.push(`msrp://${r.spec.publicHost}:${r.spec.ports.msrpTcp};tcp`);
  return uris;
}

/** Rolling out: the StatefulSet controller has not caught up with the spec, or replicas differ in revision. */
export function rolloutInProgress(sts: V1StatefulSet): boolean {
  const st = sts.status;
  const desired = sts.spec?.replicas ?? 1;
  if (!st) return true;
  if ((st.observedGeneration ?? 0) < (sts.metadata?.generation ?? 0)) return true;
  if ((st.updatedReplicas ?? 0) < desired) return true;
  if (st.updateRevision && st.currentRevision && st.updateRevision !== st.currentRevision) return true;
  return (st.replicas ?? 0) > desired; // scaling down
}

function secretMessage(s: SecretObservation, what: string): string {
  return s.problem === 'key-missing'
    ? `${what} secret "${s.name}" has no key "${s.key ?? ''}"`
    : `${what} secret "${s.name}" not found`;
}

export function relayConditions(r: MsrpRelay, o: RelayObservations): ConditionInput[] {
  const desired = r.spec.replicas;
  const ready = o.statefulSet?.status?.readyReplicas ?? 0;
  const rolling = o.statefulSet ? rolloutInProgress(o.statefulSet) : true;
  const certManagerMissing = o.missingApis.includes('cert-manager');

  let readyCond: ConditionInput;
  if (o.applyErrors.length > 0) {
    readyCond = { type: 'Ready', status: 'False', reason: 'ApplyFailed', message: o.applyErrors.join('; ') };
  } else if (certManagerMissing && o.tlsSecret.problem) {
    readyCond = {
      type: 'Ready',
      status: 'False',
      reason: 'CertManagerMissing',
      message: `spec.tls.issuerRef needs cert-manager (CRD certificates.cert-manager.io not found), and ${secretMessage(o.tlsSecret, 'TLS')}`,
    };
  } else if (o.tlsSecret.problem && r.spec.tls.issuerRef) {
    readyCond = {
      type: 'Ready',
      status: 'False',
      reason: 'CertificatePending',
      message: `waiting for cert-manager to issue the certificate into secret "${o.tlsSecret.name}"`,
    };
  } else if (o.tlsSecret.problem) {
    readyCond = {
      type: 'Ready',
      status: 'False',
      reason: 'TLSSecretMissing',
      message: `${secretMessage(o.tlsSecret, 'TLS')}: create a kubernetes.io/tls Secret (tls.crt, tls.key) or set spec.tls.issuerRef`,
    };
  } else if (o.databaseSecret?.problem) {
    readyCond = { type: 'Ready', status: 'False', reason: 'DatabaseSecretMissing', message: secretMessage(o.databaseSecret, 'database') };
  } else if (o.adminTokenSecret?.problem) {
    readyCond = {
      type: 'Ready',
      status: 'False',
      reason: 'AdminTokenSecretMissing',
      message: `${secretMessage(o.adminTokenSecret, 'admin token')}: the pods mount it (the admin API's bootstrap token, the one the operator uses)`,
    };
  } else if (desired === 0) {
    readyCond = { type: 'Ready', status: 'False', reason: 'ScaledToZero', message: 'spec.replicas is 0' };
  } else if (ready < desired) {
    readyCond = {
      type: 'Ready',
      status: 'False',
      reason: rolling ? 'RolloutInProgress' : 'ReplicasUnavailable',
      message: `${ready}/${desired} replicas ready`,
    };
  } else {
    readyCond = { type: 'Ready', status: 'True', reason: 'Available', message: `${ready}/${desired} replicas ready` };
  }

  const progressing: ConditionInput = rolling && desired > 0
    ? { type: 'Progressing', status: 'True', reason: 'RolloutInProgress', message: rolloutMessage(o.statefulSet) }
    : { type: 'Progressing', status: 'False', reason: 'RolloutComplete', message: 'all replicas run the current revision' };

  const degradedReasons: [string, string][] = [];
  if (o.applyErrors.length > 0) degradedReasons.push(['ApplyFailed', o.applyErrors.join('; ')]);
  if (certManagerMissing) {
    degradedReasons.push(['CertManagerMissing', 'spec.tls.issuerRef is set but cert-manager is not installed (CRD certificates.cert-manager.io not found)']);
  }
  if (o.missingApis.includes('prometheus-operator')) {
    degradedReasons.push([
      'ServiceMonitorCRDMissing',
      'spec.monitoring.serviceMonitor.enabled is true but CRD servicemonitors.monitoring.coreos.com is not installed',
    ]);
  }
  const extra: ConditionInput[] = [];
  if (o.certificate !== undefined) extra.push(certificateCondition(o.certificate, o.now ?? new Date()));
  if (o.publicService !== undefined) extra.push(loadBalancerCondition(o.publicService));
  if (o.database !== undefined || o.databaseSecret?.problem) extra.push(databaseCondition(o));
  // A certificate about to expire, or a database the relay cannot reach, is a problem to act on now.
  for (const c of extra) {
    if (c.reason === 'ExpiringSoon' || c.reason === 'Expired' || (c.type === 'DatabaseReady' && c.reason === 'Unreachable')) {
      degradedReasons.push([c.type === 'DatabaseReady' ? 'DatabaseUnreachable' : c.reason === 'Expired' ? 'CertificateExpired' : 'CertificateExpiringSoon', c.message]);
    }
  }

  const degraded: ConditionInput = degradedReasons.length > 0
    ? { type: 'Degraded', status: 'True', reason: degradedReasons[0]![0], message: degradedReasons.map(([, m]) => m).join('; ') }
    : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'no problem found' };

  return [readyCond, progressing, degraded, ...extra];
}

function rolloutMessage(sts: V1StatefulSet | undefined): string {
  if (!sts?.status) return 'waiting for the StatefulSet controller';
  const st = sts.status;
  return `${st.updatedReplicas ?? 0}/${sts.spec?.replicas ?? 0} replicas updated, ${st.readyReplicas ?? 0} ready`;
}

export function computeRelayStatus(r: MsrpRelay, o: RelayObservations, now: string): MsrpRelayStatus {
  const generation = r.metadata.generation;
  return {
    observedGeneration: generation,
    conditions: mergeConditions(r.status?.conditions, relayConditions(r, o), generation, now),
    replicas: o.statefulSet?.status?.replicas ?? 0,
    readyReplicas: o.statefulSet?.status?.readyReplicas ?? 0,
    selector: selectorString(r),
    publicUris: publicUris(r),
    ...versionOf(r, o.statefulSet),
    ...(relayAddress(o.publicService) !== undefined ? { address: relayAddress(o.publicService)! } : {}),
    ...(o.certificate !== undefined && o.certificate.problem === undefined ? { certificateNotAfter: o.certificate.notAfter.toISOString().replace(/\.\d+Z$/, 'Z') } : {}),
  };
}

/**
 * status.version: the image every pod runs once the StatefulSet has rolled out its current
 * template (all replicas updated and ready); during a rollout the previous value stays.
 */
function versionOf(r: MsrpRelay, sts: RelayObservations['statefulSet']): { version?: string } {
  const st = sts?.status;
  const want = sts?.spec?.replicas ?? r.spec.replicas;
  const rolled = st !== undefined && st.observedGeneration === sts?.metadata?.generation && st.updateRevision !== undefined &&
    st.currentRevision === st.updateRevision && (st.updatedReplicas ?? 0) === want && (st.readyReplicas ?? 0) === want;
  const version = rolled ? relayImage(r) : r.status?.version;
  return version === undefined ? {} : { version };
}

export { tlsSecretName };
