// One MSRP connection: a socket, a frame reader feeding the relay, and a writer that
// puts a frame on the wire with one cork/uncork (head + body slices + end-line, so the
// kernel sees one writev), plus the two flow-control duties of DESIGN.md §3.4:
//  - pausing: reading from this socket stops while any reason to pause is held
//    (a full downstream socket, a throttle), and resumes when all are released;
//  - bounding: bytes queued for writing on this socket past `maxBufferedBytes`
//    mean the peer does not read; the connection is destroyed rather than let
//    memory grow (the sources feeding it are paused long before that point).
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Continuation, MsrpFrame, MsrpHead } from '../msrp/frame.ts';
import type { MsrpParseError } from '../msrp/errors.ts';
import { createFrameReader, type FrameReader, type FrameReaderLimits, type FrameSink } from './framing.ts';
import { toBuffers } from './framing.ts';

export interface FrameHandler {
  /** A complete frame (small bodies arrive whole, as slices). */
  onFrame(conn: Connection, frame: MsrpFrame): void;
  /** A streamed request starts: body segments and then the end follow. */
  onHead(conn: Connection, head: MsrpHead): void;
  onBody(conn: Connection, segment: Buffer): void;
  onEnd(conn: Connection, continuation: Continuation): void;
  onParseError(conn: Connection, error: MsrpParseError): void;
  onClose(conn: Connection): void;
}

export interface ConnectionOptions {
  id: string;
  socket: Socket | TLSSocket;
  direction: 'inbound' | 'outbound';
  /** The connection's logger, or a function creating it on first use (most connections never log). */
  logger: Logger | (() => Logger);
  limits: FrameReaderLimits;
  /** Hard cap on bytes queued for writing (socket.writableLength). */
  maxBufferedBytes: number;
  handler: FrameHandler;
}

// Writes made while a read is dispatched (parser → relay → writeBuffers on any connection)
// are corked and leave together when the read is done: one writev per destination per read
// instead of one per frame, which is most of the CPU cost of small frames. Writes from
// elsewhere (timers, AUTH completions, drain callbacks) still go out at once.
let dispatching = 0;
const corkedDuringRead = new Set<Socket | TLSSocket>();

function uncorkAll(): void {
  for (const s of corkedDuringRead) s.uncork();
  corkedDuringRead.clear();
}

/** The Connection behind a socket, for the shared listeners below (no closures per connection). */
const kConnection = Symbol('msrp.connection');
type OwnedSocket = (Socket | TLSSocket) & { [kConnection]?: Connection };

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kConnection]?.received(chunk);
}

function onSocketError(this: OwnedSocket, err: Error): void {
  this[kConnection]?.log.debug({ err }, 'socket error');
}

function onSocketClose(this: OwnedSocket): void {
  this[kConnection]?.socketClosed();
}

/** Feeds parser events to the connection's handler (methods on a prototype, not closures). */
class ReaderSink implements FrameSink {
  readonly conn: Connection;
  handler: FrameHandler;
  constructor(conn: Connection, handler: FrameHandler) {
    this.conn = conn;
    this.handler = handler;
  }
  onFrame(f: MsrpFrame): void {
    this.handler.onFrame(this.conn, f);
  }
  onHead(h: MsrpHead): void {
    this.handler.onHead(this.conn, h);
  }
  onBody(b: Buffer): void {
    this.handler.onBody(this.conn, b);
  }
  onEnd(c: Continuation): void {
    this.handler.onEnd(this.conn, c);
  }
  onError(e: MsrpParseError): void {
    this.handler.onParseError(this.conn, e);
  }
}

