// Test support: a participant device over a real socket, written with the project's parser
// and serializer only, so tests see exactly the frames the switch writes (chunk by chunk,
// heads before bodies) and can misbehave (stop reading, drop mid-chunk, spoof).
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import pino from 'pino';
import type { Continuation, MsrpHeader, MsrpRequest, MsrpRequestHead, MsrpResponse } from '../../msrp/frame.ts';
import { getHeader } from '../../msrp/frame.ts';
import { formatCpim } from '../../msrp/cpim.ts';
import { MsrpParser } from '../../msrp/parser.ts';
import { serializeHead, toBuffers } from '../../msrp/serializer.ts';
import { newMessageId, newSessionId, newTransactionId } from '../../msrp/transaction.ts';
import type { AdmitRequest, Room } from './room.ts';
import { ChatSwitch, startChatMsrpListener, type ChatListener, type ChatSwitchOptions } from './switch.ts';

/** A SEND as the peer received it: body joined, with arrival times of head and end. */
export interface Received {
  readonly head: MsrpRequestHead;
  readonly body: Buffer;
  readonly continuation: Continuation;
  readonly headAt: number;
  readonly endAt: number;
}

type Waiter<T> = { match: (x: T) => boolean; resolve: (x: T) => void };

let peerSeq = 0;

export class TestPeer {
  readonly sipUri: string;
  /** Our MSRP URI as the a=path of our offer names it. */
  readonly uri: string;
  focusUri = '';
  participantId = '';
  socket!: Socket;
  readonly received: Received[] = [];
  readonly heads: { head: MsrpRequestHead; at: number }[] = [];
  readonly responses: MsrpResponse[] = [];
  readonly #recvWaiters: Waiter<Received>[] = [];
  readonly #headWaiters: Waiter<MsrpRequestHead>[] = [];
  readonly #resWaiters: Waiter<MsrpResponse>[] = [];
  #current: { head: MsrpRequestHead; parts: Buffer[]; at: number } | undefined;
  closed!: Promise<void>;
  /**
   * Sees every streamed body segment first; returning true keeps it out of `received` (for
   * bodies too large to hold: the test hashes them as they come).
   */
  bodySink: ((head: MsrpRequestHead, segment: Buffer) => boolean) | undefined;

  constructor(sipUri: string, uri?: string) {
    this.sipUri = sipUri;
    this.uri = uri ?? `msrp://peer${++peerSeq}.invalid:9/${newSessionId()};tcp`;
  }

