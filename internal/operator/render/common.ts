// Names, labels and owner references shared by every object rendered for one MsrpRelay.
// Everything in render/ is pure: (relay, options) -> desired object, no I/O.
import { API_VERSION } from '../api/common.ts';
import { APP_VERSION, DEFAULT_IMAGE_REPOSITORY, type MsrpRelay } from '../api/msrprelay.ts';
import type { OwnerReference } from '../kube/client.ts';

export const FIELD_MANAGER = 'msrp-operator';
export const APP_NAME = 'msrp-relay';

/** Container ports of the engine's HTTP servers and of the admin sidecar (fixed, not in the CRD). */
export const ENGINE_HTTP_PORT = 9090;
export const ENGINE_CONTROL_PORT = 9091;
export const ADMIN_PORT = 8080;
/** The mesh listener of every replica (engine mesh.port): reached through the headless Service only. */
export const MESH_PORT = 2858;
/** The chat rooms' channel between replicas (engine mesh.chatPort): room owners answer the others here. */
export const MESH_CHAT_PORT = 2859;

/** Where things are mounted in the relay pod. */
export const PATHS = {
  config: '/etc/msrp/config',
  configFile: '/etc/msrp/config/msrpd.yaml',
  adminConfigFile: '/etc/msrp/config/admin.yaml',
  /** The admin API's bootstrap token (Secret `<relay>-admin-token`, key `token`). */
  adminToken: '/etc/msrp/admin-token',
  adminTokenFile: '/etc/msrp/admin-token/token',
  tls: '/etc/msrp/tls',
  /** The mesh certificate (a wildcard over the headless Service, its own CA). */
  meshTls: '/etc/msrp/mesh-tls',
  adminTls: '/etc/msrp/admin-tls',
  /** The password storage key (spec.database.passwordStorage.keySecretRef) and older ones (previous-<n>). */
  passwordKeys: '/etc/msrp/password-keys',
  data: '/data',
  tmp: '/tmp',
} as const;

/** Annotation on the pod template: changes with the rendered config, so a config change rolls the pods. */
export const CONFIG_HASH_ANNOTATION = 'msrp.dev/config-hash';
/**
 * Annotation on the pod template: a digest of the database URL in spec.database.secretRef.
 * The URL reaches the containers as an environment variable, fixed for the life of the
 * process, so a rotated URL must roll the pods.
 */
export const DATABASE_SECRET_HASH_ANNOTATION = 'msrp.dev/database-secret-hash';

export const names = {
  serviceAccount: (r: MsrpRelay) => r.metadata.name,
  configMap: (r: MsrpRelay) => `${r.metadata.name}-config`,
  /** Not rendered: created by whoever installs the relay, holding the token the operator uses too. */
  adminTokenSecret: (r: MsrpRelay) => `${r.metadata.name}-admin-token`,
  statefulSet: (r: MsrpRelay) => r.metadata.name,
  publicService: (r: MsrpRelay) => r.metadata.name,
  /** Headless: stable pod DNS names for replica-to-replica (mesh) connections. */
  meshService: (r: MsrpRelay) => `${r.metadata.name}-mesh`,
  adminService: (r: MsrpRelay) => `${r.metadata.name}-admin`,
  /** The mesh certificate Secret (kubernetes.io/tls with ca.crt), mounted in every replica. */
  meshTlsSecret: (r: MsrpRelay) => `${r.metadata.name}-mesh-tls`,
  /** The admin API's certificate, issued by the operator from the mesh CA (mesh-secrets.ts). */
  adminTlsSecret: (r: MsrpRelay) => `${r.metadata.name}-admin-tls`,
  /** The mesh CA's key and certificate; the operator signs mesh certificates with it; never mounted. */
  meshCaSecret: (r: MsrpRelay) => `${r.metadata.name}-mesh-ca`,
  podDisruptionBudget: (r: MsrpRelay) => r.metadata.name,
  networkPolicy: (r: MsrpRelay) => r.metadata.name,
  certificate: (r: MsrpRelay) => r.metadata.name,
  serviceMonitor: (r: MsrpRelay) => r.metadata.name,
};

