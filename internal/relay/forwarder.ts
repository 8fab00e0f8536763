// The forwarder (DESIGN.md §3.4-§3.5): takes a routed request from its source connection
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
import { endLine, serializeHead, toBuffers } from '../msrp/serializer.ts';
import { buildResponse } from '../msrp/transaction.ts';
import type { Connection } from '../transport/connection.ts';
import type { RelayMetrics } from './metrics.ts';
import { NextHopError, type NextHops } from './next-hops.ts';
import type { RelayOptions } from './options.ts';
import { outletOf, type Outlet } from './outlet.ts';
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
  /** Handles a local AUTH (whole frame). */
  auth(source: Connection, request: MsrpRequest, target: Extract<Route, { kind: 'auth' }>['target']): void;
}

interface Pending {
  readonly request: Inbound;
  readonly downstream: Connection;
  timer: NodeJS.Timeout | undefined;
  /** A failure seen before our end-line went out; answered when the source's chunk ends. */
  failed: number | undefined;
}

/** The in-progress transactions we opened on each next-hop connection, by our transaction id. */
const pendingByConn = new WeakMap<Connection, Map<string, Pending>>();

export class Forwarder {
  readonly d: ForwarderDeps;
  /** Requests between head and end-line (graceful drain waits for these). */
  readonly inFlight = new Set<Inbound>();
  constructor(deps: ForwarderDeps) {
    this.d = deps;
  }

  /** A request head arrived on `source`; `whole` carries the complete frame when it was not streamed. */
  begin(source: Connection, head: MsrpRequestHead, whole?: MsrpFrame): Inbound {
    const req = new Inbound(this, source, head, whole !== undefined);
    this.inFlight.add(req);
    let size = 0;
    for (const b of whole?.body ?? []) size += b.length;
    // RFC 4975 §7.1: a request other than SEND may be refused with 413 when its body is
    // over 10 KB. A streamed body is always over the threshold (>= the limit).
    const tooLarge = head.method !== 'SEND' && (whole === undefined || size > this.d.options.maxNonSendBody);
    req.start(tooLarge);
    if (whole !== undefined) req.whole(whole.body, whole.continuation);
    return req;
  }

  /** A response arrived on a next-hop connection. */
  onResponse(conn: Connection, res: MsrpResponse): void {
    const map = pendingByConn.get(conn);
    const p = map?.get(res.transactionId);
    if (p === undefined || map === undefined) {
      this.d.metrics.drops.inc({ reason: 'unmatched-response' });
      return;
    }
    const req = p.request;
    if (!req.completed) {
      // The next hop answered before the end-line (e.g. 413 "stop sending").
      if (res.status >= 300) p.failed = res.status;
      return;
    }
    map.delete(res.transactionId);
    clearTimeout(p.timer);
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
    const map = pendingByConn.get(conn);
    if (map === undefined) return;
    pendingByConn.delete(conn);
    for (const p of map.values()) {
      clearTimeout(p.timer);
      if (!p.request.completed) p.failed = 408;
      else if (p.request.head.method === 'SEND') this.failed(p.request, 408, 'downstream-failed');
    }
  }

  register(req: Inbound, downstream: Connection, tid: string): Pending {
    let map = pendingByConn.get(downstream);
    if (map === undefined) pendingByConn.set(downstream, (map = new Map<string, Pending>()));
    const p: Pending = { request: req, downstream, timer: undefined, failed: downstream.closed ? 408 : undefined };
    map.set(tid, p);
    return p;
  }

  armTimer(p: Pending, tid: string): void {
    p.timer = setTimeout(() => {
      pendingByConn.get(p.downstream)?.delete(tid);
      this.d.metrics.drops.inc({ reason: 'transaction-timeout' });
      // RFC 4975 §7.1.2: 408 is never a response on the wire; the sender learns it by REPORT.
      if (p.request.head.method === 'SEND') this.failed(p.request, 408, 'downstream-failed');
    }, this.d.options.transactionTimeoutSec * 1000);
    p.timer.unref();
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
    const fr = failureReportOf(req.head);
    const decision = reportPolicy({ method: req.head.method, failureReport: fr === 'invalid' ? 'yes' : fr, outcome: 'accepted' });
    if (decision.sendResponse && req.head.method === 'SEND') this.send(req.source, buildResponse(req.head as MsrpRequest, 200));
  }

