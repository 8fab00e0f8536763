// One MSRP connection: a socket, a frame reader feeding the relay, and a writer that
// puts a frame on the wire with one cork/uncork (head + body slices + end-line, so the
// kernel sees one writev), plus the two flow-control duties of docs/architecture.md §3.4:
//  - pausing: reading from this socket stops while any reason to pause is held
//    (a full downstream socket, a throttle), and resumes when all are released;
//  - bounding: bytes queued for writing on this socket past `maxBufferedBytes`
//    mean the peer does not read; the connection is destroyed rather than let
//    memory grow (the sources feeding it are paused long before that point).
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Continuation, MsrpFrame, MsrpHead } from '../msrp/frame.ts';
import type { MsrpParseError } from '../msrp/errors.ts';
import type { FrameWire } from '../msrp/parser.ts';
import { createFrameReader, type FrameReader, type FrameReaderLimits, type FrameSink } from './framing.ts';
import { toBuffers } from './framing.ts';

/** An event listener as net.Socket takes it. */
type SocketListener = Parameters<EventEmitter['on']>[1];

/**
 * What a Connection carries MSRP over: a TCP or TLS socket, or a WebSocket (RFC 7977,
 * websocket.ts WebSocketStream): the part of net.Socket the relay uses.
 */
export interface MsrpSocket {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly destroyed: boolean;
  readonly writableLength: number;
  readonly writableNeedDrain: boolean;
  readonly writableHighWaterMark: number;
  readonly writableEnded: boolean;
  setNoDelay(noDelay?: boolean): unknown;
  setKeepAlive(enable?: boolean, initialDelay?: number): unknown;
  cork(): void;
  uncork(): void;
  write(chunk: Buffer): boolean;
  pause(): unknown;
  resume(): unknown;
  end(): unknown;
  destroy(): unknown;
  on(event: string, listener: SocketListener): unknown;
  once(event: string, listener: SocketListener): unknown;
  off(event: string, listener: SocketListener): unknown;
}

export interface FrameHandler {
  /**
   * A complete frame (small bodies arrive whole, as slices). `wire`, when the parser has it:
   * where the frame's paths and the bytes after them are in the received buffer, for a
   * forwarder to copy instead of serializing (valid during this call only, MsrpParser#wire).
   */
  onFrame(conn: Connection, frame: MsrpFrame, wire?: FrameWire): void;
  /** A streamed request starts: body segments and then the end follow. */
  onHead(conn: Connection, head: MsrpHead): void;
  onBody(conn: Connection, segment: Buffer): void;
  onEnd(conn: Connection, continuation: Continuation): void;
  onParseError(conn: Connection, error: MsrpParseError): void;
  onClose(conn: Connection): void;
}

export interface ConnectionOptions {
  id: string;
  socket: MsrpSocket;
  direction: 'inbound' | 'outbound';
  /**
   * The connection's logger, or a function creating it on first use (most connections never
   * log). The function gets the connection, so one function can serve every connection
   * (no closure per connection).
   */
  logger: Logger | ((conn: Connection) => Logger);
  /** How logs name the peer (e.g. a next hop's key); default `remoteAddress:remotePort` at adoption. */
  peer?: string;
  limits: FrameReaderLimits;
  /** Hard cap on bytes queued for writing (socket.writableLength). */
  maxBufferedBytes: number;
  handler: FrameHandler;
}

// Writes made while a read is dispatched (parser → relay → writeBuffers on any connection)
// are corked and leave together when the read is done: one writev per destination per read
// instead of one per frame, which is most of the CPU cost of small frames. Writes from
// elsewhere (timers, AUTH completions, drain callbacks) still go out at once.
// Small buffers written during a read are also gathered per connection and handed to the
// socket as one Buffer at the end of the read (one Writable.write and one iovec instead of one
// per frame); large ones (body segments) are written as they are, after what was gathered.
let dispatching = 0;
const corkedDuringRead = new Set<Connection>();

function uncorkAll(): void {
  for (const c of corkedDuringRead) c.flushRead();
  corkedDuringRead.clear();
}

/**
 * One read of a socket that delivers its bytes in several pieces (a WebSocket read carrying
 * several messages, websocket.ts): writes made until endRead() leave together, as for one
 * read of a TCP socket. Calls nest; every beginRead() needs its endRead().
 */
export function beginRead(): void {
  dispatching++;
}

export function endRead(): void {
  if (--dispatching === 0) uncorkAll();
}

/** Buffers up to this size written during a read are copied into one (bigger ones are passed through). */
const GATHER_MAX = 4096;

