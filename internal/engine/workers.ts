// Workers (docs/relay.md "Workers", docs/architecture.md §8.1): one relay process using
// several cores. The primary process forks `relay.workers` engine processes with
// node:cluster; they share the listening sockets (the primary accepts and hands each
// connection to the next worker in turn), each is a replica of its own to the relay
// (session ids name it, internal/mesh/ownership.ts), and they reach each other's sessions
// over links between them (internal/mesh/worker-links.ts). The primary runs no relay: it
//  - restarts a worker that exits (after a pause that grows while it keeps dying), under
//    the same number, so its links and session ids stay where the others look for them;
//  - serves /metrics (every worker's registry, through prom-client's AggregatorRegistry,
//    each series labelled `worker`, and its own), /healthz and /readyz (ready while not
//    draining and a worker is ready; the body lists every worker);
//  - on SIGTERM, stops restarting, passes SIGTERM to every worker (each drains as a
//    single process does, docs/architecture.md §4.3) and exits once they all have.
// A worker learns who it is from MSRPD_WORKER (takeWorkerIdentity): its number, the count,
// the private folder of the link sockets, the link secret and the Digest nonce secret that
// every worker shares (a client's AUTH may be challenged by one worker and retried on a new
// connection that lands on another).
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Logger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';

/** The environment variable that carries a worker's identity (not MSRP_: that prefix is the config's). */
export const WORKER_ENV = 'MSRPD_WORKER';

export interface WorkerIdentity {
  readonly index: number;
  readonly count: number;
  readonly socketDir: string;
  /** Hex: the link secret (internal/mesh/worker-links.ts). */
  readonly secret: string;
  /** Hex: the Digest nonce secret shared by the workers (unless auth.nonceSecretFile). */
  readonly nonceSecret: string;
}

/** In a worker: its identity, removed from the environment so that nothing passes it on. Undefined in a primary. */
export function takeWorkerIdentity(env: NodeJS.ProcessEnv = process.env): WorkerIdentity | undefined {
  const raw = env[WORKER_ENV];
  if (raw === undefined) return undefined;
  delete env[WORKER_ENV];
  let w: WorkerIdentity | null;
  try {
    w = JSON.parse(raw) as WorkerIdentity | null;
  } catch {
    w = null;
  }
  // A worker that cannot tell who it is exits before ready: the primary counts a failed start.
  if (w === null || typeof w !== 'object' || !Number.isInteger(w.index) || !Number.isInteger(w.count) || typeof w.socketDir !== 'string' || typeof w.secret !== 'string' || typeof w.nonceSecret !== 'string') {
    throw new Error(`${WORKER_ENV} is malformed`);
  }
  return w;
}

/**
 * In a worker: its metrics registry, labelled with its number, which it sends the primary
 * when asked (over the cluster's IPC channel), for the primary's /metrics.
 */
export function workerMetrics(identity: WorkerIdentity): Metrics {
  const metrics = createMetrics({ defaultLabels: { worker: String(identity.index) } });
  process.on('message', (m: unknown) => {
    const id = (m as { msrpdMetrics?: unknown } | null)?.msrpdMetrics;
    if (typeof id !== 'number') return;
    metrics.registry.getMetricsAsJSON().then(
      (json) => process.send?.({ msrpdMetricsReply: id, json }),
      (err: unknown) => process.send?.({ msrpdMetricsReply: id, error: String(err) }),
    );
  });
  return metrics;
}

/** In a worker: tells the primary it serves (its engine started) or no longer accepts sessions (draining). */
export function reportWorkerState(state: 'ready' | 'draining'): void {
  process.send?.({ msrpdWorker: state });
}

export interface SupervisorOptions {
  readonly count: number;
  readonly logger: Logger;
  /** Where /metrics, /healthz and /readyz are served (the engine's http.host and http.port). */
  readonly http: { host: string; port: number };
  /** The nonce secret every worker uses (auth.nonceSecretFile's, else random for this run). */
  readonly nonceSecret: Buffer;
  /** How long a drain may take before the workers left are killed: the engine's drain deadline plus a margin. */
  readonly drainDeadlineMs: number;
  /** The script the workers run and its arguments. Default: this process's (cluster's default). */
  readonly exec?: string;
  readonly args?: readonly string[];
  /** Environment added to every worker's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Restart pause after a worker exits; doubled while it keeps dying within a minute, up to 30 s. Default 200 ms. */
  readonly restartDelayMs?: number;
  /**
   * A worker failed to start this many times in a row (it exited before it was ever ready: a
   * bad certificate, a port taken): the relay cannot run, every worker is stopped and
   * onFatal is called (msrpd exits 1, as one process that fails to start does). Default 3.
   */
  readonly maxFailedStarts?: number;
  readonly onFatal?: (err: Error) => void;
}

export interface WorkerState {
  readonly index: number;
  readonly pid: number | undefined;
  readonly ready: boolean;
  readonly restarts: number;
}

