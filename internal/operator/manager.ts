// Wires informers, work queues and the two reconcilers together (controller-runtime's
// "manager", small): events map to keys, keys go through the queue to a reconciler,
// failures come back with per-key backoff, and every relay and room is looked at again
// every resync period whatever happens.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { AdminClient } from './admin-client.ts';
import { probeDatabase } from './relay-health.ts';
import type { TokenSource } from './admin-client.ts';
import { relayAdminCa, relayAdminTarget, relaySecretTokens } from './admin-token.ts';
import type { RelayTokenSource } from './admin-token.ts';
import type { ChatRoom } from './api/chatroom.ts';
import type { MsrpRelay } from './api/msrprelay.ts';
import { ApiDiscovery } from './discovery.ts';
import { createEventRecorder } from './events.ts';
import { ResilientInformer } from './informer.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import { RESOURCES } from './kube/resources.ts';
import type { ResourceType } from './kube/resources.ts';
import { objectKey } from './reconcile.ts';
import type { Cache, Reconcile } from './reconcile.ts';
import { createRelayReconciler } from './relay-controller.ts';
import { FIELD_MANAGER, names as objectNames, tlsSecretName } from './render/common.ts';
import { createRoomReconciler } from './room-controller.ts';
import { SecretCache } from './secret-cache.ts';
import { WorkQueue } from './workqueue.ts';

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  client: KubeClient;
  logger: Logger;
  metrics: Metrics;
  /** Empty: all namespaces. */
  namespaces: string[];
  identity: string;
  adminUrlTemplate: string;
  /** The relay image for relays that name none. */
  relayImage?: { repository: string; tag: string };
  /** Namespaces the relays' NetworkPolicy admits to the admin and metrics ports (render/policy.ts). */
  adminNamespaces?: string[];
  /**
   * Used only for a relay whose `<relay>-admin-token` Secret is missing or empty
   * (--admin-token-file / --admin-token-secret); the relay's own Secret comes first.
   */
  adminTokenFallback?: TokenSource;
  workers: number;
  resyncPeriodMs: number;
  roomStatusIntervalMs: number;
  /** How often relay status (database, load-balancer address, certificate) is looked at again (default 30 s). */
  relayStatusIntervalMs?: number;
  informerStaleAfterMs: number;
  /** How long the presence of an optional CRD is remembered; also the recheck period while missing. */
  apiRecheckMs: number;
}

/** One cache over the per-namespace informers of a kind (or the single cluster-wide one). */
class NamespacedCache<T extends KubeObject> implements Cache<T> {
  readonly informers: ResilientInformer<T>[];
  readonly #byNamespace: Map<string, ResilientInformer<T>>;
  constructor(informers: ResilientInformer<T>[], namespaces: string[]) {
    this.informers = informers;
    this.#byNamespace = new Map(namespaces.map((ns, i) => [ns, informers[i]!]));
  }
  #pick(namespace?: string): ResilientInformer<T>[] {
    if (this.#byNamespace.size === 0) return this.informers;
    if (namespace === undefined) return this.informers;
    const one = this.#byNamespace.get(namespace);
    return one ? [one] : [];
  }
  get(name: string, namespace?: string): T | undefined {
    for (const i of this.#pick(namespace)) {
      const o = i.get(name, namespace);
      if (o) return o;
    }
    return undefined;
  }
  list(namespace?: string): readonly T[] {
    return this.#pick(namespace).flatMap((i) => i.list(namespace));
  }
  onChange(handler: (obj: T) => void): void {
    for (const i of this.informers) i.onChange(handler);
  }
}

/** The MsrpRelay that controls an owned object, as a queue key. */
function controllerKey(obj: KubeObject): string | undefined {
  const owner = obj.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'MsrpRelay' && o.apiVersion.startsWith('msrp.dev/'));
  return owner ? `${obj.metadata?.namespace ?? ''}/${owner.name}` : undefined;
}

export class Manager {
  readonly #o: ManagerOptions;
  readonly #log: Logger;
  readonly relayQueue: WorkQueue;
  readonly roomQueue: WorkQueue;
  readonly #relays: NamespacedCache<MsrpRelay & KubeObject>;
  readonly #rooms: NamespacedCache<ChatRoom & KubeObject>;
  readonly #secretMetadata: NamespacedCache<KubeObject>;
  readonly #secrets: SecretCache;
  readonly #owned: NamespacedCache<KubeObject>[];
  readonly #admin: AdminClient;
  readonly #tokens: RelayTokenSource;
  #workers: Promise<void>[] = [];
  #resyncTimer: NodeJS.Timeout | undefined;
  #started = false;
  readonly #metricsSet;

