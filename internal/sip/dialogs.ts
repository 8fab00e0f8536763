// UAS dialogs (RFC 3261 §12): identity, state from the dialog-creating request, in-dialog
// request validation and construction, and the retransmission of a 2xx to INVITE until
// its ACK arrives (§13.3.1.4), which belongs to the UAS core, not to the transaction.

import { randomBytes } from 'node:crypto';
import { callId, contacts, cseq, fromHeader, fromTag, toTag } from './fields.ts';
import { headerValue, headerValues, type SipHeader, type SipRequest, type SipResponse } from './message.ts';
import { parseSipUri } from './uri.ts';
import type { Clock, Destination, TimerHandle, TimerValues } from './timers.ts';

/** RFC 3261 §19.3: a tag has at least 32 random bits; we use 64. */
export function newTag(): string {
  return randomBytes(8).toString('hex');
}

export interface DialogId {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
}

export function dialogKey(id: DialogId): string {
  return `${id.callId}|${id.localTag}|${id.remoteTag}`;
}

export interface Dialog {
  readonly id: DialogId;
  state: 'early' | 'confirmed' | 'terminated';
  /** The method that created it: INVITE, SUBSCRIBE or REFER. */
  readonly method: string;
  /** Our To header value with our tag (we are the UAS). */
  readonly localParty: string;
  /** The peer's From header value. */
  readonly remoteParty: string;
  /** The peer's Contact URI (§12.1.1), refreshed by target-refresh requests (§12.2.2). */
  remoteTarget: string;
  /** Record-Route of the creating request, in order (§12.1.1). */
  readonly routeSet: readonly string[];
  localSeq: number;
  /** undefined until a request with a CSeq arrives (always set for a UAS dialog). */
  remoteSeq: number | undefined;
  /** sips Request-URI over TLS (§12.1.1). */
  readonly secure: boolean;
  /** Where the peer's requests came from: in-dialog requests go back there when no route says otherwise. */
  readonly peer: Destination;
}

export type DialogCheck =
  | { readonly ok: true; readonly dialog: Dialog }
  | { readonly ok: false; readonly status: 481 | 500; readonly reason: string };

export class DialogStore {
  readonly #dialogs = new Map<string, Dialog>();

  get size(): number {
    return this.#dialogs.size;
  }

  /** The dialog state a UAS builds from a dialog-creating request and its 2xx/1xx (RFC 3261 §12.1.1). */
  createUas(req: SipRequest, localTag: string, peer: Destination): Dialog {
    const id: DialogId = { callId: callId(req) ?? '', localTag, remoteTag: fromTag(req) ?? '' };
    const to = headerValue(req, 'To') ?? '';
    const contact = contacts(req)[0];
    const dialog: Dialog = {
      id, state: 'early', method: req.method,
      localParty: /;\s*tag=/i.test(to) ? to : `${to};tag=${localTag}`,
      remoteParty: headerValue(req, 'From') ?? '',
      remoteTarget: contact && !contact.star ? contact.uri : (fromHeader(req)?.uri ?? req.uri),
      routeSet: headerValues(req, 'Record-Route'),
      localSeq: Math.floor(Math.random() * 2 ** 20),
      remoteSeq: cseq(req)?.seq,
      secure: peer.transport.toUpperCase() === 'TLS' && parseSipUri(req.uri)?.scheme === 'sips',
      peer,
    };
    this.#dialogs.set(dialogKey(id), dialog);
    return dialog;
  }

  /**
   * The dialog a UAC builds from its INVITE and the 2xx (RFC 3261 §12.1.2): our From (with
   * its tag) is the local party, the 2xx's To (with the peer's tag) the remote party, its
   * Contact the remote target. The route set is kept in the order inDialogRequest expects.
   */
  createUac(req: SipRequest, res: SipResponse, peer: Destination): Dialog {
    const id: DialogId = { callId: callId(req) ?? '', localTag: fromTag(req) ?? '', remoteTag: toTag(res) ?? '' };
    const contact = contacts(res)[0];
    const dialog: Dialog = {
      id, state: 'confirmed', method: req.method,
      localParty: headerValue(req, 'From') ?? '',
      remoteParty: headerValue(res, 'To') ?? '',
      remoteTarget: contact && !contact.star ? contact.uri : req.uri,
      routeSet: headerValues(res, 'Record-Route'),
      localSeq: cseq(req)?.seq ?? 1,
      remoteSeq: undefined,
      secure: peer.transport.toUpperCase() === 'TLS' && parseSipUri(req.uri)?.scheme === 'sips',
      peer,
    };
    this.#dialogs.set(dialogKey(id), dialog);
    return dialog;
  }

