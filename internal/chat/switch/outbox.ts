// What the switch writes to one MSRP connection, in order, bounded in bytes.
//
// Frames cannot interleave on a connection (RFC 4975 §7.1), so a frame whose body is still
// arriving from its sender (a chunk forwarded as it comes) holds the connection until its
// end-line; frames behind it wait here. A large chunk does not make them wait for all of
// it: RFC 4975 §7.1.1 lets the sender of a chunk interrupt it (end-line "+" after fewer
// bytes than announced) and send the rest as a new chunk, so once a large frame has written
// INTERRUPT_QUANTUM_BYTES since its head and another frame is ready, the outbox ends it with
// "+", writes the ready frames, then resumes it (a new head from the frame's resume(), same
// Message-ID, Byte-Range from the next byte). Only frames whose chunk is large or of unknown
// length are interrupted; a frame is started only once it has bytes to write. Unlike the relay (docs/architecture.md §3.4) the switch never
// pauses a sender because one recipient is slow: that would let one participant slow the
// room. Instead every recipient connection gets a byte budget covering what waits here
// plus what its socket has not yet handed to the kernel; past it the outbox reports an
// overflow once and the switch removes the participant(s) behind it. Body slices are
// shared by reference between the recipients of a message, never copied.
//
// Before a participant has connected (RFC 4975 §5.4: the passive side waits for the
// active one) its frames park in an unbound outbox, which the connection's outbox adopts
// when the first frame arrives.
import type { Continuation } from '../../msrp/frame.ts';
import { INTERRUPT_QUANTUM_BYTES } from '../../msrp/chunker.ts';
import { endLine } from '../../msrp/serializer.ts';
import type { Connection } from '../../transport/connection.ts';

export interface OutFrame {
  /** The head of the piece to write next (replaced when the frame is resumed). */
  head: Buffer;
  transactionId: string;
  readonly hasBody: boolean;
  /** Body slices received but not yet written. */
  segments: Buffer[];
  end: Continuation | undefined;
  started: boolean;
  /** The frame was dropped with its outbox. */
  dead: boolean;
  /**
   * The head and transaction id of the rest of this chunk once `written` body bytes went out
   * (RFC 4975 §7.1.1); undefined for frames never interrupted.
   */
  readonly resume: ((written: number) => { head: Buffer; transactionId: string }) | undefined;
  /** Body bytes written, over all pieces. */
  written: number;
  /** Body bytes written since the head of the current piece. */
  pieceBytes: number;
}

export class Outbox {
  readonly #limit: number;
  readonly #onOverflow: (o: Outbox) => void;
  /** Frames not on the wire: not started yet, or interrupted and waiting to resume. */
  #queue: OutFrame[] = [];
  #queued = 0;
  /** The frame on the wire: its head went out, its end-line not yet. */
  #current: OutFrame | undefined;
  #conn: Connection | undefined;
  #overflowed = false;
  #closed = false;
  /** Frames written to the connection (for tests and metrics). */
  framesWritten = 0;
  /** Chunks interrupted to let other frames through (RFC 4975 §7.1.1). */
  interruptions = 0;

  constructor(limit: number, onOverflow: (o: Outbox) => void) {
    this.#limit = limit;
    this.#onOverflow = onOverflow;
  }

