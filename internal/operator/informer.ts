// A client-node informer (makeInformer: list, then watch, with a local cache) that keeps
// running: client-node re-lists on 410 Gone but stops for good on any other error (a
// network failure, a 5xx, an expired token). This wrapper restarts it with exponential
// backoff, and restarts it when it has been silent for too long (a watch that hangs without
// an error): every watch reconnects at least every 30 s (client-node's inactivity timeout),
// so silence for minutes means something is stuck.
//
// `metadataOnly` lists and watches with the PartialObjectMetadata Accept header: the cache
// holds names, labels, owners and resourceVersions, never the objects' bodies (the
// operator's Secret cache, secret-cache.ts; docs/security.md "Operator").
import { ListWatch, Watch } from '@kubernetes/client-node';
import type { Informer, KubeConfig, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../telemetry/logger.ts';
import { PARTIAL_OBJECT_METADATA, PARTIAL_OBJECT_METADATA_LIST } from './kube/client.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import { collectionPath } from './kube/resources.ts';
import type { ResourceType } from './kube/resources.ts';

export type EventHandler<T> = (obj: T) => void;

export interface InformerOptions {
  kubeConfig: KubeConfig;
  client: KubeClient;
  type: ResourceType;
  /** One namespace, or all when undefined. */
  namespace?: string;
  labelSelector?: string;
  /** Cache metadata only (PartialObjectMetadata): handlers and get/list see no spec, status or data. */
  metadataOnly?: boolean;
  logger: Logger;
  /** Restart when no event or (re)connect for this long (default 5 min). */
  staleAfterMs?: number;
  /** First restart delay after an error (default 1 s), doubling up to maxBackoffMs (default 60 s). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onRestart?: (reason: 'error' | 'stale') => void;
}

export class ResilientInformer<T extends KubeObject> {
  readonly name: string;
  readonly #inner: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  readonly #options: InformerOptions;
  readonly #log: Logger;
  readonly #handlers = { add: [] as EventHandler<T>[], update: [] as EventHandler<T>[], delete: [] as EventHandler<T>[] };
  #stopped = true;
  #synced = false;
  #failures = 0;
  #lastActivity = Date.now();
  #restartTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #erroredDuringStart = false;
  #syncWaiters: (() => void)[] = [];

  constructor(options: InformerOptions) {
    this.#options = options;
    const { type, namespace, labelSelector, client, metadataOnly } = options;
    this.name = `${type.plural}${type.group ? '.' + type.group : ''}${namespace ? ' in ' + namespace : ''}`;
    this.#log = options.logger.child({ informer: this.name });
    const path = collectionPath(type, namespace);
    const list = async () => {
      const query: Record<string, string> = labelSelector ? { labelSelector } : {};
      const l = await client.list<KubeObject>(type, namespace, query, metadataOnly ? PARTIAL_OBJECT_METADATA_LIST : undefined);
      // An empty PartialObjectMetadataList comes with `items: null`.
      l.items ??= [];
      // Items of a list carry no apiVersion/kind; the cache and handlers expect them.
      for (const item of l.items) {
        item.apiVersion ??= metadataOnly ? 'meta.k8s.io/v1' : type.group ? `${type.group}/${type.version}` : type.version;
        item.kind ??= metadataOnly ? 'PartialObjectMetadata' : type.kind;
      }
      return l as never;
    };
    // What client-node's makeInformer does, with our own Watch when the Accept header differs.
    const watch = metadataOnly ? watchAccepting(options.kubeConfig, PARTIAL_OBJECT_METADATA) : new Watch(options.kubeConfig);
    this.#inner = new ListWatch<KubernetesObject>(path, watch, list, false, labelSelector);
    this.#inner.on('add', (o) => this.#dispatch('add', o));
    this.#inner.on('update', (o) => this.#dispatch('update', o));
    this.#inner.on('delete', (o) => this.#dispatch('delete', o));
    this.#inner.on('connect', () => {
      this.#lastActivity = Date.now();
    });
    this.#inner.on('error', (err: unknown) => this.#onError(err));
  }

  on(verb: 'add' | 'update' | 'delete', handler: EventHandler<T>): void {
    this.#handlers[verb].push(handler);
  }

  /** Every add, update and delete. */
  onChange(handler: EventHandler<T>): void {
    this.on('add', handler);
    this.on('update', handler);
    this.on('delete', handler);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#inner.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.#inner.list(namespace) as readonly T[];
  }

  get hasSynced(): boolean {
    return this.#synced;
  }

  /** Start; resolves once the first list has filled the cache (retrying until it does or stop()). */
  async start(): Promise<void> {
    this.#stopped = false;
    const stale = this.#options.staleAfterMs ?? 5 * 60_000;
    this.#watchdog = setInterval(() => this.#checkStale(stale), Math.max(10, Math.floor(stale / 4)));
    this.#watchdog.unref();
    await this.#run();
    if (!this.#synced && !this.#stopped) await new Promise<void>((resolve) => this.#syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    clearInterval(this.#watchdog);
    for (const w of this.#syncWaiters.splice(0)) w();
    await this.#inner.stop();
  }

  async #run(): Promise<void> {
    this.#erroredDuringStart = false;
    this.#lastActivity = Date.now();
    try {
      await this.#inner.start();
    } catch (e) {
      this.#onError(e);
      return;
    }
    if (!this.#erroredDuringStart && !this.#stopped) {
      this.#failures = 0;
      if (!this.#synced) {
        this.#synced = true;
        this.#log.debug('synced');
        for (const w of this.#syncWaiters.splice(0)) w();
      }
    }
  }

  #dispatch(verb: 'add' | 'update' | 'delete', obj: KubernetesObject): void {
    this.#lastActivity = Date.now();
    for (const h of this.#handlers[verb]) {
      try {
        h(obj as T);
      } catch (e) {
        this.#log.error({ err: e }, 'event handler failed');
      }
    }
  }

  #onError(err: unknown): void {
    this.#erroredDuringStart = true;
    if (this.#stopped) return;
    const base = this.#options.baseBackoffMs ?? 1000;
    const max = this.#options.maxBackoffMs ?? 60_000;
    const delay = Math.min(base * 2 ** this.#failures, max);
    this.#failures++;
    this.#log.warn({ err: errorSummary(err), retryInMs: delay }, 'watch failed; restarting');
    this.#options.onRestart?.('error');
    this.#scheduleRestart(delay);
  }

  #checkStale(staleAfterMs: number): void {
    if (this.#stopped || this.#restartTimer) return;
    if (Date.now() - this.#lastActivity < staleAfterMs) return;
    this.#log.warn({ silentMs: Date.now() - this.#lastActivity }, 'no watch activity; restarting');
    this.#options.onRestart?.('stale');
    this.#lastActivity = Date.now();
    void this.#inner.stop().then(() => this.#scheduleRestart(0));
  }

  #scheduleRestart(delayMs: number): void {
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (!this.#stopped) void this.#run();
    }, delayMs);
    this.#restartTimer.unref();
  }
}

/**
 * client-node's Watch sends the headers its KubeConfig's authentication step leaves on the
 * request, and no Accept of its own: a KubeConfig that adds one after authenticating
 * makes the watch ask for that representation. Everything else is read from the real one.
 */
function watchAccepting(kubeConfig: KubeConfig, accept: string): Watch {
  const config = Object.create(kubeConfig) as KubeConfig;
  config.applySecurityAuthentication = async (ctx) => {
    await kubeConfig.applySecurityAuthentication(ctx);
    ctx.setHeaderParam('Accept', accept);
  };
  return new Watch(config);
}

function errorSummary(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