  constructor(options: ManagerOptions) {
    this.#o = options;
    this.#log = options.logger;
    const m = options.metrics;
    this.#metricsSet = {
      reconciles: m.counter<'kind' | 'result'>({
        name: 'operator_reconcile_total',
        help: 'Reconciles by kind and result (success, requeue, error).',
        labelNames: ['kind', 'result'],
      }),
      errors: m.counter<'kind'>({ name: 'operator_reconcile_errors_total', help: 'Reconciles that failed.', labelNames: ['kind'] }),
      duration: m.histogram<'kind'>({
        name: 'operator_reconcile_duration_seconds',
        help: 'Time spent in one reconcile.',
        labelNames: ['kind'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      }),
      depth: m.gauge<'kind'>({ name: 'operator_workqueue_depth', help: 'Keys waiting in the work queue.', labelNames: ['kind'] }),
      restarts: m.counter<'resource' | 'reason'>({
        name: 'operator_informer_restarts_total',
        help: 'Informer restarts after a watch error or silence.',
        labelNames: ['resource', 'reason'],
      }),
    };
    this.relayQueue = new WorkQueue({ onDepth: (d) => this.#metricsSet.depth.set({ kind: 'MsrpRelay' }, d) });
    this.roomQueue = new WorkQueue({ onDepth: (d) => this.#metricsSet.depth.set({ kind: 'ChatRoom' }, d) });

    const namespaces = options.namespaces;
    const make = <T extends KubeObject>(type: ResourceType, labelSelector?: string, metadataOnly = false): NamespacedCache<T> => {
      const scopes = namespaces.length > 0 ? namespaces : [undefined];
      const informers = scopes.map(
        (ns) =>
          new ResilientInformer<T>({
            kubeConfig: options.kubeConfig,
            client: options.client,
            type,
            ...(ns ? { namespace: ns } : {}),
            ...(labelSelector ? { labelSelector } : {}),
            metadataOnly,
            logger: options.logger,
            staleAfterMs: options.informerStaleAfterMs,
            onRestart: (reason) => this.#metricsSet.restarts.inc({ resource: type.plural, reason }),
          }),
      );
      return new NamespacedCache<T>(informers, namespaces);
    };
    this.#relays = make(RESOURCES.msrpRelay);
    this.#rooms = make(RESOURCES.chatRoom);
    // Metadata only: the data of the few Secrets a reconcile reads is fetched then (secret-cache.ts).
    this.#secretMetadata = make(RESOURCES.secret, undefined, true);
    this.#secrets = new SecretCache(this.#secretMetadata, options.client);
    // Only our own objects: a drift (edit, delete) brings the owner back to the queue.
    const ours = `app.kubernetes.io/managed-by=${FIELD_MANAGER}`;
    this.#owned = [
      make(RESOURCES.statefulSet, ours),
      make(RESOURCES.service, ours),
      make(RESOURCES.configMap, ours),
      make(RESOURCES.podDisruptionBudget, ours),
      make(RESOURCES.networkPolicy, ours),
    ];

    this.#relays.onChange((r) => {
      this.relayQueue.add(objectKey(r));
      // Rooms wait for their relay (RelayNotFound) and follow its admin URL.
      for (const room of this.#rooms.list(r.metadata.namespace)) {
        if (room.spec.relayRef.name === r.metadata.name) this.roomQueue.add(objectKey(room));
      }
    });
    this.#rooms.onChange((room) => this.roomQueue.add(objectKey(room)));
    for (const cache of this.#owned) {
      cache.onChange((o) => {
        const key = controllerKey(o);
        if (key) this.relayQueue.add(key);
      });
    }
    this.#secretMetadata.onChange((s) => {
      const ns = s.metadata?.namespace;
      for (const r of this.#relays.list(ns)) {
        const names = [
          tlsSecretName(r), r.spec.database.secretRef.name, objectNames.adminTokenSecret(r),
          // The operator's own: a deleted or edited one is made good again at once.
          objectNames.meshCaSecret(r), objectNames.meshTlsSecret(r), objectNames.adminTlsSecret(r),
        ];
        if (names.includes(s.metadata?.name ?? '')) this.relayQueue.add(objectKey(r));
        // The rooms authenticate with the relay's admin token and trust its admin certificate's CA: a new or rotated one retries them now.
        if (s.metadata?.name === objectNames.adminTokenSecret(r) || s.metadata?.name === objectNames.adminTlsSecret(r)) {
          for (const room of this.#rooms.list(ns)) {
            if (room.spec.relayRef.name === r.metadata.name) this.roomQueue.add(objectKey(room));
          }
        }
      }
    });

