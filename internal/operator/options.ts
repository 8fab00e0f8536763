// Operator flags. The chart passes the controller-runtime style ones
// (`--leader-elect=true`, `--metrics-bind-address=:8080`); the rest have defaults that
// suit an in-cluster Deployment.
import { DEFAULT_RELAY_IMAGE } from './render/common.ts';
import { parseArgs } from 'node:util';

export const DEFAULT_ADMIN_URL_TEMPLATE = 'https://{name}-admin.{namespace}.svc:8080';

export interface OperatorOptions {
  kubeconfig: string | undefined;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  watchNamespaces: string[];
  logLevel: string | undefined;
  adminUrlTemplate: string;
  /**
   * File with a bearer token for the relays' admin APIs, used only for a relay without a
   * `<relay>-admin-token` Secret (each relay's own Secret is the default).
   */
  adminTokenFile: string | undefined;
  /** `namespace/name[/key]` of a Secret holding that fallback token (key `token` by default). */
  adminTokenSecret: string | undefined;
  workers: number;
  resyncPeriodMs: number;
  roomStatusIntervalMs: number;
  relayStatusIntervalMs: number;
  informerStaleAfterMs: number;
  apiRecheckMs: number;
  /** The relay image for MsrpRelays that name none (--relay-image REPOSITORY:TAG). */
  relayImage: { repository: string; tag: string };
  /**
   * Namespaces the relays' NetworkPolicy admits to the admin API and the engine's metrics
   * port: the operator's own ($POD_NAMESPACE, else the leader-election namespace) and
   * --admin-allowed-namespaces (e.g. Prometheus's).
   */
  adminNamespaces: string[];
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `500ms`, `15s`, `10m`, `1h`, or a bare number of seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: invalid duration ${JSON.stringify(text)} (e.g. 500ms, 15s, 10m)`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Math.round(n * unit);
}

function parseBool(text: string, flag: string): boolean {
  if (/^(true|1|yes)$/i.test(text)) return true;
  if (/^(false|0|no)$/i.test(text)) return false;
  throw new UsageError(`${flag}: expected true or false, got ${JSON.stringify(text)}`);
}

export const USAGE = `msrp-operator: reconciles MsrpRelay and ChatRoom objects (msrp.dev/v1alpha1)