let counter = 0;
/** Short, process-unique connection ids for logs (`conn` field). */
export function nextConnectionId(prefix: string): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${prefix}${counter.toString(36)}`;
}

export class Connection {
  readonly id: string;
  readonly socket: Socket | TLSSocket;
  readonly direction: 'inbound' | 'outbound';
  #log: Logger | (() => Logger);
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly secure: boolean;
  readonly openedAt = Date.now();
  readonly #maxBuffered: number;
  readonly #reader: FrameReader;
  readonly #sink: ReaderSink;
  /** Reasons reading is paused; allocated on the first pause (most connections never pause). */
  #pauses: Set<string> | undefined;
  #closed = false;
  bytesIn = 0;
  bytesOut = 0;

  constructor(o: ConnectionOptions) {
    this.id = o.id;
    this.socket = o.socket;
    this.direction = o.direction;
    this.#log = o.logger;
    this.remoteAddress = o.socket.remoteAddress ?? '';
    this.remotePort = o.socket.remotePort ?? 0;
    this.secure = 'encrypted' in o.socket && o.socket.encrypted === true;
    this.#maxBuffered = o.maxBufferedBytes;
    this.#sink = new ReaderSink(this, o.handler);
    this.#reader = createFrameReader(o.limits, this.#sink);
    o.socket.setNoDelay(true);
    const owned = o.socket as OwnedSocket;
    owned[kConnection] = this;
    owned.on('data', onSocketData);
    owned.on('error', onSocketError);
    owned.on('close', onSocketClose);
  }

  /** The connection's logger (created on first use when given as a function). */
  get log(): Logger {
    const l = this.#log;
    if (typeof l !== 'function') return l;
    return (this.#log = l());
  }

  /** Bytes read from the socket (internal: the shared 'data' listener). */
  received(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    dispatching++;
    try {
      this.#reader.push(chunk);
    } finally {
      if (--dispatching === 0) uncorkAll();
    }
  }

  /**
   * Inside onFrame only: the frame's exact wire bytes after its From-Path line up to its
   * end-line (MsrpParser#rest), or undefined. Lets a forwarder write them on unchanged.
   */
  get frameRest(): Buffer | undefined {
    return this.#reader.rest;
  }

  /** The socket closed (internal: the shared 'close' listener). */
  socketClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sink.handler.onClose(this);
  }

  get closed(): boolean {
    return this.#closed || this.socket.destroyed;
  }

  /** Bytes accepted by write() but not yet handed to the kernel. */
  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** True when the socket asks writers to wait for 'drain'. */
  get congested(): boolean {
    return this.socket.writableNeedDrain;
  }

  setHandler(handler: FrameHandler): void {
    this.#sink.handler = handler;
  }

  /** Writes a complete frame with a single cork/uncork. Returns false when the caller should wait for drain. */
  writeFrame(frame: MsrpFrame): boolean {
    return this.writeBuffers(toBuffers(frame));
  }

  /** Writes raw pieces (a streamed head, segments, an end-line) in one cork/uncork. */
  writeBuffers(bufs: readonly Buffer[]): boolean {
    if (this.closed) return false;
    const s = this.socket;
    const batched = dispatching > 0;
    if (!batched) s.cork();
    else if (!corkedDuringRead.has(s)) {
      corkedDuringRead.add(s);
      s.cork();
    }
    for (const b of bufs) {
      this.bytesOut += b.length;
      s.write(b);
    }
    if (!batched) s.uncork();
    if (s.writableLength > this.#maxBuffered) {
      this.log.warn({ buffered: s.writableLength, limit: this.#maxBuffered }, 'peer does not read: write buffer over limit, closing');
      this.destroy();
      return false;
    }
    return !s.writableNeedDrain;
  }

  /** Calls `fn` once the socket drains (or closes). */
  onceDrained(fn: () => void): void {
    if (!this.socket.writableNeedDrain || this.closed) {
      queueMicrotask(fn);
      return;
    }
    let done = false;
    const once = (): void => {
      if (done) return;
      done = true;
      this.socket.off('drain', once);
      this.socket.off('close', once);
      fn();
    };
    this.socket.on('drain', once);
    this.socket.on('close', once);
  }

  /** Stops reading for `reason` until `resume(reason)`; reasons nest independently. */
  pause(reason: string): void {
    (this.#pauses ??= new Set()).add(reason);
    this.socket.pause();
  }

  resume(reason: string): void {
    if (this.#pauses?.delete(reason) !== true) return;
    if (this.#pauses.size === 0 && !this.closed) this.socket.resume();
  }

  get paused(): boolean {
    return this.#pauses !== undefined && this.#pauses.size > 0;
  }

  /** Half-closes after pending writes (FIN); the peer's close completes it. */
  end(): void {
    if (!this.closed) this.socket.end();
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
