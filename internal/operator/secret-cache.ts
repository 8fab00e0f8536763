// The operator's view of Secrets (issue 13 req 6, docs/security.md "Operator"). The informers
// watch Secrets metadata-only (PartialObjectMetadata): enough to see a Secret appear, change
// (a new resourceVersion) or go, and to map it to the relays that name it, without holding the
// data of every Secret in the managed namespaces. The data of the few Secrets a reconcile
// needs (a relay's TLS, database, admin-token and mesh Secrets) is read with a GET when first
// asked for and kept while its resourceVersion is the one the watch last saw, so a steady state
// costs no API call; a Secret nobody asked for between two sweeps is dropped.
import type { KubeClient, KubeObject } from './kube/client.ts';
import { RESOURCES } from './kube/resources.ts';
import type { Cache } from './reconcile.ts';

export type SecretObject = KubeObject & { type?: string; data?: Record<string, string> };

/** Reads Secrets with their data. */
export interface SecretReader {
  /**
   * The Secret with its data, as current as the watch; undefined when the watch has not seen
   * it (absent, or created a moment ago: a caller that must know for sure asks the API server).
   */
  read(name: string, namespace: string): Promise<SecretObject | undefined>;
}

/** The metadata informers' cache, with their events. */
export interface MetadataCache extends Cache<KubeObject> {
  onChange(handler: (obj: KubeObject) => void): void;
}

interface Held {
  secret: SecretObject;
  /** Read since the last sweep. */
  used: boolean;
}

const keyOf = (namespace: string | undefined, name: string | undefined) => `${namespace ?? ''}/${name ?? ''}`;

export class SecretCache implements SecretReader {
  /** Metadata only: what the watch says exists, at which resourceVersion. */
  readonly metadata: MetadataCache;
  readonly #client: KubeClient;
  readonly #held = new Map<string, Held>();
  readonly #inFlight = new Map<string, Promise<SecretObject | undefined>>();

  constructor(metadata: MetadataCache, client: KubeClient) {
    this.metadata = metadata;
    this.#client = client;
    // A changed or deleted Secret's old data is of no use: let it go now, not at the next read.
    metadata.onChange((m) => {
      const key = keyOf(m.metadata?.namespace, m.metadata?.name);
      const held = this.#held.get(key);
      if (held && held.secret.metadata?.resourceVersion !== m.metadata?.resourceVersion) this.#held.delete(key);
    });
  }

  async read(name: string, namespace: string): Promise<SecretObject | undefined> {
    const key = keyOf(namespace, name);
    const meta = this.metadata.get(name, namespace);
    if (!meta) {
      this.#held.delete(key);
      return undefined;
    }
    const held = this.#held.get(key);
    if (held && held.secret.metadata?.resourceVersion === meta.metadata?.resourceVersion) {
      held.used = true;
      return held.secret;
    }
    // Several reconciles asking at once share one GET.
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#fetch(key, namespace, name).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  async #fetch(key: string, namespace: string, name: string): Promise<SecretObject | undefined> {
    const secret = await this.#client.getOptional<SecretObject>(RESOURCES.secret, namespace, name);
    // Gone since the watch saw it (its delete event is on the way): nothing to hold.
    if (!secret) this.#held.delete(key);
    // Still known to the watch (not deleted while the GET was out): keep it for the next read.
    else if (this.metadata.get(name, namespace)) this.#held.set(key, { secret, used: true });
    return secret;
  }

  /** Drops the data of every Secret not read since the previous sweep (a relay that went, a renamed reference). */
  sweep(): void {
    for (const [key, held] of this.#held) {
      if (held.used) held.used = false;
      else this.#held.delete(key);
    }
  }

  /** Which Secrets' data is held now, as `namespace/name` (what a memory check looks at). */
  heldData(): string[] {
    return [...this.#held.keys()];
  }
}