export interface RunningSupervisor {
  readonly http: AddressInfo;
  workers(): WorkerState[];
  ready(): boolean;
  /** Graceful (SIGTERM): every worker drains; resolves when they all exited. */
  drain(): Promise<void>;
  /** Immediate: every worker is killed. */
  stop(): Promise<void>;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  ready: boolean;
  restarts: number;
  delayMs: number;
  lastStart: number;
  timer: NodeJS.Timeout | undefined;
  /** Consecutive workers of this slot that exited before they were ever ready. */
  failedStarts: number;
}

/**
 * Sends `message` over a worker's IPC channel; a channel that is closed (the worker exiting)
 * calls `failed` instead. Without a callback Node emits that error on the worker, and an
 * unhandled 'error' ends the primary.
 */
export function sendOrFail(to: { send(message: unknown, callback: (err: Error | null) => void): unknown }, message: unknown, failed: (err: Error) => void): void {
  to.send(message, (err) => {
    if (err !== null && err !== undefined) failed(err);
  });
}

/**
 * Node flags of a worker: the primary's, plus `--single-threaded-gc`. A worker is meant to have
 * one core of its own (`relay.workers` follows the CPU limit); V8's parallel and concurrent GC
 * threads would run beside it on the cores of the other workers, or against the container's CPU
 * quota. Measured on a relay process confined to one core (docs/relay.md "Garbage collector
 * threads"): the same small SENDs cost about a quarter less CPU with the collector on its own
 * thread.
 */
export function workerExecArgv(primary: readonly string[]): string[] {
  return primary.some((a) => /^--(no-)?single-threaded-gc$/.test(a)) ? [...primary] : [...primary, '--single-threaded-gc'];
}

