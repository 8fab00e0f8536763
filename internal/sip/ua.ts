// The UAS core (RFC 3261 §8.2, §9.2, §12, §13.3, §22): generic checks and the answers
// they give, CANCEL, OPTIONS, dialogs and 2xx retransmission; everything else goes to the
// transaction user (the chat focus) through `onRequest`. Order of checks (§8.2):
//   483 Max-Forwards 0 → 405/501 method → 420 Require → 415 Content-Type →
//   481/500 in-dialog → 401 Digest (out-of-dialog, configured methods) → TU

import type { SipParseError } from './errors.ts';
import { callId as callIdOf, contentType, cseq, maxForwards, optionTags, toTag } from './fields.ts';
import { headerValue, type SipHeader, type SipMessage, type SipRequest, type SipResponse } from './message.ts';
import { buildResponse, type ResponseOptions } from './responses.ts';
import { DialogStore, inDialogRequest, newTag, SuccessRetransmission, dialogKey, type Dialog } from './dialogs.ts';
import { newBranch, TransactionLayer, type SendFn } from './transactions.ts';
import { InviteServerTransaction, type ServerTransaction } from './server-transactions.ts';
import { sipChallenges, verifySipDigest, type SipDigestOptions } from './digest.ts';
import type { Clock, Destination, TimerValues } from './timers.ts';

/** Methods this stack knows (RFC 3261 and extensions); others are answered 501 (§8.2.1). */
const KNOWN_METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE'];
const DIALOG_CREATING = ['INVITE', 'SUBSCRIBE', 'REFER'];

export interface UserAgentOptions {
  readonly send: SendFn;
  /** Contact for dialog-creating 2xx, e.g. `<sip:room@focus.example.com;transport=tcp>;isfocus` (RFC 4579 §3). */
  readonly contact: string;
  readonly allow?: readonly string[];
  readonly supported?: readonly string[];
  /** Body types accepted (Accept, 415 check for INVITE); default application/sdp. */
  readonly accept?: readonly string[];
  readonly server?: string;
  readonly clock?: Clock;
  readonly timers?: Partial<TimerValues>;
  /** Digest challenge for out-of-dialog requests of `methods` (default INVITE). */
  readonly digest?: SipDigestOptions & { readonly methods?: readonly string[] };
  /** sent-by for the Via of requests we send over a transport. */
  readonly sentBy?: (destination: Destination) => { host: string; port: number };
  /** The transaction user. */
  onRequest(request: IncomingRequest): void;
  onAck?(ack: SipRequest, dialog: Dialog): void;
  /** A pending INVITE was cancelled (the core already answered 487). */
  onCancel?(invite: SipRequest): void;
  onDialogEnded?(dialog: Dialog, why: 'bye' | 'no-ack' | 'rejected'): void;
  /**
   * `source` proved it receives what we send: it answered one of our requests, sent a request
   * in a dialog (our tag), or ACKed our 2xx. A spoofed UDP source cannot (transport/udp-guard.ts).
   */
  onReturnRoutable?(source: Destination): void;
}

export interface IncomingRequest {
  readonly request: SipRequest;
  readonly source: Destination;
  /** The dialog of an in-dialog request, undefined for a dialog-creating one (until a 1xx/2xx creates it). */
  readonly dialog: Dialog | undefined;
  /** The Digest-authenticated username, when challenged. */
  readonly user: string | undefined;
  /** Answers; a 2xx to INVITE/SUBSCRIBE/REFER creates the dialog and returns it. */
  respond(status: number, options?: ResponseOptions): Dialog | undefined;
}

export class UserAgentServer {
  readonly transactions: TransactionLayer;
  readonly dialogs = new DialogStore();
  readonly #o: UserAgentOptions;
  readonly #allow: readonly string[];
  readonly #supported: readonly string[];
  readonly #accept: readonly string[];
  readonly #retransmissions = new Map<string, SuccessRetransmission>();
  /** How to answer a pending INVITE (used by CANCEL for its 487). */
  readonly #pendingInvites = new WeakMap<InviteServerTransaction, (status: number) => void>();
  /** The ACK of each INVITE we sent that was answered 2xx, by Call-ID, for a retransmitted 2xx (§13.2.2.4); dropped with the dialog's BYE. */
  readonly #uacAcks = new Map<string, { request: SipRequest; destination: Destination }>();

