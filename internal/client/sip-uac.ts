// A minimal SIP user agent client (RFC 3261 UAC side) over UDP or TCP, for `msrp chat` and
// the focus tests: sends requests, collects final responses, answers NOTIFY/BYE from the
// focus with 200 and queues them.
//
// Each request other than ACK runs in a client transaction (RFC 3261 §17.1, the same state
// machines as the focus's, internal/sip/client-transactions.ts): over UDP it is resent on
// Timer A (INVITE) or Timer E (non-INVITE) until a response arrives, and fails on Timer B/F
// (64*T1); over TCP it is sent once (§17.1.1.2: a reliable transport does not retransmit).
// Over WebSocket (RFC 7118, `ws:`/`wss:` with the `sip` subprotocol) each request is one
// message and the Via/Contact host is a random `.invalid` name (§5.2): the focus can reach us
// only over the connection we opened.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { InviteClientTransaction, NonInviteClientTransaction, type ClientTransaction } from '../sip/client-transactions.ts';
import { callId, cseq, toTag, topVia } from '../sip/fields.ts';
import type { SipMessage, SipRequest, SipResponse } from '../sip/message.ts';
import { parseDatagram, SipStreamFramer } from '../sip/parser.ts';
import { buildResponse } from '../sip/responses.ts';
import { serialize } from '../sip/serializer.ts';
import { digestRetry, learnDialog, uacRequest, type UacDialog, type UacSendOptions } from '../sip/uac-request.ts';

export type { UacDialog } from '../sip/uac-request.ts';
import type { TransactionContext } from '../sip/server-transactions.ts';
import { DEFAULT_TIMERS, systemClock, type Clock, type Destination, type TimerHandle } from '../sip/timers.ts';

/** Overrides of RFC 3261 Table 4 (tests shorten T1 so that Timer B/F fire in milliseconds). */
export interface UacTimers {
  /** RTT estimate: first retransmit interval; Timer B/F is 64*T1 (default 500 ms). */
  readonly t1Ms?: number;
  /** Cap of the non-INVITE retransmit interval (default 4 s). */
  readonly t2Ms?: number;
}


export function offerSdp(path: string, o: { acceptTypes?: string; acceptWrappedTypes?: string; chatroom?: boolean; setup?: string; media?: string } = {}): string {
  const lines = [
    'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    o.media ?? 'm=message 7654 TCP/MSRP *',
    `a=accept-types:${o.acceptTypes ?? 'message/cpim text/plain'}`,
    `a=accept-wrapped-types:${o.acceptWrappedTypes ?? '*'}`,
    `a=path:${path}`,
    `a=setup:${o.setup ?? 'active'}`,
  ];
  if (o.chatroom !== false) lines.push('a=chatroom:nickname private-messages');
  return lines.join('\r\n') + '\r\n';
}

/** A request in flight: its transaction, and how to fail the caller waiting for it. */
interface Pending {
  readonly tx: ClientTransaction;
  readonly fail: (err: Error) => void;
}

export type UacTransport = 'UDP' | 'TCP' | 'WS' | 'WSS';

/** How to reach a focus over WebSocket: its CA (wss:) and the Origin to present. */
export interface UacWebSocketOptions {
  readonly ca?: string;
  readonly origin?: string;
  /** Subprotocols offered (default ['sip']). */
  readonly protocols?: readonly string[];
}

export class SipUac {
  readonly transport: UacTransport;
  readonly user: string;
  readonly #send: (b: Buffer) => void;
  readonly #close: () => void;
  readonly localPort: number;
  /** The address this side puts in Via and Contact: one the focus can send to. */
  readonly localHost: string;
  readonly #ctx: TransactionContext;
  readonly #destination: Destination;
  /** Live client transactions by top Via branch and CSeq method (RFC 3261 §17.1.3). */
  readonly #transactions = new Map<string, Pending>();
  /** Every timer of every transaction, so that close() stops them all. */
  readonly #timers = new Set<TimerHandle>();
  /** The last ACK per Call-ID, resent for a retransmitted 2xx (RFC 3261 §13.2.2.4). */
  readonly #acks = new Map<string, { seq: number; bytes: Buffer }>();
  #closed = false;
  readonly #requests: SipRequest[] = [];
  readonly #requestWaiters: ((r: SipRequest) => void)[] = [];
  /** Every request from the focus (after it was answered 200). */
  onRequest: ((r: SipRequest) => void) | undefined;
  /** How to answer an INVITE from the focus (it calls us out); default 200 without a body. */
  answerInvite: ((r: SipRequest) => { status: number; body?: string }) | undefined;
  /** When set, a 401/407 is answered once with Digest (RFC 3261 §22.2) for the request's method and Request-URI. */
  credentials: { readonly username: string; readonly password: string } | undefined;

