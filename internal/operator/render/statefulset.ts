// The relay StatefulSet (docs/architecture.md §4.2: replica k owns the sessions it mints) and its
// ServiceAccount. Two containers from one image: the engine (cmd/msrpd.ts) and the admin
// sidecar (cmd/admin.ts), which reaches the engine's control endpoint on 127.0.0.1.
import type {
  V1Affinity,
  V1Container,
  V1EnvVar,
  V1PodSpec,
  V1ServiceAccount,
  V1StatefulSet,
  V1Volume,
} from '@kubernetes/client-node';
import type { MsrpRelay } from '../api/msrprelay.ts';
import { serviceAliases } from './config.ts';
import {
  ADMIN_PORT,
  CONFIG_HASH_ANNOTATION,
  DATABASE_SECRET_HASH_ANNOTATION,
  ENGINE_HTTP_PORT,
  labels,
  MESH_CHAT_PORT,
  MESH_PORT,
  names,
  objectMeta,
  PATHS,
  relayImage,
  selectorLabels,
  tlsSecretName,
} from './common.ts';
import { parseQuantity } from './quantity.ts';

/** Seconds the kubelet waits after SIGTERM beyond the engine's drain deadline before SIGKILL. */
export const GRACE_MARGIN_SECONDS = 15;
/**
 * preStop pause before SIGTERM: the endpoints controllers and load balancers take the
 * terminating pod out of rotation meanwhile, so no new client is sent to it when it starts
 * refusing AUTHs. A sleep action, not a command: the image has no shell.
 */
export const PRE_STOP_SECONDS = 5;
/** A new replica must stay Ready this long before the rollout moves on to the next one. */
export const MIN_READY_SECONDS = 10;
export const RUN_AS = 65532;

export function renderServiceAccount(r: MsrpRelay): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: objectMeta(r, names.serviceAccount(r)),
    // The pods talk to PostgreSQL and to each other, never to the Kubernetes API.
    automountServiceAccountToken: false,
  };
}

function containerSecurityContext() {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
  };
}

/** Every TCP/UDP port of the engine that the public Service exposes. */
export function publicPorts(r: MsrpRelay): { name: string; port: number; protocol: 'TCP' | 'UDP' }[] {
  const p = r.spec.ports;
  return [
    { name: 'msrps', port: p.msrpTls, protocol: 'TCP' as const },
    ...(p.msrpTcp !== undefined ? [{ name: 'msrp', port: p.msrpTcp, protocol: 'TCP' as const }] : []),
    ...(p.msrpWss !== undefined ? [{ name: 'msrp-wss', port: p.msrpWss, protocol: 'TCP' as const }] : []),
    // The chat server's ports only when it runs: a published port nobody listens on is a trap.
    ...(r.spec.chat.enabled
      ? [
          // UDP only when asked for (spec.ports.sipUdp): spoofable sources, docs/security.md "UDP amplification".
          ...(p.sipUdp !== undefined ? [{ name: 'sip-udp', port: p.sipUdp, protocol: 'UDP' as const }] : []),
          { name: 'sip-tcp', port: p.sipTcp, protocol: 'TCP' as const },
          { name: 'sip-tls', port: p.sipTls, protocol: 'TCP' as const },
          ...(p.sipWss !== undefined ? [{ name: 'sip-wss', port: p.sipWss, protocol: 'TCP' as const }] : []),
          { name: 'msrp-chat', port: p.msrpChat, protocol: 'TCP' as const },
        ]
      : []),
  ];
}

/** database.url from the Secret: `MSRP_DATABASE__URL` for the engine, `MSRP_ADMIN_DATABASE__URL` for the admin. */
function databaseEnv(r: MsrpRelay, prefix: 'MSRP_' | 'MSRP_ADMIN_'): V1EnvVar[] {
  const ref = r.spec.database.secretRef;
  return [{ name: `${prefix}DATABASE__URL`, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } }];
}

/**
 * The pod IP as one more engine alias (relay.aliases[n], after the rendered Service names),
 * so a To-Path naming the pod directly (mesh, or a client given the pod address) is local.
 */
function podIpAliasEnv(r: MsrpRelay): V1EnvVar[] {
  return [
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: `MSRP_RELAY__ALIASES__${serviceAliases(r).length}`, value: '$(POD_IP)' },
  ];
}

/**
 * The replica's ordinal for the mesh (engine mesh.ordinal), from the label the StatefulSet
 * controller puts on each pod (Kubernetes 1.28+), rather than parsed from the host name.
 */
function meshOrdinalEnv(): V1EnvVar[] {
  return [{ name: 'MSRP_MESH__ORDINAL', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } }];
}