export async function superviseWorkers(o: SupervisorOptions): Promise<RunningSupervisor> {
  const log = o.logger;
  // The link sockets live in a folder only this user can enter (docs/security.md "Workers").
  const socketDir = mkdtempSync(join(tmpdir(), 'msrpd-workers-'));
  const secret = randomBytes(32).toString('hex');
  const base = o.restartDelayMs ?? 200;
  const own = createMetrics();
  const restarts = own.counter({ name: 'relay_worker_restarts_total', help: 'Worker processes restarted by the primary after they exited (docs/relay.md "Workers")' });
  const live = own.gauge({ name: 'relay_workers', help: 'Worker processes running, and how many the relay runs (state="configured")', labelNames: ['state'] });
  live.set({ state: 'configured' }, o.count);
  /** Metrics requests waiting for workers' answers, by request number. */
  const asked = new Map<number, { pending: Set<number>; got: MetricObjectWithValues<MetricValue<string>>[][]; done: () => void }>();
  let askSeq = 0;
  let stopping = false;

  cluster.setupPrimary({
    ...(o.exec !== undefined ? { exec: o.exec } : {}),
    ...(o.args !== undefined ? { args: [...o.args] } : {}),
    execArgv: workerExecArgv(process.execArgv),
  });

  const slots: Slot[] = Array.from({ length: o.count }, (_, index) => ({ index, worker: undefined, ready: false, restarts: 0, delayMs: base, lastStart: 0, timer: undefined, failedStarts: 0 }));
  const running = (): number => slots.filter((s) => s.worker !== undefined).length;

  const fork = (slot: Slot): void => {
    slot.timer = undefined;
    if (stopping) return;
    const identity: WorkerIdentity = { index: slot.index, count: o.count, socketDir, secret, nonceSecret: o.nonceSecret.toString('hex') };
    const worker = cluster.fork({ ...o.env, [WORKER_ENV]: JSON.stringify(identity) });
    slot.worker = worker;
    slot.ready = false;
    slot.lastStart = Date.now();
    live.set({ state: 'running' }, running());
    /** This worker said ready once: its exit is not a failed start. */
    let wasReady = false;
    worker.on('message', (m: unknown) => {
      const reply = m as { msrpdMetricsReply?: unknown; json?: MetricObjectWithValues<MetricValue<string>>[] } | null;
      if (typeof reply?.msrpdMetricsReply === 'number') {
        const request = asked.get(reply.msrpdMetricsReply);
        if (request === undefined) return;
        if (reply.json !== undefined) request.got.push(reply.json);
        request.pending.delete(slot.index);
        if (request.pending.size === 0) request.done();
        return;
      }
      const state = (m as { msrpdWorker?: unknown } | null)?.msrpdWorker;
      if (state === 'ready') {
        slot.ready = true;
        wasReady = true;
        log.info({ worker: slot.index, pid: worker.process.pid }, 'worker ready');
      } else if (state === 'draining') {
        slot.ready = false;
      }
    });
    // An IPC failure is reported to the sender's callback (sendOrFail); any other 'error' of a
    // worker is logged, never left unhandled (which would end the primary and every worker).
    worker.on('error', (err: Error) => log.warn({ worker: slot.index, err: err.message }, 'worker IPC error'));
    // Its channel is gone before it exits: not ready from now on (nothing more is asked of it).
    worker.once('disconnect', () => {
      if (slot.worker === worker) slot.ready = false;
    });
    worker.once('exit', (code, signal) => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      slot.ready = false;
      slot.failedStarts = wasReady ? 0 : slot.failedStarts + 1;
      live.set({ state: 'running' }, running());
      if (stopping) {
        log.info({ worker: slot.index, code, signal }, 'worker exited');
        return;
      }
      if (slot.failedStarts >= (o.maxFailedStarts ?? 3)) {
        const err = new Error(`worker ${slot.index} exited before it was ready ${slot.failedStarts} times in a row (code ${String(code)}, signal ${String(signal)}): see its log lines`);
        log.error({ worker: slot.index, failedStarts: slot.failedStarts }, 'workers cannot start: stopping');
        void close(false).then(() => o.onFatal?.(err));
        return;
      }
      // Its sessions are gone (their clients reconnect); a new worker takes its number.
      restarts.inc();
      slot.restarts++;
      slot.delayMs = Date.now() - slot.lastStart < 60_000 ? Math.min(slot.delayMs * 2, 30_000) : base;
      log.error({ worker: slot.index, code, signal, restartInMs: slot.delayMs }, 'worker exited: restarting it');
      slot.timer = setTimeout(() => fork(slot), slot.delayMs);
    });
  };

  const ready = (): boolean => !stopping && slots.some((s) => s.ready);
  const workers = (): WorkerState[] => slots.map((s) => ({ index: s.index, pid: s.worker?.process.pid, ready: s.ready, restarts: s.restarts }));
  /**
   * Every ready worker's series (each labelled with its worker), merged by prom-client's
   * AggregatorRegistry. A worker that is starting or does not answer within a second is left
   * out: the others' series still come.
   */
  const workerSeries = (): Promise<string> => {
    const id = ++askSeq;
    const ready = slots.filter((s) => s.ready && s.worker !== undefined);
    return new Promise<string>((resolve) => {
      const request = { pending: new Set(ready.map((s) => s.index)), got: [] as MetricObjectWithValues<MetricValue<string>>[][], done: () => undefined as void };
      const timer = setTimeout(() => request.done(), 1000);
      request.done = () => {
        clearTimeout(timer);
        asked.delete(id);
        if (request.pending.size > 0) log.warn({ workers: [...request.pending] }, 'metrics: workers did not answer in time');
        AggregatorRegistry.aggregate(request.got).metrics().then(resolve, () => resolve(''));
      };
      asked.set(id, request);
      for (const s of ready) {
        sendOrFail(s.worker!, { msrpdMetrics: id }, (err) => {
          // Its channel closed (the worker is exiting): the others' series still come.
          log.warn({ worker: s.index, err: err.message }, 'metrics: worker unreachable');
          request.pending.delete(s.index);
          if (request.pending.size === 0) request.done();
        });
      }
      if (ready.length === 0) request.done();
    });
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return json(405, { error: 'method not allowed' });
    if (path === '/healthz') return json(200, { status: 'ok', workers: workers() });
    if (path === '/readyz') return json(ready() ? 200 : 503, { status: ready() ? 'ready' : 'not ready', workers: workers() });
    if (path === '/metrics') {
      Promise.all([own.render(), workerSeries()]).then(
        ([mine, theirs]) => {
          res.writeHead(200, { 'content-type': own.contentType });
          res.end(`${mine}\n${theirs}`);
        },
        () => json(500, { error: 'metrics unavailable' }),
      );
      return;
    }
    json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: o.http.host, port: o.http.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  log.info({ workers: o.count, http: server.address() }, 'primary supervising workers');

  const allExited = (): Promise<void> => new Promise<void>((resolve) => {
    const check = (): void => {
      if (running() === 0) resolve();
      else setTimeout(check, 50);
    };
    check();
  });
  let closing: Promise<void> | undefined;
  const close = (graceful: boolean): Promise<void> => {
    closing ??= (async () => {
      stopping = true;
      for (const s of slots) if (s.timer !== undefined) clearTimeout(s.timer);
      for (const s of slots) s.worker?.process.kill(graceful ? 'SIGTERM' : 'SIGKILL');
      const deadline = setTimeout(() => {
        log.warn('workers still running past the drain deadline: killing them');
        for (const s of slots) s.worker?.process.kill('SIGKILL');
      }, graceful ? o.drainDeadlineMs : 5000);
      await allExited();
      clearTimeout(deadline);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(socketDir, { recursive: true, force: true });
    })();
    return closing;
  };

  // Forked once everything they can call into exists (an early exit may stop them all).
  for (const slot of slots) fork(slot);
  return {
    http: server.address() as AddressInfo,
    workers,
    ready,
    drain: () => close(true),
    stop: () => close(false),
  };
}
