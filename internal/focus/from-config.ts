// The chat server of an engine config (`chat` section of internal/config/engine.ts), as
// cmd/msrpd.ts and cmd/start.ts start it: rooms from the store, room history in the store
// (DurableHistory: a database outage slows nothing, the memory mirror answers), the
// engine's certificate for msrps and SIP over TLS, the replica's session id prefix.
import type { EngineConfig } from '../config/engine.ts';
import { DurableHistory } from '../chat/history-store.ts';
import { ordinalOfHostname, replicaPrefix as meshPrefix } from '../mesh/ownership.ts';
import { replicaPrefix } from '../relay/engine-options.ts';
import type { Store } from '../store/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { loadTlsMaterial, secureContextOptions } from '../transport/tls-files.ts';
import { startChatServer, type RunningChatServer } from './server.ts';

/**
 * Starts the chat server when `c.chat.enabled`, else returns undefined. The certificate is
 * read from `tls.dir` (the relay's files) once, at start: a renewed Secret reaches the relay
 * listeners at once, the chat listeners at the next restart.
 */
export async function startChatFromConfig(
  c: EngineConfig, deps: { logger: Logger; metrics: Metrics; store: Store; hostname: string },
): Promise<RunningChatServer | undefined> {
  if (!c.chat.enabled) return undefined;
  const needsTls = c.chat.msrp.transport === 'tls' || c.chat.sip.tlsPort !== undefined;
  const tls = needsTls ? secureContextOptions(await loadTlsMaterial(c.tls.dir)) : undefined;
  // Several replicas (mesh.enabled): rooms are owned through leases in the store and reached
  // over the mesh channel (docs/chat.md "Several pods"), with the mesh certificate.
  const ordinal = c.mesh.enabled ? c.mesh.ordinal ?? ordinalOfHostname(deps.hostname) : undefined;
  if (c.mesh.enabled && ordinal === undefined) throw new Error(`mesh.enabled: no mesh.ordinal, and the host name ${JSON.stringify(deps.hostname)} ends in no -<n>`);
  const mesh = ordinal === undefined ? undefined : {
    ordinal, peerHost: c.mesh.peerHost, port: c.mesh.chatPort, listenHosts: [c.mesh.listenHost],
    tls: await loadTlsMaterial(c.mesh.tlsDir), connectTimeoutMs: c.mesh.connectTimeoutMs, leaseTtlMs: c.mesh.roomLeaseSec * 1000,
  };
  const history = new DurableHistory({ table: deps.store.history, logger: deps.logger, metrics: deps.metrics });
  let chat: RunningChatServer;
  try {
    chat = await startChatServer(c.chat, {
      logger: deps.logger, metrics: deps.metrics, store: deps.store, history,
      ...(tls === undefined ? {} : { tls }),
      sessionIdPrefix: ordinal === undefined ? replicaPrefix(deps.hostname) : meshPrefix(ordinal),
      ...(mesh === undefined ? {} : { mesh }),
    });
  } catch (err) {
    await history.close(0);
    throw err;
  }
  return {
    ...chat,
    // Participants leave, then the pending history writes are flushed (bounded), before
    // the caller closes the store.
    async close() {
      await chat.close();
      await history.close();
    },
  };
}