  --kubeconfig FILE                    kubeconfig (default: in-cluster, then $KUBECONFIG / ~/.kube/config)
  --metrics-bind-address ADDR          /metrics (default :8080; 0 disables)
  --health-probe-bind-address ADDR     /healthz and /readyz (default :8081; 0 disables)
  --leader-elect[=BOOL]                one active replica through a Lease (default false)
  --leader-election-namespace NS       (default $POD_NAMESPACE, else default)
  --leader-election-id NAME            Lease name (default msrp-operator)
  --leader-election-lease-duration D   (default 15s)
  --leader-election-renew-deadline D   (default 10s)
  --leader-election-retry-period D     (default 2s)
  --watch-namespaces NS[,NS...]        (default: all namespaces)
  --admin-allowed-namespaces NS[,NS...] namespaces besides the operator's own that the relays' NetworkPolicy
                                       admits to the admin API and metrics ports (e.g. monitoring)
  --log-level LEVEL                    fatal|error|warn|info|debug|trace (default $LOG_LEVEL or info)
  --admin-url-template URL             relay admin API base; {name} and {namespace} are the MsrpRelay's
                                       (default ${DEFAULT_ADMIN_URL_TEMPLATE})
  --admin-token-file FILE              fallback bearer token for the admin APIs; by default the operator
                                       presents each relay's own Secret <relay>-admin-token (key "token"),
                                       the admin's bootstrap token, and uses this only when that is missing
  --admin-token-secret NS/NAME[/KEY]   ... or read that fallback from this Secret (key "token")
  --workers N                          concurrent reconciles per kind (default 2)
  --resync-period D                    look at every object again this often (default 10m)
  --room-status-interval D             refresh room participant counts (default 30s)
  --relay-status-interval D            look again at each relay's database (through its admin API) and a pending
                                       load-balancer address (default 30s)
  --informer-stale-after D             restart a watch silent for this long (default 5m)
  --relay-image REPOSITORY:TAG         the relay image of MsrpRelays whose spec.image names none (the chart
                                       sets this version's msrpd image; default ${DEFAULT_RELAY_IMAGE.repository}:${DEFAULT_RELAY_IMAGE.tag})
  --api-recheck-interval D             how long cert-manager / prometheus-operator CRD presence is
                                       cached, and the recheck period while one is missing (default 30s)
`;

export function parseOperatorArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorOptions | 'help' {
  // parseArgs booleans take no `=value`; the chart writes `--leader-elect=true`.
  const args = argv.map((a) => (a === '--leader-elect' ? '--leader-elect=true' : a));
  const str = { type: 'string' } as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        kubeconfig: str,
        'metrics-bind-address': str,
        'health-probe-bind-address': str,
        'leader-elect': str,
        'leader-election-namespace': str,
        'leader-election-id': str,
        'leader-election-lease-duration': str,
        'leader-election-renew-deadline': str,
        'leader-election-retry-period': str,
        'watch-namespaces': str,
        'admin-allowed-namespaces': str,
        'log-level': str,
        'admin-url-template': str,
        'admin-token-file': str,
        'admin-token-secret': str,
        workers: str,
        'resync-period': str,
        'room-status-interval': str,
        'relay-status-interval': str,
        'informer-stale-after': str,
        'api-recheck-interval': str,
        'relay-image': str,
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  const s = (k: string) => values[k] as string | undefined;
  const workers = Number(s('workers') ?? '2');
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new UsageError('--workers: an integer from 1 to 64');
  const opts: OperatorOptions = {
    kubeconfig: s('kubeconfig'),
    metricsBindAddress: s('metrics-bind-address') ?? ':8080',
    healthProbeBindAddress: s('health-probe-bind-address') ?? ':8081',
    leaderElect: parseBool(s('leader-elect') ?? 'false', '--leader-elect'),
    leaderElectionNamespace: s('leader-election-namespace') || env.POD_NAMESPACE || 'default',
    leaderElectionId: s('leader-election-id') ?? 'msrp-operator',
    leaseDurationMs: parseDuration(s('leader-election-lease-duration') ?? '15s', '--leader-election-lease-duration'),
    renewDeadlineMs: parseDuration(s('leader-election-renew-deadline') ?? '10s', '--leader-election-renew-deadline'),
    retryPeriodMs: parseDuration(s('leader-election-retry-period') ?? '2s', '--leader-election-retry-period'),
    watchNamespaces: namespaceList(s('watch-namespaces')),
    logLevel: s('log-level'),
    adminUrlTemplate: s('admin-url-template') ?? DEFAULT_ADMIN_URL_TEMPLATE,
    adminTokenFile: s('admin-token-file'),
    adminTokenSecret: s('admin-token-secret'),
    workers,
    resyncPeriodMs: parseDuration(s('resync-period') ?? '10m', '--resync-period'),
    roomStatusIntervalMs: parseDuration(s('room-status-interval') ?? '30s', '--room-status-interval'),
    relayStatusIntervalMs: parseDuration(s('relay-status-interval') ?? '30s', '--relay-status-interval'),
    informerStaleAfterMs: parseDuration(s('informer-stale-after') ?? '5m', '--informer-stale-after'),
    apiRecheckMs: parseDuration(s('api-recheck-interval') ?? '30s', '--api-recheck-interval'),
    relayImage: parseImage(s('relay-image')),
    adminNamespaces: namespaceList([env.POD_NAMESPACE || s('leader-election-namespace') || 'default', s('admin-allowed-namespaces')].join(',')),
  };
  if (opts.leaseDurationMs <= opts.renewDeadlineMs || opts.renewDeadlineMs <= opts.retryPeriodMs) {
    throw new UsageError('leader election: lease duration > renew deadline > retry period');
  }
  if (opts.adminTokenFile && opts.adminTokenSecret) throw new UsageError('--admin-token-file and --admin-token-secret exclude each other');
  return opts;
}

/**
 * A comma-separated namespace flag (`--watch-namespaces`, `--admin-allowed-namespaces`) as a
 * list: spaces around names and empty entries dropped, each name once (a namespace named twice
 * would get two informers per kind), in the order given.
 */
export function namespaceList(text: string | undefined): string[] {
  return [...new Set((text ?? '').split(',').map((n) => n.trim()).filter((n) => n.length > 0))];
}

/** `repo/path:tag` (a registry port in the repository is allowed: the tag is after the last `:` past the last `/`). */
export function parseImage(text: string | undefined): { repository: string; tag: string } {
  if (text === undefined || text === '') return { ...DEFAULT_RELAY_IMAGE };
  const m = /^(.+):([\w][\w.-]{0,127})$/.exec(text);
  if (m === null || m[1]!.endsWith('/') || m[2]!.includes('/')) throw new UsageError(`--relay-image: REPOSITORY:TAG, not ${JSON.stringify(text)}`);
  return { repository: m[1]!, tag: m[2]! };
}

/** `:8080` -> all interfaces; `127.0.0.1:0`; `[::1]:8080`; `0` -> disabled (undefined). */
export function parseBindAddress(text: string): { host: string; port: number } | undefined {
  if (text === '0' || text === '') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`invalid bind address ${JSON.stringify(text)} (e.g. :8080 or 127.0.0.1:8080)`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`invalid port in ${JSON.stringify(text)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