/** Spread the replicas over nodes unless the user said otherwise about pod anti-affinity. */
export function renderAffinity(r: MsrpRelay): V1Affinity {
  const given = (r.spec.scheduling?.affinity ?? {}) as V1Affinity;
  if (given.podAntiAffinity) return given;
  return {
    ...given,
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selectorLabels(r) } },
        },
      ],
    },
  };
}

/**
 * The engine's command. With a CPU limit of one core or less, the engine runs as one process
 * (relay.workers auto) within that core, and V8's parallel GC threads would spend the same quota:
 * the collector stays on the main thread (`--single-threaded-gc`, docs/relay.md "Garbage
 * collector threads"). With more, the workers get that flag from the primary (engine/workers.ts).
 */
export function engineCommand(r: MsrpRelay): string[] {
  const cpu = r.spec.resources?.limits?.['cpu'];
  const oneCore = cpu !== undefined && parseQuantity(cpu) <= 1;
  return oneCore ? ['node', '--single-threaded-gc', 'cmd/msrpd.ts'] : ['node', 'cmd/msrpd.ts'];
}

function engineContainer(r: MsrpRelay): V1Container {
  const image = relayImage(r);
  return {
    name: 'engine',
    image,
    imagePullPolicy: r.spec.image.pullPolicy,
    command: engineCommand(r),
    args: ['--config', PATHS.configFile],
    env: [...podIpAliasEnv(r), ...meshOrdinalEnv(), ...databaseEnv(r, 'MSRP_')],
    ports: [
      ...publicPorts(r).map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol })),
      { name: 'http', containerPort: ENGINE_HTTP_PORT, protocol: 'TCP' },
      { name: 'mesh', containerPort: MESH_PORT, protocol: 'TCP' },
      { name: 'mesh-chat', containerPort: MESH_CHAT_PORT, protocol: 'TCP' },
    ],
    startupProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2, failureThreshold: 60 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
    // /readyz fails while draining, so a terminating replica leaves the Service endpoints.
    readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 2 },
    // The drain (SIGTERM) starts after the pod has left the Service endpoints.
    lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
    ...(r.spec.resources ? { resources: r.spec.resources as V1Container['resources'] } : {}),
    securityContext: containerSecurityContext(),
    volumeMounts: [
      { name: 'config', mountPath: PATHS.config, readOnly: true },
      { name: 'tls', mountPath: PATHS.tls, readOnly: true },
      { name: 'mesh-tls', mountPath: PATHS.meshTls, readOnly: true },
      { name: 'data', mountPath: PATHS.data },
      { name: 'tmp', mountPath: PATHS.tmp },
      ...passwordKeyVolumes(r).mounts,
    ],
  };
}

