// The forwarder (docs/architecture.md §3.4-§3.5): takes a routed request from its source connection
// to the next hop, head first, then body segments as they arrive, then the end-line, never
// holding a whole chunk; answers the previous hop (hop-by-hop, RFC 4975 §7.2) and reports
// later failures to the sender with a failure REPORT (RFC 4975 §7.1.2, RFC 4976 §6.4).
//
// Timeline of one SEND through the relay:
//   begin(head) ─ route ─ next hop known? ─ no: pause source, connect ─┐
//                                          yes ───────────────────────┴─ own the outlet ─ write head
//   body(segment)* ─ write (pause the source while the next hop's socket is full)
//   end(flag) ─ write end-line ─ 200 to the source (per Failure-Report) ─ start the
//   transaction timer ─ next hop answers: non-200 → failure REPORT; silence → REPORT 408.
// If the source goes away mid-chunk, the forwarded chunk is closed with "#": RFC 4975
// §7.1.1 reserves "#" for a message the sender aborted, and a relay session cannot resume
// on another connection, so "+" (more to come) would be a promise nobody can keep.
import { getHeader, type Continuation, type MsrpFrame, type MsrpRequest, type MsrpRequestHead, type MsrpResponse } from '../msrp/frame.ts';
import { parseByteRange, type ByteRange } from '../msrp/headers.ts';
import { buildReport, failureReportOf, reportPolicy, type Outcome } from '../msrp/reports.ts';
import type { FrameWire } from '../msrp/parser.ts';
import { MsrpStatus } from '../msrp/status.ts';
import { forwardedEndLine, serializeForwarded, serializeForwardedHead, serializeForwardedWire, serializeOk, serializeOkWire, toBuffers } from '../msrp/serializer.ts';
import { buildResponse } from '../msrp/transaction.ts';
import type { Connection } from '../transport/connection.ts';
import type { RelayMetrics } from './metrics.ts';
import { NextHopError, type NextHops } from './next-hops.ts';
import type { RelayOptions } from './options.ts';
import { outletOf, writeFrameTo, type Outlet } from './outlet.ts';
import type { Route, Router } from './router.ts';
import type { RelaySession } from './sessions.ts';
import type { Throttle } from './throttle.ts';

type Forward = Extract<Route, { kind: 'forward' }>;

export interface ForwarderDeps {
  options: RelayOptions;
  metrics: RelayMetrics;
  router: Router;
  nextHops: NextHops;
  throttle: Throttle;
  /** Links to the other replicas of this relay (internal/mesh/links.ts); absent on a relay of one. */
  mesh?: { get(ordinal: number): Promise<Connection>; openLink(ordinal: number): Connection | undefined };
  /** Handles a local AUTH (whole frame). */
  auth(source: Connection, request: MsrpRequest, target: Extract<Route, { kind: 'auth' }>['target']): void;
}

/**
 * The transactions we opened on one next-hop connection: by our transaction id (to match
 * responses), and in the order their timers were armed (all with the same timeout, so that
 * is deadline order) for one timer per connection instead of one per transaction.
 */
class Downstream {
  readonly pending = new Map<string, Inbound>();
  /** Armed transactions, oldest first from `head`; entries answered meanwhile are skipped. */
  queue: (Inbound | undefined)[] = [];
  head = 0;
  timer: NodeJS.Timeout | undefined;

  /** Drops answered entries from the front (answers mostly come in order, so this stays short). */
  trim(): void {
    const q = this.queue;
    let h = this.head;
    while (h < q.length && q[h]!.deadline === 0) q[h++] = undefined;
    if (h === q.length) {
      q.length = 0;
      h = 0;
    } else if (h > 1024 && h * 2 > q.length) {
      this.queue = q.slice(h);
      h = 0;
    }
    this.head = h;
  }
}

/** The in-progress transactions we opened on each next-hop connection. */
const downstreams = new WeakMap<Connection, Downstream>();

/** Per-method metric deltas, added to prom-client once per event-loop turn (its calls hash labels every time). */
interface MethodStats {
  frames: number;
  bytes: number;
  /** One latency sample per method and flush (seconds), -1 when none yet. */
  latency: number;
  /** The labelled children, bound once (prom-client hashes a label object on every call). */
  readonly framesChild: { inc(n: number): void };
  readonly bytesChild: { inc(n: number): void };
  readonly latencyChild: { observe(v: number): void };
}