  /**
   * A peer that waits for the switch to connect (its offer says a=setup:passive, RFC 6135):
   * its URI names a listener on 127.0.0.1; `accepted` resolves once the switch connected.
   */
  static async listening(sipUri: string): Promise<{ peer: TestPeer; accepted: Promise<void>; server: Server }> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const peer = new TestPeer(sipUri, `msrp://127.0.0.1:${(server.address() as AddressInfo).port}/${newSessionId()};tcp`);
    const accepted = new Promise<void>((resolve) => server.once('connection', (s: Socket) => {
      peer.#attach(s);
      resolve();
    }));
    return { peer, accepted, server };
  }

  async connect(port: number): Promise<void> {
    this.#attach(await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    }));
  }

  #attach(socket: Socket): void {
    this.socket = socket;
    this.socket.on('error', () => undefined);
    this.closed = new Promise((r) => this.socket.once('close', () => r()));
    const parser = new MsrpParser({
      onFrame: (f) => {
        if (f.kind === 'response') return this.#response(f);
        const body = Buffer.concat(f.body);
        const now = performance.now();
        this.#headSeen(f, now);
        this.#received({ head: f, body, continuation: f.continuation, headAt: now, endAt: now });
      },
      onHead: (h) => {
        if (h.kind !== 'request') return;
        const now = performance.now();
        this.#current = { head: h, parts: [], at: now };
        this.#headSeen(h, now);
      },
      onBody: (b) => {
        const cur = this.#current;
        if (cur === undefined || this.bodySink?.(cur.head, b) === true) return;
        cur.parts.push(Buffer.from(b));
      },
      onEnd: (c) => {
        const cur = this.#current!;
        this.#current = undefined;
        this.#received({ head: cur.head, body: Buffer.concat(cur.parts), continuation: c, headAt: cur.at, endAt: performance.now() });
      },
    }, { maxBufferedBody: 16 * 1024 });
    this.socket.on('data', (c: Buffer) => parser.push(c));
  }

  /** The empty SEND that binds our session to the connection (RFC 4975 §5.4). */
  async bind(): Promise<MsrpResponse> {
    const req = this.request('SEND', []);
    return this.response(req.transactionId);
  }

  request(method: string, headers: MsrpHeader[], body?: Buffer, continuation: Continuation = '$', fromPath = [this.uri]): MsrpRequest {
    const req: MsrpRequest = {
      kind: 'request', method, transactionId: newTransactionId(), toPath: [this.focusUri], fromPath, headers,
      body: body === undefined ? [] : [body], continuation,
    };
    this.socket.write(Buffer.concat(toBuffers(req)));
    return req;
  }

  /** A CPIM body from us (or from `from`), to the room or a participant. */
  cpim(o: { to: string; toName?: string; text?: string; content?: Buffer; contentType?: string; from?: string }): Buffer {
    return formatCpim({
      from: { uri: o.from ?? this.sipUri },
      to: [o.toName === undefined ? { uri: o.to } : { uri: o.to, displayName: o.toName }],
      dateTime: '2009-03-02T15:02:31-03:00',
      contentType: o.contentType ?? 'text/plain',
      content: o.content ?? o.text ?? '',
    });
  }

  /** One SEND chunk; returns the request (its tid finds the response). */
  send(body: Buffer, o: { messageId?: string; range?: string; contentType?: string; continuation?: Continuation; headers?: MsrpHeader[] } = {}): MsrpRequest {
    return this.request('SEND', [
      { name: 'Message-ID', value: o.messageId ?? newMessageId() },
      { name: 'Byte-Range', value: o.range ?? `1-${body.length}/${body.length}` },
      ...(o.headers ?? []),
      { name: 'Content-Type', value: o.contentType ?? 'message/cpim' },
    ], body, o.continuation ?? '$');
  }

  /** Sends a head and part of a body, for streaming tests; the caller writes the rest. */
  startChunk(messageId: string, range: string, first: Buffer): string {
    const tid = newTransactionId();
    this.socket.write(Buffer.concat([serializeHead({
      kind: 'request', method: 'SEND', transactionId: tid, toPath: [this.focusUri], fromPath: [this.uri],
      headers: [{ name: 'Message-ID', value: messageId }, { name: 'Byte-Range', value: range }, { name: 'Content-Type', value: 'message/cpim' }],
    }), first]));
    return tid;
  }

  endChunk(tid: string, flag: Continuation): void {
    this.socket.write(`\r\n-------${tid}${flag}\r\n`);
  }

  async sendAndWait(body: Buffer, o: Parameters<TestPeer['send']>[1] = {}): Promise<MsrpResponse> {
    return this.response(this.send(body, o).transactionId);
  }

  nickname(value: string): Promise<MsrpResponse> {
    return this.response(this.request('NICKNAME', [{ name: 'Use-Nickname', value }]).transactionId);
  }

  response(tid: string, timeoutMs = 3000): Promise<MsrpResponse> {
    return wait(this.responses, this.#resWaiters, (r) => r.transactionId === tid, timeoutMs, `response to ${tid}`);
  }

  next(match: (r: Received) => boolean = () => true, timeoutMs = 3000): Promise<Received> {
    return wait(this.received, this.#recvWaiters, match, timeoutMs, `SEND at ${this.sipUri}`);
  }

  nextHead(match: (h: MsrpRequestHead) => boolean, timeoutMs = 3000): Promise<MsrpRequestHead> {
    const seen = this.heads.find((h) => match(h.head));
    if (seen !== undefined) return Promise.resolve(seen.head);
    return wait([], this.#headWaiters, match, timeoutMs, `head at ${this.sipUri}`);
  }

  /** Received messages whose CPIM content includes `text`. */
  nextText(text: string, timeoutMs?: number): Promise<Received> {
    return this.next((r) => r.body.includes(text), timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  #headSeen(h: MsrpRequestHead, at: number): void {
    this.heads.push({ head: h, at });
    const i = this.#headWaiters.findIndex((w) => w.match(h));
    if (i >= 0) this.#headWaiters.splice(i, 1)[0]!.resolve(h);
  }

  #received(r: Received): void {
    const i = this.#recvWaiters.findIndex((w) => w.match(r));
    if (i >= 0) this.#recvWaiters.splice(i, 1)[0]!.resolve(r);
    else this.received.push(r);
  }

  #response(r: MsrpResponse): void {
    const i = this.#resWaiters.findIndex((w) => w.match(r));
    if (i >= 0) this.#resWaiters.splice(i, 1)[0]!.resolve(r);
    else this.responses.push(r);
  }
}

function wait<T>(buffer: T[], waiters: Waiter<T>[], match: (x: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const i = buffer.findIndex(match);
  if (i >= 0) return Promise.resolve(buffer.splice(i, 1)[0]!);
  return new Promise((resolve, reject) => {
    const w: Waiter<T> = {
      match,
      resolve: (x) => {
        clearTimeout(t);
        resolve(x);
      },
    };
    const t = setTimeout(() => {
      const k = waiters.indexOf(w);
      if (k >= 0) waiters.splice(k, 1);
      reject(new Error(`no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    waiters.push(w);
  });
}

export const ROOM_URI = 'sip:lobby@chat.example.com';

/** A switch with a TCP listener on loopback and one room. */
export async function startTestSwitch(policy: Parameters<ChatSwitch['createRoom']>[0]['policy'] = {}, o: Partial<ChatSwitchOptions> = {}): Promise<{ sw: ChatSwitch; room: Room; listener: ChatListener; stop: () => void }> {
  const sw = new ChatSwitch({ publicHost: '127.0.0.1', logger: pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }), ...o });
  const listener = await startChatMsrpListener(sw, { hosts: ['127.0.0.1'], port: 0 });
  const room = sw.createRoom({ uri: ROOM_URI, policy });
  await room.ready;
  return { sw, room, listener, stop: () => { sw.close(); listener.close(); } };
}

/** Admits, connects and binds a peer (as the SIP focus then the device would). */
export async function join(room: Room, port: number, sipUri: string, o: Partial<AdmitRequest> & { bind?: boolean } = {}): Promise<TestPeer> {
  const p = new TestPeer(sipUri);
  const r = room.admit({ sipUri, remotePath: [p.uri], acceptsPrivate: true, ...o });
  if (!r.ok) throw new Error(`admit ${sipUri}: ${r.reason}`);
  p.focusUri = r.localUri;
  p.participantId = r.participantId;
  await p.connect(port);
  if (o.bind !== false) {
    const res = await p.bind();
    if (res.status !== 200) throw new Error(`bind ${sipUri}: ${res.status}`);
  }
  return p;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Orders a negative assertion ("nothing else reached these peers"): `from` sends a public
 * message and each of `to` waits for it. The switch writes one connection's frames in order
 * (outbox.ts), so whatever it queued for a peer before it handled this probe is in that peer's
 * `received` once the probe arrived (the probe itself is taken by the waiter, not kept there).
 * Send the probe on the connection that sent the thing under test, or after an event that
 * shows the switch handled it.
 */
export async function probe(from: TestPeer, to: readonly TestPeer[], roomUri = ROOM_URI): Promise<void> {
  const text = `probe ${newMessageId()}`;
  const res = await from.sendAndWait(from.cpim({ to: roomUri, text }));
  if (res.status !== 200) throw new Error(`probe from ${from.sipUri}: ${res.status}`);
  await Promise.all(to.map((p) => p.nextText(text)));
}
export { getHeader };
