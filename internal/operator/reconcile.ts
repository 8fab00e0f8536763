// The reconcile contract shared by both controllers (controller-runtime's, in short):
// given a key, make the world match the object; throw to retry with backoff.
export interface ReconcileResult {
  /** Process the key again after this long even if nothing changes (periodic refresh). */
  requeueAfterMs?: number;
  /** Not an error, but not done: retry with the key's backoff (e.g. a peer is unreachable). */
  retry?: boolean;
}

export type Reconcile = (key: string) => Promise<ReconcileResult>;

export function objectKey(obj: { metadata?: { name?: string; namespace?: string } }): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Read-only view of an informer cache. */
export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}
