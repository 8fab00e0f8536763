// An MSRP endpoint (RFC 4975) with RFC 4976 relay support: our session URI, the
// connection(s) carrying it, AUTH to a relay, sending and receiving messages.
//
//   const ep = await connectEndpoint('msrps://relay.example.com:2855;tcp', { caFile });
//   const auth = await ep.auth({ relayUri: ep.remoteUri, username, password });
//   ep.path            // [...Use-Path, our URI]: what a peer puts in its To-Path (RFC 4976 §6)
//   await ep.send({ toPath: [...ep.usePath, ...peerPath], message: 'hello' });
//
// Without a relay, `listenEndpoint` accepts connections from peers (the passive side of
// RFC 4975 §5.4) and `connectEndpoint` to the peer's URI is the active side.
import type { Server, Socket } from 'node:net';
import type { MsrpHeader, MsrpRequest, MsrpRequestHead, MsrpResponse } from '../msrp/frame.ts';
import { getHeader } from '../msrp/frame.ts';
import type { ByteRange } from '../msrp/headers.ts';
import { buildReport, failureReportOf, reportPolicy, successReportOf } from '../msrp/reports.ts';
import { MsrpStatus } from '../msrp/status.ts';
import { buildResponse, newSessionId } from '../msrp/transaction.ts';
import { parseMsrpUri } from '../msrp/uri.ts';
import type { MsrpParseError } from '../msrp/parser.ts';
import { authenticate, type AuthOptions, type AuthResult, type AuthSession } from './auth.ts';
import { connectTo, listenOn, uriHost, type ConnectOptions, type ServerTlsOptions } from './connect.ts';
import { Link, type BodySink, type LinkHandler } from './link.ts';
import { Receiver, type ReceivedMessage, type ReceiverOptions } from './receiver.ts';
import { runSend, type SendOptions, type SendResult, type SendTracker } from './sender.ts';

export type { ReceivedMessage, ReceivedFile, ReceiveProgress } from './receiver.ts';
export type { SendOptions, SendResult, SendProgress } from './sender.ts';
export type { AuthOptions, AuthResult } from './auth.ts';

export interface EndpointOptions extends ReceiverOptions {
  /** Our session-id (default: fresh, 119 random bits, RFC 4975 §6 wants at least 80). */
  readonly sessionId?: string;
  /**
   * Host written in our URI. Behind NAT a client cannot know a reachable address and does
   * not need one: the relay reaches it over the connection it authenticated (RFC 4976 §5,
   * §6), so the socket's local address is used by default.
   */
  readonly localHost?: string;
  /** RFC 4975 §7.1: 30 s by default. */
  readonly transactionTimeoutMs?: number;
  /** Bodies above this size are streamed (to disk) instead of buffered (default 64 KiB). */
  readonly streamThreshold?: number;
  /** Protocol trouble on a connection (parse errors); for logs. */
  readonly onWarning?: (message: string) => void;
  /** A re-AUTH before the relay session expired failed. */
  readonly onAuthRefreshFailed?: (r: AuthResult) => void;
}

export class MsrpEndpoint implements LinkHandler {
  readonly sessionId: string;
  /** Our URI (RFC 4975 §6): scheme per transport, session id, ";tcp". */
  readonly localUri: string;
  /** For an active endpoint: the URI it connected to (relay or peer). */
  readonly remoteUri: string | undefined;
  readonly #o: EndpointOptions;
  readonly #links = new Set<Link>();
  readonly #server: Server | undefined;
  readonly #receiver: Receiver;
  readonly #sends = new Map<string, SendTracker>();
  /** Peer session id → the link its traffic last came on (passive side, RFC 4975 §5.4). */
  readonly #peerLinks = new Map<string, Link>();
  readonly #messages: ReceivedMessage[] = [];
  readonly #waiters: ((m: ReceivedMessage | undefined) => void)[] = [];
  #auth: AuthSession | undefined;
  #closed = false;

