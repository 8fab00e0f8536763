// PodDisruptionBudget and NetworkPolicy of the relay pods.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { KubeObject } from '../kube/client.ts';
import type { MsrpRelay } from '../api/msrprelay.ts';
import { ADMIN_PORT, ENGINE_HTTP_PORT, MESH_CHAT_PORT, MESH_PORT, names, objectMeta, selectorLabels } from './common.ts';
import { publicPorts } from './statefulset.ts';

/** undefined when spec.podDisruptionBudget.enabled is false. */
export function renderPodDisruptionBudget(r: MsrpRelay): V1PodDisruptionBudget | undefined {
  const pdb = r.spec.podDisruptionBudget;
  if (!pdb.enabled) return undefined;
  const bound =
    pdb.minAvailable !== undefined
      ? { minAvailable: pdb.minAvailable }
      : { maxUnavailable: pdb.maxUnavailable ?? 1 };
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(r, names.podDisruptionBudget(r)),
    spec: { ...bound, selector: { matchLabels: selectorLabels(r) } },
  };
}

/**
 * Ingress only: MSRP and SIP from anywhere (they are public); the admin API and the engine's
 * metrics port only from the listed namespaces (the operator's own and --admin-allowed-namespaces,
 * e.g. Prometheus's; by default the relay's own), by their `kubernetes.io/metadata.name` label,
 * which the API server sets and namespace owners cannot change; MSRP between replicas (mesh).
 * Egress is left open: PostgreSQL and other relays (RFC 4976 §7 next hops) live anywhere.
 */
// Typed as a plain object: client-node's V1NetworkPolicyIngressRule calls the wire field
// `from` `_from` (its serializer renames it), so its model type does not describe JSON.
export function renderNetworkPolicy(r: MsrpRelay, adminNamespaces?: readonly string[]): KubeObject {
  const admitted = [...new Set(adminNamespaces !== undefined && adminNamespaces.length > 0 ? adminNamespaces : [r.metadata.namespace!])].sort();
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: objectMeta(r, names.networkPolicy(r)),
    spec: {
      podSelector: { matchLabels: selectorLabels(r) },
      policyTypes: ['Ingress'],
      ingress: [
        { ports: publicPorts(r).map((p) => ({ port: p.port, protocol: p.protocol })) },
        {
          from: [{ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: admitted }] } }],
          ports: [
            { port: ADMIN_PORT, protocol: 'TCP' },
            { port: ENGINE_HTTP_PORT, protocol: 'TCP' },
          ],
        },
        // The mesh: only the other replicas of this relay (and its certificate is checked too).
        { from: [{ podSelector: { matchLabels: selectorLabels(r) } }], ports: [{ port: MESH_PORT, protocol: 'TCP' }, { port: MESH_CHAT_PORT, protocol: 'TCP' }] },
      ],
    },
  };
}
