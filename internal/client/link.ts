// One MSRP connection of an endpoint: a socket, the incremental parser, the table of
// transactions waiting for their response, and write backpressure.
//
// RFC 4975 §7.1: a transaction fails if no response arrives within 30 seconds; the clock
// starts once the request's last byte has left (socket write callback), so a large chunk
// on a slow link is not timed out while it is still being written.
import type { Socket } from 'node:net';
import type { Continuation, MsrpFrame, MsrpRequest, MsrpRequestHead, MsrpResponse } from '../msrp/frame.ts';
import { MsrpParser, type MsrpParseError } from '../msrp/parser.ts';
import { toBuffers } from '../msrp/serializer.ts';

/** Receives the body of one streamed request, segment by segment. */
export interface BodySink {
  data(segment: Buffer): void;
  end(continuation: Continuation): void;
  /** The request was cut off (parse error, connection lost). */
  abort(reason: string): void;
}

export interface LinkHandler {
  /** A complete request (bodies up to the streaming threshold arrive whole). */
  onRequest(link: Link, request: MsrpRequest): void;
  /** A request whose body follows in segments. */
  onStreamedRequest(link: Link, head: MsrpRequestHead): BodySink;
  /** A response nobody waits for (e.g. an error answering a Failure-Report "partial" chunk). */
  onStrayResponse(link: Link, response: MsrpResponse): void;
  onParseError(link: Link, error: MsrpParseError): void;
  onClose(link: Link): void;
}

export type TransactionResult =
  | { readonly ok: true; readonly response: MsrpResponse }
  | { readonly ok: false; readonly code: 'timeout' | 'closed'; readonly message: string };

interface Pending {
  resolve(r: TransactionResult): void;
  timer: NodeJS.Timeout | undefined;
}

export interface LinkOptions {
  readonly transactionTimeoutMs: number;
  /** Bodies larger than this are streamed to the handler instead of buffered (bytes). */
  readonly streamThreshold: number;
}

export class Link {
  readonly socket: Socket;
  readonly secure: boolean;
  readonly #handler: LinkHandler;
  readonly #parser: MsrpParser;
  readonly #pending = new Map<string, Pending>();
  readonly #pauses = new Set<string>();
  readonly #timeoutMs: number;
  #stream: BodySink | undefined;
  #closed = false;

  constructor(socket: Socket, handler: LinkHandler, o: LinkOptions) {
    this.socket = socket;
    this.secure = 'encrypted' in socket && socket.encrypted === true;
    this.#handler = handler;
    this.#timeoutMs = o.transactionTimeoutMs;
    this.#parser = new MsrpParser(
      {
        onFrame: (f) => this.#onFrame(f),
        onHead: (h) => {
          // Only requests carry bodies (the parser rejects responses with one).
          if (h.kind === 'request') this.#stream = this.#handler.onStreamedRequest(this, h);
        },
        onBody: (b) => this.#stream?.data(b),
        onEnd: (c) => {
          const s = this.#stream;
          this.#stream = undefined;
          s?.end(c);
        },
        onError: (e) => {
          if (this.#stream !== undefined) {
            this.#stream.abort(e.message);
            this.#stream = undefined;
          }
          this.#handler.onParseError(this, e);
          if (e.fatal) this.destroy();
        },
      },
      { maxBufferedBody: o.streamThreshold },
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#parser.push(chunk));
    socket.on('error', () => {
      /* 'close' follows and fails what is pending */
    });
    socket.on('close', () => this.#onClose());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get localAddress(): string {
    return this.socket.localAddress ?? '127.0.0.1';
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  #onFrame(frame: MsrpFrame): void {
    if (frame.kind === 'request') {
      this.#handler.onRequest(this, frame);
      return;
    }
    const p = this.#pending.get(frame.transactionId);
    if (p === undefined) {
      this.#handler.onStrayResponse(this, frame);
      return;
    }
    this.#pending.delete(frame.transactionId);
    clearTimeout(p.timer);
    p.resolve({ ok: true, response: frame });
  }

  /** Writes a frame; false means wait for `drained()` before writing more. */
  write(frame: MsrpFrame, flushed?: () => void): boolean {
    if (this.#closed) return false;
    const bufs = toBuffers(frame);
    const s = this.socket;
    s.cork();
    for (let i = 0; i < bufs.length; i++) {
      if (i === bufs.length - 1 && flushed !== undefined) s.write(bufs[i]!, () => flushed());
      else s.write(bufs[i]!);
    }
    s.uncork();
    return !s.writableNeedDrain;
  }

  /**
   * Sends a request and resolves with its response, or with a timeout / closed result.
   * `written` is false when the socket asks the caller to wait for `drained()`.
   */
  request(frame: MsrpRequest): { written: boolean; result: Promise<TransactionResult> } {
    if (this.#closed) return { written: false, result: Promise.resolve({ ok: false, code: 'closed', message: 'connection closed' }) };
    let resolve!: (r: TransactionResult) => void;
    const result = new Promise<TransactionResult>((r) => (resolve = r));
    const entry: Pending = { resolve, timer: undefined };
    const tid = frame.transactionId;
    this.#pending.set(tid, entry);
    const written = this.write(frame, () => {
      if (this.#pending.get(tid) !== entry) return;
      entry.timer = setTimeout(() => {
        if (this.#pending.get(tid) !== entry) return;
        this.#pending.delete(tid);
        // RFC 4975 §7.1: no response in time counts as 408.
        resolve({ ok: false, code: 'timeout', message: `no response to ${frame.method} ${tid} within ${this.#timeoutMs} ms` });
      }, this.#timeoutMs);
      entry.timer.unref();
    });
    return { written, result };
  }

  /** Resolves when the socket can take more data (or closed). */
  drained(): Promise<void> {
    const s = this.socket;
    if (!s.writableNeedDrain || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      s.on('drain', done);
      s.on('close', done);
    });
  }

  /** Stops reading for `reason` until resumed (receive-side backpressure, e.g. a slow disk). */
  pause(reason: string): void {
    this.#pauses.add(reason);
    this.socket.pause();
  }

  resume(reason: string): void {
    if (this.#pauses.delete(reason) && this.#pauses.size === 0 && !this.#closed) this.socket.resume();
  }

  /** Ends after pending writes. */
  end(): void {
    if (!this.#closed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#parser.end();
    if (this.#stream !== undefined) {
      this.#stream.abort('connection closed');
      this.#stream = undefined;
    }
    for (const [, p] of this.#pending) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, code: 'closed', message: 'connection closed before the response' });
    }
    this.#pending.clear();
    this.#handler.onClose(this);
  }
}
