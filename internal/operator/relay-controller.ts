// MsrpRelay reconciler: keep the mesh PKI Secrets, render the owned objects, server-side
// apply them, remove the optional ones that are switched off, then write status from what
// is observed.
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { Logger } from '../telemetry/logger.ts';
import type { MsrpRelay, MsrpRelayStatus } from './api/msrprelay.ts';
import { conditionChanged, findCondition, nowTime } from './conditions.ts';
import type { ApiDiscovery } from './discovery.ts';
import type { EventRecorder } from './events.ts';
import { isNotFound } from './kube/client.ts';
import { ensureMeshSecrets } from './mesh-secrets.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import { RESOURCES } from './kube/resources.ts';
import type { Cache, ReconcileResult } from './reconcile.ts';
import { splitKey } from './reconcile.ts';
import { DEFAULT_RELAY_IMAGE, FIELD_MANAGER, names, tlsSecretName } from './render/common.ts';
import { renderRelay } from './render/index.ts';
import { CERT_EXPIRY_WARNING_DAYS, observeCertificate, observeService, type DatabaseObservation } from './relay-health.ts';
import { computeRelayStatus } from './relay-status.ts';
import type { SecretObservation } from './relay-status.ts';
import type { SecretReader } from './secret-cache.ts';

export interface RelayControllerDeps {
  client: KubeClient;
  relays: Cache<MsrpRelay>;
  /** Secrets with their data (secret-cache.ts: the informer holds metadata only). */
  secrets: SecretReader;
  discovery: ApiDiscovery;
  events: EventRecorder;
  logger: Logger;
  /** While an optional API is missing, look again this often (installing it sends no event we watch). */
  apiRecheckMs: number;
  /** Time for a changed mesh Secret to reach every pod before the next CA rollover step (default 5 min). */
  meshRolloverMs?: number;
  /** The clock (tests). */
  now?: () => Date;
  /** The relay image for relays whose spec names none (--relay-image); default DEFAULT_RELAY_IMAGE. */
  relayImage?: { repository: string; tag: string };
  /** Namespaces the relays' NetworkPolicy admits to the admin and metrics ports. */
  adminNamespaces?: string[];
  /** The database as the relay's admin API sees it (relay-health.ts probeDatabase); no DatabaseReady probe when absent. */
  database?: (relay: MsrpRelay) => Promise<DatabaseObservation>;
  /** Look again this often for the database, the load-balancer address and the certificate (--relay-status-interval). */
  statusIntervalMs?: number;
}

/** The relay with its image filled in from the operator's default, as the pods will run it. */
export function withRelayImage(relay: MsrpRelay, image: { repository: string; tag: string }): MsrpRelay {
  const i = relay.spec.image;
  if (i.repository !== undefined && i.tag !== undefined) return relay;
  return { ...relay, spec: { ...relay.spec, image: { ...i, repository: i.repository ?? image.repository, tag: i.tag ?? image.tag } } };
}

/** setTimeout takes at most 2^31-1 ms; the periodic resync looks again long before anyway. */
const MAX_REQUEUE_MS = 12 * 3_600_000;

/**
 * A digest of the database URL (spec.database.secretRef's key): on the pod template, so a
 * rotated URL rolls the pods (it is an environment variable, read at start).
 */
export async function databaseSecretHash(secrets: SecretReader, relay: MsrpRelay): Promise<string | undefined> {
  const ref = relay.spec.database.secretRef;
  const s = await secrets.read(ref.name, relay.metadata.namespace ?? '');
  const value = s?.data?.[ref.key];
  return value === undefined ? undefined : createHash('sha256').update(value).digest('hex').slice(0, 16);
}

async function observeSecret(secrets: SecretReader, namespace: string, name: string, key?: string): Promise<SecretObservation> {
  const s = await secrets.read(name, namespace);
  if (!s) return { name, problem: 'missing' };
  if (key !== undefined && !(s.data && key in s.data)) return { name, problem: 'key-missing', key };
  return { name };
}

