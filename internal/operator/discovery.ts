// Which optional APIs the cluster has (their CRDs exist), asked of the API server and
// remembered for a short while: every reconcile needs the answer, and installing
// cert-manager is rare. RBAC: get on customresourcedefinitions (the chart grants it).
import { isNotFound } from './kube/client.ts';
import type { KubeClient } from './kube/client.ts';
import { crdName, RESOURCES } from './kube/resources.ts';
import type { Capabilities } from './render/index.ts';

export class ApiDiscovery {
  readonly #client: KubeClient;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { present: boolean; at: number }>();

  constructor(client: KubeClient, ttlMs = 30_000) {
    this.#client = client;
    this.#ttlMs = ttlMs;
  }

  async crdExists(name: string): Promise<boolean> {
    const hit = this.#cache.get(name);
    if (hit && Date.now() - hit.at < this.#ttlMs) return hit.present;
    let present: boolean;
    try {
      await this.#client.get(RESOURCES.customResourceDefinition, undefined, name);
      present = true;
    } catch (e) {
      if (!isNotFound(e)) throw e;
      present = false;
    }
    this.#cache.set(name, { present, at: Date.now() });
    return present;
  }

  async capabilities(): Promise<Capabilities> {
    const [certManager, serviceMonitor] = await Promise.all([
      this.crdExists(crdName(RESOURCES.certificate)),
      this.crdExists(crdName(RESOURCES.serviceMonitor)),
    ]);
    return { certManager, serviceMonitor };
  }
}
