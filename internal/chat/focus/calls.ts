// INVITE dialogs with a room (RFC 7701 §5): join, re-INVITE, BYE in both directions, and
// moderators removing a participant with REFER method=BYE (RFC 4579 §5.5, RFC 3515).
//
// Answers to a join INVITE, in the order they are checked:
//   404 unknown room (unless autoCreate) · 401 Digest when the room wants it (RFC 3261 §22;
//       identity.ts, asked by focus.ts before the call gets here)
//   403 deny-listed / not allow-listed · 400 bad SDP · 488 + Warning (admission.ts)
//   486 Busy Here when the room is full or the participant has too many devices: RFC 3261
//       §21.4.24 "not willing or able to take additional calls at this end system" is
//       exactly a full room; 480 would say the room is unavailable, which it is not, and
//       486 lets a client retry later (Retry-After, §20.33) · 200 with the answer.
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { admittedByLists, uriKey } from '../switch/policy.ts';
import type { Dialog } from '../../sip/dialogs.ts';
import { dialogKey } from '../../sip/dialogs.ts';
import { contacts, fromHeader, parseNameAddr } from '../../sip/fields.ts';
import { headerValue } from '../../sip/message.ts';
import { buildChatRoomAnswer } from '../../sip/sdp-msrp.ts';
import { formatSdp, type SessionDescription } from '../../sip/sdp.ts';
import type { IncomingRequest } from '../../sip/ua.ts';
import { parseSipUri } from '../../sip/uri.ts';
import { answerSetup, checkOffer, warning, type MediaPolicy } from './admission.ts';
import { fileTransferOffer, withFileTransfer } from './file-transfer.ts';
import { isAuthenticated, isModerator, type Identity } from './identity.ts';
import type { AdmitRequest, AdmitResult, ChatRoomPort, ModeratorRemoval } from './chat-port.ts';
import type { RoomEntry } from './directory.ts';

export interface Call {
  readonly dialog: Dialog;
  readonly room: RoomEntry;
  readonly chat: ChatRoomPort;
  readonly participantId: string;
  readonly sipUri: string;
  /** Who joined: authenticated (Digest, trusted P-Asserted-Identity) or only the From claim. */
  readonly identity: Identity;
  readonly contact: string | undefined;
  readonly sessionId: string;
  /** The device's a=path as last offered (a re-INVITE may change it, RFC 4975 §8.4). */
  remotePath: readonly string[];
  /** Our relay's front session in the device's path (docs/chat.md "Our relay in front of the switch"). */
  front?: FrontSession | undefined;
  sessionVersion: number;
  answer: SessionDescription;
  /** The dialog is ending from our side or theirs: no BYE to send any more. */
  ending: boolean;
}

/** What join() learnt before the room's answer. */
interface Joined {
  readonly incoming: IncomingRequest;
  readonly room: RoomEntry;
  readonly chat: ChatRoomPort;
  readonly sipUri: string;
  readonly identity: Identity;
  readonly offer: SessionDescription;
  readonly remotePath: readonly string[];
  readonly contact: string | undefined;
  readonly refuse: (status: number, text: string, warnCode?: number) => void;
  /** An RFC 5547 push (file-transfer.ts): the answer becomes a file-transfer answer. */
  readonly file?: Parameters<typeof withFileTransfer>[2] & { readonly index: number };
  readonly onJoined: ((sipUri: string) => void) | undefined;
  readonly front: FrontSession | undefined;
}

/** A front session of our relay (internal/relay RunningRelay.openFront), as the engine hands it over. */
export interface FrontSession {
  readonly id: string;
  readonly uri: string;
}

/** Our relay in front of the switch (docs/chat.md): the engine wires its in-process relay here. */
export interface FrontSessions {
  /** A new front session, or undefined when the relay cannot give one (then the path is direct). */
  open(): FrontSession | undefined;
  end(id: string): void;
}