export class Forwarder {
  readonly d: ForwarderDeps;
  /** Requests between head and end-line (graceful drain waits for these). */
  readonly inFlight = new Set<Inbound>();
  readonly #stats = new Map<string, MethodStats>();
  /** Responses we sent, by status (a few hundred statuses at most: 3 digits), batched like MethodStats. */
  readonly #responseCounts = new Map<number, { n: number; readonly child: { inc(n: number): void } }>();
  #flushScheduled = false;
  /** reportPolicy() for an accepted SEND, by Failure-Report value: does it get a 200? */
  readonly #acceptedSendResponse = new Map<string, boolean>();

  constructor(deps: ForwarderDeps) {
    this.d = deps;
  }

  /** Read per transaction: the option may change while the relay runs (engine/live-config.ts). */
  get #timeoutMs(): number {
    return this.d.options.transactionTimeoutSec * 1000;
  }

  /** Counts a forwarded request (batched, see MethodStats). */
  countForwarded(method: string, bytes: number, startedAt: number): void {
    let st = this.#stats.get(method);
    if (st === undefined) {
      const m = this.d.metrics;
      // Methods seen are bounded: the parser accepts UPALPHA names only and the map grows by one per name.
      st = { frames: 0, bytes: 0, latency: -1, framesChild: m.framesForwarded.labels({ method }), bytesChild: m.bytesForwarded.labels({ method }), latencyChild: m.forwardLatency.labels({ method }) };
      this.#stats.set(method, st);
    }
    st.frames++;
    st.bytes += bytes;
    if (st.latency < 0) st.latency = (performance.now() - startedAt) / 1000;
    this.#scheduleFlush();
  }

  #countResponse(status: number): void {
    let rc = this.#responseCounts.get(status);
    if (rc === undefined) this.#responseCounts.set(status, (rc = { n: 0, child: this.d.metrics.responses.labels({ status: String(status) }) }));
    rc.n++;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.flushMetrics());
  }

  /**
   * Adds the batched deltas to the Prometheus metrics. The latency histogram gets one
   * sample per method per event-loop turn (the first request forwarded in it), not one
   * per request: observing every frame cost more than the rest of the bookkeeping.
   */
  flushMetrics(): void {
    this.#flushScheduled = false;
    for (const st of this.#stats.values()) {
      if (st.frames === 0) continue;
      st.framesChild.inc(st.frames);
      st.bytesChild.inc(st.bytes);
      if (st.latency >= 0) st.latencyChild.observe(st.latency);
      st.frames = 0;
      st.bytes = 0;
      st.latency = -1;
    }
    for (const rc of this.#responseCounts.values()) {
      if (rc.n === 0) continue;
      rc.child.inc(rc.n);
      rc.n = 0;
    }
  }

  /**
   * A request head arrived on `source`; `whole` carries the complete frame when it was not
   * streamed, and `wire` where its bytes are when the parser has them (copied, not serialized).
   */
  begin(source: Connection, head: MsrpRequestHead, whole?: MsrpFrame, wire?: FrameWire): Inbound {
    const req = new Inbound(this, source, head, whole !== undefined);
    let size = 0;
    // Indexed loops on the per-frame path: a for-of may allocate an iterator per frame.
    const wb = whole?.body;
    if (wb !== undefined) for (let i = 0; i < wb.length; i++) size += wb[i]!.length;
    // RFC 4975 §7.1: a request other than SEND may be refused with 413 when its body is
    // over 10 KB. A streamed body is always over the threshold (>= the limit).
    const tooLarge = head.method !== 'SEND' && (whole === undefined || size > this.d.options.maxNonSendBody);
    req.start(tooLarge);
    if (whole !== undefined) req.whole(whole.body, size, whole.continuation, wire);
    // Most whole frames are done by now; only the others are in flight (drain waits for them).
    if (!req.done) this.inFlight.add(req);
    return req;
  }

  /** A response arrived on a next-hop connection. */
  onResponse(conn: Connection, res: MsrpResponse): void {
    const ds = downstreams.get(conn);
    const req = ds?.pending.get(res.transactionId);
    if (req === undefined || ds === undefined) {
      this.d.metrics.drops.inc({ reason: 'unmatched-response' });
      return;
    }
    if (!req.completed) {
      // The next hop answered before the end-line (e.g. 413 "stop sending").
      if (res.status >= 300) req.downstreamFailed = res.status;
      return;
    }
    ds.pending.delete(res.transactionId);
    if (req.deadline !== 0) {
      req.deadline = 0;
      ds.trim();
    }
    if (req.head.method !== 'SEND') {
      // Non-SEND requests (AUTH to an outer relay, extensions): the answer goes back to the
      // sender, under the sender's transaction id (RFC 4976 §6.4).
      const back: MsrpResponse = { ...buildResponse(req.head as MsrpRequest, res.status, res.comment), headers: res.headers };
      this.send(req.source, back);
      return;
    }
    if (res.status >= 300) this.failed(req, res.status, 'downstream-failed');
  }

  /** A connection closed: as a next hop, its open transactions fail (reported like a timeout). */
  connectionClosed(conn: Connection): void {
    const ds = downstreams.get(conn);
    if (ds === undefined) return;
    downstreams.delete(conn);
    clearTimeout(ds.timer);
    ds.timer = undefined;
    ds.queue = [];
    ds.head = 0;
    for (const req of ds.pending.values()) {
      req.deadline = 0;
      if (!req.completed) req.downstreamFailed = MsrpStatus.REQUEST_TIMEOUT;
      else if (req.head.method === 'SEND') this.failed(req, MsrpStatus.REQUEST_TIMEOUT, 'downstream-failed');
    }
  }

  /** `req` goes out on `downstream` under our transaction id `tid`: its response is expected there. */
  register(req: Inbound, downstream: Connection, tid: string): void {
    let ds = downstreams.get(downstream);
    if (ds === undefined) downstreams.set(downstream, (ds = new Downstream()));
    if (downstream.closed) req.downstreamFailed = MsrpStatus.REQUEST_TIMEOUT;
    ds.pending.set(tid, req);
  }

  /** `req` is completely written to `downstream`: its response is due within the transaction timeout. */
  armTimer(req: Inbound, downstream: Connection): void {
    const ds = downstreams.get(downstream);
    if (ds === undefined) return; // closed meanwhile: connectionClosed() has answered it
    req.deadline = performance.now() + this.#timeoutMs;
    ds.queue.push(req);
    if (ds.timer === undefined) this.#schedule(ds, this.#timeoutMs);
  }

  /** Forgets `req` on `downstream` without an answer (a failure seen before our end-line). */
  unregister(req: Inbound, downstream: Connection, tid: string): void {
    const ds = downstreams.get(downstream);
    if (ds === undefined) return;
    ds.pending.delete(tid);
    if (req.deadline !== 0) {
      req.deadline = 0;
      ds.trim();
    }
  }

  #schedule(ds: Downstream, delayMs: number): void {
    ds.timer = setTimeout(() => this.#expire(ds), Math.max(0, delayMs));
    ds.timer.unref();
  }

  /** The per-connection timer: fails every transaction past its deadline, re-arms for the next. */
  #expire(ds: Downstream): void {
    ds.timer = undefined;
    const now = performance.now();
    const q = ds.queue;
    while (ds.head < q.length) {
      const req = q[ds.head]!;
      if (req.deadline === 0) {
        q[ds.head++] = undefined;
        continue;
      }
      if (req.deadline > now) break;
      q[ds.head++] = undefined;
      req.deadline = 0;
      ds.pending.delete(req.outTid);
      this.d.metrics.drops.inc({ reason: 'transaction-timeout' });
      // RFC 4975 §7.1.2: 408 is never a response on the wire; the sender learns it by REPORT.
      if (req.head.method === 'SEND') this.failed(req, MsrpStatus.REQUEST_TIMEOUT, 'downstream-failed');
    }
    ds.trim();
    if (ds.head < ds.queue.length) this.#schedule(ds, ds.queue[ds.head]!.deadline - now);
  }

  /** Tells the source about a failure: error response if not yet answered, else a failure REPORT. */
  failed(req: Inbound, status: number, outcome: Outcome, comment?: string): void {
    const fr = failureReportOf(req.head);
    const decision = reportPolicy({ method: req.head.method, failureReport: fr === 'invalid' ? 'yes' : fr, outcome });
    if (outcome === 'rejected' && decision.sendResponse) {
      this.send(req.source, buildResponse(req.head as MsrpRequest, status, comment));
    } else if (decision.sendFailureReport) {
      const report = buildReport(req.head as MsrpRequest, { status, byteRange: req.byteRange() });
      if (report === null) return;
      this.d.metrics.reports.inc({ status: String(status) });
      this.send(req.source, report);
    }
  }

  succeeded(req: Inbound): void {
    if (req.head.method !== 'SEND') return;
    const fr = failureReportOf(req.head);
    let respond = this.#acceptedSendResponse.get(fr);
    if (respond === undefined) {
      respond = reportPolicy({ method: 'SEND', failureReport: fr === 'invalid' ? 'yes' : fr, outcome: 'accepted' }).sendResponse;
      this.#acceptedSendResponse.set(fr, respond);
    }
    if (!respond || req.source.closed) return;
    // buildResponse(request, 200) serialized, straight from the received bytes or the parsed paths.
    const h = req.head;
    const w = req.wire;
    this.#countResponse(MsrpStatus.OK);
    const ok = w !== undefined ? serializeOkWire(h.transactionId, h.fromPath[0]!.length, h.toPath[0]!.length, w) : serializeOk(h.transactionId, h.fromPath[0]!, h.toPath[0]!, req.asciiPaths);
    writeFrameTo(req.source, [ok]);
  }

  /** Writes a frame we generated to `conn`, behind any stream in progress there. */
  send(conn: Connection, frame: MsrpFrame): void {
    if (conn.closed) return;
    if (frame.kind === 'response') this.#countResponse(frame.status);
    writeFrameTo(conn, toBuffers(frame));
  }
}

