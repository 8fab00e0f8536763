// Leader election on a coordination.k8s.io/v1 Lease, with client-go's timing and rules
// (written from the Kubernetes docs on leases and client-go's leaderelection package docs):
//  - a candidate takes the lease when it is free or when the holder has not renewed it for
//    leaseDuration, as seen on the candidate's own clock since it last saw the record change
//    (so clock skew between machines does not matter);
//  - every write carries the resourceVersion read before it: of two candidates only one wins;
//  - the leader renews every retryPeriod; when no renewal succeeded for renewDeadline it
//    stops leading (and the process exits, so nothing runs on stale leadership);
//  - on a clean shutdown the leader releases the lease so a standby takes over at once.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../telemetry/logger.ts';
import { isConflict, isNotFound } from './kube/client.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import { RESOURCES } from './kube/resources.ts';

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  onStartedLeading: () => void;
  /** Leadership lost (not released by us). The caller must stop work at once. */
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function defaultIdentity(): string {
  return `${process.env.POD_NAME ?? hostname()}_${randomBytes(4).toString('hex')}`;
}

export class LeaderElector {
  readonly identity: string;
  readonly #o: Required<Omit<LeaderElectionOptions, 'onNewLeader' | 'identity'>> & Pick<LeaderElectionOptions, 'onNewLeader'>;
  readonly #log: Logger;
  #observed: { record: string; at: number } | undefined;
  #lastHolder: string | undefined;
  #leading = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #lastRenew = 0;
  #running: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    this.identity = options.identity ?? defaultIdentity();
    this.#o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      ...options,
    };
    if (this.#o.leaseDurationMs <= this.#o.renewDeadlineMs) throw new Error('leaseDuration must be greater than renewDeadline');
    if (this.#o.renewDeadlineMs <= this.#o.retryPeriodMs) throw new Error('renewDeadline must be greater than retryPeriod');
    this.#log = options.logger.child({ lease: `${options.namespace}/${options.name}`, identity: this.identity });
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Try to acquire, then keep renewing, until stop() or loss. */
  start(): void {
    this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    // client-go adds up to 20% jitter while acquiring so candidates do not move in lockstep.
    const jitter = this.#leading ? 0 : Math.floor(Math.random() * ms * 0.2);
    this.#timer = setTimeout(() => {
      this.#running = this.#tick().finally(() => (this.#running = undefined));
    }, ms + jitter);
  }

  async #tick(): Promise<void> {
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'lease request failed');
    }
    if (this.#stopped) return;
    const now = Date.now();
    if (ok) {
      this.#lastRenew = now;
      if (!this.#leading) {
        this.#leading = true;
        this.#log.info('became leader');
        this.#o.onStartedLeading();
      }
    } else if (this.#leading && now - this.#lastRenew >= this.#o.renewDeadlineMs) {
      this.#leading = false;
      this.#stopped = true;
      this.#log.error({ sinceLastRenewMs: now - this.#lastRenew }, 'leadership lost: lease not renewed within the renew deadline');
      this.#o.onStoppedLeading();
      return;
    }
    this.#schedule(this.#o.retryPeriodMs);
  }

  #leaseBody(existing: LeaseSpec | undefined, now: Date): LeaseSpec {
    const t = microTime(now);
    const takingOver = existing?.holderIdentity !== this.identity;
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.round(this.#o.leaseDurationMs / 1000),
      acquireTime: takingOver ? t : (existing?.acquireTime ?? t),
      renewTime: t,
      leaseTransitions: (existing?.leaseTransitions ?? 0) + (takingOver && existing?.holderIdentity ? 1 : 0),
    };
  }

  /** One round; true when we hold the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name } = this.#o;
    const now = new Date();
    let lease: Lease;
    try {
      lease = await client.get<Lease>(RESOURCES.lease, namespace, name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        await client.create(RESOURCES.lease, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: this.#leaseBody(undefined, now),
        });
      } catch (err) {
        if (isConflict(err) || (err as { statusCode?: number }).statusCode === 409) return false; // another candidate created it first
        throw err;
      }
      this.#noteHolder(this.identity);
      return true;
    }

    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const record = JSON.stringify([holder, spec.renewTime, spec.leaseDurationSeconds]);
    if (this.#observed?.record !== record) this.#observed = { record, at: Date.now() };
    this.#noteHolder(holder);
    const durationMs = (spec.leaseDurationSeconds ?? 15) * 1000;
    const heldByOther = holder !== '' && holder !== this.identity;
    if (heldByOther && this.#observed.at + durationMs > Date.now()) return false;

    try {
      await client.replace(RESOURCES.lease, { ...lease, spec: this.#leaseBody(spec, now) });
    } catch (e) {
      if (isConflict(e)) return false; // someone else wrote in between
      throw e;
    }
    this.#noteHolder(this.identity);
    return true;
  }

  #noteHolder(holder: string): void {
    if (holder === this.#lastHolder) return;
    this.#lastHolder = holder;
    if (holder) {
      this.#log.info({ leader: holder }, 'new leader observed');
      this.#o.onNewLeader?.(holder);
    }
  }

  /** Stop campaigning; when leading, hand the lease back so a standby takes over without waiting. */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    if (!this.#leading || options.release === false) return;
    this.#leading = false;
    try {
      const lease = await this.#o.client.get<Lease>(RESOURCES.lease, this.#o.namespace, this.#o.name);
      if (lease.spec?.holderIdentity !== this.identity) return;
      await this.#o.client.replace(RESOURCES.lease, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime() },
      });
      this.#log.info('lease released');
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'could not release the lease');
    }
  }
}
