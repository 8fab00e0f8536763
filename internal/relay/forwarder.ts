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
//
// This file is the coordinator; the parts live next to it: inbound.ts (one request's state
// from head to end-line), downstream.ts (the transactions open on each next hop and their
// timer), forward-metrics.ts (metrics batched per event-loop turn), report-policy.ts (what the
// previous hop gets, from internal/msrp/reports.ts).
import type { MsrpFrame, MsrpRequest, MsrpRequestHead, MsrpResponse } from '../msrp/frame.ts';
import { buildReport, type Outcome } from '../msrp/reports.ts';
import type { FrameWire } from '../msrp/parser.ts';
import { MsrpStatus } from '../msrp/status.ts';
import { serializeOk, serializeOkWire, toBuffers } from '../msrp/serializer.ts';
import { buildResponse } from '../msrp/transaction.ts';
import type { Connection } from '../transport/connection.ts';
import { DownstreamTransactions } from './downstream.ts';
import { ForwardMetrics } from './forward-metrics.ts';
import { Inbound } from './inbound.ts';
import type { RelayMetrics } from './metrics.ts';
import type { NextHops } from './next-hops.ts';
import type { RelayOptions } from './options.ts';
import { writeFrameTo } from './outlet.ts';
import { AcceptedSendResponses, failureDecision } from './report-policy.ts';
import type { Route, Router } from './router.ts';
import type { RelaySession } from './sessions.ts';
import type { Throttle } from './throttle.ts';

export interface ForwarderDeps {
  options: RelayOptions;
  metrics: RelayMetrics;
  router: Router;
  nextHops: NextHops;
  throttle: Throttle;
  /** Links to the other replicas of this relay (internal/mesh/links.ts); absent on a relay of one. */
  mesh?: { get(ordinal: number): Promise<Connection>; openLink(ordinal: number): Connection | undefined };
  /** Links to the other workers of this replica (internal/mesh/worker-links.ts); absent with one worker. */
  workers?: { get(worker: number): Promise<Connection>; openLink(worker: number): Connection | undefined };
  /** Handles a local AUTH (whole frame). */
  auth(source: Connection, request: MsrpRequest, target: Extract<Route, { kind: 'auth' }>['target']): void;
}

export class Forwarder {
  readonly d: ForwarderDeps;
  /** Requests between head and end-line (graceful drain waits for these). */
  readonly inFlight = new Set<Inbound>();
  /** Forwarded frames, bytes, latency and responses sent, batched per event-loop turn. */
  readonly stats: ForwardMetrics;
  /** The transactions we opened on each next-hop connection, with one timer per connection. */
  readonly #downstream: DownstreamTransactions<Inbound, Connection>;
  readonly #acceptedSendResponses = new AcceptedSendResponses();

  constructor(deps: ForwarderDeps) {
    this.d = deps;
    this.stats = new ForwardMetrics(deps.metrics);
    this.#downstream = new DownstreamTransactions<Inbound, Connection>({
      // Read per transaction: the option may change while the relay runs (engine/live-config.ts).
      timeoutMs: () => this.d.options.transactionTimeoutSec * 1000,
      expired: (req) => {
        this.d.metrics.drops.inc({ reason: 'transaction-timeout' });
        // RFC 4975 §7.1.2: 408 is never a response on the wire; the sender learns it by REPORT.
        if (req.head.method === 'SEND') this.failed(req, MsrpStatus.REQUEST_TIMEOUT, 'downstream-failed');
      },
    });
  }

  /** Adds the batched metrics to Prometheus now (forward-metrics.ts). */
  flushMetrics(): void {
    this.stats.flush();
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
    const req = this.#downstream.pending(conn, res.transactionId);
    if (req === undefined) {
      this.d.metrics.drops.inc({ reason: 'unmatched-response' });
      return;
    }
    if (req.interrupted && res.transactionId !== req.outTid) {
      // The answer to a piece of an interrupted chunk (inbound.ts, RFC 4975 §7.1.1): a
      // failure is the chunk's failure; a 200 only closes that piece's transaction.
      this.#downstream.forget(conn, res.transactionId);
      if (res.status < 300) return;
      if (!req.completed) req.downstreamFailed = res.status;
      else if (req.head.method === 'SEND' && req.deadline !== 0) {
        this.#downstream.settle(req, conn, req.outTid);
        this.failed(req, res.status, 'downstream-failed');
      }
      return;
    }
    if (!req.completed) {
      // The next hop answered before the end-line (e.g. 413 "stop sending").
      if (res.status >= 300) req.downstreamFailed = res.status;
      return;
    }
    this.#downstream.settle(req, conn, res.transactionId);
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
    const open = this.#downstream.closed(conn);
    if (open === undefined) return;
    // A set: an interrupted chunk is open under the id of each piece still unanswered.
    for (const req of new Set(open)) {
      if (!req.completed) req.downstreamFailed = MsrpStatus.REQUEST_TIMEOUT;
      else if (req.head.method === 'SEND') this.failed(req, MsrpStatus.REQUEST_TIMEOUT, 'downstream-failed');
    }
  }

  /** `req` goes out on `downstream` under our transaction id `tid`: its response is expected there. */
  register(req: Inbound, downstream: Connection, tid: string): void {
    if (downstream.closed) req.downstreamFailed = MsrpStatus.REQUEST_TIMEOUT;
    this.#downstream.register(req, downstream, tid);
  }

  /** `req` is completely written to `downstream`: its response is due within the transaction timeout. */
  armTimer(req: Inbound, downstream: Connection): void {
    this.#downstream.arm(req, downstream);
  }

  /** Forgets `req` on `downstream` without an answer (a failure seen before our end-line). */
  unregister(req: Inbound, downstream: Connection, tid: string): void {
    this.#downstream.settle(req, downstream, tid);
  }

  /** Tells the source about a failure: error response if not yet answered, else a failure REPORT. */
  failed(req: Inbound, status: number, outcome: Outcome, comment?: string): void {
    const decision = failureDecision(req.head, outcome);
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
    if (!this.#acceptedSendResponses.respond(req.head) || req.source.closed) return;
    // buildResponse(request, 200) serialized, straight from the received bytes or the parsed paths.
    const h = req.head;
    const w = req.wire;
    this.stats.response(MsrpStatus.OK);
    const ok = w !== undefined ? serializeOkWire(h.transactionId, h.fromPath[0]!.length, h.toPath[0]!.length, w) : serializeOk(h.transactionId, h.fromPath[0]!, h.toPath[0]!, req.asciiPaths);
    writeFrameTo(req.source, [ok]);
  }

  /** Writes a frame we generated to `conn`, behind any stream in progress there. */
  send(conn: Connection, frame: MsrpFrame): void {
    if (conn.closed) return;
    if (frame.kind === 'response') this.stats.response(frame.status);
    writeFrameTo(conn, toBuffers(frame));
  }
}

export type { RelaySession };
