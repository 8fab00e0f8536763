// One request travelling through the relay, from its head to its end-line (docs/architecture.md
// §3.4): routed, then waiting for its next hop (a connection being made, a mesh link, or the
// next hop's outlet busy with another stream), then active (head, body segments and end-line
// written as they arrive), or discarded (refused: the rest of the chunk is read and dropped,
// and the refusal answered when it ends). Whole frames take a shorter path (whole()): copied
// from the received bytes in one write when the outlet is free.
//
// A large streamed SEND shares its next hop's connection (a relay-to-relay link carries many
// sessions): once it wrote INTERRUPT_QUANTUM_BYTES since its head and other writers wait for
// the outlet, it is interrupted (RFC 4975 §7.1.1): end-line "+", the outlet goes to the
// waiters, and the rest follows as a new chunk (new transaction id, same Message-ID,
// Byte-Range from the next byte) when the outlet is ours again. The source is paused
// meanwhile, as for any writer that waits.
import { getHeader, type Continuation, type MsrpHeader, type MsrpRequestHead } from '../msrp/frame.ts';
import { INTERRUPT_QUANTUM_BYTES, interruptibleRange, resumedByteRange } from '../msrp/chunker.ts';
import { parseByteRange, type ByteRange } from '../msrp/headers.ts';
import { failureReportOf } from '../msrp/reports.ts';
import { newTransactionId } from '../msrp/transaction.ts';
import type { FrameWire } from '../msrp/parser.ts';
import { forwardedEndLine, serializeForwarded, serializeForwardedHead, serializeForwardedWire } from '../msrp/serializer.ts';
import { MsrpStatus } from '../msrp/status.ts';
import type { Connection } from '../transport/connection.ts';
import type { Forwarder, ForwarderDeps } from './forwarder.ts';
import { NextHopError } from './next-hops.ts';
import { outletOf, type Outlet } from './outlet.ts';
import type { Route } from './router.ts';

