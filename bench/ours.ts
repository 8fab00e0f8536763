// Our relay (internal/relay startRelay) as a child process for bench/relay.bench.ts, so its
// RSS and CPU profile are its own:
//   node [--cpu-prof] bench/ours.ts '{"certDir": "/path/with/tls.crt+tls.key+ca.crt"}'
// TCP, TLS and WSS (MSRP over WebSocket, RFC 7977) listeners on 127.0.0.1 (free ports, in the ready line); Digest AUTH against an
// in-memory credential source (real HA1s) for user `bench` in realm `bench.test`; limits per
// address and per user off (the benchmark opens thousands of sessions from one address for
// one user); plain TCP AUTH allowed (the TCP figures need it); logs silent.
// `"workers": n` (n > 1): n worker processes as msrpd runs them (docs/relay.md "Workers",
// internal/engine/workers.ts), the listeners shared; the ready line then carries their pids
// (`pids`, for the CPU figures) and the primary's own.
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { superviseWorkers, takeWorkerIdentity } from '../internal/engine/workers.ts';
import { workerPrefix } from '../internal/mesh/ownership.ts';
import { defaultRelayOptions } from '../internal/relay/options.ts';
import { startRelay } from '../internal/relay/relay.ts';
import { MemoryCredentials } from '../internal/relay/testrelay.ts';
import { createMetrics } from '../internal/telemetry/metrics.ts';
import { BENCH_PASSWORD, BENCH_REALM, BENCH_USER, serveControl } from './common.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as { certDir: string; mutualTls?: boolean; workers?: number };
interface Ready { tcpPort: number; tlsPort: number; wssPort: number; uriTcp: string; uriTls: string }

if (cluster.isPrimary && (args.workers ?? 1) > 1) {
  const count = args.workers!;
  // Worker 0 says where the shared listeners are; the primary waits for every worker.
  const where = new Promise<Ready>((resolve) => cluster.on('message', (_w, m: { benchWorkerReady?: Ready } | null) => {
    if (m?.benchWorkerReady !== undefined) resolve(m.benchWorkerReady);
  }));
  const supervisor = await superviseWorkers({ count, logger: pino({ level: 'silent' }), http: { host: '127.0.0.1', port: 0 }, nonceSecret: randomBytes(32), drainDeadlineMs: 5000 });
  const ready = await where;
  while (!supervisor.workers().every((w) => w.ready)) await new Promise((r) => setTimeout(r, 20));
  serveControl({ ...ready, pids: supervisor.workers().map((w) => w.pid) }, () => false);
} else {
  await serve(takeWorkerIdentity());
}

async function serve(worker: ReturnType<typeof takeWorkerIdentity>): Promise<void> {
  const credentials = new MemoryCredentials().add(BENCH_REALM, BENCH_USER, BENCH_PASSWORD);
  const o = defaultRelayOptions({
    publicHost: '127.0.0.1',
    nonceSecret: randomBytes(32),
    listeners: [{ hosts: ['127.0.0.1'], port: 0, tls: true }, { hosts: ['127.0.0.1'], port: 0, tls: false }, { hosts: ['127.0.0.1'], port: 0, tls: true, websocket: true }],
    tlsDir: args.certDir,
    allowPlainTcp: true,
    // Production default (ask peers for a certificate); `"mutualTls": false` for experiments.
    mutualTls: args.mutualTls ?? true,
    // Every pair authenticates here, so no foreign hop ever delivers: the production 'require'
    // costs nothing on this path. Without mutual TLS no certificate is asked for, so 'require'
    // could not start (relay.ts): relax it then.
    peerCertificates: args.mutualTls === false ? 'verify-if-presented' : 'require',
    realms: { default: BENCH_REALM, byHost: [] },
    maxConnectionsPerAddress: 0,
    maxSessionsPerUser: 0,
    expires: { min: 60, max: 3600, default: 3600 },
    nextHops: { allow: [], allowPrivate: false, connectTimeoutMs: 2000 },
    ...(worker !== undefined ? {
      workers: { index: worker.index, count: worker.count, socketDir: worker.socketDir, secret: worker.secret, connectTimeoutMs: 2000 },
      sessionIdPrefix: workerPrefix('', worker.index),
      nonceSecret: Buffer.from(worker.nonceSecret, 'hex'),
    } : {}),
  });
  const relay = await startRelay(o, {
    credentials,
    logger: pino({ level: process.env['BENCH_LOG_LEVEL'] ?? 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
  });
  const tls = relay.addresses.find((a) => a.secure && !a.websocket)!;
  const tcp = relay.addresses.find((a) => !a.secure)!;
  const wss = relay.addresses.find((a) => a.websocket)!;
  const ready: Ready = {
    tcpPort: tcp.port, tlsPort: tls.port, wssPort: wss.port,
    uriTcp: `msrp://127.0.0.1:${tcp.port};tcp`, uriTls: `msrps://127.0.0.1:${tls.port};tcp`,
  };
  if (worker !== undefined) {
    process.send?.({ benchWorkerReady: ready, msrpdWorker: 'ready' });
    return;
  }
  serveControl(ready, (cmd) => {
    if (cmd !== 'stats') return false;
    process.stdout.write(`${JSON.stringify({ stats: { sessions: relay.sessions.size, connections: relay.connections.size } })}\n`);
    return true;
  });
}
