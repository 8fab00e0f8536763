// What the switch writes to one MSRP connection, in order, bounded in bytes.
//
// Frames cannot interleave on a connection (RFC 4975 §7.1), so a frame whose body is still
// arriving from its sender (a chunk forwarded as it comes) holds the connection until its
// end-line; frames behind it wait here. Unlike the relay (docs/architecture.md §3.4) the switch never
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
import { endLine } from '../../msrp/serializer.ts';
import type { Connection } from '../../transport/connection.ts';

export interface OutFrame {
  readonly head: Buffer;
  readonly transactionId: string;
  readonly hasBody: boolean;
  /** Body slices received but not yet written. */
  segments: Buffer[];
  end: Continuation | undefined;
  started: boolean;
  /** The frame was dropped with its outbox. */
  dead: boolean;
}

export class Outbox {
  readonly #limit: number;
  readonly #onOverflow: (o: Outbox) => void;
  #queue: OutFrame[] = [];
  #queued = 0;
  #conn: Connection | undefined;
  #overflowed = false;
  #closed = false;
  /** Frames written to the connection (for tests and metrics). */
  framesWritten = 0;

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

  /** Starts a frame; its body follows with data() and its end-line with end(). */
  open(head: Buffer, transactionId: string, hasBody: boolean): OutFrame {
    const f: OutFrame = { head, transactionId, hasBody, segments: [], end: undefined, started: false, dead: this.#closed };
    if (this.#closed) return f;
    this.#queue.push(f);
    this.#queued += head.length;
    this.#pump();
    return f;
  }

  data(f: OutFrame, segment: Buffer): void {
    if (f.dead || f.end !== undefined || segment.length === 0) return;
    if (f.started && this.#queue[0] === f && this.#conn !== undefined) {
      this.#conn.writeBuffers([segment]);
      this.#check();
      return;
    }
    f.segments.push(segment);
    this.#queued += segment.length;
    this.#check();
  }

  end(f: OutFrame, flag: Continuation): void {
    if (f.dead || f.end !== undefined) return;
    f.end = flag;
    if (this.#queue[0] === f) this.#pump();
  }

  /** A complete frame in one go (responses, REPORTs, notices). */
  write(bufs: readonly Buffer[]): void {
    if (this.#closed) return;
    const f: OutFrame = { head: bufs[0] ?? Buffer.alloc(0), transactionId: '', hasBody: false, segments: bufs.slice(1), end: '$', started: false, dead: false };
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
    this.#queue = [];
    this.#queued = 0;
  }

  #pump(): void {
    const conn = this.#conn;
    if (conn !== undefined && !conn.closed) {
      while (this.#queue.length > 0) {
        const f = this.#queue[0]!;
        const bufs: Buffer[] = [];
        if (!f.started) {
          f.started = true;
          this.#queued -= f.head.length;
          if (f.head.length > 0) bufs.push(f.head);
        }
        for (const s of f.segments) {
          this.#queued -= s.length;
          bufs.push(s);
        }
        f.segments = [];
        const done = f.end !== undefined;
        if (done) {
          // Frames built by write() carry their end-line in their segments already.
          if (f.transactionId !== '') bufs.push(endLine(f.transactionId, f.end!, f.hasBody));
          this.#queue.shift();
          this.framesWritten++;
        }
        if (bufs.length > 0) conn.writeBuffers(bufs);
        if (!done) break;
      }
    }
    this.#check();
  }

  #check(): void {
    if (this.#overflowed || this.#closed || this.pendingBytes <= this.#limit) return;
    this.#overflowed = true;
    // Not re-entrant: the owner removes participants, which closes outboxes being iterated.
    queueMicrotask(() => this.#onOverflow(this));
  }
}
