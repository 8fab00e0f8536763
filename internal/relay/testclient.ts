// A minimal MSRP client for tests: a real TCP/TLS socket (or a real WebSocket over one,
// RFC 7977, through the `ws` package: one message per frame), the project's parser and
// serializer, and a Digest computation written out here from RFC 7616 §3.4.1 (so the
// relay's verifier is checked against an independent implementation).
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { createWebSocketStream, WebSocket } from 'ws';
import type { MsrpFrame, MsrpHeader, MsrpRequest, MsrpResponse } from '../msrp/frame.ts';
import { getHeader } from '../msrp/frame.ts';
import { MsrpParser } from '../msrp/parser.ts';
import { toBuffers } from '../msrp/serializer.ts';
import { newMessageId, newTransactionId } from '../msrp/transaction.ts';

export interface TestClientOptions {
  host?: string;
  port: number;
  /** PEM CA for TLS; plain TCP when absent. */
  ca?: string;
  /** A client certificate and key to present (a peer relay, relay-peer-tls.test.ts); TLS only. */
  cert?: { cert: string; key: string };
  /** Our own URI (From-Path). */
  uri?: string;
  /** The name the server certificate is checked against (default `localhost`). */
  servername?: string;
}

export interface TestWebSocketOptions {
  host?: string;
  port: number;
  /** PEM CA for wss:; ws: when absent. */
  ca?: string;
  /** Subprotocols offered (default ['msrp']). */
  protocols?: string[];
  origin?: string;
  uri?: string;
  /** Largest message accepted from the relay (default 64 MiB). */
  maxPayload?: number;
}

export class TestClient {
  /** The TCP or TLS socket (under the WebSocket, for a WebSocket client). */
  readonly socket: Socket;
  /** What frames are written to and read from: the socket, or a stream over the WebSocket. */
  readonly io: Duplex;
  readonly uri: string;
  readonly frames: MsrpFrame[] = [];
  readonly #waiters: { match: (f: MsrpFrame) => boolean; resolve: (f: MsrpFrame) => void }[] = [];
  readonly closed: Promise<void>;
  /** WebSocket clients: messages received, and those that were not exactly one frame (RFC 7977 §4.2). */
  messages = 0;
  readonly messageFaults: string[] = [];
  /** WebSocket clients: the close code received. */
  closeCode: number | undefined;
  #nc = 0;