  /** Use `connectEndpoint` or `listenEndpoint`. */
  constructor(init: { localUri: string; sessionId: string; remoteUri?: string; server?: Server }, o: EndpointOptions) {
    this.sessionId = init.sessionId;
    this.localUri = init.localUri;
    this.remoteUri = init.remoteUri;
    this.#server = init.server;
    this.#o = o;
    this.#receiver = new Receiver(
      {
        ...o,
        onMessage: (m) => {
          o.onMessage?.(m);
          const w = this.#waiters.shift();
          if (w !== undefined) w(m);
          else this.#messages.push(m);
        },
      },
      {
        answer: (link, head, outcome, status, comment) => this.#answer(link, head, outcome, status, comment),
        report: (link, head, status, range, comment) => this.#report(link, head, status, range, comment),
      },
    );
  }

  /** The relay's Use-Path after a successful AUTH, else empty. */
  get usePath(): readonly string[] {
    return this.#auth?.usePath ?? [];
  }

  /** What a peer needs as its To-Path tail to reach us: the Use-Path then our URI (RFC 4976 §6). */
  get path(): readonly string[] {
    return [...this.usePath, this.localUri];
  }

  /** Seconds the relay granted, and when the session expires (ms since epoch). */
  get authExpiresAt(): number | undefined {
    return this.#auth?.expiresAt;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Adds a connection (used by the factories; a listening endpoint gets one per peer). */
  attach(socket: Socket): Link {
    const link = new Link(socket, this, {
      transactionTimeoutMs: this.#o.transactionTimeoutMs ?? 30_000,
      streamThreshold: this.#o.streamThreshold ?? 64 * 1024,
    });
    this.#links.add(link);
    return link;
  }

  /**
   * AUTH to the relay we are connected to (RFC 4976 §5): challenge, Digest answer, Use-Path
   * and Expires. The session is refreshed with a new AUTH before it expires.
   */
  async auth(o: Omit<AuthOptions, 'fromUri' | 'relayUri'> & { relayUri?: string }): Promise<AuthResult> {
    const link = this.#defaultLink();
    const relayUri = o.relayUri ?? this.remoteUri;
    if (link === undefined || relayUri === undefined) return { ok: false, code: 'closed', status: 0, message: 'not connected to a relay' };
    this.#auth?.stop();
    const r = await authenticate(link, { ...o, relayUri, fromUri: this.localUri }, (refreshed) => {
      if (!refreshed.ok) this.#o.onAuthRefreshFailed?.(refreshed);
    });
    if (r.ok) this.#auth = r.session;
    return r;
  }

  /** Sends one message (text, buffer or stream), chunked, and waits for the outcome. */
  send(o: SendOptions): Promise<SendResult> {
    const link = this.#linkFor(o.toPath);
    if (link === undefined) {
      return Promise.resolve({ ok: false, messageId: o.messageId ?? '', code: 'closed', status: 408, message: 'no connection to send on', acknowledged: 0 });
    }
    return runSend(link, [this.localUri], o, (messageId, tracker) => {
      this.#sends.set(messageId, tracker);
      return () => this.#sends.delete(messageId);
    });
  }

  /**
   * The next received message (in arrival order), or undefined if the endpoint closes or
   * `timeoutMs` passes first. Messages are also given to `onMessage`.
   */
  nextMessage(timeoutMs?: number): Promise<ReceivedMessage | undefined> {
    const m = this.#messages.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const w = (msg: ReceivedMessage | undefined): void => {
        clearTimeout(timer);
        resolve(msg);
      };
      this.#waiters.push(w);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          resolve(undefined);
        }, timeoutMs);
      }
    });
  }

  /** Closes connections and the listener; partial files are removed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#auth?.stop();
    for (const l of this.#links) l.end();
    const ended = [...this.#links].map((l) => new Promise<void>((r) => {
      if (l.closed) r();
      else {
        l.socket.once('close', () => r());
        setTimeout(() => l.destroy(), 2000).unref();
      }
    }));
    if (this.#server !== undefined) await new Promise<void>((r) => this.#server!.close(() => r()));
    await Promise.all(ended);
    await this.#receiver.close();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  // ---- LinkHandler ---------------------------------------------------------------------

  onRequest(link: Link, request: MsrpRequest): void {
    if (request.method === 'SEND') {
      const sink = this.onStreamedRequest(link, request);
      for (const b of request.body) sink.data(b);
      sink.end(request.continuation);
      return;
    }
    if (request.method === 'REPORT') {
      // RFC 4975 §7.1.2: REPORTs are never answered.
      const messageId = getHeader(request, 'Message-ID');
      if (messageId !== undefined) this.#sends.get(messageId)?.onReport(request);
      return;
    }
    // RFC 4975 §12: an endpoint answers methods it does not understand with 501.
    link.write(buildResponse(request, MsrpStatus.METHOD_NOT_UNDERSTOOD));
  }

  onStreamedRequest(link: Link, head: MsrpRequestHead): BodySink {
    const ignore: BodySink = { data: () => undefined, end: () => undefined, abort: () => undefined };
    if (head.method !== 'SEND') {
      if (head.method !== 'REPORT') link.write(buildResponse({ ...head, body: [], continuation: '$' }, MsrpStatus.METHOD_NOT_UNDERSTOOD));
      return ignore;
    }
    // RFC 4975 §7.3: a SEND for a session that is not ours gets 481.
    const target = parseMsrpUri(head.toPath[head.toPath.length - 1] ?? '');
    if (!target.ok || target.uri.sessionId !== this.sessionId || head.toPath.length !== 1) {
      return { ...ignore, end: () => this.#answer(link, head, 'rejected', MsrpStatus.SESSION_DOES_NOT_EXIST) };
    }
    const peer = parseMsrpUri(head.fromPath[head.fromPath.length - 1] ?? '');
    if (peer.ok && peer.uri.sessionId !== undefined) this.#peerLinks.set(peer.uri.sessionId, link);
    return this.#receiver.openChunk(link, head);
  }

  onStrayResponse(_link: Link, response: MsrpResponse): void {
    for (const t of this.#sends.values()) if (t.onStrayResponse(response)) return;
  }

  onParseError(_link: Link, error: MsrpParseError): void {
    this.#o.onWarning?.(`MSRP parse error (${error.code}): ${error.message}`);
  }

  onClose(link: Link): void {
    this.#links.delete(link);
    for (const [k, l] of this.#peerLinks) if (l === link) this.#peerLinks.delete(k);
    if (this.#server === undefined && this.#links.size === 0) {
      this.#auth?.stop();
      for (const w of this.#waiters.splice(0)) w(undefined);
    }
  }

  // ---- internals -----------------------------------------------------------------------

  #defaultLink(): Link | undefined {
    let last: Link | undefined;
    for (const l of this.#links) last = l;
    return last;
  }

  #linkFor(toPath: readonly string[]): Link | undefined {
    const last = parseMsrpUri(toPath[toPath.length - 1] ?? '');
    if (last.ok && last.uri.sessionId !== undefined) {
      const l = this.#peerLinks.get(last.uri.sessionId);
      if (l !== undefined && !l.closed) return l;
    }
    return this.#defaultLink();
  }

  /** RFC 4975 §7.2 with the report rules of reports.ts: whether and how to answer a chunk. */
  #answer(link: Link, head: MsrpRequestHead, outcome: 'accepted' | 'complete' | 'rejected', status: number, comment?: string): void {
    const fr = failureReportOf(head);
    const decision = reportPolicy({ method: 'SEND', failureReport: fr === 'invalid' ? 'yes' : fr, outcome });
    if (decision.sendResponse) link.write(buildResponse({ ...head, body: [], continuation: '$' }, status, comment));
  }

  /** Success REPORT when asked for (Success-Report: yes); failure REPORT unless Failure-Report: no. */
  #report(link: Link, head: MsrpRequestHead, status: number, range: ByteRange, comment?: string): void {
    if (status === MsrpStatus.OK ? successReportOf(head) !== 'yes' : failureReportOf(head) === 'no') return;
    const report = buildReport({ ...head, body: [], continuation: '$' }, { status, byteRange: range, localUri: this.localUri, ...(comment === undefined ? {} : { comment }) });
    if (report !== null) link.write(report);
  }
}

