// startEngine: the engine of `msrpd` and of `npm start`, assembled in one place
// (docs/architecture.md §1.1): the store (opened here unless the caller shares one), the
// credential cache over it, the relay with its probe/metrics and control endpoints, and the
// chat server when `chat.enabled`, its rooms attached to the control endpoint. The whole config goes to relayOptionsFromConfig and startChatFromConfig,
// so a new config section reaches the relay or the chat server without touching cmd/.
//
// Closing runs against the order of dependency: the relay drains first (readiness off,
// listeners closed, transfers finish), then the chat server (participants leave, history
// flushed), then the credential cache (pinger, change feed), then the store, and the store
// only when this engine opened it: `npm start` shares its store with the admin API and
// closes it itself. Signals are the caller's business (signals.ts).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname as osHostname } from 'node:os';
import type { EngineConfig } from '../config/engine.ts';
import { roomsControl } from '../chat/control.ts';
import { startChatFromConfig } from '../chat/from-config.ts';
import type { FocusAuth } from '../chat/focus/identity.ts';
import { GuessLimiter } from '../auth/guesses.ts';
import { NonceManager } from '../auth/nonce.ts';
import type { RunningChatServer } from '../chat/server.ts';
import { connectStoreCredentials, type StoreCredentials } from '../relay/credential-cache.ts';
import { liveSessionOptionsFromConfig, relayOptionsFromConfig } from '../relay/engine-options.ts';
import { connectLiveSessions } from '../relay/live-sessions.ts';
import { startRelay, type RunningRelay } from '../relay/relay.ts';
import { chatPageHandler, type ChatPageSettings } from '../web/page-server.ts';
import type { Store } from '../store/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { watchEngineConfig, type LiveConfig } from './live-config.ts';
import { openEngineStore } from './store.ts';
import { openEngineSubscribers } from './subscribers.ts';
import { AccountingWriter } from './accounting.ts';
import type { WorkerIdentity } from './workers.ts';

export interface EngineDeps {
  logger: Logger;
  /** The machine (pod) host name: the default public host and the replica ordinal. Default: os.hostname(). */
  hostname?: string;
  /** The secret that signs Digest nonces. Default: the file `auth.nonceSecretFile`, else 32 random bytes. */
  nonceSecret?: Buffer;
  /** An open store to use and leave open (the caller closes it). Default: one opened from `database`, closed by drain()/stop(). */
  store?: Store;
  /** The registry the relay, the credential cache and the chat server register in. Default: a new one. */
  metrics?: Metrics;
  /**
   * The file `config` was loaded from and the environment it was loaded with: the file is
   * watched and what can change live is applied (live-config.ts). Default: not watched.
   */
  configFile?: { file: string; env: NodeJS.ProcessEnv; pollIntervalMs?: number };
  /**
   * This engine is one worker of the relay process (docs/relay.md "Workers", workers.ts):
   * no probe server (the primary serves it), the control endpoint on worker 0 only.
   */
  worker?: WorkerIdentity;
}

export interface EngineAddresses {
  /** Bound MSRP listener addresses, in the order of `relay.listen`. */
  readonly msrp: RunningRelay['addresses'];
  /** The probe and metrics server (/healthz, /readyz, /metrics). */
  readonly http?: AddressInfo;
  /** The control endpoint on 127.0.0.1 (live sessions, rooms, drain) for the admin sidecar. */
  readonly control?: AddressInfo;
  /** The chat server's SIP focus ports and MSRP switch port, when it runs. */
  readonly chat?: { readonly sipUdp?: number; readonly sipTcp?: number; readonly sipWs?: number; readonly sipWss?: number; readonly msrp: number };
}

export interface RunningEngine {
  readonly relay: RunningRelay;
  readonly chat: RunningChatServer | undefined;
  readonly store: Store;
  /** Whether drain()/stop() close the store (the engine opened it). */
  readonly ownsStore: boolean;
  readonly credentials: StoreCredentials;
  /** The accounting sink (accounting.enabled); flush() writes what is pending. */
  readonly accounting: AccountingWriter | undefined;
  readonly metrics: Metrics;
  /** The watched config file (deps.configFile), when there is one. */
  readonly liveConfig: LiveConfig | undefined;
  readonly addresses: EngineAddresses;
  /** Graceful (SIGTERM): the relay drains (up to `drain.deadlineSec`), then everything closes in order. */
  drain(): Promise<void>;
  /** Immediate: the relay closes every connection now, then everything closes in order. During a drain it hurries it. */
  stop(): Promise<void>;
}

