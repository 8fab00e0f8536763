// A small typed client for the Kubernetes REST API, for any kind the operator touches
// (core, apps, policy, networking, cert-manager, prometheus-operator, our own CRDs).
// It takes authentication and TLS from client-node's KubeConfig and talks with undici.
//
// Why not client-node's generated APIs: their patch calls default to JSON patch, custom
// objects need per-call content-type middleware, and subresources (/status) are awkward.
// Server-side apply here is always `application/apply-patch+yaml` (JSON is valid YAML),
// with a field manager and force, on the object or on its /status subresource.
import { HttpMethod, RequestContext } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import type { Dispatcher } from 'undici';
import type { ResourceType } from './resources.ts';
import { objectPath, collectionPath } from './resources.ts';

export const APPLY_PATCH = 'application/apply-patch+yaml';
export const MERGE_PATCH = 'application/merge-patch+json';
/**
 * Asks the API server for metadata only: names, labels, resourceVersion, owners, never `data`
 * or spec. An object, and each object of a watch, is a metav1.PartialObjectMetadata; a list
 * must be asked for as PartialObjectMetadataList (406 Not Acceptable otherwise).
 */
export const PARTIAL_OBJECT_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
export const PARTIAL_OBJECT_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

/** Minimal shape of any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string | Date;
    ownerReferences?: OwnerReference[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** A non-2xx answer of the API server, with its metav1.Status reason when it sent one. */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly reason: string | undefined;
  readonly body: string;
  constructor(method: string, path: string, statusCode: number, body: string) {
    let reason: string | undefined;
    let message = body.slice(0, 500);
    try {
      const status = JSON.parse(body) as { reason?: string; message?: string };
      reason = status.reason;
      message = status.message ?? message;
    } catch {
      // not a metav1.Status
    }
    super(`${method} ${path}: ${statusCode} ${message}`);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.reason = reason;
    this.body = body;
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.statusCode === 404;
}
export function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.statusCode === 409;
}

export interface ApplyOptions {
  fieldManager: string;
  /** Take ownership of fields another manager holds (the controller's desired state wins). */
  force?: boolean;
  subresource?: 'status';
  dryRun?: boolean;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: string;
  contentType?: string;
  /** The Accept header (default application/json), e.g. PARTIAL_OBJECT_METADATA_LIST. */
  accept?: string;
  signal?: AbortSignal;
}

export class KubeClient {
  readonly kubeConfig: KubeConfig;
  readonly server: string;
  #dispatcher: Dispatcher | undefined;
  #dispatcherReady = false;
  readonly #timeoutMs: number;

  constructor(kubeConfig: KubeConfig, options: { timeoutMs?: number } = {}) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.kubeConfig = kubeConfig;
    this.server = cluster.server.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** One HTTP round trip; resolves with the parsed JSON body, rejects with ApiError on non-2xx. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    // Headers are taken per request (a projected ServiceAccount token rotates); the TLS
    // dispatcher once (client-node builds a new undici Agent on every call).
    const ctx = new RequestContext(url.toString(), HttpMethod.GET);
    await this.kubeConfig.applySecurityAuthentication(ctx);
    if (!this.#dispatcherReady) {
      this.#dispatcher = ctx.getDispatcher();
      this.#dispatcherReady = true;
    }
    const headers: Record<string, string> = { ...ctx.getHeaders(), accept: options.accept ?? 'application/json' };
    if (options.contentType) headers['content-type'] = options.contentType;
    const signal = options.signal ?? AbortSignal.timeout(this.#timeoutMs);
    const res = await fetch(url, {
      method,
      headers,
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
      signal,
    });
    const text = await res.text();
    if (res.status < 200 || res.status > 299) throw new ApiError(method, path, res.status, text);
    return (text.length > 0 ? JSON.parse(text) : {}) as T;
  }

  get<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>('GET', objectPath(type, namespace, name));
  }

  /** GET, or undefined on 404. */
  async getOptional<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.get<T>(type, namespace, name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  list<T extends KubeObject>(type: ResourceType, namespace?: string, query: Record<string, string> = {}, accept?: string): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', collectionPath(type, namespace), { query, ...(accept !== undefined ? { accept } : {}) });
  }

  /** Server-side apply of a full desired object (apiVersion, kind, metadata.name required). */
  apply<T extends KubeObject>(type: ResourceType, obj: KubeObject, options: ApplyOptions): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new Error('apply: metadata.name is required');
    const base = objectPath(type, obj.metadata?.namespace, name);
    const path = options.subresource ? `${base}/${options.subresource}` : base;
    return this.request<T>('PATCH', path, {
      query: {
        fieldManager: options.fieldManager,
        force: options.force ? 'true' : undefined,
        dryRun: options.dryRun ? 'All' : undefined,
      },
      // JSON is YAML: the apply content type takes either.
      body: JSON.stringify(obj),
      contentType: APPLY_PATCH,
    });
  }

  /** JSON merge patch, with the object's resourceVersion as a precondition when given. */
  mergePatch<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', objectPath(type, namespace, name), { body: JSON.stringify(patch), contentType: MERGE_PATCH });
  }

  /** POST: fails with 409 when the object exists (create-only, unlike apply). */
  create<T extends KubeObject>(type: ResourceType, obj: KubeObject, options: { fieldManager?: string } = {}): Promise<T> {
    return this.request<T>('POST', collectionPath(type, obj.metadata?.namespace), {
      query: { fieldManager: options.fieldManager },
      body: JSON.stringify(obj),
      contentType: 'application/json',
    });
  }

  /** PUT (optimistic concurrency through metadata.resourceVersion). */
  replace<T extends KubeObject>(type: ResourceType, obj: KubeObject, options: { fieldManager?: string } = {}): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new Error('replace: metadata.name is required');
    return this.request<T>('PUT', objectPath(type, obj.metadata?.namespace, name), {
      query: { fieldManager: options.fieldManager },
      body: JSON.stringify(obj),
      contentType: 'application/json',
    });
  }

  /** DELETE; resolves (false) when the object is already gone. */
  async delete(type: ResourceType, namespace: string | undefined, name: string): Promise<boolean> {
    try {
      await this.request('DELETE', objectPath(type, namespace, name), {
        body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }),
        contentType: 'application/json',
      });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.#dispatcher?.close().catch(() => undefined);
  }
}