export interface ConnectEndpointOptions extends EndpointOptions, ConnectOptions {}

export type ConnectEndpointResult =
  | { readonly ok: true; readonly endpoint: MsrpEndpoint; /** Where the connection went (connectTo's `via`). */ readonly via: string }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Connects to a relay or a peer given by its MSRP URI (TLS for msrps:); a relay URI without
 * a port is found by SRV (connect.ts, RFC 4976 §8), and stays the endpoint's remoteUri: the
 * URI its AUTH is addressed to.
 */
export async function connectEndpoint(uri: string, o: ConnectEndpointOptions = {}): Promise<ConnectEndpointResult> {
  const c = await connectTo(uri, o);
  if (!c.ok) return c;
  const sessionId = o.sessionId ?? newSessionId();
  const scheme = c.uri.scheme;
  const host = o.localHost ?? c.socket.localAddress ?? '127.0.0.1';
  const localUri = `${scheme}://${uriHost(host)}:${c.socket.localPort ?? 0}/${sessionId};tcp`;
  const endpoint = new MsrpEndpoint({ localUri, sessionId, remoteUri: uri }, o);
  endpoint.attach(c.socket);
  return { ok: true, endpoint, via: c.via };
}

export interface ListenEndpointOptions extends EndpointOptions {
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** TLS server certificate: the URI becomes msrps. */
  readonly tls?: ServerTlsOptions;
}

/** An endpoint that accepts connections from peers (no relay; RFC 4975 §5.4 passive side). */
export async function listenEndpoint(o: ListenEndpointOptions = {}): Promise<MsrpEndpoint> {
  const host = o.host ?? '127.0.0.1';
  const holder: { endpoint?: MsrpEndpoint; pending: Socket[] } = { pending: [] };
  const server = await listenOn(host, o.port ?? 0, o.tls, (s) => {
    if (holder.endpoint === undefined) holder.pending.push(s);
    else holder.endpoint.attach(s);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (o.port ?? 0);
  const sessionId = o.sessionId ?? newSessionId();
  const localUri = `${o.tls === undefined ? 'msrp' : 'msrps'}://${uriHost(o.localHost ?? host)}:${port}/${sessionId};tcp`;
  const endpoint = new MsrpEndpoint({ localUri, sessionId, server }, o);
  holder.endpoint = endpoint;
  for (const s of holder.pending) endpoint.attach(s);
  return endpoint;
}

/** Headers of a received message by name (case-insensitive). */
export function messageHeader(m: { headers: readonly MsrpHeader[] }, name: string): string | undefined {
  return getHeader(m, name);
}
