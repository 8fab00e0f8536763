// The operator process, assembled: probes, metrics, leader election, controllers.
// cmd/operator.ts parses flags and signals; everything else is here, so it can be tested.
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { tokenFromFile } from './admin-client.ts';
import type { TokenSource } from './admin-client.ts';
import { closeServer, startMetricsServer, startProbeServer } from './http.ts';
import { KubeClient } from './kube/client.ts';
import { RESOURCES } from './kube/resources.ts';
import { defaultIdentity, LeaderElector } from './leader.ts';
import { Manager } from './manager.ts';
import { parseBindAddress } from './options.ts';
import type { OperatorOptions } from './options.ts';

export interface RunningOperator {
  identity: string;
  probeAddress: { host: string; port: number } | undefined;
  metricsAddress: { host: string; port: number } | undefined;
  /** Graceful: stop reconciling, finish what is in flight, release the lease. */
  stop(): Promise<void>;
  /** Resolves when leadership is lost; the process must exit then. */
  lost: Promise<void>;
}

export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

/**
 * The token from --admin-token-file / --admin-token-secret, when given: a fallback for relays
 * without a `<relay>-admin-token` Secret (admin-token.ts), which is what the operator uses first.
 */
function adminTokenFallback(o: OperatorOptions, client: KubeClient): TokenSource | undefined {
  if (o.adminTokenFile) return tokenFromFile(o.adminTokenFile);
  if (o.adminTokenSecret) {
    const [namespace, name, key = 'token'] = o.adminTokenSecret.split('/');
    if (!namespace || !name) throw new Error('--admin-token-secret: expected NAMESPACE/NAME[/KEY]');
    let cached: { token: string; at: number } | undefined;
    return async () => {
      if (cached && Date.now() - cached.at < 60_000) return cached.token;
      const s = await client.get<{ data?: Record<string, string> }>(RESOURCES.secret, namespace, name);
      const b64 = s.data?.[key];
      if (b64 === undefined) throw new Error(`secret ${namespace}/${name} has no key ${key}`);
      cached = { token: Buffer.from(b64, 'base64').toString('utf8').trim(), at: Date.now() };
      return cached.token;
    };
  }
  return undefined;
}

export async function startOperator(o: OperatorOptions, logger: Logger): Promise<RunningOperator> {
  const kubeConfig = loadKubeConfig(o.kubeconfig);
  const client = new KubeClient(kubeConfig);
  const metrics = createMetrics();
  const identity = defaultIdentity();
  const log = logger.child({ identity });
  const leaderGauge = metrics.gauge({ name: 'operator_leader', help: '1 while this process holds the leader lease.' });

  const fallback = adminTokenFallback(o, client);
  const manager = new Manager({
    kubeConfig,
    client,
    logger: log,
    metrics,
    namespaces: o.watchNamespaces,
    identity,
    adminUrlTemplate: o.adminUrlTemplate,
    relayImage: o.relayImage,
    adminNamespaces: o.adminNamespaces,
    ...(fallback ? { adminTokenFallback: fallback } : {}),
    workers: o.workers,
    resyncPeriodMs: o.resyncPeriodMs,
    roomStatusIntervalMs: o.roomStatusIntervalMs,
    relayStatusIntervalMs: o.relayStatusIntervalMs,
    informerStaleAfterMs: o.informerStaleAfterMs,
    apiRecheckMs: o.apiRecheckMs,
  });

  let stopping = false;
  let elector: LeaderElector | undefined;
  const probeBind = parseBindAddress(o.healthProbeBindAddress);
  const metricsBind = parseBindAddress(o.metricsBindAddress);
  const probe = probeBind
    ? await startProbeServer(probeBind.host, probeBind.port, {
        healthy: () => !stopping,
        // A standby is ready (it is doing its job: waiting); a leader once its caches synced.
        ready: () => !stopping && (elector ? !elector.isLeader || manager.isStarted : manager.isStarted),
      })
    : undefined;
  const metricsServer = metricsBind ? await startMetricsServer(metricsBind.host, metricsBind.port, metrics) : undefined;

  let signalLost: () => void = () => undefined;
  const lost = new Promise<void>((resolve) => (signalLost = resolve));
  const startControllers = () => {
    manager.start().catch((e: unknown) => {
      log.error({ err: (e as Error).message }, 'controllers failed to start');
      signalLost();
    });
  };

  if (o.leaderElect) {
    elector = new LeaderElector({
      client,
      namespace: o.leaderElectionNamespace,
      name: o.leaderElectionId,
      identity,
      leaseDurationMs: o.leaseDurationMs,
      renewDeadlineMs: o.renewDeadlineMs,
      retryPeriodMs: o.retryPeriodMs,
      logger: log,
      onStartedLeading: () => {
        leaderGauge.set(1);
        startControllers();
      },
      onStoppedLeading: () => {
        leaderGauge.set(0);
        signalLost();
      },
    });
    elector.start();
  } else {
    leaderGauge.set(1);
    startControllers();
  }

  const addr = (a: { address: string; port: number } | undefined) => (a ? { host: a.address, port: a.port } : undefined);
  log.info(
    { probe: addr(probe?.address), metrics: addr(metricsServer?.address), leaderElect: o.leaderElect },
    'operator started',
  );

  return {
    identity,
    probeAddress: addr(probe?.address),
    metricsAddress: addr(metricsServer?.address),
    lost,
    async stop() {
      if (stopping) return;
      stopping = true;
      log.info('shutting down');
      await manager.stop();
      // After the last reconcile: the next leader must not overlap with us.
      await elector?.stop({ release: true });
      if (probe) await closeServer(probe.server);
      if (metricsServer) await closeServer(metricsServer.server);
      await client.close();
      log.info('stopped');
    },
  };
}