  /** The dialog of an in-dialog request we receive (To tag is ours, From tag is theirs). */
  find(req: SipRequest): Dialog | undefined {
    const local = toTag(req);
    if (local === undefined) return undefined;
    return this.#dialogs.get(dialogKey({ callId: callId(req) ?? '', localTag: local, remoteTag: fromTag(req) ?? '' }));
  }

  /**
   * RFC 3261 §12.2.2: an unknown dialog is 481; a CSeq lower than the last one is 500
   * (except ACK and CANCEL, which reuse the INVITE's number). A target refresh updates
   * the remote target from Contact.
   */
  check(req: SipRequest): DialogCheck {
    const dialog = this.find(req);
    if (!dialog || dialog.state === 'terminated') return { ok: false, status: 481, reason: 'Call/Transaction Does Not Exist' };
    const seq = cseq(req)?.seq;
    if (req.method !== 'ACK' && req.method !== 'CANCEL' && seq !== undefined) {
      if (dialog.remoteSeq !== undefined && seq <= dialog.remoteSeq) {
        return { ok: false, status: 500, reason: 'CSeq Out of Order' };
      }
      dialog.remoteSeq = seq;
    }
    if (['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER'].includes(req.method)) {
      const contact = contacts(req)[0];
      if (contact && !contact.star) dialog.remoteTarget = contact.uri;
    }
    return { ok: true, dialog };
  }

  terminate(dialog: Dialog): void {
    dialog.state = 'terminated';
    this.#dialogs.delete(dialogKey(dialog.id));
  }

  all(): Dialog[] {
    return [...this.#dialogs.values()];
  }
}

export interface InDialogRequestInit {
  readonly method: string;
  /** Top Via value for the request, with a fresh branch (the transport knows sent-by). */
  readonly via: string;
  readonly contact?: string;
  readonly headers?: readonly SipHeader[];
  readonly body?: Buffer;
}

/**
 * A request within a dialog (RFC 3261 §12.2.1.1): To = remote party, From = local party,
 * CSeq = local sequence + 1, Request-URI and Route from the remote target and the route
 * set (loose routing when the first route has ;lr, strict routing otherwise).
 */
export function inDialogRequest(dialog: Dialog, init: InDialogRequestInit): SipRequest {
  dialog.localSeq += 1;
  let uri = dialog.remoteTarget;
  let route = [...dialog.routeSet].reverse(); // a UAS uses the Record-Route list in reverse (§12.1.1)
  const first = route[0];
  if (first !== undefined && !/;\s*lr\b/i.test(first)) {
    uri = first.replace(/^[^<]*<([^>]*)>.*$/, '$1').replace(/;[^?]*/, '');
    route = [...route.slice(1), `<${dialog.remoteTarget}>`];
  }
  const headers: SipHeader[] = [
    { name: 'Via', value: init.via },
    { name: 'Max-Forwards', value: '70' },
    ...route.map((value) => ({ name: 'Route', value })),
    { name: 'From', value: dialog.localParty },
    { name: 'To', value: dialog.remoteParty },
    { name: 'Call-ID', value: dialog.id.callId },
    { name: 'CSeq', value: `${dialog.localSeq} ${init.method}` },
  ];
  if (init.contact !== undefined) headers.push({ name: 'Contact', value: init.contact });
  headers.push(...(init.headers ?? []));
  return { kind: 'request', method: init.method, uri, headers, body: init.body ?? Buffer.alloc(0) };
}

/**
 * RFC 3261 §13.3.1.4: the UAS core resends a 2xx to INVITE at T1, 2T1... capped at T2
 * until the ACK arrives; after 64*T1 without ACK it gives up and should end the dialog
 * with a BYE (`onGiveUp`).
 */
export class SuccessRetransmission {
  #handles: TimerHandle[] = [];
  #done = false;

  constructor(
    send: (res: SipResponse) => void,
    res: SipResponse,
    clock: Clock,
    timers: TimerValues,
    onGiveUp: () => void,
  ) {
    const resend = (interval: number) => {
      this.#handles.push(clock.setTimer(interval, () => {
        if (this.#done) return;
        send(res);
        resend(Math.min(2 * interval, timers.T2));
      }));
    };
    resend(timers.T1);
    this.#handles.push(clock.setTimer(64 * timers.T1, () => {
      if (this.#done) return;
      this.stop();
      onGiveUp();
    }));
  }

  /** The ACK arrived (or the dialog ended). */
  stop(): void {
    this.#done = true;
    for (const h of this.#handles.splice(0)) h.cancel();
  }
}