  get connection(): Connection | undefined {
    return this.#conn;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes waiting: queued here plus accepted by the socket but not yet sent. */
  get pendingBytes(): number {
    return this.#queued + (this.#conn?.bufferedBytes ?? 0);
  }

  get limit(): number {
    return this.#limit;
  }

  /**
   * Starts a frame; its body follows with data() and its end-line with end(). `resume`
   * makes it interruptible: the head of the rest of the chunk after `written` body bytes.
   */
  open(head: Buffer, transactionId: string, hasBody: boolean, resume?: (written: number) => { head: Buffer; transactionId: string }): OutFrame {
    const f: OutFrame = { head, transactionId, hasBody, segments: [], end: undefined, started: false, dead: this.#closed, resume, written: 0, pieceBytes: 0 };
    if (this.#closed) return f;
    this.#queue.push(f);
    this.#queued += head.length;
    // Started once it has something to write (pump), so it never holds the wire idle.
    return f;
  }

  data(f: OutFrame, segment: Buffer): void {
    if (f.dead || f.end !== undefined || segment.length === 0) return;
    if (f === this.#current && this.#conn !== undefined) {
      this.#conn.writeBuffers([segment]);
      f.written += segment.length;
      f.pieceBytes += segment.length;
      // The common case (nothing else waiting) costs one length check.
      if (this.#queue.length > 0 && f.pieceBytes >= INTERRUPT_QUANTUM_BYTES && f.resume !== undefined) this.#pump();
      else this.#check();
      return;
    }
    f.segments.push(segment);
    this.#queued += segment.length;
    this.#pump();
  }

  end(f: OutFrame, flag: Continuation): void {
    if (f.dead || f.end !== undefined) return;
    f.end = flag;
    this.#pump();
  }

  /** A complete frame in one go (responses, REPORTs, notices). */
  write(bufs: readonly Buffer[]): void {
    if (this.#closed) return;
    const f: OutFrame = {
      head: bufs[0] ?? Buffer.alloc(0), transactionId: '', hasBody: false, segments: bufs.slice(1), end: '$',
      started: false, dead: false, resume: undefined, written: 0, pieceBytes: 0,
    };
    for (const b of bufs) this.#queued += b.length;
    this.#queue.push(f);
    this.#pump();
  }

  /** Binds to the connection the participant's traffic arrived on; queued frames go out. */
  bind(conn: Connection): void {
    this.#conn = conn;
    this.#pump();
  }

  /** Takes over the frames parked in an unbound outbox (same order), which is closed. */
  adopt(parked: Outbox): void {
    for (const f of parked.#queue) {
      this.#queue.push(f);
      this.#queued += f.head.length;
      for (const s of f.segments) this.#queued += s.length;
    }
    parked.#queue = [];
    parked.#queued = 0;
    parked.#closed = true;
    this.#pump();
  }

  /** Drops everything; frames still being fed become no-ops. */
  close(): void {
    this.#closed = true;
    for (const f of this.#queue) f.dead = true;
    if (this.#current !== undefined) this.#current.dead = true;
    this.#current = undefined;
    this.#queue = [];
    this.#queued = 0;
  }

  #pump(): void {
    const conn = this.#conn;
    if (conn !== undefined && !conn.closed) {
      for (;;) {
        const cur = this.#current;
        if (cur === undefined) {
          const i = this.#nextReady();
          if (i < 0) break;
          const f = this.#queue.splice(i, 1)[0]!;
          f.started = true;
          this.#queued -= f.head.length;
          this.#current = f;
          this.#flush(conn, f, f.head.length > 0 ? [f.head] : []);
          continue;
        }
        if (cur.segments.length > 0 || cur.end !== undefined) {
          this.#flush(conn, cur, []);
          if (this.#current === cur) break;
          continue;
        }
        // The frame on the wire waits for its sender: a large one lets ready frames by.
        if (cur.resume === undefined || cur.pieceBytes < INTERRUPT_QUANTUM_BYTES || this.#nextReady() < 0) break;
        this.#interrupt(conn, cur);
      }
    }
    this.#check();
  }

  /** Writes a frame's pending segments (after `bufs`), and its end-line when it has one. */
  #flush(conn: Connection, f: OutFrame, bufs: Buffer[]): void {
    for (const s of f.segments) {
      this.#queued -= s.length;
      f.written += s.length;
      f.pieceBytes += s.length;
      bufs.push(s);
    }
    f.segments = [];
    if (f.end !== undefined) {
      // Frames built by write() carry their end-line in their segments already.
      if (f.transactionId !== '') bufs.push(endLine(f.transactionId, f.end, f.hasBody));
      this.#current = undefined;
      this.framesWritten++;
    } else if (f.resume !== undefined && f.pieceBytes >= INTERRUPT_QUANTUM_BYTES && this.#nextReady() >= 0) {
      if (bufs.length > 0) conn.writeBuffers(bufs);
      this.#interrupt(conn, f);
      return;
    }
    if (bufs.length > 0) conn.writeBuffers(bufs);
  }

  /**
   * RFC 4975 §7.1.1: ends the piece on the wire with "+" (fewer bytes than its Byte-Range
   * announced are allowed) and queues the rest of the chunk behind the ready frames.
   */
  #interrupt(conn: Connection, f: OutFrame): void {
    conn.writeBuffers([endLine(f.transactionId, '+', f.hasBody)]);
    const next = f.resume!(f.written);
    f.head = next.head;
    f.transactionId = next.transactionId;
    f.started = false;
    f.pieceBytes = 0;
    this.#queued += f.head.length;
    this.#queue.push(f);
    this.#current = undefined;
    this.interruptions++;
  }

  /** Index of the first queued frame with something to write, or -1. */
  #nextReady(): number {
    const q = this.#queue;
    for (let i = 0; i < q.length; i++) {
      const f = q[i]!;
      if (f.segments.length > 0 || f.end !== undefined) return i;
    }
    return -1;
  }

  #check(): void {
    if (this.#overflowed || this.#closed || this.pendingBytes <= this.#limit) return;
    this.#overflowed = true;
    // Not re-entrant: the owner removes participants, which closes outboxes being iterated.
    queueMicrotask(() => this.#onOverflow(this));
  }
}