let inboundSeq = 0;

/** One request travelling through the relay, from its head to its end-line. */
export class Inbound {
  readonly f: Forwarder;
  readonly source: Connection;
  readonly head: MsrpRequestHead;
  readonly streamed: boolean;
  readonly id = ++inboundSeq;
  readonly startedAt = performance.now();
  completed = false;
  /** Where our copy went and its transaction id there, when a response is expected (not REPORT). */
  downstream: Connection | undefined;
  outTid = '';
  /** The paths were printable ASCII on the wire (the parser gave the frame's bytes). */
  asciiPaths = false;
  /** While whole() runs: where the received frame's bytes are (MsrpParser#wire), else undefined. */
  wire: FrameWire | undefined;
  /** A failure seen before our end-line went out; answered when the source's chunk ends. */
  downstreamFailed: number | undefined;
  /** When the next hop's response is due (performance.now() ms); 0 when not waiting for it. */
  deadline = 0;
  #route: Route | undefined;
  #state: 'routing' | 'waiting' | 'active' | 'discard' | 'done' = 'routing';
  #held: Buffer[] | undefined;
  #end: Continuation | undefined;
  #bodyBytes = 0;
  #outlet: Outlet | undefined;
  #rejectStatus = 0;
  #rejectComment: string | undefined;
  #hasBody = true;

