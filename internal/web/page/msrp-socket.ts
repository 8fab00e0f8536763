// MSRP over WebSocket from the browser (RFC 7977): one frame per WebSocket message (§4.2),
// parsed and written by internal/msrp. Requests we send wait for their response by
// transaction id (RFC 4975 §7.2); requests we receive go to onRequest, which answers them.
import type { MsrpFrame, MsrpRequest, MsrpResponse } from '../../msrp/frame.ts';
import { MsrpParser } from '../../msrp/parser.ts';
import { serializeToBuffer } from '../../msrp/serializer.ts';
import { messageBytes, openWebSocket, Waiting } from './ws-channel.ts';

/** RFC 7977 §10.1: the WebSocket subprotocol. */
const SUBPROTOCOL = 'msrp';
/** A transaction without a response fails after this long (RFC 4975 §7.2 suggests 30 s). */
const RESPONSE_TIMEOUT_MS = 30_000;

export class MsrpSocket {
  readonly #ws: WebSocket;
  readonly #waiting = new Waiting<MsrpResponse>();
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
    ws.addEventListener('message', (ev: MessageEvent<ArrayBuffer | string>) => this.#parser.push(messageBytes(ev)));
    ws.addEventListener('close', (ev) => {
      const reason = `the MSRP WebSocket closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`;
      this.#waiting.failAll(reason);
      this.onClose?.(reason);
    });
  }

  static async open(url: string): Promise<MsrpSocket> {
    return new MsrpSocket(await openWebSocket(url, SUBPROTOCOL, 'MSRP'));
  }

  write(frame: MsrpFrame): void {
    this.#ws.send(serializeToBuffer(frame));
  }

  /** Sends a request and resolves with its response. */
  request(frame: MsrpRequest): Promise<MsrpResponse> {
    const timeout = `no response to ${frame.method} within ${RESPONSE_TIMEOUT_MS / 1000} s`;
    return this.#waiting.wait(frame.transactionId, RESPONSE_TIMEOUT_MS, timeout, () => this.write(frame));
  }

  close(): void {
    this.#ws.close(1000);
  }

  #receive(f: MsrpFrame): void {
    if (f.kind === 'request') {
      this.onRequest?.(f);
      return;
    }
    this.#waiting.settle(f.transactionId, f);
  }
}
