// The conference event package notifier (RFC 4575 over RFC 6665): SUBSCRIBE to a room
// with Event: conference → 200 with Expires, then NOTIFY with the full state; every
// change in the room → NOTIFY with a partial state (version + 1, per subscription,
// RFC 4575 §4.6); refresh → NOTIFY full state again; Expires: 0 or expiry → a last NOTIFY
// with Subscription-State: terminated (RFC 6665 §4.2.1.4, §4.2.2). A NOTIFY answered with
// 481 or a failure ends the subscription (§4.2.2: the subscriber is gone).
import type { Logger } from 'pino';
import { dialogKey, type Dialog } from '../../sip/dialogs.ts';
import { headerValue, type SipResponse } from '../../sip/message.ts';
import type { IncomingRequest } from '../../sip/ua.ts';
import { CONFERENCE_INFO_TYPE, fullConferenceInfo, partialConferenceInfo, type ConferenceState, type StateChange } from './conference-info.ts';

export interface SubscriptionOptions {
  /** Shortest Expires accepted; shorter gets 423 with Min-Expires (RFC 6665 §4.2.1.1). Default 60. */
  readonly minExpires?: number;
  /** Longest granted; a longer request is lowered (default 3600, RFC 4575 §3.3's suggestion). */
  readonly maxExpires?: number;
  readonly logger: Logger;
  /** Sends a request in the dialog (UserAgentServer.request). */
  request(dialog: Dialog, method: string, init: { headers?: readonly (readonly [string, string])[]; body?: Buffer; contentType?: string }): Promise<SipResponse>;
  /** The subscription's dialog is over: the UAS should forget it. */
  forget(dialog: Dialog): void;
}

interface Subscription {
  readonly dialog: Dialog;
  readonly room: string;
  version: number;
  expiresAt: number;
  timer: NodeJS.Timeout;
  /** NOTIFYs are sent one after another so versions arrive in order even on UDP. */
  chain: Promise<void>;
  ended: boolean;
}

export class ConferenceSubscriptions {
  readonly #o: SubscriptionOptions;
  readonly #subs = new Map<string, Subscription>();
  readonly #min: number;
  readonly #max: number;

  constructor(o: SubscriptionOptions) {
    this.#o = o;
    this.#min = o.minExpires ?? 60;
    this.#max = o.maxExpires ?? 3600;
  }

  get size(): number {
    return this.#subs.size;
  }

