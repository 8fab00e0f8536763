// MSRP over WebSocket (RFC 7977): `ws:`/`wss:` listeners and the socket-like object a
// Connection (connection.ts) reads from and writes to, so the relay handles a WebSocket client
// exactly as a TCP or TLS one (docs/architecture.md §3). The `ws` package does the framing.
//
// - Handshake (RFC 7977 §4.1, RFC 6455 §4.2): the client must offer the `msrp` subprotocol;
//   anything else is refused with 400 before the upgrade, as is an Origin not in the
//   configured list (403, RFC 6455 §10.2). Plain HTTP requests get 426, or go to
//   `onHttpRequest` when given (the relay serves the browser chat page there, same origin).
// - Framing (RFC 7977 §4.2): one MSRP frame per WebSocket message. What the relay writes is
//   scanned for frame ends (msrp/frame-ends.ts); a frame written whole leaves as one message, a
//   streamed one as one fragmented message (RFC 6455 §5.4) whose fragments leave as its body
//   arrives, so nothing is held whole. Messages are sent binary (bodies need not be UTF-8);
//   text and binary are both accepted. Received messages feed the same frame parser as TCP.
// - Limits: a received message is held whole by `ws` until complete, so its size is capped
//   (`maxMessageBytes`): a larger one closes the connection with 1009 (RFC 6455 §7.4.1).
// - Backpressure: writes report the underlying socket's state; pause() stops reading it.
// - Message mode (SIP over WebSocket, RFC 7118 §5.2): each write is one whole message, sent as
//   text when it is UTF-8 (binary otherwise); no frame scanning.
import { isUtf8 } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { PeerCertificate, SecureContextOptions, TLSSocket } from 'node:tls';
import { Sender, WebSocket, WebSocketServer, type FrameOptions } from 'ws';
import { FrameEndScanner } from '../msrp/frame-ends.ts';
import { beginRead, endRead } from './connection.ts';
import { bindAll, guardAccept, type Listener, type ListenerGuard } from './listeners.ts';
import { MIN_TLS_VERSION } from './tls-files.ts';

/** RFC 7977 §10.1: the registered WebSocket subprotocol name. */
export const MSRP_SUBPROTOCOL = 'msrp';

/** Why a handshake was refused (bounded: a metric label). */
export type HandshakeRefusal = 'subprotocol' | 'origin' | 'not-websocket' | 'handshake';

export interface WebSocketListenSpec {
  hosts: string[];
  port: number;
  /** TLS context options (wss:); absent for ws:. */
  tls?: SecureContextOptions;
  /** The subprotocol a client must offer (RFC 7977: `msrp`; RFC 7118: `sip`). */
  subprotocol: string;
  /** Origins (e.g. `https://chat.example.com`) allowed; empty: any, including none. */
  origins: readonly string[];
  /** Largest message accepted; a larger one closes the connection with 1009. */
  maxMessageBytes: number;
  /** Each write is one message (SIP, RFC 7118) instead of a piece of an MSRP stream. */
  messages?: boolean;
  onSocket(socket: WebSocketStream): void;
  /** A handshake was refused (after the HTTP answer was written). */
  onRefused?(reason: HandshakeRefusal, detail: string, req: IncomingMessage): void;
  /** Connection caps and the TLS handshake deadline, as on the MSRP listeners (listeners.ts). */
  guard?: ListenerGuard;
  /** Plain HTTP requests (not upgrades); absent: 426 Upgrade Required. */
  onHttpRequest?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** Received messages up to this size (together) are handed on per socket read, not one by one. */
const HOLD_MAX = 16 * 1024;

/** Smaller pieces of an unfinished frame are gathered before they leave as one fragment. */
const FRAGMENT_MIN = 16 * 1024;

// RFC 6455 §5.2 opcodes, and Sender.frame options for each kind of data frame the relay sends:
// server frames are not masked (§5.1), compression is off (no permessage-deflate).
const OPCODE_CONTINUATION = 0x0;
const OPCODE_BINARY = 0x2;
const frameOptions = (fin: boolean, opcode: number): FrameOptions => ({ fin, opcode, mask: false, readOnly: true, rsv1: false });
const WHOLE = frameOptions(true, OPCODE_BINARY);
const FIRST = frameOptions(false, OPCODE_BINARY);
const MIDDLE = frameOptions(false, OPCODE_CONTINUATION);
const LAST = frameOptions(true, OPCODE_CONTINUATION);

/**
 * A WebSocket carrying MSRP, with the part of the net.Socket interface that Connection uses:
 * 'data' per received message, write/cork/uncork, backpressure, pause/resume, end/destroy.
 */
export class WebSocketStream extends EventEmitter {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** True over wss: (the TLS socket underneath). */
  readonly encrypted: boolean;
  readonly #ws: WebSocket;
  readonly #raw: Socket;
  readonly #scanner = new FrameEndScanner();
  readonly #ends: number[] = [];
  /** Pieces of the unfinished frame not yet sent (below FRAGMENT_MIN together). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** A message was begun with fragments and not finished. */
  #fragmented = false;
  /** Within a socket read (MSRP mode): small messages are held until it ends. */
  #reading = false;
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** uncork() calls not yet passed on to the socket (released at the end of the turn). */
  #uncorks = 0;
  /** WebSocket frames (headers and payloads) of the current write(), sent by #flush(). */
  readonly #out: Buffer[] = [];
  #outBytes = 0;
  #ended = false;
  #closeEmitted = false;
  readonly #messages: boolean;

