// One replica ("pod") of a relay for bench/mesh.bench.ts, in its own process:
//   node bench/mesh-replica.ts '{"ordinal": 1, "meshPort": 40123, "certDir": "...", "meshCertDir": "...", "nonceSecret": "<hex>"}'
// As internal/relay/testrelay.ts startTestMesh sets replicas up, but one per process: every
// replica has the public URI msrps://relay.msrp.test:2855;tcp (certDir: a certificate naming
// it, testcerts.ts `named`), listens for clients with TLS on 127.0.0.1 (a free port, in the
// ready line), mints `r<ordinal>-` session ids and listens for the mesh on 127.0.1.<ordinal>
// (meshCertDir: testcerts.ts `mesh`, its own CA). Digest AUTH for user `bench` in realm
// `bench.test` (mapped from the public host), limits per address and per user off, logs silent.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import pino from 'pino';
import { defaultRelayOptions } from '../internal/relay/options.ts';
import { startRelay } from '../internal/relay/relay.ts';
import { MemoryCredentials } from '../internal/relay/testrelay.ts';
import { createMetrics } from '../internal/telemetry/metrics.ts';
import { BENCH_PASSWORD, BENCH_REALM, BENCH_USER, serveControl } from './common.ts';

const PUBLIC_HOST = 'relay.msrp.test';

const args = JSON.parse(process.argv[2] ?? '{}') as { ordinal: number; meshPort: number; certDir: string; meshCertDir: string; nonceSecret: string };
const credentials = new MemoryCredentials().add(BENCH_REALM, BENCH_USER, BENCH_PASSWORD);
const k = args.ordinal;
const o = defaultRelayOptions({
  publicHost: PUBLIC_HOST,
  publicPort: 2855,
  // Replicas share the nonce secret (options.ts), as pods of one StatefulSet do.
  nonceSecret: Buffer.from(args.nonceSecret, 'hex'),
  listeners: [{ hosts: ['127.0.0.1'], port: 0, tls: true }],
  tlsDir: args.certDir,
  mutualTls: true,
  peerCertificates: 'require',
  realms: { default: BENCH_REALM, byHost: [{ host: PUBLIC_HOST, realm: BENCH_REALM }] },
  maxConnectionsPerAddress: 0,
  maxSessionsPerUser: 0,
  expires: { min: 60, max: 3600, default: 3600 },
  nextHops: { allow: [], allowPrivate: false, connectTimeoutMs: 2000 },
  sessionIdPrefix: `r${k}-`,
  mesh: { ordinal: k, peerHost: '127.0.1.{ordinal}', port: args.meshPort, listenHosts: [`127.0.1.${k}`], tlsDir: args.meshCertDir, connectTimeoutMs: 2000 },
});
const relay = await startRelay(o, {
  credentials,
  logger: pino({ level: process.env['BENCH_LOG_LEVEL'] ?? 'silent' }),
  metrics: createMetrics({ defaultMetrics: false }),
});
const tls = relay.addresses.find((a) => a.secure)!;
// `profile-start` / `profile-stop <file>`: a V8 CPU profile of just the measurement window
// (node --cpu-prof would include start-up and the AUTH burst), written as a .cpuprofile.
let inspector: Session | undefined;
serveControl({ ordinal: k, tlsPort: tls.port, meshPort: relay.mesh?.port, publicUri: `msrps://${PUBLIC_HOST}:2855;tcp` }, (cmd) => {
  if (cmd === 'stats') {
    process.stdout.write(`${JSON.stringify({ stats: { sessions: relay.sessions.size, connections: relay.connections.size, meshLinks: relay.mesh?.links() ?? 0 } })}\n`);
    return true;
  }
  if (cmd === 'profile-start') {
    inspector = new Session();
    inspector.connect();
    inspector.post('Profiler.enable', () => inspector!.post('Profiler.start'));
    return true;
  }
  if (cmd.startsWith('profile-stop ')) {
    const file = cmd.slice('profile-stop '.length);
    inspector?.post('Profiler.stop', (err, res) => {
      if (err === null) writeFileSync(file, JSON.stringify(res.profile));
      inspector?.disconnect();
      process.stdout.write(`${JSON.stringify({ profiled: err === null ? file : err.message })}\n`);
    });
    return true;
  }
  return false;
});
