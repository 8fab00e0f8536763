// MsrpRelay status from what was observed (STYLE.md: conditions say what is true now).
// Pure: the controller gathers the observations, this decides what they mean.
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { MsrpRelay, MsrpRelayStatus } from './api/msrprelay.ts';
import { mergeConditions } from './conditions.ts';
import type { ConditionInput } from './conditions.ts';
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
  const degraded: ConditionInput = degradedReasons.length > 0
    ? { type: 'Degraded', status: 'True', reason: degradedReasons[0]![0], message: degradedReasons.map(([, m]) => m).join('; ') }
    : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'no problem found' };

  return [readyCond, progressing, degraded];
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
