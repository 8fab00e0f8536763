// SIP over WebSocket from the browser (RFC 7118) to the chat focus: one SIP message per
// WebSocket message (§5.2), built, parsed and serialized by internal/sip. Our Via and Contact
// host is a random `.invalid` name (§5.2): the focus reaches us only over this connection.
// The transport is reliable, so nothing is retransmitted (RFC 3261 §17.1.1.2); a request with
// no final response within 64*T1 (32 s) fails as Timer B/F would. A 401/407 is answered once
// with Digest (RFC 3261 §22.2) by auth/digest-client.ts, with the request's method and URI.
import { newTransactionId, randomBase62 } from '../../msrp/transaction.ts';
import { cseq, toTag, topVia } from '../../sip/fields.ts';
import type { SipRequest, SipResponse } from '../../sip/message.ts';
import { parseDatagram } from '../../sip/parser.ts';
import { buildResponse } from '../../sip/responses.ts';
import { serialize } from '../../sip/serializer.ts';
import { digestRetry, learnDialog, uacRequest, type UacDialog, type UacSendOptions } from '../../sip/uac-request.ts';
import { messageBytes, openWebSocket, Waiting } from './ws-channel.ts';

export type Dialog = UacDialog;
export type SendOptions = UacSendOptions;

/** RFC 7118 §10.1: the WebSocket subprotocol. */
const SUBPROTOCOL = 'sip';
/** Timer B/F: 64*T1 with T1 = 500 ms (RFC 3261 Table 4). */
const TRANSACTION_TIMEOUT_MS = 32_000;

export class SipSocket {
  readonly #ws: WebSocket;
  readonly #transport: 'WS' | 'WSS';
  readonly #host = `${randomBase62(10).toLowerCase()}.invalid`;
  readonly #pending = new Waiting<SipResponse>();
  readonly #user: string;
  /** Answers a 401/407 once per request. */
  credentials: { readonly username: string; readonly password: string } | undefined;
  /** Every request from the focus (NOTIFY, BYE...), after we answered it 200. */
  onRequest: ((r: SipRequest) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;

  private constructor(ws: WebSocket, secure: boolean, user: string) {
    this.#ws = ws;
    this.#transport = secure ? 'WSS' : 'WS';
    this.#user = user;
    ws.addEventListener('message', (ev: MessageEvent<ArrayBuffer | string>) => {
      const parsed = parseDatagram(messageBytes(ev));
      if (parsed?.ok) this.#receive(parsed.value);
    });
    ws.addEventListener('close', (ev) => {
      const reason = `the SIP WebSocket closed (${ev.code})`;
      this.#pending.failAll(reason);
      this.onClose?.(reason);
    });
  }

  static async open(url: string, user: string): Promise<SipSocket> {
    return new SipSocket(await openWebSocket(url, SUBPROTOCOL, 'SIP'), url.startsWith('wss:'), user);
  }

  get contact(): string {
    return `<sip:${encodeURIComponent(this.#user)}@${this.#host};transport=ws>`;
  }

  newDialog(uri: string, from: string): Dialog {
    return { callId: newTransactionId(), fromTag: randomBase62(10), toTag: undefined, uri, from, seq: 0, target: undefined };
  }

  /** Sends a request in `d` and resolves with its final response (a 2xx fixes the dialog's To tag and target). */
  async send(d: Dialog, method: string, o: SendOptions = {}): Promise<SipResponse> {
    const branch = `z9hG4bK${randomBase62(16)}`;
    const { req, uri } = uacRequest(d, method, o, `SIP/2.0/${this.#transport} ${this.#host};branch=${branch}`, this.contact);
    if (method === 'ACK') {
      this.#ws.send(serialize(req).toString('utf8'));
      return buildResponse(req, 200, undefined);
    }
    const res = await this.#pending.wait(`${branch} ${method}`, TRANSACTION_TIMEOUT_MS, `no response to ${method} from the focus`,
      () => this.#ws.send(serialize(req).toString('utf8')));
    const retry = digestRetry(res, method, uri, o, this.credentials);
    if (retry !== undefined) return this.send(d, method, retry);
    learnDialog(d, res);
    return res;
  }

  close(): void {
    this.#ws.close(1000);
  }

  #receive(m: SipRequest | SipResponse): void {
    if (m.kind === 'response') {
      if (m.status < 200) return;
      this.#pending.settle(`${topVia(m)?.branch ?? ''} ${cseq(m)?.method ?? ''}`, m);
      return;
    }
    if (m.method === 'ACK') return;
    // We take no calls: a new INVITE from the focus is refused; the rest (NOTIFY, BYE) is taken.
    const status = m.method === 'INVITE' && toTag(m) === undefined ? 488 : 200;
    this.#ws.send(serialize(buildResponse(m, status, toTag(m) === undefined ? randomBase62(10) : undefined)).toString('utf8'));
    if (status === 200) this.onRequest?.(m);
  }
}
