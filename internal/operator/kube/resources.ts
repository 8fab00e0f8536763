// The kinds the operator reads and writes, as REST coordinates.
export interface ResourceType {
  group: string; // '' for core
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

function rt(group: string, version: string, kind: string, plural: string, namespaced = true): ResourceType {
  return { group, version, kind, plural, namespaced };
}

export const RESOURCES = {
  msrpRelay: rt('msrp.dev', 'v1alpha1', 'MsrpRelay', 'msrprelays'),
  chatRoom: rt('msrp.dev', 'v1alpha1', 'ChatRoom', 'chatrooms'),
  statefulSet: rt('apps', 'v1', 'StatefulSet', 'statefulsets'),
  service: rt('', 'v1', 'Service', 'services'),
  configMap: rt('', 'v1', 'ConfigMap', 'configmaps'),
  serviceAccount: rt('', 'v1', 'ServiceAccount', 'serviceaccounts'),
  secret: rt('', 'v1', 'Secret', 'secrets'),
  podDisruptionBudget: rt('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  networkPolicy: rt('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies'),
  certificate: rt('cert-manager.io', 'v1', 'Certificate', 'certificates'),
  serviceMonitor: rt('monitoring.coreos.com', 'v1', 'ServiceMonitor', 'servicemonitors'),
  lease: rt('coordination.k8s.io', 'v1', 'Lease', 'leases'),
  event: rt('events.k8s.io', 'v1', 'Event', 'events'),
  customResourceDefinition: rt('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false),
} as const;

export function apiVersionOf(t: ResourceType): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

/** `/api/v1` or `/apis/<group>/<version>`. */
function groupPath(t: ResourceType): string {
  return t.group === '' ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
}

export function collectionPath(t: ResourceType, namespace?: string): string {
  if (t.namespaced && namespace) return `${groupPath(t)}/namespaces/${encodeURIComponent(namespace)}/${t.plural}`;
  return `${groupPath(t)}/${t.plural}`;
}

export function objectPath(t: ResourceType, namespace: string | undefined, name: string): string {
  if (t.namespaced && !namespace) throw new Error(`${t.kind} ${name}: namespace required`);
  return `${collectionPath(t, namespace)}/${encodeURIComponent(name)}`;
}

/** The CRD name of a kind (`certificates.cert-manager.io`), to check that it is installed. */
export function crdName(t: ResourceType): string {
  return `${t.plural}.${t.group}`;
}
