// A prom-client registry per instance (never the global one), so tests and several
// components in one process (`npm start` runs engine + admin) each get their own.
//
// The project's metrics are declared by the module that owns them, through the typed
// factories below, always named `msrp_<what>` (counters end in `_total`, per the
// Prometheus naming conventions). Process and Node.js default metrics keep their
// standard names (`process_*`, `nodejs_*`) so stock dashboards work.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TelemetryError } from './logger.ts';

export const METRIC_PREFIX = 'msrp_';

export interface MetricDef<L extends string> {
  /** Name without the `msrp_` prefix, e.g. `frames_forwarded_total`. */
  name: string;
  help: string;
  labelNames?: readonly L[];
}

export interface HistogramDef<L extends string> extends MetricDef<L> {
  buckets?: number[];
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  counter<L extends string = never>(def: MetricDef<L>): Counter<L>;
  gauge<L extends string = never>(def: MetricDef<L>): Gauge<L>;
  histogram<L extends string = never>(def: HistogramDef<L>): Histogram<L>;
  /** The exposition text for `/metrics`. */
  render(): Promise<string>;
}

export interface MetricsOptions {
  /** Collect process_* and nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
  /** Labels added to every series, e.g. `{ replica: '0' }`. */
  defaultLabels?: Record<string, string>;
}

const NAME = /^[a-z][a-z0-9_]*$/;

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  // The same definition may be requested by two modules: hand back the existing metric
  // when its type matches; a clash of types is a programming error.
  function register<M>(kind: string, def: MetricDef<string>, make: (name: string) => M): M {
    if (!NAME.test(def.name) || def.name.startsWith(METRIC_PREFIX)) {
      throw new TelemetryError('invalid-metric', `metric name ${JSON.stringify(def.name)} must match ${NAME} and not repeat the ${METRIC_PREFIX} prefix`);
    }
    if (kind === 'counter' && !def.name.endsWith('_total')) {
      throw new TelemetryError('invalid-metric', `counter ${def.name} must end in _total`);
    }
    const full = METRIC_PREFIX + def.name;
    const existing = registry.getSingleMetric(full);
    if (existing) {
      const existingKind = (existing as unknown as { type?: string }).type;
      if (existingKind !== kind) {
        throw new TelemetryError('invalid-metric', `metric ${full} already registered as ${existingKind ?? 'unknown'}`);
      }
      return existing as M;
    }
    return make(full);
  }

  return {
    registry,
    contentType: registry.contentType,
    counter: <L extends string>(def: MetricDef<L>) =>
      register('counter', def, (name) => new Counter<L>({ name, help: def.help, labelNames: def.labelNames ?? [], registers: [registry] })),
    gauge: <L extends string>(def: MetricDef<L>) =>
      register('gauge', def, (name) => new Gauge<L>({ name, help: def.help, labelNames: def.labelNames ?? [], registers: [registry] })),
    histogram: <L extends string>(def: HistogramDef<L>) =>
      register('histogram', def, (name) => new Histogram<L>({
        name, help: def.help, labelNames: def.labelNames ?? [], registers: [registry],
        ...(def.buckets ? { buckets: def.buckets } : {}),
      })),
    render: () => registry.metrics(),
  };
}