  private constructor(transport: UacTransport, user: string, localHost: string, localPort: number, focus: { host: string; port: number }, timers: UacTimers, send: (b: Buffer) => void, close: () => void) {
    this.localHost = localHost;
    this.transport = transport;
    this.user = user;
    this.localPort = localPort;
    this.#send = send;
    this.#close = close;
    this.#destination = { transport, address: focus.host, port: focus.port };
    const clock: Clock = {
      now: () => systemClock.now(),
      // systemClock unrefs its timers: a pending retransmission never keeps the process alive.
      setTimer: (ms, fire) => {
        const h = systemClock.setTimer(ms, () => {
          this.#timers.delete(handle);
          fire();
        });
        const handle: TimerHandle = {
          cancel: () => {
            this.#timers.delete(handle);
            h.cancel();
          },
        };
        this.#timers.add(handle);
        return handle;
      },
    };
    this.#ctx = {
      send: (m) => this.#write(serialize(m)),
      clock,
      timers: { ...DEFAULT_TIMERS, T1: timers.t1Ms ?? DEFAULT_TIMERS.T1, T2: timers.t2Ms ?? DEFAULT_TIMERS.T2 },
    };
  }

  static async open(transport: UacTransport, focusPort: number, user = 'alice', focusHost = '127.0.0.1', timers: UacTimers = {}, wsOptions: UacWebSocketOptions = {}): Promise<SipUac> {
    let uac: SipUac | undefined;
    const onMessage = (m: SipMessage) => { if (uac) uac.#receive(m); };
    const focus = { host: focusHost, port: focusPort };
    if (transport === 'WS' || transport === 'WSS') {
      const url = `${transport === 'WSS' ? 'wss' : 'ws'}://${focusHost.includes(':') ? `[${focusHost}]` : focusHost}:${focusPort}/`;
      const ws = new WebSocket(url, [...(wsOptions.protocols ?? ['sip'])], {
        ...(wsOptions.ca === undefined ? {} : { ca: wsOptions.ca, servername: 'localhost' }),
        ...(wsOptions.origin === undefined ? {} : { origin: wsOptions.origin }),
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket handshake refused: ${res.statusCode ?? 0}`)));
      });
      ws.on('error', () => undefined);
      // RFC 7118 §5.2: one SIP message per WebSocket message, parsed whole.
      ws.on('message', (data: Buffer) => {
        const p = parseDatagram(data);
        if (p?.ok) onMessage(p.value);
      });
      const host = `${randomBytes(6).toString('hex')}.invalid`;
      const w = new SipUac(transport, user, host, 0, focus, timers, (b) => ws.send(b), () => ws.terminate());
      uac = w;
      ws.on('close', () => w.#shutdown('the WebSocket to the focus closed'));
      return w;
    }
    if (transport === 'UDP') {
      // Bound to the address that routes to the focus (127.0.0.1 for a local one): the focus
      // answers the Via's address, so it must be one it can reach (RFC 3261 §18.2.2).
      const localHost = await sourceAddressFor(focusHost, focusPort);
      const s: UdpSocket = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, localHost, r));
      s.on('message', (d) => {
        const p = parseDatagram(d);
        if (p?.ok) onMessage(p.value);
      });
      // A send that fails (e.g. ICMP port unreachable) must not crash the client: the request
      // is retransmitted and fails by Timer B/F like any unanswered one.
      s.on('error', () => undefined);
      uac = new SipUac('UDP', user, localHost, s.address().port, focus, timers, (b) => s.send(b, focusPort, focusHost), () => s.close());
      return uac;
    }
    const sock: Socket = connect({ host: focusHost, port: focusPort });
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    const framer = new SipStreamFramer({ onMessage, onError: () => undefined, onKeepAlive: () => undefined });
    sock.on('data', (d: Buffer) => framer.push(d));
    sock.on('error', () => undefined);
    const tcp = new SipUac('TCP', user, sock.localAddress ?? '127.0.0.1', sock.localPort ?? 0, focus, timers, (b) => sock.write(b), () => sock.destroy());
    uac = tcp;
    // RFC 3261 §17.1.4: a transport failure ends the transactions; no answer can come any more.
    sock.on('close', () => tcp.#shutdown('the connection to the focus closed'));
    return tcp;
  }

  get contact(): string {
    if (this.transport === 'WS' || this.transport === 'WSS') return `<sip:${this.user}@${this.localHost};transport=ws>`;
    return `<sip:${this.user}@${this.localHost}:${this.localPort}${this.transport === 'TCP' ? ';transport=tcp' : ''}>`;
  }

  newDialog(uri: string, from = `sip:${this.user}@example.com`): UacDialog {
    return { callId: randomBytes(8).toString('hex'), fromTag: randomBytes(4).toString('hex'), toTag: undefined, uri, from, seq: 1, target: undefined };
  }

  /**
   * Sends a request in `d` and resolves with its final response (2xx sets the dialog's To tag
   * and target). Rejects when Timer B/F fires (no response within 64*T1), or on close().
   */
  async send(d: UacDialog, method: string, o: UacSendOptions = {}): Promise<SipResponse> {
    const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
    const via = `SIP/2.0/${this.transport} ${this.localHost}${this.localPort === 0 ? '' : `:${this.localPort}`};branch=${branch};rport`;
    const { req, uri } = uacRequest(d, method, o, via, this.contact);
    if (method === 'ACK') {
      // §17.1.1.3: the ACK for a 2xx is no transaction; it is resent for each retransmitted 2xx.
      const bytes = serialize(req);
      this.#acks.set(d.callId, { seq: d.seq, bytes });
      this.#write(bytes);
      return buildResponse(req, 200, undefined);
    }
    if (this.#closed) throw new Error(`cannot send ${method}: the SIP client is closed`);
    const key = `${branch} ${method}`;
    const timeoutS = (64 * this.#ctx.timers.T1) / 1000;
    const res = await new Promise<SipResponse>((resolve, reject) => {
      const events = {
        // 1xx only moves the transaction on (stops Timer A, sets Timer E to T2); the caller waits for a final.
        onResponse: (r: SipResponse) => {
          if (r.status >= 200) resolve(r);
        },
        // Timer B/F (§17.1.1.2, §17.1.2.2): the focus never answered, even to retransmissions.
        onTimeout: () => reject(new Error(`no response to ${method} from the focus after ${timeoutS} s`)),
        onTerminated: () => {
          if (this.#transactions.get(key)?.tx === tx) this.#transactions.delete(key);
        },
      };
      const tx = method === 'INVITE'
        ? new InviteClientTransaction(this.#ctx, req, this.#destination, events)
        : new NonInviteClientTransaction(this.#ctx, req, this.#destination, events);
      this.#transactions.set(key, { tx, fail: reject });
      tx.start();
    });
    const retry = digestRetry(res, method, uri, o, this.credentials);
    if (retry !== undefined) return this.send(d, method, retry);
    learnDialog(d, res);
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

  /** Closes the socket; requests still waiting for a response fail. */
  close(): void {
    if (this.#closed) return;
    this.#shutdown('the SIP client was closed');
    this.#close();
  }

  #shutdown(reason: string): void {
    this.#closed = true;
    for (const h of [...this.#timers]) h.cancel();
    const pending = [...this.#transactions.values()];
    this.#transactions.clear();
    this.#acks.clear();
    for (const p of pending) p.fail(new Error(`no response to ${p.tx.request.method}: ${reason}`));
  }

  #write(bytes: Buffer): void {
    if (!this.#closed) this.#send(bytes);
  }

  #receive(m: SipMessage): void {
    if (m.kind === 'response') {
      const c = cseq(m);
      const branch = topVia(m)?.branch;
      const pending = c === undefined || branch === undefined ? undefined : this.#transactions.get(`${branch} ${c.method}`);
      // The transaction absorbs retransmitted responses: the caller's promise settles once.
      if (pending) pending.tx.receive(m);
      else if (c?.method === 'INVITE' && m.status >= 200 && m.status < 300) this.#reAck(m, c.seq);
      return;
    }
    if (m.method === 'INVITE' && this.answerInvite !== undefined) {
      const a = this.answerInvite(m);
      const sdp = a.body === undefined ? {} : { body: a.body, contentType: 'application/sdp' };
      this.#write(serialize(buildResponse(m, a.status, toTag(m) ?? 'uac', { headers: [['Contact', this.contact]], ...sdp })));
    } else if (m.method !== 'ACK') this.#write(serialize(buildResponse(m, 200, toTag(m) === undefined ? 'uac' : undefined)));
    this.onRequest?.(m);
    for (let i = 0; i < this.#requestWaiters.length; i++) {
      if ((this.#requestWaiters[i] as unknown as (r: SipRequest) => boolean)(m)) {
        this.#requestWaiters.splice(i, 1);
        return;
      }
    }
    this.#requests.push(m);
  }

  /** RFC 3261 §13.2.2.4: a retransmitted 2xx means our ACK was lost; send it again. */
  #reAck(res: SipResponse, seq: number): void {
    const id = callId(res);
    const ack = id === undefined ? undefined : this.#acks.get(id);
    if (ack?.seq === seq) this.#write(ack.bytes);
  }
}

/** The local IPv4 address the kernel picks to reach host:port (a connected UDP socket sends nothing). */
async function sourceAddressFor(host: string, port: number): Promise<string> {
  if (host === 'localhost' || host.startsWith('127.')) return '127.0.0.1';
  const probe: UdpSocket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.connect(port, host, () => resolve());
    });
    return probe.address().address;
  } finally {
    probe.close();
  }
}