  constructor(f: Forwarder, source: Connection, head: MsrpRequestHead, whole: boolean) {
    this.f = f;
    this.source = source;
    this.head = head;
    this.streamed = !whole;
  }

  /** Finished: forwarded whole (end-line written), rejected and answered, or aborted. */
  get done(): boolean {
    return this.#state === 'done';
  }

  byteRange(): ByteRange {
    const v = getHeader(this.head, 'Byte-Range');
    const p = v === undefined ? undefined : parseByteRange(v);
    if (p?.ok === true) return p.value.end === '*' ? { ...p.value, end: p.value.start + this.#bodyBytes - 1 } : p.value;
    return { start: 1, end: this.#bodyBytes, total: this.#bodyBytes };
  }

  start(tooLarge: boolean): void {
    const { d } = this.f;
    if (tooLarge) return this.#reject(MsrpStatus.STOP_SENDING, 'non-send-too-large', 'body too large for a non-SEND request');
    const route = d.router.route(this.source, this.head);
    this.#route = route;
    if (route.kind === 'reject') return this.#reject(route.status, route.reason, route.comment);
    if (route.kind === 'auth') {
      this.#state = 'discard'; // handled as a whole frame in whole()
      return;
    }
    if (d.options.blockedMethods.includes(this.head.method)) return this.#reject(MsrpStatus.FORBIDDEN, 'blocked-method', 'method not relayed here');
    if (route.next.kind === 'session') {
      const conn = route.next.session.connection;
      if (conn.closed) return this.#reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'session-gone');
      return this.#activate(conn, route);
    }
    if (route.next.kind === 'mesh') return this.#viaMesh(route, route.next.ordinal);
    const uri = route.next.uri;
    const key = `connect:${this.id}`;
    this.#state = 'waiting';
    this.source.pause(key);
    d.nextHops.get(uri).then(
      (conn) => {
        this.source.resume(key);
        if (this.#state === 'waiting') this.#activate(conn, route);
      },
      (err: Error) => {
        this.source.resume(key);
        if (this.#state !== 'waiting') return;
        const notAllowed = err instanceof NextHopError && err.code === 'not-allowed';
        this.source.log.info({ err: err.message, nextHop: uri.host }, 'next hop refused or unreachable');
        // 403 when policy forbids the next hop; 481 when it cannot be reached: MSRP has no
        // 5xx, and RFC 4975 §7.3 makes 481 the answer when the session cannot be found.
        this.#reject(notAllowed ? MsrpStatus.FORBIDDEN : MsrpStatus.SESSION_DOES_NOT_EXIST, notAllowed ? 'next-hop-not-allowed' : 'next-hop-unreachable');
        if (this.#end !== undefined) this.#finishRejected();
      },
    );
  }

  /**
   * To the replica that owns the session, over its mesh link (connected on first use). A
   * link that cannot be had is answered as an unreachable next hop is: 481 (RFC 4975 §7.3);
   * one that breaks later fails its open transactions with 408 (connectionClosed).
   */
  #viaMesh(route: Forward, ordinal: number): void {
    const mesh = this.f.d.mesh;
    if (mesh === undefined) return this.#reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'mesh-unavailable', 'session owned by another replica, and no mesh');
    // An open link is used at once, inside the source's read: the frame joins that read's
    // gathered write and is copied from the received bytes, as a same-replica delivery is.
    const open = mesh.openLink(ordinal);
    if (open !== undefined) return this.#activate(open, route);
    const key = `mesh:${this.id}`;
    this.#state = 'waiting';
    this.source.pause(key);
    mesh.get(ordinal).then(
      (conn) => {
        this.source.resume(key);
        if (this.#state === 'waiting') this.#activate(conn, route);
      },
      () => {
        this.source.resume(key);
        if (this.#state !== 'waiting') return;
        this.#reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'mesh-unreachable', `replica ${ordinal} of this relay is unreachable`);
        if (this.#end !== undefined) this.#finishRejected();
      },
    );
  }

  /** The complete frame (not streamed): body slices (`n` bytes in all) and flag at once. */
  whole(body: readonly Buffer[], n: number, flag: Continuation, wire?: FrameWire): void {
    if (wire !== undefined) {
      this.asciiPaths = true;
      this.wire = wire;
      try {
        this.#whole(body, n, flag);
      } finally {
        this.wire = undefined;
      }
      return;
    }
    this.#whole(body, n, flag);
  }

  #whole(body: readonly Buffer[], n: number, flag: Continuation): void {
    this.#hasBody = n > 0;
    if (this.#route?.kind === 'auth') {
      this.#state = 'done';
      this.f.inFlight.delete(this);
      this.f.d.auth(this.source, { ...this.head, body, continuation: flag }, this.#route.target);
      return;
    }
    if (this.#state === 'active') {
      this.#bodyBytes = n;
      if (n > 0) this.#account(n);
      this.#end = flag;
      const out = this.#serializeWhole(body, flag);
      this.#outlet!.write(out, this.source);
      this.#complete();
      return;
    }
    for (const b of body) this.body(b);
    this.end(flag);
  }

  body(segment: Buffer): void {
    this.#bodyBytes += segment.length;
    if (this.#state === 'active') {
      this.#account(segment.length);
      this.#outlet!.write([segment], this.source);
    } else if (this.#state === 'waiting' || this.#state === 'routing') {
      (this.#held ??= []).push(segment);
    }
  }

  end(flag: Continuation): void {
    this.#end = flag;
    if (this.#state === 'active') {
      this.#outlet!.write([forwardedEndLine(this.#outHead().transactionId, flag, this.#hasBody)], this.source);
      this.#complete();
    } else if (this.#state === 'discard') {
      this.#finishRejected();
    }
  }

  /** The source went away (or its frame broke) mid-chunk. */
  abort(): void {
    if (this.#state === 'active' && !this.completed) {
      this.#outlet!.write([forwardedEndLine(this.#outHead().transactionId, '#', this.#hasBody)]);
      this.completed = true;
      this.#outlet!.release();
    }
    this.#state = 'done';
    this.f.inFlight.delete(this);
  }

  /** The forwarded frame: copied from the received bytes when the parser has them, else serialized. */
  #serializeWhole(body: readonly Buffer[], flag: Continuation): Buffer[] {
    const out = this.#outHead();
    const w = this.wire;
    if (w === undefined) return serializeForwarded(out, body, flag);
    // The route passed k of our URIs (router.ts rewrite()): the received To-Path minus the forwarded one.
    const k = this.head.toPath.length - out.toPath.length;
    return serializeForwardedWire(out.transactionId, out.method, k, this.head.toPath, w, flag);
  }

  #outHead(): MsrpRequestHead {
    return (this.#route as Forward).head;
  }

  #account(n: number): void {
    const session = (this.#route as Forward).session;
    // Traffic for another replica's session is accounted and throttled by that replica.
    if (session === undefined) return;
    session.bytesForwarded += n;
    this.f.d.throttle.account(session, n, this.source);
  }

  #activate(conn: Connection, route: Forward): void {
    const outlet = outletOf(conn);
    this.#outlet = outlet;
    if (this.head.method !== 'REPORT') {
      this.downstream = conn;
      this.outTid = route.head.transactionId;
      this.f.register(this, conn, this.outTid);
    }
    if (outlet.tryAcquire()) {
      // The common case: the next hop's connection is free, no closure or pause needed.
      this.#state = 'active';
      if (this.streamed || this.#end !== undefined) this.#flushHeld();
      return;
    }
    const key = `wait:${this.id}`;
    outlet.acquire(() => {
      this.source.resume(key);
      if (this.#state === 'done') {
        outlet.release();
        return;
      }
      this.#state = 'active';
      if (this.streamed || this.#end !== undefined) this.#flushHeld();
    });
    this.#state = 'waiting';
    this.source.pause(key);
  }

  #flushHeld(): void {
    const bufs = [serializeForwardedHead(this.#outHead(), this.#hasBody)];
    let n = 0;
    const held = this.#held;
    if (held !== undefined) {
      for (const b of held) {
        bufs.push(b);
        n += b.length;
      }
      this.#held = undefined;
    }
    if (n > 0) this.#account(n);
    const flag = this.#end;
    if (flag !== undefined) bufs.push(forwardedEndLine(this.#outHead().transactionId, flag, this.#hasBody));
    this.#outlet!.write(bufs, this.source);
    if (flag !== undefined) this.#complete();
  }

  #complete(): void {
    this.f.inFlight.delete(this);
    this.completed = true;
    this.#state = 'done';
    this.#outlet!.release();
    this.f.countForwarded(this.head.method, this.#bodyBytes, this.startedAt);
    const downstream = this.downstream;
    if (downstream === undefined) return; // REPORT: no response expected (RFC 4975 §7.1.2)
    if (this.downstreamFailed !== undefined) {
      this.f.unregister(this, downstream, this.outTid);
      this.f.failed(this, this.downstreamFailed, 'rejected');
      return;
    }
    this.f.succeeded(this);
    this.f.armTimer(this, downstream);
  }

  #reject(status: number, reason: string, comment?: string): void {
    this.#state = 'discard';
    this.#rejectStatus = status;
    this.#rejectComment = comment;
    this.#held = undefined;
    this.f.d.metrics.drops.inc({ reason });
  }

  #finishRejected(): void {
    this.#state = 'done';
    this.f.inFlight.delete(this);
    this.f.failed(this, this.#rejectStatus, 'rejected', this.#rejectComment);
  }
}

export type { RelaySession };
