// Everything one MsrpRelay renders into, in apply order, plus the optional kinds that must
// be absent (so turning a feature off deletes what turning it on created).
import type { MsrpRelay } from '../api/msrprelay.ts';
import type { KubeObject } from '../kube/client.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { ResourceType } from '../kube/resources.ts';
import { names } from './common.ts';
import { configHash, renderConfigMap } from './config.ts';
import { renderCertificate, renderServiceMonitor } from './certificate.ts';
import { renderNetworkPolicy, renderPodDisruptionBudget } from './policy.ts';
import { renderAdminService, renderMeshService, renderPublicService } from './services.ts';
import { renderServiceAccount, renderStatefulSet } from './statefulset.ts';

/** Which optional APIs exist in the cluster (their CRDs are installed). */
export interface Capabilities {
  certManager: boolean;
  serviceMonitor: boolean;
}

export interface Desired {
  type: ResourceType;
  object: KubeObject;
}

export interface Absent {
  type: ResourceType;
  name: string;
}

export interface RenderedRelay {
  apply: Desired[];
  absent: Absent[];
  /** Wanted but impossible: the API is not installed (reported as Degraded). */
  missingApis: ('cert-manager' | 'prometheus-operator')[];
}

/** What the render reads besides the MsrpRelay: observed from other objects by the caller. */
export interface RenderInputs {
  /** A digest of the database URL in spec.database.secretRef (absent while the Secret or key is). */
  databaseSecretHash?: string;
  /** Namespaces admitted to the admin API and metrics ports (the operator's and configured ones); default: the relay's own only. */
  adminNamespaces?: string[];
}

export function renderRelay(r: MsrpRelay, caps: Capabilities, inputs: RenderInputs = {}): RenderedRelay {
  const configMap = renderConfigMap(r);
  const apply: Desired[] = [
    { type: RESOURCES.serviceAccount, object: renderServiceAccount(r) as KubeObject },
    { type: RESOURCES.configMap, object: configMap as KubeObject },
    { type: RESOURCES.service, object: renderMeshService(r) as KubeObject },
    { type: RESOURCES.service, object: renderPublicService(r) as KubeObject },
    { type: RESOURCES.service, object: renderAdminService(r) as KubeObject },
    { type: RESOURCES.networkPolicy, object: renderNetworkPolicy(r, inputs.adminNamespaces) },
  ];
  const absent: Absent[] = [];
  const missingApis: RenderedRelay['missingApis'] = [];

  const pdb = renderPodDisruptionBudget(r);
  if (pdb) apply.push({ type: RESOURCES.podDisruptionBudget, object: pdb as KubeObject });
  else absent.push({ type: RESOURCES.podDisruptionBudget, name: names.podDisruptionBudget(r) });

  const cert = renderCertificate(r);
  if (cert && caps.certManager) apply.push({ type: RESOURCES.certificate, object: cert });
  else if (cert) missingApis.push('cert-manager');
  else if (caps.certManager) absent.push({ type: RESOURCES.certificate, name: names.certificate(r) });

  const sm = renderServiceMonitor(r);
  if (sm && caps.serviceMonitor) apply.push({ type: RESOURCES.serviceMonitor, object: sm });
  else if (sm) missingApis.push('prometheus-operator');
  else if (caps.serviceMonitor) absent.push({ type: RESOURCES.serviceMonitor, name: names.serviceMonitor(r) });

  // Last: the pods start once their ConfigMap, ServiceAccount and Services exist.
  apply.push({ type: RESOURCES.statefulSet, object: renderStatefulSet(r, configHash(configMap), inputs.databaseSecretHash) as KubeObject });
  return { apply, absent, missingApis };
}