export interface CallsOptions {
  readonly logger: Logger;
  readonly media: MediaPolicy;
  /** Host written in c=/o= of answers and in Warning agents. */
  readonly publicHost: string;
  /** Contact of the focus for a room, per transport of the request (`;isfocus`, RFC 4579 §3). */
  contactFor(room: RoomEntry, transport: string): string;
  sendBye(dialog: Dialog): void;
  notifyRefer(dialog: Dialog, sipfrag: string): void;
  counted(outcome: string): void;
  /** REFER method=INVITE: the focus invites the Refer-To target (dial-out.ts). */
  dialOut?(incoming: IncomingRequest, room: RoomEntry, chat: ChatRoomPort, target: string, requester: Identity): void;
  /** Put our relay in front of the switch for devices that connect to us directly (chat.msrp.relayInFront). */
  readonly front?: FrontSessions;
}

export class Calls {
  readonly #o: CallsOptions;
  /** dialogKey → call. */
  readonly #byDialog = new Map<string, Call>();
  /** participantId → call. */
  readonly #byParticipant = new Map<string, Call>();

  constructor(o: CallsOptions) {
    this.#o = o;
  }

  get size(): number {
    return this.#byDialog.size;
  }

  /** Calls in the room named `room`. */
  inRoom(room: string): number {
    let n = 0;
    for (const c of this.#byDialog.values()) if (c.room.name === room) n++;
    return n;
  }

  contactOf(participantId: string): string | undefined {
    return this.#byParticipant.get(participantId)?.contact;
  }

  byDialog(dialog: Dialog): Call | undefined {
    return this.#byDialog.get(dialogKey(dialog.id));
  }

  /** A new INVITE to `room` (found in the directory) from `who` (identity.ts; authenticated when the room requires it); `onJoined` runs once the participant is in (the factory's invitations). */
  join(incoming: IncomingRequest, room: RoomEntry, chat: ChatRoomPort, who: Identity, onJoined?: (sipUri: string) => void): void {
    const req = incoming.request;
    const refuse = (status: number, text: string, warnCode?: number) => {
      this.#o.counted(String(status));
      this.#o.logger.info({ room: room.name, status, reason: text }, 'join refused');
      const headers: [string, string][] = warnCode === undefined ? [] : [['Warning', warning(warnCode, this.#o.publicHost, text)]];
      // RFC 3261 §21.5.4: the owner replica did not answer (several replicas): the room's
      // owner is looked up again on the next INVITE, so a retry soon is worth it.
      if (status === 503) headers.push(['Retry-After', '1']);
      incoming.respond(status, { headers });
    };
    const from = fromHeader(req);
    if (!from) return refuse(400, 'no From');
    // The participant is the identity (RFC 3261 §22: From is only a claim when unauthenticated).
    const sipUri = who.uri;
    if (!admittedByLists(sipUri, room.policy)) return refuse(403, 'not allowed in this room');
    const offer = checkOffer(req.body, incoming.source.address, this.#o.media);
    if (!offer.ok) return refuse(offer.status, offer.text, offer.warnCode);
    const file = fileTransferOffer(offer.media, offer.sdp);
    if (file !== undefined && !file.ok) return refuse(488, file.text, 399);
    const contact = contacts(req).find((c) => !c.star);
    const deviceId = `${headerValue(req, 'Call-ID') ?? ''};${from.params.get('tag') ?? ''}`;
    const setup = answerSetup(offer.media);
    const front = file === undefined ? this.#openFront(offer.media.path, setup) : undefined;
    const request: AdmitRequest = {
      sipUri, displayName: from.displayName, remotePath: front === undefined ? offer.media.path : [front.uri, ...offer.media.path], acceptTypes: offer.media.acceptTypes,
      acceptWrappedTypes: offer.media.acceptWrappedTypes,
      acceptsPrivate: offer.media.chatroom?.privateMessages ?? false, deviceId,
      setup, ...(file === undefined ? {} : { upload: file.upload }),
    };
    const admitted = chat.admit(request);
    const joined: Joined = {
      incoming, room, chat, sipUri, identity: who, offer: offer.sdp, remotePath: offer.media.path, contact: contact && !contact.star ? contact.uri : undefined, refuse, onJoined, front,
      ...(file === undefined ? {} : { file: { ...file, index: offer.media.index } }),
    };
    // A room of this process answers at once; one another replica owns answers later.
    if (!(admitted instanceof Promise)) return this.#admitted(joined, admitted);
    admitted.then((r) => this.#admitted(joined, r), (err: unknown) => {
      this.#endFront(front);
      this.#o.logger.warn({ err, room: room.name }, 'admission by the owner replica failed');
      refuse(503, 'the room is not reachable right now');
    });
  }

  #admitted(j: Joined, admitted: AdmitResult): void {
    const { incoming, room, chat, sipUri, front } = j;
    const refuse: Joined['refuse'] = (status, text, warnCode) => {
      this.#endFront(front);
      j.refuse(status, text, warnCode);
    };
    if (!admitted.ok) {
      const status = admitted.reason === 'full' || admitted.reason === 'too-many-devices' ? 486 : admitted.sipStatus;
      return refuse(status, admitted.message, status === 488 ? 399 : undefined);
    }
    const sessionId = String(randomInt(1, 2 ** 47));
    const chatAnswer = this.#answer(j.offer, front === undefined ? [admitted.localUri] : [front.uri, admitted.localUri], sessionId, 1, admitted.features);
    const answer = chatAnswer && j.file ? withFileTransfer(chatAnswer, j.file.index, j.file) : chatAnswer;
    if (!answer) {
      void chat.remove(admitted.participantId, 'sip');
      return refuse(488, 'no usable MSRP media', 304);
    }
    const dialog = incoming.respond(200, {
      body: formatSdp(answer), contentType: 'application/sdp',
      headers: [['Contact', this.#o.contactFor(room, incoming.source.transport)]],
    });
    if (!dialog || dialog.state === 'terminated') {
      // CANCELled while we were admitting (the core already answered 487).
      this.#endFront(front);
      void chat.remove(admitted.participantId, 'sip');
      return;
    }
    const call: Call = {
      dialog, room, chat, participantId: admitted.participantId, sipUri, identity: j.identity, contact: j.contact,
      sessionId, remotePath: j.remotePath, sessionVersion: 1, answer, ending: false, front,
    };
    this.#byDialog.set(dialogKey(dialog.id), call);
    this.#byParticipant.set(admitted.participantId, call);
    this.#o.counted('200');
    this.#o.logger.info({ room: room.name, participant: sipUri, session: admitted.participantId }, 'joined by SIP');
    j.onJoined?.(sipUri);
  }

  /** RFC 3264 §8: a re-INVITE in a call. The MSRP session stays (our URI is the same); the new offer is checked and answered. */
  reinvite(incoming: IncomingRequest, call: Call): void {
    const offer = checkOffer(incoming.request.body, incoming.source.address, this.#o.media);
    if (!offer.ok) {
      // RFC 3261 §14.2: a refused re-INVITE leaves the session as it was.
      incoming.respond(offer.status, { headers: offer.warnCode === undefined ? [] : [['Warning', warning(offer.warnCode, this.#o.publicHost, offer.text)]] });
      return;
    }
    const path = offer.media.path;
    const setup = answerSetup(offer.media);
    const answered = call.answer.media.flatMap((m) => m.attributes).find((a) => a.name === 'path')?.value?.split(/\s+/) ?? [];
    // A moved device gets a new front session (the old one is bound to its old connection).
    const same = samePath(path, call.remotePath);
    const front = same ? call.front : this.#openFront(path, setup);
    const localUri = [...(front === undefined ? [] : [front.uri]), answered[answered.length - 1] ?? ''];
    const chatroom = call.answer.media.flatMap((m) => m.attributes).find((a) => a.name === 'chatroom')?.value ?? '';
    const answer = this.#answer(offer.sdp, localUri, call.sessionId, call.sessionVersion + 1,
      { nickname: chatroom.includes('nickname'), privateMessages: chatroom.includes('private-messages') });
    if (!answer) {
      if (front !== call.front) this.#endFront(front);
      incoming.respond(488);
      return;
    }
    const respond = (): void => {
      call.sessionVersion += 1;
      call.answer = answer;
      incoming.respond(200, { body: formatSdp(answer), contentType: 'application/sdp', headers: [['Contact', this.#o.contactFor(call.room, incoming.source.transport)]] });
    };
    if (same) return respond();
    // RFC 4975 §8.4: a new offer may carry a new path. Our URI stays (the device keeps its
    // session, nickname and place in the room); the switch moves it to a new connection.
    const moved = call.chat.repath(call.participantId, front === undefined ? path : [front.uri, ...path], setup);
    const done = (ok: boolean): void => {
      if (!ok) {
        this.#endFront(front);
        // RFC 3261 §14.2: a refused re-INVITE leaves the session as it was.
        incoming.respond(488, { headers: [['Warning', warning(399, this.#o.publicHost, 'the new a=path could not be applied')]] });
        return;
      }
      call.remotePath = path;
      if (call.ending) {
        this.#endFront(front); // the device left meanwhile
      } else {
        this.#endFront(call.front);
        call.front = front;
      }
      this.#o.logger.info({ room: call.room.name, participant: call.sipUri, session: call.participantId }, 're-INVITE moved the device to a new MSRP path');
      respond();
    };
    if (!(moved instanceof Promise)) return done(moved);
    moved.then(done, () => done(false));
  }

  /** A call the focus placed itself (dial-out.ts) joins the others. */
  add(call: Call): void {
    this.#byDialog.set(dialogKey(call.dialog.id), call);
    this.#byParticipant.set(call.participantId, call);
  }

  /** The dialog ended (BYE from the peer, no ACK, or our BYE): the device leaves. */
  ended(dialog: Dialog): void {
    const call = this.#byDialog.get(dialogKey(dialog.id));
    if (!call) return;
    this.#forget(call);
    call.ending = true;
    void call.chat.remove(call.participantId, 'sip');
  }

  /** The switch removed a device (connection lost, moderator, slow reader...): BYE its dialog. */
  deviceLeft(participantId: string): void {
    const call = this.#byParticipant.get(participantId);
    if (!call || call.ending) return;
    call.ending = true;
    this.#forget(call);
    this.#o.sendBye(call.dialog);
  }

  /**
   * REFER with Refer-To: <participant;method=BYE> (RFC 4579 §5.5): a moderator removes a
   * participant. Out of dialog or within the moderator's own INVITE dialog; `who` is the
   * sender's identity (identity.ts), which must be authenticated and on the room's moderator
   * list (isModerator). 202, then one NOTIFY with the sipfrag of the outcome (RFC 3515
   * §2.4.5), unless Refer-Sub: false (RFC 4488).
   */
  refer(incoming: IncomingRequest, room: RoomEntry, chat: ChatRoomPort, who: Identity): void {
    const req = incoming.request;
    const referTo = parseNameAddr(headerValue(req, 'Refer-To') ?? '');
    if (!referTo) {
      incoming.respond(400, { reason: 'Bad Refer-To' });
      return;
    }
    const target = parseSipUri(referTo.uri);
    const moderator = who.uri;
    // RFC 3515: a SIP URI in Refer-To without a method parameter asks for an INVITE.
    const method = (target?.params.get('method') ?? 'INVITE').toUpperCase();
    if (target && method === 'INVITE' && this.#o.dialOut) return this.#o.dialOut(incoming, room, chat, referTo.uri, who);
    if (!target || method !== 'BYE') {
      incoming.respond(403, { reason: 'Only Refer-To method=BYE or INVITE is supported' });
      return;
    }
    const targetUri = referTo.uri.replace(/;[^?]*$/, '').replace(/\?.*$/, '');
    if (!isModerator(who, room)) {
      this.#o.logger.info({ room: room.name, claimed: moderator, authenticated: isAuthenticated(who), target: targetUri }, 'REFER BYE refused: not an authenticated moderator');
      incoming.respond(403, { reason: 'Not A Moderator Of This Room' });
      return;
    }
    const result = chat.removeByModerator(moderator, targetUri);
    const done = (r: ModeratorRemoval): void => {
      if (!r.ok) {
        this.#o.logger.info({ room: room.name, moderator, target: targetUri, status: r.status }, 'REFER BYE refused');
        incoming.respond(r.status, { reason: r.message.replace(/[\r\n]/g, ' ') });
        return;
      }
      const noSub = (headerValue(req, 'Refer-Sub') ?? '').trim().toLowerCase() === 'false';
      const dialog = incoming.respond(202, noSub ? { headers: [['Refer-Sub', 'false']] } : {});
      this.#o.logger.info({ room: room.name, moderator, target: uriKey(targetUri), removed: r.removed }, 'participant removed by a moderator');
      if (dialog && !noSub) this.#o.notifyRefer(dialog, 'SIP/2.0 200 OK\r\n');
    };
    if (!(result instanceof Promise)) return done(result);
    result.then(done, (err: unknown) => {
      this.#o.logger.warn({ err, room: room.name }, 'REFER BYE: the owner replica did not answer');
      incoming.respond(503);
    });
  }

  /** Every call ends (shutdown): BYE each dialog. */
  closeAll(): void {
    for (const call of [...this.#byDialog.values()]) {
      call.ending = true;
      this.#forget(call);
      void call.chat.remove(call.participantId, 'sip');
      this.#o.sendBye(call.dialog);
    }
  }

  #forget(call: Call): void {
    this.#byDialog.delete(dialogKey(call.dialog.id));
    this.#byParticipant.delete(call.participantId);
    // The front session ends with the device.
    this.#endFront(call.front);
    call.front = undefined;
  }

  /**
   * A front session for a device that connects to us itself (one a=path URI: no relay of its
   * own, and the answer is passive), when the engine put our relay in front of the switch.
   */
  #openFront(path: readonly string[], setup: 'active' | 'passive'): FrontSession | undefined {
    if (this.#o.front === undefined || path.length !== 1 || setup !== 'passive') return undefined;
    return this.#o.front.open();
  }

  #endFront(front: FrontSession | undefined): void {
    if (front !== undefined) this.#o.front?.end(front.id);
  }

  #answer(
    offer: SessionDescription, path: readonly string[], sessionId: string, version: number,
    features: { nickname: boolean; privateMessages: boolean },
  ): SessionDescription | undefined {
    const port = Number(/:(\d+)\//.exec(path[0] ?? '')?.[1] ?? '2855');
    const built = buildChatRoomAnswer(offer, {
      path, address: this.#o.publicHost, sessionId, sessionVersion: String(version), port, features,
      acceptWrappedTypes: ['text/plain', '*'],
    });
    if (!built.ok) return undefined;
    const sdp = built.value.sdp;
    // RFC 7701 §8: the focus announces its chat room features with a=chatroom whether or not
    // the offer carried one (clients learn from the answer that this is a chat room);
    // buildChatRoomAnswer only echoes an offered a=chatroom, so add it when missing.
    const media = sdp.media.map((m, i) => {
      if (i !== built.value.media.index || m.attributes.some((a) => a.name === 'chatroom')) return m;
      const tokens = [...(features.nickname ? ['nickname'] : []), ...(features.privateMessages ? ['private-messages'] : [])];
      return { ...m, attributes: [...m.attributes, { name: 'chatroom', value: tokens.join(' ') }] };
    });
    return { ...sdp, media };
  }
}

/** Path URIs compared as written (RFC 4975 §6.1 would compare parts; a client re-offering keeps its text). */
function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}
