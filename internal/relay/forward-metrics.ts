// Metrics of the forwarder, batched: prom-client hashes a label set on every call, which cost
// more than the rest of a small SEND's bookkeeping. Deltas per method (frames, bytes, one
// latency sample) and per response status are kept in plain fields and added once per
// event-loop turn (flush()).
import { MsrpStatus } from '../msrp/status.ts';
import type { RelayMetrics } from './metrics.ts';

/**
 * Label values come from the wire (a relay forwards methods it does not know, RFC 4976 §7.1,
 * and responses of any 3-digit status): known ones keep their name, anything else is "other",
 * so a peer cannot create Prometheus series at will.
 */
const METHOD_LABELS = new Set(['SEND', 'REPORT', 'NICKNAME']);
const STATUS_LABELS = new Set<number>(Object.values(MsrpStatus));

export function methodLabel(method: string): string {
  return METHOD_LABELS.has(method) ? method : 'other';
}

export function statusLabel(status: number): string {
  return STATUS_LABELS.has(status) ? String(status) : 'other';
}

/** Per-method metric deltas since the last flush. */
interface MethodStats {
  frames: number;
  bytes: number;
  /** One latency sample per method and flush (seconds), -1 when none yet. */
  latency: number;
  /** The labelled children, bound once (prom-client hashes a label object on every call). */
  readonly framesChild: { inc(n: number): void };
  readonly bytesChild: { inc(n: number): void };
  readonly latencyChild: { observe(v: number): void };
}

export class ForwardMetrics {
  readonly #metrics: Pick<RelayMetrics, 'framesForwarded' | 'bytesForwarded' | 'forwardLatency' | 'responses'>;
  readonly #now: () => number;
  readonly #schedule: (flush: () => void) => void;
  readonly #stats = new Map<string, MethodStats>();
  /** Responses we sent, by status label. */
  readonly #responseCounts = new Map<string, { n: number; readonly child: { inc(n: number): void } }>();
  #flushScheduled = false;
  /** The one flush callback (no closure per scheduling). */
  readonly #flush = (): void => this.flush();

  constructor(
    metrics: Pick<RelayMetrics, 'framesForwarded' | 'bytesForwarded' | 'forwardLatency' | 'responses'>,
    now: () => number = () => performance.now(),
    schedule: (flush: () => void) => void = setImmediate,
  ) {
    this.#metrics = metrics;
    this.#now = now;
    this.#schedule = schedule;
  }

  /** Counts a forwarded request of `bytes` body bytes, started at `startedAt` (the clock's ms). */
  forwarded(method: string, bytes: number, startedAt: number): void {
    const label = methodLabel(method);
    let st = this.#stats.get(label);
    if (st === undefined) {
      const m = this.#metrics;
      const labels = { method: label };
      st = { frames: 0, bytes: 0, latency: -1, framesChild: m.framesForwarded.labels(labels), bytesChild: m.bytesForwarded.labels(labels), latencyChild: m.forwardLatency.labels(labels) };
      this.#stats.set(label, st);
    }
    st.frames++;
    st.bytes += bytes;
    if (st.latency < 0) st.latency = (this.#now() - startedAt) / 1000;
    this.#scheduleFlush();
  }

  /** Counts a response we sent. */
  response(status: number): void {
    const label = statusLabel(status);
    let rc = this.#responseCounts.get(label);
    if (rc === undefined) this.#responseCounts.set(label, (rc = { n: 0, child: this.#metrics.responses.labels({ status: label }) }));
    rc.n++;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#schedule(this.#flush);
  }

  /**
   * Adds the batched deltas to the Prometheus metrics. The latency histogram gets one
   * sample per method per event-loop turn (the first request forwarded in it), not one
   * per request: observing every frame cost more than the rest of the bookkeeping.
   */
  flush(): void {
    this.#flushScheduled = false;
    for (const st of this.#stats.values()) {
      if (st.frames === 0) continue;
      st.framesChild.inc(st.frames);
      st.bytesChild.inc(st.bytes);
      if (st.latency >= 0) st.latencyChild.observe(st.latency);
      st.frames = 0;
      st.bytes = 0;
      st.latency = -1;
    }
    for (const rc of this.#responseCounts.values()) {
      if (rc.n === 0) continue;
      rc.child.inc(rc.n);
      rc.n = 0;
    }
  }
}