    this.#admin = new AdminClient();
    this.#tokens = relaySecretTokens(this.#secrets, options.adminTokenFallback);
  }

  /** What the operator holds of Secrets: metadata of all, data of the few it read (e2e/operator-secret-cache.test.ts looks). */
  get secretCache(): SecretCache {
    return this.#secrets;
  }

  get isStarted(): boolean {
    return this.#started;
  }

  #allInformers(): ResilientInformer<KubeObject>[] {
    return [this.#relays, this.#rooms, this.#secretMetadata, ...this.#owned].flatMap((c) => c.informers as ResilientInformer<KubeObject>[]);
  }

  /** Start informers, wait for their first lists, then start the workers. */
  async start(): Promise<void> {
    const o = this.#o;
    await Promise.all(this.#allInformers().map((i) => i.start()));
    const discovery = new ApiDiscovery(o.client, o.apiRecheckMs);
    const events = createEventRecorder(o.client, o.identity, o.logger);
    const adminCa = relayAdminCa(this.#secrets);
    const reconcileRelay = createRelayReconciler({
      client: o.client,
      relays: this.#relays,
      secrets: this.#secrets,
      discovery,
      events,
      logger: o.logger,
      apiRecheckMs: o.apiRecheckMs,
      ...(o.relayImage !== undefined ? { relayImage: o.relayImage } : {}),
      ...(o.adminNamespaces !== undefined ? { adminNamespaces: o.adminNamespaces } : {}),
      // DatabaseReady: the relay's admin API (its /readyz pings the database), at the same URL the rooms use.
      database: async (r) => probeDatabase(relayAdminTarget(o.adminUrlTemplate, r, await adminCa(r)), this.#admin),
      ...(o.relayStatusIntervalMs !== undefined ? { statusIntervalMs: o.relayStatusIntervalMs } : {}),
    });
    const reconcileRoom = createRoomReconciler({
      client: o.client,
      rooms: this.#rooms,
      relays: this.#relays,
      admin: this.#admin,
      tokens: this.#tokens,
      adminCa,
      adminUrlTemplate: o.adminUrlTemplate,
      statusIntervalMs: o.roomStatusIntervalMs,
      events,
      logger: o.logger,
    });
    for (let i = 0; i < o.workers; i++) {
      this.#workers.push(this.#worker('MsrpRelay', this.relayQueue, reconcileRelay));
      this.#workers.push(this.#worker('ChatRoom', this.roomQueue, reconcileRoom));
    }
    this.#resyncTimer = setInterval(() => this.resync(), o.resyncPeriodMs);
    this.#resyncTimer.unref();
    this.#started = true;
    this.#log.info({ namespaces: o.namespaces.length > 0 ? o.namespaces : 'all', workers: o.workers }, 'controllers started');
  }

  /** Every known object once more (level-based safety net against a missed event). */
  resync(): void {
    // Data nobody read for a whole period (its relay went) goes; a reconcile reads it again if needed.
    this.#secrets.sweep();
    for (const r of this.#relays.list()) this.relayQueue.add(objectKey(r));
    for (const r of this.#rooms.list()) this.roomQueue.add(objectKey(r));
  }

  async #worker(kind: 'MsrpRelay' | 'ChatRoom', queue: WorkQueue, reconcile: Reconcile): Promise<void> {
    const m = this.#metricsSet;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const end = m.duration.startTimer({ kind });
      try {
        const result = await reconcile(key);
        if (result.retry) {
          const delay = queue.addRateLimited(key);
          m.reconciles.inc({ kind, result: 'requeue' });
          this.#log.debug({ kind, key, retryInMs: delay }, 'reconcile incomplete; retrying');
        } else {
          queue.forget(key);
          if (result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
          m.reconciles.inc({ kind, result: 'success' });
        }
      } catch (e) {
        const delay = queue.addRateLimited(key);
        m.reconciles.inc({ kind, result: 'error' });
        m.errors.inc({ kind });
        this.#log.warn({ kind, key, err: (e as Error).message, retryInMs: delay }, 'reconcile failed');
      } finally {
        end();
        queue.done(key);
      }
    }
  }

  /** Stop taking keys, let reconciles in flight finish (bounded), stop the informers. */
  async stop(timeoutMs = 20_000): Promise<void> {
    clearInterval(this.#resyncTimer);
    const drained = Promise.all([this.relayQueue.shutDownWithDrain(), this.roomQueue.shutDownWithDrain(), ...this.#workers]);
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), timeoutMs).unref()),
    ]);
    if (timedOut) this.#log.warn({ timeoutMs }, 'reconciles still running at shutdown');
    await Promise.all(this.#allInformers().map((i) => i.stop()));
    await this.#admin.close();
  }
}
