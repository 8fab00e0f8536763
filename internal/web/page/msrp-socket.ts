// MSRP over WebSocket from the browser (RFC 7977): one frame per WebSocket message (§4.2),
// parsed and written by internal/msrp. Requests we send wait for their response by
// transaction id (RFC 4975 §7.2); requests we receive go to onRequest, which answers them.
import type { MsrpFrame, MsrpRequest, MsrpResponse } from '../../msrp/frame.ts';
import { MsrpParser } from '../../msrp/parser.ts';
import { serializeToBuffer } from '../../msrp/serializer.ts';

/** RFC 7977 §10.1: the WebSocket subprotocol. */
const SUBPROTOCOL = 'msrp';
/** A transaction without a response fails after this long (RFC 4975 §7.2 suggests 30 s). */
const RESPONSE_TIMEOUT_MS = 30_000;

interface Waiter {
  resolve(r: MsrpResponse): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class MsrpSocket {
  readonly #ws: WebSocket;
  readonly #waiting = new Map<string, Waiter>();
  readonly #parser: MsrpParser;
  /** Every request from the other side; the handler answers it (or not, Failure-Report: no). */
  onRequest: ((r: MsrpRequest) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    // Chunks up to the relay's WebSocket message cap are taken whole (maxBufferedBody).
    this.#parser = new MsrpParser({
      onFrame: (f) => this.#receive(f),
      onError: (e) => console.warn('MSRP parse error', e.code),
    }, { maxBufferedBody: 4 * 1024 * 1024 });
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('message', (ev: MessageEvent<ArrayBuffer | string>) => {
      this.#parser.push(typeof ev.data === 'string' ? Buffer.from(ev.data, 'utf8') : Buffer.from(ev.data));
    });
    ws.addEventListener('close', (ev) => {
      const reason = `the MSRP WebSocket closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`;
      for (const w of this.#waiting.values()) {
        clearTimeout(w.timer);
        w.reject(new Error(reason));
      }
      this.#waiting.clear();
      this.onClose?.(reason);
    });
  }

  static open(url: string): Promise<MsrpSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, [SUBPROTOCOL]);
      ws.addEventListener('open', () => resolve(new MsrpSocket(ws)), { once: true });
      ws.addEventListener('error', () => reject(new Error(`cannot open the MSRP WebSocket ${url}`)), { once: true });
    });
  }

  /** Bytes queued in the browser and not yet sent: a sender waits while this is high. */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  write(frame: MsrpFrame): void {
    this.#ws.send(serializeToBuffer(frame));
  }

  /** Sends a request and resolves with its response. */
  request(frame: MsrpRequest): Promise<MsrpResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(frame.transactionId);
        reject(new Error(`no response to ${frame.method} within ${RESPONSE_TIMEOUT_MS / 1000} s`));
      }, RESPONSE_TIMEOUT_MS);
      this.#waiting.set(frame.transactionId, { resolve, reject, timer });
      this.write(frame);
    });
  }

  close(): void {
    this.#ws.close(1000);
  }

  #receive(f: MsrpFrame): void {
    if (f.kind === 'request') {
      this.onRequest?.(f);
      return;
    }
    const w = this.#waiting.get(f.transactionId);
    if (w === undefined) return;
    this.#waiting.delete(f.transactionId);
    clearTimeout(w.timer);
    w.resolve(f);
  }
}