/** The Connection behind a socket, for the shared listeners below (no closures per connection). */
const kConnection = Symbol('msrp.connection');
type OwnedSocket = MsrpSocket & { [kConnection]?: Connection };

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
  onFrame(f: MsrpFrame, wire?: FrameWire): void {
    this.handler.onFrame(this.conn, f, wire);
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
  readonly socket: MsrpSocket;
  readonly direction: 'inbound' | 'outbound';
  #log: Logger | ((conn: Connection) => Logger);
  readonly #peer: string | undefined;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly secure: boolean;
  readonly openedAt = Date.now();
  readonly #maxBuffered: number;
  /** The frame reader; dropped while the connection is quiet (releaseIdleReader), made again by the next byte. */
  #reader: FrameReader | undefined;
  readonly #limits: FrameReaderLimits;
  readonly #sink: ReaderSink;
  /** bytesIn when the last quiet-check looked (releaseIdleReader). */
  #bytesInSeen = -1;
  /** Small buffers written during the current read, not yet given to the socket (see uncorkAll). */
  #gathered: Buffer[] | undefined;
  #gatheredBytes = 0;
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
    this.#peer = o.peer;
    this.remoteAddress = o.socket.remoteAddress ?? '';
    this.remotePort = o.socket.remotePort ?? 0;
    this.secure = 'encrypted' in o.socket && o.socket.encrypted === true;
    this.#maxBuffered = o.maxBufferedBytes;
    this.#sink = new ReaderSink(this, o.handler);
    this.#limits = o.limits;
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
    return (this.#log = l(this));
  }

  /** The peer as logs name it: the label given at adoption, or the remote address and port. */
  get peer(): string {
    return this.#peer ?? `${this.remoteAddress}:${this.remotePort}`;
  }

  /** Bytes read from the socket (internal: the shared 'data' listener). */
  received(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    dispatching++;
    try {
      (this.#reader ??= createFrameReader(this.#limits, this.#sink)).push(chunk);
    } finally {
      if (--dispatching === 0) uncorkAll();
    }
  }

  /**
   * Drops the frame reader when nothing arrived since the previous call and it holds nothing
   * (between frames): an idle session then keeps no parser state (about 0.7 kB). Called by a
   * periodic sweep; the next byte makes a new reader. Returns true when it dropped one.
   */
  releaseIdleReader(): boolean {
    const quiet = this.bytesIn === this.#bytesInSeen;
    this.#bytesInSeen = this.bytesIn;
    if (!quiet || this.#reader === undefined || !this.#reader.idle) return false;
    this.#reader = undefined;
    return true;
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
    return this.socket.writableLength + this.#gatheredBytes;
  }

  /** True when the socket asks writers to wait for 'drain' (or will, once this read's writes reach it). */
  get congested(): boolean {
    const s = this.socket;
    return s.writableNeedDrain || s.writableLength + this.#gatheredBytes >= s.writableHighWaterMark;
  }

  setHandler(handler: FrameHandler): void {
    this.#sink.handler = handler;
  }

  /** Writes a complete frame with a single cork/uncork. Returns false when the caller should wait for drain. */
  writeFrame(frame: MsrpFrame): boolean {
    return this.writeBuffers(toBuffers(frame));
  }

  /**
   * Writes raw pieces (a streamed head, segments, an end-line) in order. During a read, small
   * pieces are gathered and leave with everything else written in that read (flushRead());
   * otherwise they go out at once, in one cork/uncork. Returns false when the caller should
   * wait for drain (onceDrained).
   */
  writeBuffers(bufs: readonly Buffer[]): boolean {
    if (this.closed) return false;
    const s = this.socket;
    if (dispatching === 0) {
      s.cork();
      for (const b of bufs) {
        this.bytesOut += b.length;
        s.write(b);
      }
      s.uncork();
      return this.#checkBuffered();
    }
    if (!corkedDuringRead.has(this)) {
      corkedDuringRead.add(this);
      s.cork();
    }
    for (let i = 0; i < bufs.length; i++) {
      const b = bufs[i]!;
      this.bytesOut += b.length;
      if (b.length <= GATHER_MAX) {
        (this.#gathered ??= []).push(b);
        this.#gatheredBytes += b.length;
      } else {
        this.#writeGathered();
        s.write(b);
      }
    }
    if (s.writableLength + this.#gatheredBytes > this.#maxBuffered) return this.#checkBuffered();
    return !this.congested;
  }

  /** End of a read: the gathered pieces go to the socket as one Buffer, then the socket is uncorked. */
  flushRead(): void {
    this.#writeGathered();
    this.socket.uncork();
    this.#checkBuffered();
  }

  #writeGathered(): void {
    const g = this.#gathered;
    if (g === undefined) return;
    const n = this.#gatheredBytes;
    this.#gathered = undefined;
    this.#gatheredBytes = 0;
    if (this.socket.destroyed) return;
    this.socket.write(g.length === 1 ? g[0]! : Buffer.concat(g, n));
  }

  /** The hard cap: a peer that lets more than maxBufferedBytes pile up is not reading; close it. */
  #checkBuffered(): boolean {
    const s = this.socket;
    const queued = s.writableLength + this.#gatheredBytes;
    if (queued > this.#maxBuffered) {
      this.log.warn({ buffered: queued, limit: this.#maxBuffered }, 'peer does not read: write buffer over limit, closing');
      this.#gathered = undefined;
      this.#gatheredBytes = 0;
      this.destroy();
      return false;
    }
    return !s.writableNeedDrain;
  }

  /** Calls `fn` once the socket drains (or closes). */
  onceDrained(fn: () => void): void {
    if (dispatching > 0 && this.#gatheredBytes > 0 && !this.closed) {
      // Writes of the current read are still gathered: decide once they reached the socket.
      queueMicrotask(() => this.onceDrained(fn));
      return;
    }
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
    if (this.closed) return;
    this.#writeGathered(); // what this read wrote so far goes before the FIN
    this.socket.end();
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
