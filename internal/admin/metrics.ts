// The admin sidecar's metrics (names get the msrp_ prefix from internal/telemetry).
// Routes are labelled by their template (`/v1/rooms/:name`), never the raw URL, so the
// label set stays bounded whatever callers send.
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../telemetry/metrics.ts';

export interface AdminMetrics {
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route'>;
  readonly authFailures: Counter<'reason'>;
  readonly pool: Gauge<'state'>;
  readonly engineRequests: Counter<'operation' | 'outcome'>;
}

export function createAdminMetrics(m: Metrics): AdminMetrics {
  return {
    requests: m.counter({ name: 'admin_requests_total', help: 'Admin API requests by method, route template and status.', labelNames: ['method', 'route', 'status'] }),
    duration: m.histogram({
      name: 'admin_request_duration_seconds', help: 'Admin API request latency by method and route template.', labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
    authFailures: m.counter({ name: 'admin_auth_failures_total', help: 'Rejected admin API credentials by reason (missing, malformed, unknown, revoked, expired, tokenreview).', labelNames: ['reason'] }),
    pool: m.gauge({ name: 'admin_db_pool_connections', help: 'PostgreSQL pool connections: total, idle, and waiting (clients queued for one).', labelNames: ['state'] }),
    engineRequests: m.counter({ name: 'admin_engine_requests_total', help: 'Calls to the engine control endpoint by operation and outcome.', labelNames: ['operation', 'outcome'] }),
  };
}