type Forward = Extract<Route, { kind: 'forward' }>;

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
  /** A streamed request's piece on the wire (RFC 4975 §7.1.1); undefined for whole frames, which never yield. */
  #piece: Piece | undefined;

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
    if (route.next.kind === 'mesh') return this.#viaLink(route, this.f.d.mesh, route.next.ordinal, 'replica');
    if (route.next.kind === 'worker') return this.#viaLink(route, this.f.d.workers, route.next.worker, 'worker');
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
   * To the replica (mesh) or the worker of this replica (worker links) that owns the session,
   * over its link (connected on first use). A link that cannot be had is answered as an
   * unreachable next hop is: 481 (RFC 4975 §7.3); one that breaks later fails its open
   * transactions with 408 (connectionClosed).
   */
  #viaLink(route: Forward, links: ForwarderDeps['mesh'], k: number, what: 'replica' | 'worker'): void {
    if (links === undefined) return this.#reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'mesh-unavailable', `session owned by another ${what}, and no link to it`);
    // An open link is used at once, inside the source's read: the frame joins that read's
    // gathered write and is copied from the received bytes, as a same-replica delivery is.
    const open = links.openLink(k);
    if (open !== undefined) return this.#activate(open, route);
    const key = `mesh:${this.id}`;
    this.#state = 'waiting';
    this.source.pause(key);
    links.get(k).then(
      (conn) => {
        this.source.resume(key);
        if (this.#state === 'waiting') this.#activate(conn, route);
      },
      () => {
        this.source.resume(key);
        if (this.#state !== 'waiting') return;
        this.#reject(MsrpStatus.SESSION_DOES_NOT_EXIST, 'mesh-unreachable', what === 'replica' ? `replica ${k} of this relay is unreachable` : `worker ${k} of this replica is unreachable`);
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
      const outlet = this.#outlet!;
      outlet.write([segment], this.source);
      // One addition and one comparison per segment unless others wait for this connection.
      const piece = this.#piece;
      if (piece !== undefined && (piece.bytes += segment.length) >= INTERRUPT_QUANTUM_BYTES && outlet.waiting) this.#yield();
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

  /**
   * The source went away (or its frame broke) mid-chunk. Its transaction downstream is
   * forgotten: never armed, it would stay open on a shared next-hop connection until that
   * closes; an answer to the aborted chunk is then an unmatched response.
   */
  abort(): void {
    if (this.#state === 'active' && !this.completed) {
      this.#outlet!.write([forwardedEndLine(this.#outHead().transactionId, '#', this.#hasBody)]);
      this.completed = true;
      if (this.#piece !== undefined) this.#stopYielding();
      this.#outlet!.release();
    }
    if (this.#state !== 'done' && this.downstream !== undefined) this.f.unregister(this, this.downstream, this.outTid);
    this.#state = 'done';
    this.f.inFlight.delete(this);
  }

  /**
   * RFC 4975 §7.1.1: lets the writers waiting for the outlet go first when this is a large
   * chunk that wrote its quantum since its head; the rest of it waits its turn behind them.
   */
  #yield(): void {
    const piece = this.#piece;
    if (piece === undefined || this.#state !== 'active' || this.completed || this.#end !== undefined || piece.bytes < INTERRUPT_QUANTUM_BYTES || !this.#outlet!.waiting) return;
    if (piece.range === undefined) {
      const v = getHeader(this.head, 'Byte-Range');
      const p = v === undefined ? undefined : parseByteRange(v);
      const announced: ByteRange = p?.ok === true ? p.value : { start: 1, end: '*', total: '*' };
      piece.range = this.head.method === 'SEND' && this.#hasBody && interruptibleRange(p?.ok === true ? p.value : undefined) ? announced : false;
    }
    const range = piece.range;
    if (range === false) return;
    const outlet = this.#outlet!;
    const head = this.#outHead();
    outlet.write([forwardedEndLine(head.transactionId, '+', true)], this.source);
    this.f.d.metrics.chunksInterrupted.inc();
    // The piece that went out is a transaction of its own at the next hop: with
    // Failure-Report "yes" its answer comes back under its id (Forwarder.onResponse), else
    // none comes and it is forgotten now.
    const downstream = this.downstream;
    if (downstream !== undefined && failureReportOf(this.head) !== 'yes') this.f.unregister(this, downstream, head.transactionId);
    const tid = newTransactionId();
    piece.head = { ...head, transactionId: tid, headers: withByteRange(head.headers, resumedByteRange(range, this.#bodyBytes)) };
    if (downstream !== undefined) {
      this.outTid = tid;
      this.f.register(this, downstream, tid);
    }
    piece.bytes = 0;
    this.#stopYielding();
    const key = `resume:${this.id}`;
    this.#state = 'waiting';
    this.source.pause(key);
    outlet.release();
    outlet.acquire(() => {
      this.source.resume(key);
      if (this.#state === 'done') {
        // Aborted while waiting: the message it started is closed with "#" (an empty piece).
        const h = this.#outHead();
        outlet.write([serializeForwardedHead(h, true), forwardedEndLine(h.transactionId, '#', true)]);
        outlet.release();
        return;
      }
      this.#state = 'active';
      this.#flushHeld();
    });
  }

  /** True once the chunk was interrupted: its answer comes under the id of its last piece (Forwarder.onResponse). */
  get interrupted(): boolean {
    return this.#piece?.head !== undefined;
  }

  /** While a streamed request holds the outlet, it hears of writers that start waiting; `bytes` were written since its head. */
  #startYielding(outlet: Outlet, bytes: number): void {
    if (!this.streamed) return;
    const piece = (this.#piece ??= { bytes: 0, head: undefined, range: undefined, onWait: () => this.#yield() });
    piece.bytes = bytes;
    outlet.onWait = piece.onWait;
  }

  #stopYielding(): void {
    const o = this.#outlet;
    const fn = this.#piece?.onWait;
    if (o !== undefined && fn !== undefined && o.onWait === fn) o.onWait = undefined;
  }

  /** The forwarded frame: copied from the received bytes when the parser has them, else serialized. */
  #serializeWhole(body: readonly Buffer[], flag: Continuation): Buffer[] {
    const w = this.wire;
    if (w === undefined) return serializeForwarded(this.#outHead(), body, flag);
    // A whole frame is never interrupted: the route's head, of which only the transaction id
    // and the k of our URIs passed (router.ts rewrite()) are needed to copy the received bytes.
    const route = this.#route as Forward;
    return serializeForwardedWire(route.transactionId, this.head.method, route.passed, this.head.toPath, w, flag);
  }

  #outHead(): MsrpRequestHead {
    return this.#piece?.head ?? (this.#route as Forward).head;
  }

  #account(n: number): void {
    const route = this.#route as Forward;
    // Delivered to one of our clients (accounting: bytes out of its session).
    if (route.next.kind === 'session') route.next.session.bytesOut += n;
    const session = route.session;
    // Traffic for another replica's session is accounted and throttled by that replica.
    if (session === undefined) return;
    session.bytesForwarded += n;
    if (this.source === session.connection) session.bytesIn += n;
    this.f.d.throttle.account(session, n, this.source);
  }

  /** A SEND's last chunk went through: one message each way it counts (accounting). */
  #countMessage(): void {
    if (this.head.method !== 'SEND' || this.#end !== '$') return;
    const route = this.#route as Forward;
    if (route.next.kind === 'session') route.next.session.messagesOut++;
    const session = route.session;
    if (session !== undefined && this.source === session.connection) session.messagesIn++;
  }

  #activate(conn: Connection, route: Forward): void {
    const outlet = outletOf(conn);
    this.#outlet = outlet;
    if (this.head.method !== 'REPORT') {
      this.downstream = conn;
      this.outTid = route.transactionId;
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
    if (flag !== undefined) return this.#complete();
    this.#startYielding(this.#outlet!, n);
    if (n >= INTERRUPT_QUANTUM_BYTES && this.#outlet!.waiting) this.#yield();
  }

  #complete(): void {
    this.f.inFlight.delete(this);
    this.completed = true;
    this.#state = 'done';
    if (this.#piece !== undefined) this.#stopYielding();
    this.#outlet!.release();
    this.f.stats.forwarded(this.head.method, this.#bodyBytes, this.startedAt);
    this.#countMessage();
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

/** `headers` with Byte-Range set to `value` (the resumed piece of an interrupted chunk). */
function withByteRange(headers: readonly MsrpHeader[], value: string): MsrpHeader[] {
  const out: MsrpHeader[] = [];
  let set = false;
  for (const h of headers) {
    if (h.name.toLowerCase() === 'byte-range') {
      if (!set) out.push({ name: h.name, value });
      set = true;
    } else {
      out.push(h);
    }
  }
  // RFC 4975 §7.1.1: a Byte-Range is required on every chunk but the lone one; put it after Message-ID.
  if (!set) out.splice(Math.max(0, out.findIndex((h) => h.name.toLowerCase() === 'message-id') + 1), 0, { name: 'Byte-Range', value });
  return out;
}

/** The piece of a streamed chunk on the wire, for interruption (RFC 4975 §7.1.1). */
interface Piece {
  /** Body bytes written since the piece's head. */
  bytes: number;
  /** The head of the piece once the chunk was interrupted; undefined: the routed head. */
  head: MsrpRequestHead | undefined;
  /** The chunk's announced range when it may be interrupted, false when not; undefined until needed. */
  range: ByteRange | false | undefined;
  /** Outlet.onWait while this stream holds the outlet. */
  readonly onWait: () => void;
}