export function createRelayReconciler(deps: RelayControllerDeps): (key: string) => Promise<ReconcileResult> {
  const { client, relays, secrets, discovery, events } = deps;

  return async function reconcileRelay(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const relay = relays.get(name, namespace);
    const log = deps.logger.child({ relay: key });
    // Gone: the garbage collector removes what it owned (ownerReferences).
    if (!relay || relay.metadata.deletionTimestamp) return {};

    const applyErrors: string[] = [];
    // Before the StatefulSet: the pods cannot start without the mounted mesh certificate.
    let meshNextCheckMs: number | undefined;
    const now = deps.now?.() ?? new Date();
    try {
      const mesh = await ensureMeshSecrets(
        { client, secrets, events, logger: log, ...(deps.meshRolloverMs !== undefined ? { rolloverMs: deps.meshRolloverMs } : {}) },
        relay,
        now,
      );
      meshNextCheckMs = Math.max(1000, mesh.nextCheck.getTime() - now.getTime());
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'mesh secrets not ready');
      applyErrors.push((e as Error).message);
    }

    const caps = await discovery.capabilities();
    const effective = withRelayImage(relay, deps.relayImage ?? DEFAULT_RELAY_IMAGE);
    const dbHash = await databaseSecretHash(secrets, relay);
    const rendered = renderRelay(effective, caps, {
      ...(dbHash !== undefined ? { databaseSecretHash: dbHash } : {}),
      ...(deps.adminNamespaces !== undefined ? { adminNamespaces: deps.adminNamespaces } : {}),
    });
    let statefulSet: V1StatefulSet | undefined;
    let publicService: V1Service | undefined;
    for (const { type, object } of rendered.apply) {
      try {
        const applied = await client.apply(type, object, { fieldManager: FIELD_MANAGER, force: true });
        if (type === RESOURCES.statefulSet) statefulSet = applied as V1StatefulSet;
        if (type === RESOURCES.service && object.metadata?.name === names.publicService(relay)) publicService = applied as V1Service;
      } catch (e) {
        log.warn({ kind: type.kind, object: object.metadata?.name, err: (e as Error).message }, 'apply failed');
        applyErrors.push(`apply ${type.kind} ${object.metadata?.name ?? ''}: ${(e as Error).message}`);
      }
    }
    for (const { type, name: objName } of rendered.absent) {
      try {
        const existing = await client.getOptional(type, namespace, objName);
        const owned = existing?.metadata?.ownerReferences?.some((o) => o.controller && o.uid === relay.metadata.uid);
        if (owned && (await client.delete(type, namespace, objName))) log.info({ kind: type.kind, object: objName }, 'deleted (disabled in spec)');
      } catch (e) {
        if (!isNotFound(e)) applyErrors.push(`delete ${type.kind} ${objName}: ${(e as Error).message}`);
      }
    }
    if (!statefulSet && applyErrors.length > 0) {
      statefulSet = await client.getOptional<V1StatefulSet & KubeObject>(RESOURCES.statefulSet, namespace, name).catch(() => undefined);
    }

    const dbRef = relay.spec.database.secretRef;
    const databaseSecret = await observeSecret(secrets, namespace, dbRef.name, dbRef.key);
    const certificate = observeCertificate(await secrets.read(tlsSecretName(relay), namespace), tlsSecretName(relay));
    const service = observeService(publicService, names.publicService(relay));
    const database = deps.database !== undefined && databaseSecret.problem === undefined ? await deps.database(relay) : undefined;
    const status = computeRelayStatus(
      effective,
      {
        tlsSecret: await observeSecret(secrets, namespace, tlsSecretName(relay)),
        databaseSecret,
        adminTokenSecret: await observeSecret(secrets, namespace, names.adminTokenSecret(relay), 'token'),
        statefulSet,
        missingApis: rendered.missingApis,
        applyErrors,
        certificate,
        ...(service !== undefined ? { publicService: service } : {}),
        ...(database !== undefined ? { database } : {}),
        now,
      },
      nowTime(),
    );
    await writeRelayStatus(client, relay, status, events);
    if (applyErrors.length > 0) throw new Error(applyErrors.join('; '));
    // The database and a pending load-balancer address change with nothing we watch: look again
    // every status interval; the certificate's conditions change at known times.
    const statusMs = deps.database !== undefined || service?.type === 'LoadBalancer' && service.ingress.length === 0 ? deps.statusIntervalMs ?? 30_000 : Infinity;
    const certMs = certificate.problem === undefined
      ? [certificate.notAfter.getTime() - CERT_EXPIRY_WARNING_DAYS * 86_400_000, certificate.notAfter.getTime()].map((t) => t - now.getTime()).find((ms) => ms > 0) ?? Infinity
      : Infinity;
    const requeue = Math.min(rendered.missingApis.length > 0 ? deps.apiRecheckMs : Infinity, meshNextCheckMs ?? Infinity, statusMs, Math.max(1000, certMs), MAX_REQUEUE_MS);
    return { requeueAfterMs: requeue };
  };
}

async function writeRelayStatus(client: KubeClient, relay: MsrpRelay, status: MsrpRelayStatus, events: EventRecorder): Promise<void> {
  if (isDeepStrictEqual(relay.status ?? {}, status)) return;
  await client.apply(
    RESOURCES.msrpRelay,
    { apiVersion: relay.apiVersion, kind: relay.kind, metadata: { name: relay.metadata.name, namespace: relay.metadata.namespace }, status },
    { fieldManager: FIELD_MANAGER, force: true, subresource: 'status' },
  );
  const before = findCondition(relay.status?.conditions, 'Ready');
  const after = findCondition(status.conditions, 'Ready');
  if (after && conditionChanged(before, after)) {
    events.record(relay, after.status === 'True' ? 'Normal' : 'Warning', after.reason, 'Reconcile', after.message);
  }
  const degraded = findCondition(status.conditions, 'Degraded');
  if (degraded?.status === 'True' && conditionChanged(findCondition(relay.status?.conditions, 'Degraded'), degraded)) {
    events.record(relay, 'Warning', degraded.reason, 'Reconcile', degraded.message);
  }
}