  constructor(options: UserAgentOptions) {
    this.#o = options;
    this.#allow = options.allow ?? ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'SUBSCRIBE', 'NOTIFY', 'REFER'];
    this.#supported = options.supported ?? [];
    this.#accept = options.accept ?? ['application/sdp'];
    this.transactions = new TransactionLayer({ send: options.send, clock: options.clock, timers: options.timers });
  }

  /** A parsed message from the transport. */
  receive(msg: SipMessage, source: Destination): void {
    if (msg.kind === 'response') {
      if (this.transactions.receiveResponse(msg)) this.#o.onReturnRoutable?.(source);
      // RFC 3261 §13.2.2.4: a 2xx to our INVITE retransmitted after its transaction ended means our ACK was lost.
      else if (cseq(msg)?.method === 'INVITE' && msg.status >= 200 && msg.status < 300) {
        const ack = this.#uacAcks.get(callIdOf(msg) ?? '');
        if (ack !== undefined) this.#o.send(ack.request, ack.destination);
      }
      return;
    }
    const existing = this.transactions.findServer(msg);
    if (existing) {
      existing.receive(msg); // retransmission, or the ACK of a non-2xx (§17.2.3)
      return;
    }
    if (msg.method === 'ACK') {
      this.#ack(msg, source);
      return;
    }
    const tx = this.transactions.createServer(msg, source);
    const answer = (status: number, options: ResponseOptions = {}) => tx.respond(this.#response(msg, status, undefined, options));
    if (tx instanceof InviteServerTransaction) tx.start(this.#response(msg, 100, undefined));

    const mf = maxForwards(msg);
    if (mf === 0) return answer(483);
    if (msg.method === 'CANCEL') return this.#cancel(msg, answer);
    if (!this.#allow.includes(msg.method)) {
      return KNOWN_METHODS.includes(msg.method) ? answer(405, { headers: [['Allow', this.#allow.join(', ')]] }) : answer(501);
    }
    // §8.2.2.3: option tags we do not support → 420 listing them in Unsupported.
    const unsupported = optionTags(msg, 'Require').filter((t) => !this.#supported.includes(t));
    if (unsupported.length > 0) return answer(420, { headers: [['Unsupported', unsupported.join(', ')]] });
    // §8.2.3: a body type we cannot process → 415 with Accept.
    const type = contentType(msg);
    if (msg.body.length > 0 && msg.method === 'INVITE' && (!type || !this.#accept.includes(type.mediaType))) {
      return answer(415, { headers: [['Accept', this.#accept.join(', ')]] });
    }
    let dialog: Dialog | undefined;
    if (toTag(msg) !== undefined) {
      const checked = this.dialogs.check(msg);
      if (!checked.ok) return answer(checked.status, { reason: checked.reason });
      dialog = checked.dialog;
      this.#o.onReturnRoutable?.(source);
    }
    if (msg.method === 'OPTIONS') return answer(200, { headers: this.#capabilities() });
    let user: string | undefined;
    const digest = this.#o.digest;
    if (digest && !dialog && (digest.methods ?? ['INVITE']).includes(msg.method)) {
      const header = headerValue(msg, 'Authorization');
      const challenge = (stale: boolean) => answer(401, { headers: sipChallenges(digest, stale).map((c) => ['WWW-Authenticate', c] as const) });
      if (header === undefined) return challenge(false);
      const verified = verifySipDigest(digest, header, msg.method, msg.uri);
      if (!verified.ok) {
        if (verified.code === 'malformed') return answer(400, { reason: 'Bad Authorization' });
        return challenge(verified.code === 'stale-nonce');
      }
      user = verified.value;
    }
    this.#deliver(msg, source, tx, dialog, user);
  }

  /** A parse error from the transport: answer a request when its Via survived (§8.2; RFC 4475's invalid messages). */
  receiveError(error: SipParseError, source: Destination): void {
    const partial = error.partial;
    if (!partial || partial.kind !== 'request' || partial.method === 'ACK' || headerValue(partial, 'Via') === undefined) return;
    const tag = toTag(partial) === undefined ? newTag() : undefined;
    this.#o.send(buildResponse(partial, error.status, tag, { reason: error.reason, headers: this.#serverHeader() }), source);
  }

  #deliver(msg: SipRequest, source: Destination, tx: ServerTransaction, dialog: Dialog | undefined, user: string | undefined): void {
    const localTag = dialog?.id.localTag ?? toTag(msg) ?? newTag();
    let created = dialog;
    const respond = (status: number, options: ResponseOptions = {}): Dialog | undefined => {
      if (tx.state === 'terminated' || tx.state === 'completed' || tx.state === 'confirmed') return created;
      const accepting = !dialog && DIALOG_CREATING.includes(msg.method) && status > 100 && status < 300;
      // RFC 4488 §4: a REFER accepted with Refer-Sub: false makes no subscription, so no dialog
      // (nothing would ever end it: no NOTIFY says terminated).
      const creating = accepting && !(msg.method === 'REFER' && (options.headers ?? []).some(([n, v]) => n.toLowerCase() === 'refer-sub' && v.trim().toLowerCase() === 'false'));
      const extra: [string, string][] = [];
      if (accepting || (msg.method === 'INVITE' && status >= 200 && status < 300)) {
        if (!(options.headers ?? []).some(([n]) => n.toLowerCase() === 'contact' || n === 'm')) extra.push(['Contact', this.#o.contact]);
      }
      const res = this.#response(msg, status, localTag, { ...options, headers: [...(options.headers ?? []), ...extra] });
      if (creating) {
        created ??= this.dialogs.createUas(msg, localTag, source);
        if (status >= 200) created.state = 'confirmed';
      }
      if (!dialog && msg.method === 'INVITE' && status >= 300 && created) {
        this.dialogs.terminate(created);
        this.#o.onDialogEnded?.(created, 'rejected');
      }
      tx.respond(res);
      if (msg.method === 'INVITE' && status >= 200 && status < 300 && created) this.#retransmit(created, res, tx.source);
      if (msg.method === 'BYE' && status >= 200 && status < 300 && dialog) {
        this.#stopRetransmission(dialog);
        this.dialogs.terminate(dialog);
        this.#uacAcks.delete(dialog.id.callId);
        this.#o.onDialogEnded?.(dialog, 'bye');
      }
      return created;
    };
    if (tx instanceof InviteServerTransaction) this.#pendingInvites.set(tx, (status) => respond(status));
    this.#o.onRequest({ request: msg, source, dialog, user, respond });
  }

  #cancel(cancel: SipRequest, answer: (status: number) => void): void {
    // §9.2: CANCEL matches the INVITE server transaction; none → 481.
    const invite = this.transactions.findCancelled(cancel);
    if (!invite) return answer(481);
    answer(200);
    if (invite.state !== 'proceeding') return;
    this.#pendingInvites.get(invite)?.(487);
    this.#o.onCancel?.(invite.request);
  }

  #ack(ack: SipRequest, source: Destination): void {
    // The ACK of a 2xx is its own transaction, routed by dialog (§13.3.1.4, §17.1.1.3); an ACK
    // matching nothing is dropped: ACK is never answered.
    const dialog = this.dialogs.find(ack);
    if (!dialog) return;
    this.#o.onReturnRoutable?.(source);
    const retransmission = this.#retransmissions.get(dialogKey(dialog.id));
    const seq = cseq(ack)?.seq;
    if (retransmission) {
      retransmission.stop();
      this.#retransmissions.delete(dialogKey(dialog.id));
    }
    if (seq !== undefined) this.#o.onAck?.(ack, dialog);
  }

  #retransmit(dialog: Dialog, res: SipResponse, destination: Destination): void {
    const key = dialogKey(dialog.id);
    this.#retransmissions.get(key)?.stop();
    this.#retransmissions.set(key, new SuccessRetransmission(
      (r) => this.#o.send(r, destination), res, this.transactions.ctx.clock, this.transactions.ctx.timers,
      () => {
        // §13.3.1.4: no ACK within 64*T1: confirm then end the dialog with BYE.
        this.#retransmissions.delete(key);
        void this.request(dialog, 'BYE').catch(() => undefined);
        this.dialogs.terminate(dialog);
        this.#o.onDialogEnded?.(dialog, 'no-ack');
      },
    ));
  }

  #stopRetransmission(dialog: Dialog): void {
    const key = dialogKey(dialog.id);
    this.#retransmissions.get(key)?.stop();
    this.#retransmissions.delete(key);
  }

  /**
   * Sends a request within a dialog (NOTIFY, BYE, re-INVITE...) in a client transaction to
   * where the peer's requests came from (connection reuse, RFC 5923 spirit). Resolves with
   * the final response; a timeout resolves as 408 and a transport error as 503 (§8.1.3.1).
   */
  request(dialog: Dialog, method: string, init: { headers?: readonly (readonly [string, string])[]; body?: Buffer; contentType?: string } = {}): Promise<SipResponse> {
    const destination = dialog.peer;
    const sentBy = this.#o.sentBy?.(destination) ?? { host: '127.0.0.1', port: 5060 };
    const headers = (init.headers ?? []).map(([name, value]) => ({ name, value }));
    if (init.body && init.contentType) headers.push({ name: 'Content-Type', value: init.contentType });
    const req = inDialogRequest(dialog, {
      method,
      via: `SIP/2.0/${destination.transport.toUpperCase()} ${sentBy.host}:${sentBy.port};branch=${newBranch()};rport`,
      contact: method === 'BYE' ? undefined : this.#o.contact,
      headers,
      body: init.body,
    });
    if (method === 'BYE') {
      this.#stopRetransmission(dialog);
      this.dialogs.terminate(dialog);
      this.#uacAcks.delete(dialog.id.callId);
    }
    return new Promise((resolve) => {
      const synth = (status: number) => resolve(buildResponse(req, status, undefined));
      this.transactions.sendRequest(req, destination, {
        onResponse: (res) => {
          if (res.status >= 200) resolve(res);
        },
        onTimeout: () => synth(408),
        onTransportError: () => synth(503),
      });
    });
  }

  /**
   * An out-of-dialog INVITE from us (RFC 3261 §13.2, the focus calling out, RFC 4579 §5.5):
   * one client transaction to `destination`; a 2xx creates the dialog (§12.1.2), which is
   * confirmed at once with the ACK (§13.2.2.4, sent by us, not the transaction). Resolves
   * with the final response and the dialog for a 2xx; a timeout is 408, a transport error 503.
   */
  invite(init: {
    readonly uri: string; readonly destination: Destination; readonly from: string; readonly to: string;
    /** Our Contact for this dialog (default: the UA's). */
    readonly contact?: string;
    readonly headers?: readonly (readonly [string, string])[]; readonly body?: Buffer; readonly contentType?: string;
  }): Promise<{ response: SipResponse; dialog: Dialog | undefined }> {
    const destination = init.destination;
    const sentBy = this.#o.sentBy?.(destination) ?? { host: '127.0.0.1', port: 5060 };
    const via = () => `SIP/2.0/${destination.transport.toUpperCase()} ${sentBy.host}:${sentBy.port};branch=${newBranch()};rport`;
    const callIdValue = `${newTag()}@${sentBy.host}`;
    const headers: SipHeader[] = [
      { name: 'Via', value: via() }, { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `${init.from};tag=${newTag()}` }, { name: 'To', value: init.to },
      { name: 'Call-ID', value: callIdValue }, { name: 'CSeq', value: '1 INVITE' },
      { name: 'Contact', value: init.contact ?? this.#o.contact },
      ...(init.headers ?? []).map(([name, value]) => ({ name, value })),
      ...this.#capabilities().map(([name, value]) => ({ name, value })),
    ];
    if (init.body && init.contentType) headers.push({ name: 'Content-Type', value: init.contentType });
    const req: SipRequest = { kind: 'request', method: 'INVITE', uri: init.uri, headers, body: init.body ?? Buffer.alloc(0) };
    return new Promise((resolve) => {
      let done = false;
      const settle = (response: SipResponse, dialog?: Dialog) => {
        if (done) return;
        done = true;
        resolve({ response, dialog });
      };
      this.transactions.sendRequest(req, destination, {
        onResponse: (res) => {
          if (res.status < 200) return;
          if (res.status >= 300) return settle(res);
          const dialog = this.dialogs.createUac(req, res, destination);
          const ack = inDialogRequest({ ...dialog, localSeq: dialog.localSeq - 1 }, { method: 'ACK', via: via() });
          this.#uacAcks.set(callIdValue, { request: ack, destination });
          this.#o.send(ack, destination);
          settle(res, dialog);
        },
        onTimeout: () => settle(buildResponse(req, 408, undefined)),
        onTransportError: () => settle(buildResponse(req, 503, undefined)),
      });
    });
  }

  #capabilities(): [string, string][] {
    const h: [string, string][] = [['Allow', this.#allow.join(', ')], ['Accept', this.#accept.join(', ')]];
    if (this.#supported.length > 0) h.push(['Supported', this.#supported.join(', ')]);
    return h;
  }

  #serverHeader(): [string, string][] {
    return this.#o.server === undefined ? [] : [['Server', this.#o.server]];
  }

  #response(req: SipRequest, status: number, tag: string | undefined, options: ResponseOptions = {}): SipResponse {
    const localTag = tag ?? (status > 100 && toTag(req) === undefined ? newTag() : undefined);
    return buildResponse(req, status, localTag, { ...options, headers: [...(options.headers ?? []), ...this.#serverHeader()] });
  }
}
