// A small MSRP endpoint for interop tests against third-party relays (Kamailio): one
// TCP or TLS connection, the project's parser and serializer, RFC 4976 AUTH with Digest,
// requests matched to responses by transaction id, incoming requests queued (SENDs are
// answered 200 hop-by-hop). Test code: no flow control, no chunking, no retries.
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { computeResponse, ha1, parseAuthParams, splitScheme } from '../../internal/auth/index.ts';
import type { MsrpFrame, MsrpHeader, MsrpRequest, MsrpResponse } from '../../internal/msrp/frame.ts';
import { getHeader } from '../../internal/msrp/frame.ts';
import { MsrpParser } from '../../internal/msrp/parser.ts';
import { toBuffers } from '../../internal/msrp/serializer.ts';

export interface MsrpClientOptions {
  host: string;
  port: number;
  /** Connect with TLS; `ca` is the PEM to trust (the relay's test CA). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean; servername?: string };
  /** Answer incoming SENDs with 200 (default true). */
  autoRespond?: boolean;
}

export interface AuthResult {
  /** The relay's Use-Path URIs (RFC 4976 §5.2), in order. */
  usePath: string[];
  expires: number | undefined;
  /** The 401 and the final response, for assertions. */
  challenge: MsrpResponse;
  response: MsrpResponse;
}