function adminContainer(r: MsrpRelay): V1Container {
  const image = relayImage(r);
  return {
    name: 'admin',
    image,
    imagePullPolicy: r.spec.image.pullPolicy,
    command: ['node', 'cmd/admin.ts'],
    // Its own file (admin.yaml in the same ConfigMap): the admin schema is not the engine's.
    args: ['--config', PATHS.adminConfigFile],
    env: databaseEnv(r, 'MSRP_ADMIN_'),
    ports: [{ name: 'admin', containerPort: ADMIN_PORT, protocol: 'TCP' }],
    // The admin API speaks HTTPS (the kubelet does not verify the certificate of a probe).
    startupProbe: { httpGet: { path: '/healthz', port: 'admin', scheme: 'HTTPS' }, periodSeconds: 2, failureThreshold: 60 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'admin', scheme: 'HTTPS' }, periodSeconds: 10, failureThreshold: 3 },
    // /healthz, not the admin's /readyz (database reachable): pod readiness is all containers,
    // and the engine keeps relaying from its cache while PostgreSQL is briefly down (docs/architecture.md
    // §4.1), so a database outage must not take the pod out of the public Service.
    readinessProbe: { httpGet: { path: '/healthz', port: 'admin', scheme: 'HTTPS' }, periodSeconds: 5, failureThreshold: 2 },
    resources: { requests: { cpu: '20m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    securityContext: containerSecurityContext(),
    volumeMounts: [
      { name: 'config', mountPath: PATHS.config, readOnly: true },
      { name: 'admin-token', mountPath: PATHS.adminToken, readOnly: true },
      { name: 'admin-tls', mountPath: PATHS.adminTls, readOnly: true },
      { name: 'data', mountPath: PATHS.data },
      { name: 'tmp', mountPath: PATHS.tmp },
      ...passwordKeyVolumes(r).mounts,
    ],
  };
}

/** The password storage keys (spec.database.passwordStorage), one Secret volume each, in both containers. */
function passwordKeyVolumes(r: MsrpRelay): { volumes: V1Volume[]; mounts: { name: string; mountPath: string; readOnly: boolean }[] } {
  const p = r.spec.database.passwordStorage;
  const refs = [
    ...(p?.keySecretRef !== undefined ? [{ dir: 'current', ref: p.keySecretRef }] : []),
    ...(p?.previousKeySecretRefs ?? []).map((ref, i) => ({ dir: `previous-${i}`, ref })),
  ];
  return {
    volumes: refs.map(({ dir, ref }) => ({ name: `password-key-${dir}`, secret: { secretName: ref.name, items: [{ key: ref.key, path: ref.key }], defaultMode: 0o440 } })),
    mounts: refs.map(({ dir }) => ({ name: `password-key-${dir}`, mountPath: `${PATHS.passwordKeys}/${dir}`, readOnly: true })),
  };
}

function volumes(r: MsrpRelay): V1Volume[] {
  return [
    ...passwordKeyVolumes(r).volumes,
    { name: 'config', configMap: { name: names.configMap(r) } },
    // Mounted as a directory (not subPath) so the kubelet's atomic symlink swap reaches the
    // engine when cert-manager rotates the certificate.
    { name: 'tls', secret: { secretName: tlsSecretName(r), defaultMode: 0o440 } },
    // The mesh between replicas: a certificate for the headless Service names, from the mesh
    // CA the operator keeps (mesh-pki.ts), renewed in place like the one above.
    { name: 'mesh-tls', secret: { secretName: names.meshTlsSecret(r), defaultMode: 0o440 } },
    // The admin API's bootstrap token; the operator calls the admin API with the same token
    // (it reads this Secret, admin-token.ts). Required: without it nobody can call the API.
    { name: 'admin-token', secret: { secretName: names.adminTokenSecret(r), defaultMode: 0o440 } },
    // The admin API's own certificate (operator-issued from the mesh CA for the admin Service's
    // names): not the mesh certificate, which would let the admin sidecar join the mesh.
    { name: 'admin-tls', secret: { secretName: names.adminTlsSecret(r), defaultMode: 0o440 } },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    // Scratch only: state is in PostgreSQL (spec.database is required; PGlite is single-process
    // and the engine and the admin are two).
    { name: 'data', emptyDir: { sizeLimit: '256Mi' } },
  ];
}

export function renderStatefulSet(r: MsrpRelay, configHash: string, databaseSecretHash?: string): V1StatefulSet {
  const s = r.spec;
  // The ports the engine listens on, as published (the chat ports only when chat runs); the
  // mesh, admin and metrics ports are fixed and above 1024.
  const anyPrivilegedPort = publicPorts(r).some((p) => p.port < 1024);
  const scheduling = s.scheduling ?? {};
  const podSpec: V1PodSpec = {
    serviceAccountName: names.serviceAccount(r),
    automountServiceAccountToken: false,
    // Service links would inject MSRP_* variables into the engine's environment.
    enableServiceLinks: false,
    terminationGracePeriodSeconds: PRE_STOP_SECONDS + s.drain.timeoutSeconds + GRACE_MARGIN_SECONDS,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS,
      runAsGroup: RUN_AS,
      fsGroup: RUN_AS,
      seccompProfile: { type: 'RuntimeDefault' },
      // A non-root process binds ports below 1024 only through this (safe) sysctl.
      ...(anyPrivilegedPort ? { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] } : {}),
    },
    containers: [engineContainer(r), adminContainer(r)],
    ...(r.spec.imagePullSecrets !== undefined && r.spec.imagePullSecrets.length > 0 ? { imagePullSecrets: r.spec.imagePullSecrets.map((p) => ({ name: p.name })) } : {}),
    volumes: volumes(r),
    affinity: renderAffinity(r),
    ...(scheduling.nodeSelector ? { nodeSelector: scheduling.nodeSelector } : {}),
    ...(scheduling.tolerations ? { tolerations: scheduling.tolerations } : {}),
    ...(scheduling.topologySpreadConstraints
      ? { topologySpreadConstraints: scheduling.topologySpreadConstraints as unknown as V1PodSpec['topologySpreadConstraints'] }
      : {}),
    ...(scheduling.priorityClassName ? { priorityClassName: scheduling.priorityClassName } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: objectMeta(r, names.statefulSet(r)),
    spec: {
      replicas: s.replicas,
      minReadySeconds: MIN_READY_SECONDS,
      serviceName: names.meshService(r),
      // Replicas are independent (no quorum): start and stop them in parallel.
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      selector: { matchLabels: selectorLabels(r) },
      template: {
        metadata: {
          labels: labels(r),
          annotations: {
            [CONFIG_HASH_ANNOTATION]: configHash,
            ...(databaseSecretHash !== undefined ? { [DATABASE_SECRET_HASH_ANNOTATION]: databaseSecretHash } : {}),
          },
        },
        spec: podSpec,
      },
      volumeClaimTemplates: [],
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
    },
  };
}