  constructor(ws: WebSocket, raw: Socket, messages = false) {
    super();
    this.#messages = messages;
    this.#ws = ws;
    this.#raw = raw;
    this.remoteAddress = raw.remoteAddress;
    this.remotePort = raw.remotePort;
    this.encrypted = 'encrypted' in raw && raw.encrypted === true;
    ws.on('message', (data: Buffer) => this.#message(data));
    ws.on('error', (err: Error) => this.emit('error', err));
    ws.on('close', () => this.#emitClose());
    // The messages of one socket read are emitted by ws's own 'data' listener, one by one:
    // bracketing it makes what they cause leave in one write per destination, as for a TCP read
    // (connection.ts). ws added its listener when the upgrade completed, before this. In MSRP
    // mode the small messages of one read are held and handed on together after ws's listener
    // (#release), so the frame parser reads them in one go, as it reads a TCP read.
    raw.prependListener('data', beginRead);
    if (!messages) {
      raw.prependListener('data', () => {
        this.#reading = true;
      });
      raw.on('data', () => this.#release());
    }
    raw.on('data', endRead);
    raw.on('drain', () => this.emit('drain'));
    raw.on('close', () => this.#emitClose());
  }

  #message(data: Buffer): void {
    if (!this.#reading || data.length > HOLD_MAX) {
      this.#release();
      this.emit('data', data);
      return;
    }
    this.#held.push(data);
    this.#heldBytes += data.length;
    if (this.#heldBytes > HOLD_MAX) this.#release();
  }

  /** The messages held during a socket read, as one chunk (one small copy). */
  #release(): void {
    this.#reading = false;
    const held = this.#held;
    if (held.length === 0) return;
    const chunk = held.length === 1 ? held[0]! : Buffer.concat(held, this.#heldBytes);
    this.#held = [];
    this.#heldBytes = 0;
    this.emit('data', chunk);
  }

  #emitClose(): void {
    this.#release();
    if (this.#closeEmitted) return;
    this.#closeEmitted = true;
    this.emit('close');
  }

  /** Open for writing: not ended, and no Close frame sent or received. */
  get open(): boolean {
    return !this.#ended && this.#ws.readyState === WebSocket.OPEN;
  }

  /** The WebSocket subprotocol agreed at the handshake. */
  get protocol(): string {
    return this.#ws.protocol;
  }

  setNoDelay(noDelay: boolean): this {
    this.#raw.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable: boolean, initialDelay: number): this {
    this.#raw.setKeepAlive(enable, initialDelay);
    return this;
  }

  /** The TLS peer certificate (browsers present none); `{}` over ws:. */
  getPeerCertificate(): PeerCertificate | Record<string, never> {
    return this.encrypted ? (this.#raw as TLSSocket).getPeerCertificate() : {};
  }

  get authorized(): boolean {
    return this.encrypted && (this.#raw as TLSSocket).authorized;
  }

  get authorizationError(): Error | undefined {
    return this.encrypted ? (this.#raw as TLSSocket).authorizationError : undefined;
  }

  cork(): void {
    this.#raw.cork();
  }

  /**
   * The socket is uncorked once per turn of the event loop (setImmediate: the check phase, right
   * after the reads of this turn), not per read. A WebSocket client sends each message in its
   * own TLS record (browsers, the ws package), so the relay reads one message or a few at a time:
   * uncorked per read, what they cause would leave in as many small TLS records and system
   * calls; held to the end of the turn it leaves in one (docs/architecture.md §3.4).
   */
  uncork(): void {
    if (this.#uncorks++ === 0) setImmediate(this.#releaseCorks);
  }

  /** Releases the corks uncork() held; one function per stream, made once (no closure per turn). */
  readonly #releaseCorks = (): void => {
    const n = this.#uncorks;
    this.#uncorks = 0;
    for (let i = 0; i < n; i++) this.#raw.uncork();
  };

  /**
   * Writes the next bytes of the MSRP stream: each frame that ends in them completes one
   * message; the rest of an unfinished frame waits (small) or leaves as a fragment.
   */
  write(b: Buffer): boolean {
    if (this.#ended || this.#ws.readyState !== WebSocket.OPEN) return false;
    if (this.#messages) {
      this.#ws.send(b, { binary: !isUtf8(b), fin: true, compress: false });
      return !this.#raw.writableNeedDrain;
    }
    const ends = this.#ends;
    try {
      this.#scanner.scan(b, ends);
    } catch (err) {
      this.emit('error', err);
      this.destroy();
      return false;
    }
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      this.#finish(start === 0 && ends[i] === b.length ? b : b.subarray(start, ends[i]));
      start = ends[i]!;
    }
    if (start < b.length) this.#partial(start === 0 ? b : b.subarray(start));
    this.#flush();
    return !this.#raw.writableNeedDrain;
  }

  /** The last piece of a frame: its message is complete. */
  #finish(piece: Buffer): void {
    if (this.#pendingBytes === 0) {
      this.#send(piece, true);
      return;
    }
    if (this.#pendingBytes + piece.length <= FRAGMENT_MIN) {
      this.#pending.push(piece);
      this.#pendingBytes += piece.length;
      this.#send(this.#takePending(), true);
      return;
    }
    this.#send(this.#takePending(), false);
    this.#send(piece, true);
  }

  #partial(piece: Buffer): void {
    if (this.#pendingBytes === 0 && piece.length >= FRAGMENT_MIN) {
      this.#send(piece, false);
      return;
    }
    this.#pending.push(piece);
    this.#pendingBytes += piece.length;
    if (this.#pendingBytes >= FRAGMENT_MIN) this.#send(this.#takePending(), false);
  }

  #takePending(): Buffer {
    const p = this.#pending;
    const out = p.length === 1 ? p[0]! : Buffer.concat(p, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    return out;
  }

  /**
   * Frames `data` as one WebSocket frame with ws's own framing (Sender.frame): the first frame
   * of a message is binary, the next ones of a fragmented message are continuations (RFC 6455
   * §5.4). The frames of one write() leave together (#flush).
   */
  #send(data: Buffer, fin: boolean): void {
    const opcode = this.#fragmented ? OPCODE_CONTINUATION : OPCODE_BINARY;
    this.#fragmented = !fin;
    const frame = Sender.frame(data, fin ? (opcode === OPCODE_BINARY ? WHOLE : LAST) : (opcode === OPCODE_BINARY ? FIRST : MIDDLE));
    for (const piece of frame) {
      this.#out.push(piece);
      this.#outBytes += piece.length;
    }
  }

  /**
   * The frames of one write() go to the socket in one write: small ones (the usual batch of
   * short frames a read produced, docs/architecture.md §3.4) as one buffer, which costs one copy of
   * a few kilobytes instead of two socket writes per message; a batch with large pieces (a
   * streamed body) as they are, corked, so no body is copied.
   */
  #flush(): void {
    const out = this.#out;
    if (out.length === 0) return;
    const raw = this.#raw;
    if (out.length === 1) raw.write(out[0]!);
    else if (this.#outBytes <= FRAGMENT_MIN) raw.write(Buffer.concat(out, this.#outBytes));
    else {
      raw.cork();
      for (const piece of out) raw.write(piece);
      raw.uncork();
    }
    out.length = 0;
    this.#outBytes = 0;
  }

  /** Bytes written and not yet handed to the kernel (ws's and the socket's queue, plus held pieces). */
  get writableLength(): number {
    return this.#ws.bufferedAmount + this.#pendingBytes;
  }

  get writableNeedDrain(): boolean {
    return this.#raw.writableNeedDrain;
  }

  get writableHighWaterMark(): number {
    return this.#raw.writableHighWaterMark;
  }

  get writableEnded(): boolean {
    return this.#ended;
  }

  get destroyed(): boolean {
    return this.#raw.destroyed;
  }

  pause(): this {
    this.#ws.pause();
    return this;
  }

  resume(): this {
    this.#ws.resume();
    return this;
  }

  /**
   * Closes after what was written (a Close frame, RFC 6455 §5.5.1). A frame cut short (the
   * relay ends a stream with '#' before closing, so only a dying one) is not sent.
   */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    // 1000 normal closure; a message left unfinished would make the peer fail the connection.
    this.#ws.close(this.#fragmented ? 1011 : 1000);
  }

  destroy(): void {
    this.#ended = true;
    this.#ws.terminate();
  }
}

/** Starts `ws:` (or, with spec.tls, `wss:`) listeners handing each accepted WebSocket to spec.onSocket. */
export async function listenWebSocket(spec: WebSocketListenSpec): Promise<Listener> {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: spec.maxMessageBytes,
    // The offer was checked before the upgrade: the one we speak is chosen.
    handleProtocols: () => spec.subprotocol,
  });
  const origins = new Set(spec.origins.map((o) => o.toLowerCase()));
  const refuse = (socket: Socket, req: IncomingMessage, reason: HandshakeRefusal, status: number, detail: string): void => {
    writeHttpRefusal(socket, status, detail);
    spec.onRefused?.(reason, detail, req);
  };
  wss.on('wsClientError', (err: Error, socket: Socket, req: IncomingMessage) => refuse(socket, req, 'handshake', 400, err.message));

  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    socket.on('error', () => undefined);
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(spec.subprotocol)) {
      refuse(socket, req, 'subprotocol', 400, `the WebSocket subprotocol "${spec.subprotocol}" must be offered (Sec-WebSocket-Protocol)`);
      return;
    }
    const origin = req.headers.origin;
    if (origins.size > 0 && (origin === undefined || !origins.has(origin.toLowerCase()))) {
      refuse(socket, req, 'origin', 403, `origin ${JSON.stringify(origin ?? '')} is not allowed`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => spec.onSocket(new WebSocketStream(ws, socket, spec.messages === true)));
  };

  const make = (): HttpServer | HttpsServer => {
    const guard = spec.guard;
    const handshake = guard?.handshakeTimeoutMs === undefined ? {} : { handshakeTimeout: guard.handshakeTimeoutMs };
    const server = spec.tls !== undefined ? createHttpsServer({ ...spec.tls, minVersion: MIN_TLS_VERSION, ...handshake }) : createHttpServer();
    // Counted from accept, before the TLS handshake and the HTTP upgrade, like the MSRP listeners.
    if (guard !== undefined) guardAccept(server, guard);
    server.on('upgrade', onUpgrade);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (spec.onHttpRequest !== undefined) {
        spec.onHttpRequest(req, res);
        return;
      }
      // Not an upgrade: this port speaks WebSocket only (RFC 7231 §6.5.15).
      res.writeHead(426, { Upgrade: 'websocket', 'Content-Type': 'text/plain', Connection: 'close' });
      res.end(`WebSocket only: connect with the "${spec.subprotocol}" subprotocol\n`);
      spec.onRefused?.('not-websocket', 'plain HTTP request', req);
    });
    server.on('tlsClientError', (_err: Error, s: Socket) => s.destroy());
    return server;
  };
  return bindAll(spec.hosts, spec.port, { secure: spec.tls !== undefined, websocket: true }, make);
}

function writeHttpRefusal(socket: Socket, status: number, detail: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = detail + '\n';
  const reason = status === 403 ? 'Forbidden' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