  /** Subscriptions to a room (for tests and views). */
  count(room: string): number {
    let n = 0;
    for (const s of this.#subs.values()) if (s.room === room && !s.ended) n++;
    return n;
  }

  /** The room of the subscription in `dialog`: an in-dialog refresh names no room. */
  roomOf(dialog: Dialog): string | undefined {
    return this.#subs.get(dialogKey(dialog.id))?.room;
  }

  /** A SUBSCRIBE (new or in-dialog refresh) for `room`, whose state `state()` renders. */
  subscribe(incoming: IncomingRequest, room: string, state: () => ConferenceState): void {
    const req = incoming.request;
    const event = (headerValue(req, 'Event') ?? '').split(';')[0]!.trim().toLowerCase();
    if (event !== 'conference') {
      incoming.respond(489, { headers: [['Allow-Events', 'conference']] });
      return;
    }
    const accept = headerValue(req, 'Accept');
    if (accept !== undefined && !accept.toLowerCase().split(',').some((t) => t.trim().startsWith(CONFERENCE_INFO_TYPE))) {
      incoming.respond(406, { headers: [['Accept', CONFERENCE_INFO_TYPE]] });
      return;
    }
    const asked = headerValue(req, 'Expires');
    let expires = asked === undefined || !/^\d+$/.test(asked.trim()) ? this.#max : Number(asked.trim());
    if (expires > 0 && expires < this.#min) {
      incoming.respond(423, { headers: [['Min-Expires', String(this.#min)]] });
      return;
    }
    expires = Math.min(expires, this.#max);
    const existing = incoming.dialog ? this.#subs.get(dialogKey(incoming.dialog.id)) : undefined;
    if (incoming.dialog && !existing) {
      incoming.respond(481, { reason: 'Subscription Does Not Exist' });
      return;
    }
    const dialog = incoming.respond(200, { headers: [['Expires', String(expires)], ['Allow-Events', 'conference']] });
    if (!dialog) return;
    const sub = existing ?? this.#create(dialog, room);
    if (expires === 0) {
      this.#end(sub, 'timeout', state, true);
      return;
    }
    sub.expiresAt = Date.now() + expires * 1000;
    clearTimeout(sub.timer);
    sub.timer = setTimeout(() => this.#end(sub, 'timeout', state, false), expires * 1000);
    sub.timer.unref();
    this.#notify(sub, () => fullConferenceInfo(state(), ++sub.version), 'active');
  }

  /** Something changed in `room`: a partial NOTIFY to each of its subscribers. */
  changed(room: string, change: StateChange, state: () => ConferenceState): void {
    for (const sub of this.#subs.values()) {
      if (sub.room !== room || sub.ended) continue;
      this.#notify(sub, () => partialConferenceInfo(state(), change, ++sub.version), 'active');
    }
  }

  /** The room is gone or the focus stops: final NOTIFYs (reason noresource / deactivated). */
  endRoom(room: string, state: () => ConferenceState, reason: 'noresource' | 'deactivated'): Promise<void> {
    const ending = [...this.#subs.values()].filter((s) => s.room === room && !s.ended);
    for (const s of ending) this.#end(s, reason, state, true);
    return Promise.all(ending.map((s) => s.chain)).then(() => undefined);
  }

  async closeAll(state: (room: string) => ConferenceState): Promise<void> {
    const rooms = new Set([...this.#subs.values()].map((s) => s.room));
    await Promise.all([...rooms].map((r) => this.endRoom(r, () => state(r), 'deactivated')));
  }

  #create(dialog: Dialog, room: string): Subscription {
    const sub: Subscription = { dialog, room, version: 0, expiresAt: 0, timer: setTimeout(() => undefined, 0), chain: Promise.resolve(), ended: false };
    this.#subs.set(dialogKey(dialog.id), sub);
    return sub;
  }

  #end(sub: Subscription, reason: string, state: () => ConferenceState, full: boolean): void {
    if (sub.ended) return;
    clearTimeout(sub.timer);
    // RFC 6665 §4.2.2: the last NOTIFY says terminated with a reason; a full state on
    // unsubscribe lets a one-shot fetch (Expires: 0) get the document.
    this.#notify(sub, () => full ? fullConferenceInfo(state(), ++sub.version) : undefined, `terminated;reason=${reason}`);
    sub.ended = true;
    sub.chain = sub.chain.then(() => {
      this.#subs.delete(dialogKey(sub.dialog.id));
      this.#o.forget(sub.dialog);
    });
  }

  #notify(sub: Subscription, body: () => string | undefined, subscriptionState: string): void {
    if (sub.ended) return;
    // The body is rendered when its turn comes so the version numbers follow the send order.
    sub.chain = sub.chain.then(async () => {
      const text = body();
      const left = Math.max(0, Math.round((sub.expiresAt - Date.now()) / 1000));
      const stateHeader = subscriptionState === 'active' ? `active;expires=${left}` : subscriptionState;
      const res = await this.#o.request(sub.dialog, 'NOTIFY', {
        headers: [['Event', 'conference'], ['Subscription-State', stateHeader]],
        ...(text === undefined ? {} : { body: Buffer.from(text, 'utf8'), contentType: CONFERENCE_INFO_TYPE }),
      });
      if (res.status >= 300 && !sub.ended) {
        // RFC 6665 §4.2.2: 481 (and any failure, we choose) means the subscriber is gone.
        this.#o.logger.info({ room: sub.room, status: res.status }, 'conference subscription ended by a failed NOTIFY');
        sub.ended = true;
        clearTimeout(sub.timer);
        this.#subs.delete(dialogKey(sub.dialog.id));
        this.#o.forget(sub.dialog);
      }
    });
  }
}