  /** Writes a frame we generated to `conn`, behind any stream in progress there. */
  send(conn: Connection, frame: MsrpFrame): void {
    if (conn.closed) return;
    if (frame.kind === 'response') this.d.metrics.responses.inc({ status: String(frame.status) });
    outletOf(conn).writeFrame(toBuffers(frame));
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
  #route: Route | undefined;
  #state: 'routing' | 'waiting' | 'active' | 'discard' | 'done' = 'routing';
  #held: Buffer[] = [];
  #end: Continuation | undefined;
  #bodyBytes = 0;
  #outlet: Outlet | undefined;
  #pending: Pending | undefined;
  #rejectStatus = 0;
  #rejectComment: string | undefined;
  #hasBody = true;

  constructor(f: Forwarder, source: Connection, head: MsrpRequestHead, whole: boolean) {
    this.f = f;
    this.source = source;
    this.head = head;
    this.streamed = !whole;
  }

  byteRange(): ByteRange {
    const v = getHeader(this.head, 'Byte-Range');
    const p = v === undefined ? undefined : parseByteRange(v);
    if (p?.ok === true) return p.value.end === '*' ? { ...p.value, end: p.value.start + this.#bodyBytes - 1 } : p.value;
    return { start: 1, end: this.#bodyBytes, total: this.#bodyBytes };
  }

  start(tooLarge: boolean): void {
    const { d } = this.f;
    if (tooLarge) return this.#reject(413, 'non-send-too-large', 'body too large for a non-SEND request');
    const route = d.router.route(this.source, this.head);
    this.#route = route;
    if (route.kind === 'reject') return this.#reject(route.status, route.reason, route.comment);
    if (route.kind === 'auth') {
      this.#state = 'discard'; // handled as a whole frame in whole()
      return;
    }
    if (d.options.blockedMethods.includes(this.head.method)) return this.#reject(403, 'blocked-method', 'method not relayed here');
    if (route.next.kind === 'session') {
      const conn = route.next.session.connection;
      if (conn.closed) return this.#reject(481, 'session-gone');
      return this.#activate(conn, route);
    }
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
        this.#reject(notAllowed ? 403 : 481, notAllowed ? 'next-hop-not-allowed' : 'next-hop-unreachable');
        if (this.#end !== undefined) this.#finishRejected();
      },
    );
  }

  /** The complete frame (not streamed): body slices and flag at once. */
  whole(body: readonly Buffer[], flag: Continuation): void {
    let n = 0;
    for (const b of body) n += b.length;
    this.#hasBody = n > 0;
    if (this.#route?.kind === 'auth') {
      this.#state = 'done';
      this.f.inFlight.delete(this);
      this.f.d.auth(this.source, { ...this.head, body, continuation: flag }, this.#route.target);
      return;
    }
    if (this.#state === 'active') {
      this.#bodyBytes = n;
      this.#account(n);
      this.#end = flag;
      this.#outlet!.write([serializeHead(this.#outHead(), this.#hasBody), ...body.filter((b) => b.length > 0),
        endLine(this.#outHead().transactionId, flag, this.#hasBody)], this.source);
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
      this.#held.push(segment);
    }
  }

  end(flag: Continuation): void {
    this.#end = flag;
    if (this.#state === 'active') {
      this.#outlet!.write([endLine(this.#outHead().transactionId, flag, this.#hasBody)], this.source);
      this.#complete();
    } else if (this.#state === 'discard') {
      this.#finishRejected();
    }
  }

  /** The source went away (or its frame broke) mid-chunk. */
  abort(): void {
    if (this.#state === 'active' && !this.completed) {
      this.#outlet!.write([endLine(this.#outHead().transactionId, '#', this.#hasBody)]);
      this.completed = true;
      this.#outlet!.release();
    }
    this.#state = 'done';
    this.f.inFlight.delete(this);
  }

  #outHead(): MsrpRequestHead {
    return (this.#route as Forward).head;
  }

  #account(n: number): void {
    const route = this.#route as Forward;
    route.session.bytesForwarded += n;
    this.f.d.throttle.account(route.session, n, this.source);
  }

  #activate(conn: Connection, route: Forward): void {
    const outlet = outletOf(conn);
    this.#outlet = outlet;
    if (this.head.method !== 'REPORT') this.#pending = this.f.register(this, conn, route.head.transactionId);
    const key = `wait:${this.id}`;
    let queued = false;
    const ran = outlet.acquire(() => {
      if (queued) this.source.resume(key);
      if (this.#state === 'done') {
        outlet.release();
        return;
      }
      this.#state = 'active';
      if (this.streamed || this.#end !== undefined) this.#flushHeld();
    });
    if (!ran) {
      queued = true;
      this.#state = 'waiting';
      this.source.pause(key);
    }
  }

  #flushHeld(): void {
    const bufs = [serializeHead(this.#outHead(), this.#hasBody)];
    for (const b of this.#held) bufs.push(b);
    let n = 0;
    for (const b of this.#held) n += b.length;
    this.#held = [];
    if (n > 0) this.#account(n);
    const flag = this.#end;
    if (flag !== undefined) bufs.push(endLine(this.#outHead().transactionId, flag, this.#hasBody));
    this.#outlet!.write(bufs, this.source);
    if (flag !== undefined) this.#complete();
  }

  #complete(): void {
    this.f.inFlight.delete(this);
    this.completed = true;
    this.#state = 'done';
    this.#outlet!.release();
    const { metrics } = this.f.d;
    const method = this.head.method;
    metrics.framesForwarded.inc({ method });
    metrics.bytesForwarded.inc({ method }, this.#bodyBytes);
    metrics.forwardLatency.observe({ method }, (performance.now() - this.startedAt) / 1000);
    const p = this.#pending;
    if (p === undefined) return; // REPORT: no response expected (RFC 4975 §7.1.2)
    if (p.failed !== undefined) {
      pendingByConn.get(p.downstream)?.delete(this.#outHead().transactionId);
      this.f.failed(this, p.failed, 'rejected');
      return;
    }
    this.f.succeeded(this);
    this.f.armTimer(p, this.#outHead().transactionId);
  }

  #reject(status: number, reason: string, comment?: string): void {
    this.#state = 'discard';
    this.#rejectStatus = status;
    this.#rejectComment = comment;
    this.#held = [];
    this.f.d.metrics.drops.inc({ reason });
  }

  #finishRejected(): void {
    this.#state = 'done';
    this.f.inFlight.delete(this);
    this.f.failed(this, this.#rejectStatus, 'rejected', this.#rejectComment);
  }
}

export type { RelaySession };
