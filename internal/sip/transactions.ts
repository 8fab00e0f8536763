// The transaction layer (RFC 3261 §17): creates server and client transactions and
// matches incoming messages to them.
//
// Server matching (§17.2.3): with an RFC 3261 branch (magic cookie z9hG4bK) the key is
// branch + sent-by of the top Via + method, where ACK uses INVITE's key. A CANCEL has its
// own transaction (method CANCEL) and finds the INVITE it cancels with the INVITE key
// (§9.2). Requests from RFC 2543 elements (no cookie) fall back to Call-ID, From tag,
// CSeq number and the whole top Via, a simplification of §17.2.3's rules that ignores the
// Request-URI and To tag.
// Client matching (§17.1.3): branch of the top Via + CSeq method.

import { randomBytes } from 'node:crypto';
import { callId, cseq, fromTag, MAGIC_COOKIE, parseVia } from './fields.ts';
import { headerValue, type SipRequest, type SipResponse } from './message.ts';
import { InviteClientTransaction, NonInviteClientTransaction, type ClientTransaction, type ClientTransactionEvents } from './client-transactions.ts';
import {
  InviteServerTransaction, NonInviteServerTransaction,
  type SendFn, type ServerTransaction, type ServerTransactionEvents, type TransactionContext,
} from './server-transactions.ts';
import { DEFAULT_TIMERS, systemClock, type Clock, type Destination, type TimerValues } from './timers.ts';

export { InviteServerTransaction, NonInviteServerTransaction, InviteClientTransaction, NonInviteClientTransaction };
export type { ServerTransaction, ClientTransaction, SendFn, TransactionContext };

/** A new RFC 3261 branch: the magic cookie and 96 random bits. */
export function newBranch(): string {
  return MAGIC_COOKIE + randomBytes(12).toString('base64url');
}

/** The server transaction key of a request, with `method` overriding the request's (ACK/CANCEL → INVITE). */
export function serverKey(req: SipRequest, method = req.method === 'ACK' ? 'INVITE' : req.method): string | undefined {
  const top = headerValue(req, 'Via');
  const via = top === undefined ? undefined : parseVia(top);
  if (!via) return undefined;
  if (via.branch !== undefined && via.branch.startsWith(MAGIC_COOKIE)) {
    return `${via.branch}|${via.host.toLowerCase()}:${via.port ?? ''}|${method}`;
  }
  const c = cseq(req);
  return `2543|${callId(req) ?? ''}|${fromTag(req) ?? ''}|${c?.seq ?? ''}|${top}|${method}`;
}

/** The client transaction key of a response (or of the request that was sent). */
export function clientKey(msg: SipRequest | SipResponse): string | undefined {
  const via = parseVia(headerValue(msg, 'Via') ?? '');
  const method = cseq(msg)?.method;
  if (!via?.branch || method === undefined) return undefined;
  return `${via.branch}|${method === 'ACK' ? 'INVITE' : method}`;
}

export interface TransactionLayerOptions {
  send: SendFn;
  clock?: Clock;
  timers?: Partial<TimerValues>;
}

export class TransactionLayer {
  readonly ctx: TransactionContext;
  readonly #servers = new Map<string, ServerTransaction>();
  readonly #clients = new Map<string, ClientTransaction>();

  constructor(options: TransactionLayerOptions) {
    this.ctx = { send: options.send, clock: options.clock ?? systemClock, timers: { ...DEFAULT_TIMERS, ...options.timers } };
  }

  get serverCount(): number {
    return this.#servers.size;
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  /** The server transaction a request belongs to (a retransmission, or the ACK of a non-2xx). */
  findServer(req: SipRequest): ServerTransaction | undefined {
    const key = serverKey(req);
    return key === undefined ? undefined : this.#servers.get(key);
  }

  /** RFC 3261 §9.2: the INVITE transaction a CANCEL targets (same key with method INVITE). */
  findCancelled(cancel: SipRequest): InviteServerTransaction | undefined {
    const key = serverKey(cancel, 'INVITE');
    const tx = key === undefined ? undefined : this.#servers.get(key);
    return tx instanceof InviteServerTransaction ? tx : undefined;
  }

  /** Creates the server transaction for a new request (not ACK). */
  createServer(req: SipRequest, source: Destination, events: ServerTransactionEvents = {}): ServerTransaction {
    const key = serverKey(req);
    const onTerminated = () => {
      if (key !== undefined && this.#servers.get(key) === tx) this.#servers.delete(key);
      events.onTerminated?.();
    };
    const tx: ServerTransaction = req.method === 'INVITE'
      ? new InviteServerTransaction(this.ctx, req, source, { ...events, onTerminated })
      : new NonInviteServerTransaction(this.ctx, req, source, { ...events, onTerminated });
    if (key !== undefined) this.#servers.set(key, tx);
    return tx;
  }

  /** Sends a request in a new client transaction; its top Via must carry a unique branch. */
  sendRequest(req: SipRequest, destination: Destination, events: ClientTransactionEvents = {}): ClientTransaction {
    const key = clientKey(req);
    const onTerminated = () => {
      if (key !== undefined && this.#clients.get(key) === tx) this.#clients.delete(key);
      events.onTerminated?.();
    };
    const tx: ClientTransaction = req.method === 'INVITE'
      ? new InviteClientTransaction(this.ctx, req, destination, { ...events, onTerminated })
      : new NonInviteClientTransaction(this.ctx, req, destination, { ...events, onTerminated });
    if (key !== undefined) this.#clients.set(key, tx);
    tx.start();
    return tx;
  }

  /**
   * RFC 3261 §17.1.4: the transport could not send `req` (a WebSocket peer's connection is gone
   * and cannot be reopened): its client transaction ends with a transport error now rather
   * than on Timer B/F. False when no transaction matches.
   */
  transportFailed(req: SipRequest): boolean {
    const key = clientKey(req);
    const tx = key === undefined ? undefined : this.#clients.get(key);
    if (tx === undefined) return false;
    tx.transportError();
    return true;
  }

  /**
   * §17.1.4 for a connection that closed and cannot be reopened (a WebSocket): every client
   * transaction sent over it ends with a transport error. Returns how many.
   */
  connectionLost(connectionId: string): number {
    const lost = [...this.#clients.values()].filter((tx) => tx.destination.connectionId === connectionId);
    for (const tx of lost) tx.transportError();
    return lost.length;
  }

  /** Hands a response to its client transaction; false when none matches (a stray 2xx goes to the core, §17.1.1.2). */
  receiveResponse(res: SipResponse): boolean {
    const key = clientKey(res);
    const tx = key === undefined ? undefined : this.#clients.get(key);
    if (!tx) return false;
    tx.receive(res);
    return true;
  }
}
