// Tests only: one replica of the chat server as its own process, for rooms-scaleout.test.ts
// (SIGKILL must be real: sockets closed by the kernel, leases left to expire). Rooms and
// history in the PostgreSQL database ROOMS_DB_URL, the mesh channel on 127.0.1.<ordinal>
// with the test mesh certificate; SIP over TCP and the MSRP switch (TCP) on free ports of
// 127.0.0.1; SIP Digest against the store's users of realm example.com. Prints one JSON line with its ports, then serves until SIGTERM (clean close:
// leases released) or SIGKILL.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { NonceManager } from '../../auth/nonce.ts';
import { DurableHistory } from '../switch/history-store.ts';
import { loadTlsMaterial } from '../../transport/tls-files.ts';
import { openStore } from '../../store/open.ts';
import { startChatServer } from '../server.ts';
import { loopbackChatConfig } from '../testchat.ts';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const ordinal = Number(env('ROOMS_ORDINAL'));
const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }, pino.destination(2));
const store = await openStore({ url: env('ROOMS_DB_URL'), logger });
const history = new DurableHistory({ table: store.history, logger });
const chat = await startChatServer({ ...loopbackChatConfig({ rooms: [], minExpires: 1 }), sip: { host: '127.0.0.1', tcpPort: 0 } }, {
  logger: logger.child({ replica: ordinal }), store, history, sessionIdPrefix: `r${ordinal}-`,
  auth: {
    realmFor: () => 'example.com', nonces: new NonceManager({ secret: randomBytes(32), lifetimeSec: 300 }),
    lookup: (realm, user) => store.getUserCredentials(realm, user),
  },
  mesh: {
    ordinal, peerHost: '127.0.1.{ordinal}', port: Number(env('ROOMS_MESH_PORT')), listenHosts: [`127.0.1.${ordinal}`],
    tls: await loadTlsMaterial(env('ROOMS_MESH_TLS_DIR')), connectTimeoutMs: 1000, leaseTtlMs: Number(env('ROOMS_LEASE_MS')),
    heartbeatMs: Number(process.env['ROOMS_HEARTBEAT_MS'] ?? 5000),
  },
});
process.stdout.write(`${JSON.stringify({ ordinal, sip: chat.focus.tcpPort, msrp: chat.msrp.port, instance: chat.roomMesh?.instance })}\n`);
process.once('SIGTERM', () => {
  void (async () => {
    await chat.close();
    await history.close();
    await store.close();
    process.exit(0);
  })();
});