/** A random ident usable as transaction id, session id or Message-ID (RFC 4975 §9). */
export function ident(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

/** A plain request frame with To-Path/From-Path first (what Kamailio requires). */
export function request(method: string, toPath: readonly string[], fromPath: readonly string[], headers: MsrpHeader[] = [], body?: Buffer): MsrpRequest {
  return {
    kind: 'request', method, transactionId: ident(6), toPath, fromPath, headers,
    body: body !== undefined && body.length > 0 ? [body] : [], continuation: '$',
  };
}

/** The body of a frame as one Buffer (copied). */
export function bodyOf(frame: MsrpFrame): Buffer {
  return Buffer.concat(frame.body);
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class MsrpTestClient {
  readonly socket: Socket;
  /** This endpoint's URI, `msrp[s]://127.0.0.1:LOCALPORT/SESSION;tcp`: the real source address, so a relay may also reach it by address. */
  readonly uri: string;
  /** Every frame received, in order. */
  readonly received: MsrpFrame[] = [];
  /** Parse errors (fatal or not) reported by our parser: a peer bug if any. */
  readonly parseErrors: string[] = [];
  readonly #autoRespond: boolean;
  readonly #parser: MsrpParser;
  readonly #pending = new Map<string, Waiter<MsrpResponse>>();
  readonly #inbox: MsrpRequest[] = [];
  readonly #inboxWaiters: Waiter<MsrpRequest>[] = [];
  #closedError: Error | undefined;

  private constructor(socket: Socket, scheme: 'msrp' | 'msrps', autoRespond: boolean) {
    this.socket = socket;
    this.#autoRespond = autoRespond;
    this.uri = `${scheme}://127.0.0.1:${socket.localPort}/${ident(6)};tcp`;
    this.#parser = new MsrpParser({
      onFrame: (f) => this.#onFrame(f),
      onError: (e) => this.parseErrors.push(`${e.code}${e.fatal ? ' (fatal)' : ''}: ${e.message}`),
    }, { byteRangeCheck: 'off' });
    socket.on('data', (d: Buffer) => this.#parser.push(d));
    socket.on('error', (e) => this.#fail(e));
    socket.on('close', () => this.#fail(new Error('connection closed by the peer')));
  }

  static connect(o: MsrpClientOptions): Promise<MsrpTestClient> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      let socket: Socket;
      if (o.tls) {
        socket = tlsConnect({
          host: o.host, port: o.port, ca: o.tls.ca, servername: o.tls.servername ?? 'localhost',
          rejectUnauthorized: o.tls.rejectUnauthorized ?? true,
        }, () => {
          socket.off('error', onError);
          resolve(new MsrpTestClient(socket, 'msrps', o.autoRespond ?? true));
        });
      } else {
        socket = netConnect({ host: o.host, port: o.port }, () => {
          socket.off('error', onError);
          resolve(new MsrpTestClient(socket, 'msrp', o.autoRespond ?? true));
        });
      }
      socket.setNoDelay(true);
      socket.once('error', onError);
    });
  }

  #fail(e: Error): void {
    this.#closedError ??= e;
    for (const w of this.#pending.values()) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.#pending.clear();
    for (const w of this.#inboxWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(e);
    }
  }

  #onFrame(f: MsrpFrame): void {
    // Copy bodies: the parser's slices point into socket buffers.
    const frame: MsrpFrame = f.body.length > 0 ? { ...f, body: [Buffer.concat(f.body)] } : f;
    this.received.push(frame);
    if (frame.kind === 'response') {
      const w = this.#pending.get(frame.transactionId);
      if (w) {
        this.#pending.delete(frame.transactionId);
        clearTimeout(w.timer);
        w.resolve(frame);
      }
      return;
    }
    if (this.#autoRespond && frame.method === 'SEND' && getHeader(frame, 'Failure-Report')?.trim() !== 'no') {
      // Hop-by-hop response (RFC 4975 §7.2, RFC 4976 §7.3): To-Path is the previous hop only.
      this.write({
        kind: 'response', status: 200, comment: 'OK', transactionId: frame.transactionId,
        toPath: [frame.fromPath[0]!], fromPath: [this.uri], headers: [], body: [], continuation: '$',
      });
    }
    const w = this.#inboxWaiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(frame);
    } else {
      this.#inbox.push(frame);
    }
  }

  write(frame: MsrpFrame): void {
    const bufs = toBuffers(frame);
    this.socket.cork();
    for (const b of bufs) this.socket.write(b);
    this.socket.uncork();
  }

  /** Sends a request and waits for the response with its transaction id. */
  transact(frame: MsrpRequest, timeoutMs = 5000): Promise<MsrpResponse> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(frame.transactionId);
        reject(new Error(`no response to ${frame.method} ${frame.transactionId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(frame.transactionId, { resolve, reject, timer });
      this.write(frame);
    });
  }

  /** The next incoming request (SEND, REPORT, ...). */
  nextRequest(timeoutMs = 5000): Promise<MsrpRequest> {
    const queued = this.#inbox.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => {
      const w: Waiter<MsrpRequest> = {
        resolve, reject,
        timer: setTimeout(() => {
          const i = this.#inboxWaiters.indexOf(w);
          if (i >= 0) this.#inboxWaiters.splice(i, 1);
          reject(new Error(`no request received within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#inboxWaiters.push(w);
    });
  }

  /**
   * RFC 4976 §5: AUTH to `relayUri` (no session part), answer the Digest challenge
   * (MD5, qop=auth, digest-uri = relayUri), return the Use-Path of the 200.
   * Throws when the final response is not 200 (the response is on the error as `.response`).
   */
  async auth(relayUri: string, user: string, password: string, opts: { expires?: number; realm?: string } = {}): Promise<AuthResult> {
    const extra: MsrpHeader[] = opts.expires !== undefined ? [{ name: 'Expires', value: String(opts.expires) }] : [];
    const challenge = await this.transact(request('AUTH', [relayUri], [this.uri], extra));
    if (challenge.status !== 401) throw Object.assign(new Error(`AUTH without credentials: expected 401, got ${challenge.status}`), { response: challenge });
    const wwwAuth = getHeader(challenge, 'WWW-Authenticate');
    if (wwwAuth === undefined) throw new Error('401 without WWW-Authenticate');
    const split = splitScheme(wwwAuth);
    if (!split.ok || split.value.scheme.toLowerCase() !== 'digest') throw new Error(`not a Digest challenge: ${wwwAuth}`);
    const params = parseAuthParams(split.value.rest);
    if (!params.ok) throw new Error(`bad challenge: ${wwwAuth}`);
    const realm = opts.realm ?? params.value.get('realm') ?? '';
    const nonce = params.value.get('nonce') ?? '';
    const opaque = params.value.get('opaque');
    const algorithm = params.value.get('algorithm') ?? 'MD5';
    if (algorithm.toUpperCase() !== 'MD5') throw new Error(`unexpected Digest algorithm ${algorithm}`);
    const cnonce = ident(8);
    const nc = '00000001';
    const response = computeResponse({
      algorithm: 'MD5', ha1: ha1('MD5', user, realm, password), nonce, cnonce, nc, qop: 'auth', method: 'AUTH', uri: relayUri,
    });
    const fields = [
      `username="${user}"`, `realm="${realm}"`, `nonce="${nonce}"`, `uri="${relayUri}"`,
      `response="${response}"`, 'algorithm=MD5', 'qop=auth', `nc=${nc}`, `cnonce="${cnonce}"`,
    ];
    if (opaque !== undefined) fields.push(`opaque="${opaque}"`);
    const final = await this.transact(request('AUTH', [relayUri], [this.uri], [{ name: 'Authorization', value: `Digest ${fields.join(', ')}` }, ...extra]));
    if (final.status !== 200) throw Object.assign(new Error(`AUTH with credentials: expected 200, got ${final.status} ${final.comment}`), { response: final });
    const usePath = (getHeader(final, 'Use-Path') ?? '').trim().split(/\s+/).filter((u) => u.length > 0);
    const exp = getHeader(final, 'Expires');
    return { usePath, expires: exp === undefined ? undefined : Number(exp.trim()), challenge, response: final };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) {
        resolve();
        return;
      }
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }
}