/** Which part of the engine failed to start. */
export type EnginePart = 'store' | 'relay' | 'chat';

/**
 * A part of the engine failed to start; what it had started is closed again. `message` and
 * `code` are the part's own error's (the cause), so a caller prints what it printed before
 * and can still tell, say, a SIP port in use (`part: 'chat'`, `code: 'EADDRINUSE'`).
 */
export class EngineStartError extends Error {
  readonly part: EnginePart;
  readonly code: string | undefined;
  constructor(part: EnginePart, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'EngineStartError';
    this.part = part;
    const code = (cause as { code?: unknown } | null | undefined)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

/** How long a front session waits for its device's connection (the switch gives up sooner: connect-timeout). */
const FRONT_BIND_WITHIN_MS = 5 * 60_000;

export async function startEngine(config: EngineConfig, deps: EngineDeps): Promise<RunningEngine> {
  const { logger } = deps;
  const hostname = deps.hostname ?? osHostname();
  /** What is running so far, closed newest first when a later part fails to start. */
  const started: (() => Promise<void>)[] = [];
  const part = async <T>(name: EnginePart, start: () => T | Promise<T>): Promise<T> => {
    try {
      return await start();
    } catch (err) {
      for (const close of started.reverse()) await close().catch(() => undefined);
      throw new EngineStartError(name, err);
    }
  };

  const ownsStore = deps.store === undefined;
  const store = deps.store ?? (await part('store', () => openEngineStore(config, logger)));
  if (ownsStore) started.push(() => store.close());
  const w = deps.worker;
  const environment = await part('relay', () => ({
    hostname,
    nonceSecret: deps.nonceSecret ?? (config.auth.nonceSecretFile !== undefined ? readFileSync(config.auth.nonceSecretFile) : randomBytes(32)),
    ...(w !== undefined ? { worker: { index: w.index, count: w.count, socketDir: w.socketDir, secret: w.secret } } : {}),
  }));
  const options = await part('relay', () => relayOptionsFromConfig(config, environment));
  const metrics = deps.metrics ?? createMetrics();
  // Cache over the store, invalidated by its change feed, answering from cache while the
  // database is down; its health shows in /readyz and msrp_store_up.
  // An existing SIP subscriber table, read-only, alongside or instead of our users.
  const subscribers = await part('store', () => openEngineSubscribers(config, store, logger));
  if (subscribers !== undefined) started.push(() => subscribers.close());
  const credentials = await part('store', () => connectStoreCredentials(store, {
    metrics, logger,
    ...(subscribers !== undefined ? { subscribers: subscribers.credentials, ...(subscribers.ttlMs !== undefined ? { ttlMs: subscribers.ttlMs } : {}) } : {}),
  }));
  started.push(() => credentials.close());
  // Relay-wide sessions per user, throttle shares and session list (docs/relay.md "Relay-wide
  // limits and views"); the relay starts and stops it.
  const liveSessions = connectLiveSessions(store, { logger, metrics, ...liveSessionOptionsFromConfig(config) });
  // One record per relay session and chat participation when it ends (docs/relay.md "Accounting").
  const a = config.accounting;
  const accounting = a.enabled
    ? new AccountingWriter({ logger, metrics, table: a.database ? store.accounting : undefined, retentionDays: a.retentionDays, maxPending: a.maxPending })
    : undefined;
  if (accounting !== undefined) started.push(() => accounting.close());
  // Failed passwords are counted per user and source across MSRP AUTH and SIP Digest alike.
  const g = config.auth.guessing;
  const guesses = new GuessLimiter({ perUser: g.perUser, perSource: g.perSource, windowMs: g.windowSec * 1000 });
  // The browser chat page on the relay's WebSocket listeners (docs/chat.md "The chat page"):
  // what it needs of the focus is known once the chat server runs, after the relay.
  let page: ChatPageSettings | undefined;
  const servesPage = config.chat.enabled && config.chat.page.enabled && options.listeners.some((l) => l.websocket === true);
  const onHttpRequest = servesPage ? chatPageHandler(() => page, logger) : undefined;
  const relay = await part('relay', () => startRelay(options, {
    credentials: credentials.credentials, logger, metrics, storeHealth: credentials.health, liveSessions, guesses,
    ...(accounting !== undefined ? { accounting } : {}), ...(onHttpRequest !== undefined ? { onHttpRequest } : {}),
  }));
  started.push(() => relay.stop());
  // The focus authenticates SIP against the relay's realms, users and nonce secret.
  const auth: FocusAuth = {
    realmFor: (host) => options.realms.byHost.find((m) => m.host === host)?.realm ?? options.realms.default,
    nonces: new NonceManager({ secret: options.nonceSecret, lifetimeSec: options.nonceLifetimeSec }),
    algorithms: options.algorithms,
    lookup: (realm, user) => credentials.credentials.lookup(realm, user),
  };
  // Our relay in front of the switch (chat.msrp.relayInFront): the chat server asks the relay
  // for front sessions through this hook; the relay knows nothing of chat.
  const front = { open: () => relay.openFront(FRONT_BIND_WITHIN_MS), end: (id: string) => relay.endFront(id) };
  const chat = await part('chat', () => startChatFromConfig(config, { logger, metrics, store, hostname, auth, guesses, front, ...(accounting !== undefined ? { accounting } : {}) }));
  if (chat !== undefined) relay.attachRooms(roomsControl(chat));
  if (chat !== undefined && servesPage) {
    const { wsPort, wssPort } = chat.focus;
    page = {
      relayUri: relay.uri, userDomain: auth.realmFor(config.chat.domain ?? config.chat.publicHost ?? hostname),
      sip: wsPort === undefined && wssPort === undefined ? undefined : { ...(wsPort !== undefined ? { ws: wsPort } : {}), ...(wssPort !== undefined ? { wss: wssPort } : {}) },
      room: config.chat.page.room,
    };
  }
  if (chat !== undefined) started.push(() => chat.close());
  const cf = deps.configFile;
  const liveConfig = cf === undefined ? undefined : await part('relay', () => watchEngineConfig({
    file: cf.file, env: cf.env, started: config, environment, relay, logger, metrics,
    ...(cf.pollIntervalMs !== undefined ? { pollIntervalMs: cf.pollIntervalMs } : {}),
  }));

  let closing: Promise<void> | undefined;
  const close = (graceful: boolean): Promise<void> => {
    if (closing !== undefined) {
      // stop() during a drain: close the relay's connections now; the drain then finishes.
      return graceful ? closing : Promise.all([closing, relay.stop()]).then(() => undefined);
    }
    closing = (async () => {
      liveConfig?.close();
      await (graceful ? relay.drain() : relay.stop());
      // Each part closes even when an earlier one failed to; the first failure is reported.
      const failures: unknown[] = [];
      // Accounting after the relay and the chat server (their last sessions end there), before the store.
      for (const step of [() => chat?.close(), () => accounting?.close(), () => credentials.close(), () => subscribers?.close(), ...(ownsStore ? [() => store.close()] : [])]) {
        try {
          await step();
        } catch (err) {
          failures.push(err);
        }
      }
      if (failures.length > 0) throw failures[0];
    })();
    return closing;
  };

  return {
    relay, chat, store, ownsStore, credentials, accounting, metrics, liveConfig,
    addresses: {
      msrp: relay.addresses,
      ...(relay.http !== undefined ? { http: relay.http } : {}),
      ...(relay.control !== undefined ? { control: relay.control } : {}),
      ...(chat !== undefined ? {
        chat: {
          ...(chat.focus.udpPort !== undefined ? { sipUdp: chat.focus.udpPort } : {}),
          ...(chat.focus.tcpPort !== undefined ? { sipTcp: chat.focus.tcpPort } : {}),
          ...(chat.focus.wsPort !== undefined ? { sipWs: chat.focus.wsPort } : {}),
          ...(chat.focus.wssPort !== undefined ? { sipWss: chat.focus.wssPort } : {}),
          msrp: chat.msrp.port,
        },
      } : {}),
    },
    drain: () => close(true),
    stop: () => close(false),
  };
}