/** The relay image when neither the spec nor the operator (--relay-image) names one: this version's msrpd. */
export const DEFAULT_RELAY_IMAGE = { repository: DEFAULT_IMAGE_REPOSITORY, tag: APP_VERSION } as const;

/** The image the relay pods run: the spec's, filled in from the operator's default (relay-controller.ts). */
export function relayImage(r: MsrpRelay): string {
  return `${r.spec.image.repository ?? DEFAULT_RELAY_IMAGE.repository}:${r.spec.image.tag ?? DEFAULT_RELAY_IMAGE.tag}`;
}

/** The TLS Secret the pods mount: the named one, or the one the operator's Certificate fills. */
export function tlsSecretName(r: MsrpRelay): string {
  return r.spec.tls.secretName ?? `${r.metadata.name}-tls`;
}

/** The in-cluster name of replica `{ordinal}` behind the headless Service (engine mesh.peerHost). */
export function meshPeerHost(r: MsrpRelay): string {
  return `${names.statefulSet(r)}-{ordinal}.${names.meshService(r)}.${r.metadata.namespace}.svc.cluster.local`;
}

/** The admin Service's names: what the operator (and Prometheus) dial the admin API by over TLS. */
export function adminDnsNames(r: MsrpRelay): string[] {
  const svc = `${names.adminService(r)}.${r.metadata.namespace}.svc`;
  return [svc, `${svc}.cluster.local`];
}

/**
 * The names `<relay>-mesh-tls` carries, the one certificate all replicas of a relay mount for
 * the mesh between them (mesh-secrets.ts): `*.<relay>-mesh.<namespace>.svc.cluster.local` and
 * `*.<relay>-mesh.<namespace>.svc`. Why these:
 * - Replicas dial each other by meshPeerHost, one name per ordinal behind the headless Service.
 *   One shared certificate must name every ordinal, today's and those a scale-up adds, without
 *   being issued again: a wildcard. It matches exactly one left-most label (RFC 6125 §6.4.3),
 *   so it names this relay's pods in this namespace and nothing else; no IP addresses, which
 *   change with every pod.
 * - Both ends check it (internal/mesh/links.ts, channel.ts): the dialler checks the server's
 *   certificate against the peer's name, and the accepting replica checks that the client's
 *   certificate names its own host, which only a replica of the same relay's mesh passes.
 * - The form without the cluster domain names the same pods as a client resolving through the
 *   namespace's search path would spell them (`<pod>.<relay>-mesh.<namespace>.svc`); the
 *   operator's own mesh.peerHost uses the full form.
 */
export function meshDnsNames(r: MsrpRelay): string[] {
  const svc = `${names.meshService(r)}.${r.metadata.namespace}.svc`;
  return [`*.${svc}.cluster.local`, `*.${svc}`];
}

/** Labels that select the relay's pods (immutable in a StatefulSet: never add to them). */
export function selectorLabels(r: MsrpRelay): Record<string, string> {
  return { 'app.kubernetes.io/name': APP_NAME, 'app.kubernetes.io/instance': r.metadata.name };
}

export function labels(r: MsrpRelay, component = 'relay'): Record<string, string> {
  return {
    ...selectorLabels(r),
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/managed-by': FIELD_MANAGER,
    'app.kubernetes.io/part-of': 'msrp',
  };
}

/** `a=b,c=d`, the form of status.selector (scale subresource). */
export function selectorString(r: MsrpRelay): string {
  return Object.entries(selectorLabels(r))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function ownerReference(r: MsrpRelay): OwnerReference {
  if (!r.metadata.uid) throw new Error(`MsrpRelay ${r.metadata.name} has no uid (not read from the API server?)`);
  return {
    apiVersion: API_VERSION,
    kind: 'MsrpRelay',
    name: r.metadata.name,
    uid: r.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** metadata for an owned object. */
export function objectMeta(r: MsrpRelay, name: string, component = 'relay', annotations?: Record<string, string>) {
  return {
    name,
    namespace: r.metadata.namespace,
    labels: labels(r, component),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
    ownerReferences: [ownerReference(r)],
  };
}
