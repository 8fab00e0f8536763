// A minimal SIP user agent client (RFC 3261 UAC side) over UDP or TCP, for `msrp chat` and
// the focus tests: sends requests, collects final responses by CSeq, answers NOTIFY/BYE
// from the focus with 200 and queues them. No retransmission of our requests (loopback).
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { cseq, toTag } from '../sip/fields.ts';
import { headerValue, request, type SipMessage, type SipRequest, type SipResponse } from '../sip/message.ts';
import { parseDatagram, SipStreamFramer } from '../sip/parser.ts';
import { buildResponse } from '../sip/responses.ts';
import { serialize } from '../sip/serializer.ts';

export interface UacDialog {
  readonly callId: string;
  readonly fromTag: string;
  toTag: string | undefined;
  readonly uri: string;
  readonly from: string;
  seq: number;
  /** The focus's Contact (remote target for in-dialog requests). */
  target: string | undefined;
}

export function offerSdp(path: string, o: { acceptTypes?: string; chatroom?: boolean; setup?: string; media?: string } = {}): string {
  const lines = [
    'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    o.media ?? 'm=message 7654 TCP/MSRP *',
    `a=accept-types:${o.acceptTypes ?? 'message/cpim text/plain'}`,
    'a=accept-wrapped-types:*',
    `a=path:${path}`,
    `a=setup:${o.setup ?? 'active'}`,
  ];
  if (o.chatroom !== false) lines.push('a=chatroom:nickname private-messages');
  return lines.join('\r\n') + '\r\n';
}

export class SipUac {
  readonly transport: 'UDP' | 'TCP';
  readonly user: string;
  readonly #send: (b: Buffer) => void;
  readonly #close: () => void;
  readonly localPort: number;
  readonly #waiting = new Map<string, (r: SipResponse) => void>();
  readonly #requests: SipRequest[] = [];
  readonly #requestWaiters: ((r: SipRequest) => void)[] = [];
  /** Every request from the focus (after it was answered 200). */
  onRequest: ((r: SipRequest) => void) | undefined;

  private constructor(transport: 'UDP' | 'TCP', user: string, localPort: number, send: (b: Buffer) => void, close: () => void) {
    this.transport = transport;
    this.user = user;
    this.localPort = localPort;
    this.#send = send;
    this.#close = close;
  }

  static async open(transport: 'UDP' | 'TCP', focusPort: number, user = 'alice', focusHost = '127.0.0.1'): Promise<SipUac> {
    let uac: SipUac | undefined;
    const onMessage = (m: SipMessage) => uac?.receive(m);
    if (transport === 'UDP') {
      const s: UdpSocket = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
      s.on('message', (d) => {
        const p = parseDatagram(d);
        if (p?.ok) onMessage(p.value);
      });
      uac = new SipUac('UDP', user, s.address().port, (b) => s.send(b, focusPort, focusHost), () => s.close());
      return uac;
    }
    const sock: Socket = connect({ host: focusHost, port: focusPort });
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    const framer = new SipStreamFramer({ onMessage, onError: () => undefined, onKeepAlive: () => undefined });
    sock.on('data', (d: Buffer) => framer.push(d));
    sock.on('error', () => undefined);
    uac = new SipUac('TCP', user, sock.localPort ?? 0, (b) => sock.write(b), () => sock.destroy());
    return uac;
  }

  get contact(): string {
    return `<sip:${this.user}@127.0.0.1:${this.localPort}${this.transport === 'TCP' ? ';transport=tcp' : ''}>`;
  }

  newDialog(uri: string, from = `sip:${this.user}@example.com`): UacDialog {
    return { callId: randomBytes(8).toString('hex'), fromTag: randomBytes(4).toString('hex'), toTag: undefined, uri, from, seq: 1, target: undefined };
  }

  /** Sends a request in `d` and resolves with its final response (2xx sets the dialog's To tag and target). */
  async send(d: UacDialog, method: string, o: { headers?: [string, string][]; body?: string; contentType?: string; inDialog?: boolean } = {}): Promise<SipResponse> {
    const seq = method === 'ACK' ? d.seq : ++d.seq;
    const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
    const headers: [string, string][] = [
      ['Via', `SIP/2.0/${this.transport} 127.0.0.1:${this.localPort};branch=${branch};rport`],
      ['Max-Forwards', '70'],
      ['From', `<${d.from}>;tag=${d.fromTag}`],
      ['To', `<${d.uri}>${d.toTag === undefined ? '' : `;tag=${d.toTag}`}`],
      ['Call-ID', d.callId],
      ['CSeq', `${seq} ${method}`],
      ['Contact', this.contact],
      ...(o.headers ?? []),
    ];
    if (o.body !== undefined) headers.push(['Content-Type', o.contentType ?? 'application/sdp']);
    const uri = o.inDialog === true || method === 'ACK' ? (d.target ?? d.uri) : d.uri;
    const req = request({ method, uri, headers, body: o.body ?? '' });
    if (method === 'ACK') {
      this.#send(serialize(req));
      return buildResponse(req, 200, undefined);
    }
    const key = `${seq} ${method}`;
    const done = new Promise<SipResponse>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no final response to ${method}`)), 10_000);
      this.#waiting.set(key, (r) => {
        clearTimeout(t);
        resolve(r);
      });
    });
    this.#send(serialize(req));
    const res = await done;
    if (res.status >= 200 && res.status < 300 && d.toTag === undefined) {
      d.toTag = toTag(res);
      const contact = headerValue(res, 'Contact');
      d.target = contact?.replace(/^[^<]*<([^>]*)>.*$/, '$1');
    }
    return res;
  }

  /** The next request the focus sent us (already answered 200). */
  nextRequest(method: string, timeoutMs = 5000): Promise<SipRequest> {
    const i = this.#requests.findIndex((r) => r.method === method);
    if (i >= 0) return Promise.resolve(this.#requests.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs);
      const w = (r: SipRequest) => {
        if (r.method !== method) return false;
        clearTimeout(t);
        resolve(r);
        return true;
      };
      this.#requestWaiters.push(w);
    });
  }

  close(): void {
    this.#close();
  }

  private receive(m: SipMessage): void {
    if (m.kind === 'response') {
      if (m.status < 200) return;
      const c = cseq(m);
      const w = c === undefined ? undefined : this.#waiting.get(`${c.seq} ${c.method}`);
      if (w && c) {
        this.#waiting.delete(`${c.seq} ${c.method}`);
        w(m);
      }
      return;
    }
    if (m.method !== 'ACK') this.#send(serialize(buildResponse(m, 200, toTag(m) === undefined ? 'uac' : undefined)));
    this.onRequest?.(m);
    for (let i = 0; i < this.#requestWaiters.length; i++) {
      if ((this.#requestWaiters[i] as unknown as (r: SipRequest) => boolean)(m)) {
        this.#requestWaiters.splice(i, 1);
        return;
      }
    }
    this.#requests.push(m);
  }
}