  private constructor(socket: Socket, uri: string, io: Duplex = socket) {
    this.socket = socket;
    this.io = io;
    this.uri = uri;
    const parser = new MsrpParser({
      onFrame: (f) => {
        // Copy the body so it stays valid after further pushes.
        const frame = { ...f, body: f.body.length > 0 ? [Buffer.concat(f.body)] : [] } as MsrpFrame;
        const i = this.#waiters.findIndex((w) => w.match(frame));
        if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(frame);
        else this.frames.push(frame);
      },
    }, { maxBufferedBody: 64 * 1024 * 1024 });
    io.on('data', (c: Buffer) => parser.push(c));
    io.on('error', () => {});
    if (io !== socket) socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /**
   * A WebSocket client (RFC 7977): its URI has a `.invalid` host and the `ws` transport, as a
   * browser's would (it accepts no connections); each frame goes out as one message.
   */
  static async connectWebSocket(o: TestWebSocketOptions): Promise<TestClient> {
    const host = o.host ?? '127.0.0.1';
    const url = `${o.ca !== undefined ? 'wss' : 'ws'}://${host}:${o.port}/`;
    const ws = new WebSocket(url, o.protocols ?? ['msrp'], {
      perMessageDeflate: false,
      maxPayload: o.maxPayload ?? 64 * 1024 * 1024,
      ...(o.ca !== undefined ? { ca: o.ca, servername: 'localhost' } : {}),
      ...(o.origin !== undefined ? { origin: o.origin } : {}),
    });
    const socket = await new Promise<Socket>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.socket));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
    });
    await new Promise<void>((resolve, reject) => {
      if (ws.readyState === WebSocket.OPEN) resolve();
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const uri = o.uri ?? `msrps://${randomBytes(5).toString('hex')}.invalid:2855/${randomBytes(6).toString('hex')};ws`;
    const client = new TestClient(socket, uri, createWebSocketStream(ws));
    ws.on('message', (data: Buffer) => {
      client.messages++;
      // One frame: starts with its start line and ends with its own end-line, found only there.
      const text = data.toString('latin1');
      const tid = /^MSRP ([A-Za-z0-9][A-Za-z0-9.+%=-]*) /.exec(text)?.[1];
      const endLine = tid === undefined ? undefined : new RegExp(`\r\n-------${tid.replace(/[.+]/g, '\\$&')}[$+#]\r\n`, 'g');
      const ends = endLine === undefined ? [] : [...text.matchAll(endLine)];
      if (ends.length !== 1 || ends[0]!.index + ends[0]![0].length !== text.length) {
        client.messageFaults.push(`message ${client.messages} (${data.length} bytes) is not one frame: ${JSON.stringify(text.slice(0, 40))}`);
      }
    });
    ws.on('close', (code: number) => {
      client.closeCode = code;
    });
    return client;
  }

  static async connect(o: TestClientOptions): Promise<TestClient> {
    const host = o.host ?? '127.0.0.1';
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s: Socket = o.ca !== undefined
        ? tlsConnect({ host, port: o.port, ca: o.ca, ...tlsName(o.servername ?? 'localhost'), ...(o.cert ?? {}) }, () => resolve(s))
        : netConnect({ host, port: o.port }, () => resolve(s));
      s.once('error', reject);
    });
    const uri = o.uri ?? `msrps://client-${randomBytes(3).toString('hex')}.invalid:9/${randomBytes(6).toString('hex')};tcp`;
    return new TestClient(socket, uri);
  }

  /** An endpoint on a socket it accepted (the passive side of RFC 4975 §5.4, e.g. a peer a relay dials). */
  static accepted(socket: Socket, uri: string): TestClient {
    return new TestClient(socket, uri);
  }

  /** Waits for the next received frame matching `match` (default: any). */
  next(match: (f: MsrpFrame) => boolean = () => true, timeoutMs = 5000): Promise<MsrpFrame> {
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = { match, resolve: (f: MsrpFrame) => { clearTimeout(t); resolve(f); } };
      const t = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(new Error(`no matching frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }

  response(tid: string, timeoutMs?: number): Promise<MsrpResponse> {
    return this.next((f) => f.kind === 'response' && f.transactionId === tid, timeoutMs) as Promise<MsrpResponse>;
  }

  request(method: string, timeoutMs?: number): Promise<MsrpRequest> {
    return this.next((f) => f.kind === 'request' && f.method === method, timeoutMs) as Promise<MsrpRequest>;
  }

  write(frame: MsrpFrame): boolean {
    return this.io.write(Buffer.concat(toBuffers(frame)));
  }

  /** Sends a request and returns it (its transaction id identifies the response). */
  send(method: string, toPath: string[], headers: MsrpHeader[] = [], body?: Buffer | string, fromPath = [this.uri], continuation: '$' | '+' | '#' = '$'): MsrpRequest {
    const req: MsrpRequest = {
      kind: 'request', method, transactionId: newTransactionId(), toPath, fromPath, headers,
      body: body === undefined ? [] : [Buffer.isBuffer(body) ? body : Buffer.from(body)], continuation,
    };
    this.write(req);
    return req;
  }

  /** A SEND with Message-ID, Byte-Range and Content-Type. */
  sendMessage(toPath: string[], text: string | Buffer, extra: MsrpHeader[] = []): MsrpRequest {
    const body = Buffer.isBuffer(text) ? text : Buffer.from(text);
    return this.send('SEND', toPath, [
      { name: 'Message-ID', value: newMessageId() },
      { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
      ...extra,
      { name: 'Content-Type', value: 'text/plain' },
    ], body);
  }

  /** AUTH with a Digest answer to the relay's challenge (RFC 4976 §5.1); returns the final response. */
  async auth(relayUri: string, user: string, password: string, o: { expires?: number; algorithm?: 'MD5' | 'SHA-256'; wrongPassword?: boolean } = {}): Promise<MsrpResponse> {
    const first = this.send('AUTH', [relayUri]);
    const challenge = await this.response(first.transactionId);
    if (challenge.status !== 401) return challenge;
    return this.answer(challenge, relayUri, user, o.wrongPassword === true ? password + 'x' : password, o);
  }

  /** Answers a 401 challenge. */
  async answer(challenge: MsrpResponse, relayUri: string, user: string, password: string, o: { expires?: number; algorithm?: 'MD5' | 'SHA-256' } = {}): Promise<MsrpResponse> {
    const algorithm = o.algorithm ?? 'SHA-256';
    const www = challenge.headers.filter((h) => h.name.toLowerCase() === 'www-authenticate').map((h) => h.value)
      .find((v) => new RegExp(`algorithm=${algorithm}(,|$)`).test(v));
    if (www === undefined) throw new Error(`no ${algorithm} challenge`);
    const realm = /realm="([^"]*)"/.exec(www)![1]!;
    const nonce = /nonce="([^"]*)"/.exec(www)![1]!;
    const hash = (s: string): string => createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');
    const cnonce = randomBytes(8).toString('hex');
    const nc = (++this.#nc).toString(16).padStart(8, '0');
    const ha1 = hash(`${user}:${realm}:${password}`);
    const ha2 = hash(`AUTH:${relayUri}`);
    const response = hash(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
    const authz = `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${relayUri}", response="${response}", algorithm=${algorithm}, cnonce="${cnonce}", qop=auth, nc=${nc}`;
    const headers: MsrpHeader[] = [{ name: 'Authorization', value: authz }];
    if (o.expires !== undefined) headers.push({ name: 'Expires', value: String(o.expires) });
    const req = this.send('AUTH', [relayUri], headers);
    return this.response(req.transactionId);
  }

  close(): void {
    this.io.destroy();
    this.socket.destroy();
  }
}

/** SNI cannot carry an IP address: such a name is only checked against the certificate. */
function tlsName(name: string): { servername?: string; checkServerIdentity?: (h: string, c: PeerCertificate) => Error | undefined } {
  return isIP(name) === 0 ? { servername: name } : { checkServerIdentity: (_h, c) => checkServerIdentity(name, c) };
}

export function usePathOf(res: MsrpResponse): string {
  const v = getHeader(res, 'Use-Path');
  if (v === undefined) throw new Error(`no Use-Path in ${res.status}`);
  return v;
}
