// The chat server of an engine config (`chat` section of internal/config/engine.ts), as
// cmd/msrpd.ts and cmd/start.ts start it: rooms from the store, room history in the store
// (DurableHistory: a database outage slows nothing, the memory mirror answers), the
// engine's certificate for msrps and SIP over TLS, the replica's session id prefix, and,
// with several replicas (mesh.enabled), rooms owned through leases in the store and reached
// over the mesh channel (docs/chat.md "Several pods").
import type { AccountingSink } from '../telemetry/accounting.ts';
import type { EngineConfig } from '../config/engine.ts';
import { DurableHistory } from './switch/history-store.ts';
import { ordinalOfHostname } from '../mesh/ownership.ts';
import { sessionIdPrefixOf } from '../relay/engine-options.ts';
import type { Store } from '../store/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { loadTlsMaterial, secureContextOptions, watchTlsMaterial } from '../transport/tls-files.ts';
import type { GuessLimiter } from '../auth/guesses.ts';
import type { FocusAuth } from './focus/identity.ts';
import type { FrontSessions } from './focus/calls.ts';
import { startChatServer, type ChatMeshOptions, type RunningChatServer } from './server.ts';

/**
 * Starts the chat server when `c.chat.enabled`, else returns undefined. The certificate comes
 * from `tls.dir` (the relay's files) and is watched as the relay watches it: a renewed Secret
 * reaches new handshakes on the switch and SIP over TLS without dropping connections. The
 * mesh certificate of the rooms' channel is read once, at start.
 */
export async function startChatFromConfig(
  c: EngineConfig, deps: { logger: Logger; metrics: Metrics; store: Store; hostname: string; auth?: FocusAuth; guesses?: GuessLimiter; accounting?: AccountingSink; front?: FrontSessions },
): Promise<RunningChatServer | undefined> {
  if (!c.chat.enabled) return undefined;
  const sessionIdPrefix = sessionIdPrefixOf(c, deps.hostname);
  const ordinal = c.mesh.enabled ? c.mesh.ordinal ?? ordinalOfHostname(deps.hostname) : undefined;
  const mesh: ChatMeshOptions | undefined = ordinal === undefined ? undefined : {
    ordinal, peerHost: c.mesh.peerHost, port: c.mesh.chatPort, listenHosts: [c.mesh.listenHost],
    tls: await loadTlsMaterial(c.mesh.tlsDir), connectTimeoutMs: c.mesh.connectTimeoutMs, leaseTtlMs: c.mesh.roomLeaseSec * 1000,
  };
  if (c.chat.msrp.relayInFront && c.mesh.enabled) {
    deps.logger.warn({ component: 'chat' }, 'chat.msrp.relayInFront is ignored with mesh.enabled: answers name the switch directly');
  }
  const needsTls = c.chat.msrp.transport === 'tls' || c.chat.sip.tlsPort !== undefined || c.chat.sip.wssPort !== undefined;
  const live: { chat?: RunningChatServer } = {};
  const watcher = needsTls
    ? await watchTlsMaterial({
      dir: c.tls.dir,
      pollIntervalMs: c.tls.pollIntervalMs,
      onReload(m) {
        const options = secureContextOptions(m);
        live.chat?.msrp.setSecureContext(options);
        live.chat?.focus.setSecureContext(options);
        deps.logger.info({ dir: c.tls.dir, component: 'chat' }, 'TLS certificate reloaded');
      },
      onError(err) {
        deps.logger.warn({ err, dir: c.tls.dir, component: 'chat' }, 'TLS material not reloaded');
      },
    })
    : undefined;
  const tls = watcher === undefined ? undefined : secureContextOptions(watcher.current);
  const history = new DurableHistory({ table: deps.store.history, logger: deps.logger, metrics: deps.metrics });
  let chat: RunningChatServer;
  try {
    chat = await startChatServer(c.chat, {
      logger: deps.logger, metrics: deps.metrics, store: deps.store, history,
      ...(tls === undefined ? {} : { tls }),
      sessionIdPrefix,
      ...(mesh === undefined ? {} : { mesh }),
      ...(deps.auth === undefined ? {} : { auth: deps.auth }),
      ...(deps.guesses === undefined ? {} : { guesses: deps.guesses }),
      ...(deps.accounting === undefined ? {} : { accounting: deps.accounting }),
      // Several replicas: a front session lives on the replica that answered the INVITE, and
      // a client the load balancer sends elsewhere could not bind it (docs/chat.md): direct paths.
      ...(c.chat.msrp.relayInFront && !c.mesh.enabled && deps.front !== undefined ? { front: deps.front } : {}),
    });
  } catch (err) {
    watcher?.close();
    await history.close(0);
    throw err;
  }
  live.chat = chat;
  return {
    ...chat,
    // Participants leave, then the pending history writes are flushed (bounded), before
    // the caller closes the store.
    async close() {
      watcher?.close();
      await chat.close();
      await history.close();
    },
  };
}
