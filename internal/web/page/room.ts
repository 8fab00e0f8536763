// One room joined from the page (RFC 7701), through the relay:
//
//   MSRP  WebSocket to the relay (RFC 7977), AUTH (RFC 4976 §5.1) → Use-Path
//   SIP   WebSocket to the focus (RFC 7118): SUBSCRIBE Event: conference (RFC 4575), then
//         INVITE with an offer whose a=path is [Use-Path, our ;ws URI] (RFC 4976 §6), ACK
//   MSRP  To-Path [Use-Path, switch]: NICKNAME binds the session (we are the active side,
//         RFC 4975 §5.4) and takes a nickname (RFC 7701 §7.1); SEND carries CPIM messages,
//         private ones naming the participant in CPIM To (RFC 7701 §6.2)
//
// SIP Digest, when the focus asks (a room with requireAuth), uses the same login.
import { formatCpim, parseCpim, type CpimAddress } from '../../msrp/cpim.ts';
import { newSessionId, newTransactionId } from '../../msrp/transaction.ts';
import { headerValue } from '../../sip/message.ts';
import { parseSdp } from '../../sip/sdp.ts';
import { findMsrpMedia } from '../../sip/sdp-msrp.ts';
import { Conference, type Participant } from './conference.ts';
import { fileNameOf } from './file-name.ts';
import { authenticate, type RelaySession } from './msrp-auth.ts';
import { MsrpSocket } from './msrp-socket.ts';
import { SipSocket, type Dialog } from './sip-socket.ts';
import { Receiver, sendMessage } from './transfers.ts';

export interface JoinOptions {
  /** The relay's WebSocket URL (ws: or wss:) and its MSRP URI (AUTH To-Path). */
  readonly msrpUrl: string;
  readonly relayUri: string;
  /** The focus's SIP WebSocket URL. */
  readonly sipUrl: string;
  readonly username: string;
  readonly password: string;
  /** Our SIP URI (CPIM From): sip:<user>@<domain>. */
  readonly me: string;
  readonly room: string;
  readonly nickname: string;
}

/** A message as received: who, to whom, what. */
export interface ChatMessage {
  readonly from: CpimAddress | undefined;
  /** Sent to us alone rather than to the room (RFC 7701 §6.2). */
  readonly private: boolean;
  readonly text?: string;
  readonly file?: { readonly name: string; readonly type: string; readonly bytes: Buffer };
}

export interface RoomEvents {
  onParticipants(list: Participant[]): void;
  onMessage(id: string, m: ChatMessage): void;
  onIncoming(id: string, received: number, total: number | undefined): void;
  onClosed(reason: string): void;
}

/** RFC 4575 §4.1: the subscription is refreshed before its Expires runs out. */
const SUBSCRIBE_EXPIRES_S = 600;

function offer(path: string): string {
  return [
    'v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0',
    // Our first hop is the relay over TLS; the WebSocket hop is the relay's business (RFC 7977 §8).
    'm=message 9 TCP/TLS/MSRP *',
    'a=accept-types:message/cpim text/plain', 'a=accept-wrapped-types:*',
    `a=path:${path}`, 'a=setup:active', 'a=chatroom:nickname private-messages', '',
  ].join('\r\n');
}

export class ChatRoom {
  readonly #o: JoinOptions;
  readonly #msrp: MsrpSocket;
  readonly #sip: SipSocket;
  readonly #relay: RelaySession;
  readonly #localUri: string;
  readonly #conference = new Conference();
  #call: Dialog | undefined;
  #subscription: Dialog | undefined;
  #refresh: ReturnType<typeof setTimeout> | undefined;
  #toPath: readonly string[] = [];
  #closed = false;

  private constructor(o: JoinOptions, msrp: MsrpSocket, sip: SipSocket, relay: RelaySession, localUri: string) {
    this.#o = o;
    this.#msrp = msrp;
    this.#sip = sip;
    this.#relay = relay;
    this.#localUri = localUri;
  }

  get participants(): Participant[] {
    return this.#conference.participants;
  }

  /** Logs in to the relay, subscribes to the room's participants, joins and takes the nickname. */
  static async join(o: JoinOptions, events: RoomEvents): Promise<ChatRoom> {
    const msrp = await MsrpSocket.open(o.msrpUrl);
    // RFC 7977 §5.2: a WebSocket client's URI has a made-up `.invalid` host and the ws transport.
    const scheme = o.msrpUrl.startsWith('wss:') ? 'msrps' : 'msrp';
    const localUri = `${scheme}://${newSessionId().slice(0, 10).toLowerCase()}.invalid:2855/${newSessionId()};ws`;
    let relay: RelaySession;
    // A failed re-AUTH ends the room's sockets too, once it is joined.
    let onLost = (why: string): void => events.onClosed(`the relay session was lost: ${why}`);
    try {
      relay = await authenticate(msrp, { relayUri: o.relayUri, localUri, username: o.username, password: o.password }, (why) => onLost(why));
    } catch (err) {
      msrp.close();
      throw err;
    }
    let sip: SipSocket;
    try {
      sip = await SipSocket.open(o.sipUrl, o.username);
    } catch (err) {
      relay.stop();
      msrp.close();
      throw err;
    }
    sip.credentials = { username: o.username, password: o.password };
    const room = new ChatRoom(o, msrp, sip, relay, localUri);
    try {
      await room.#start(events);
    } catch (err) {
      room.#shutdown();
      throw err;
    }
    onLost = (why) => {
      if (room.#closed) return;
      room.#shutdown();
      events.onClosed(`the relay session was lost: ${why}`);
    };
    return room;
  }

  async #start(events: RoomEvents): Promise<void> {
    const o = this.#o;
    const receiver = new Receiver(this.#msrp, {
      onProgress: (id, received, total) => events.onIncoming(id, received, total),
      onMessage: (id, body) => {
        const m = this.#decode(body);
        if (m !== undefined) events.onMessage(id, m);
      },
    });
    this.#msrp.onRequest = (r) => receiver.take(r);
    const closed = (why: string) => {
      if (this.#closed) return;
      this.#shutdown();
      events.onClosed(why);
    };
    this.#msrp.onClose = closed;
    this.#sip.onClose = closed;
    this.#sip.onRequest = (r) => {
      if (r.method === 'NOTIFY' && /conference/i.test(headerValue(r, 'Event') ?? '') && r.body.length > 0) {
        if (this.#conference.apply(r.body.toString('utf8'))) events.onParticipants(this.#conference.participants);
      } else if (r.method === 'BYE') closed('the room ended the call');
    };

    const sub = this.#sip.newDialog(o.room, o.me);
    const subscribed = await this.#sip.send(sub, 'SUBSCRIBE', { headers: [['Event', 'conference'], ['Expires', String(SUBSCRIBE_EXPIRES_S)], ['Accept', 'application/conference-info+xml']] });
    if (subscribed.status >= 300) throw new Error(`the room refused the participant list: ${subscribed.status} ${subscribed.reason}`);
    this.#subscription = sub;
    this.#scheduleRefresh();

    const call = this.#sip.newDialog(o.room, o.me);
    const res = await this.#sip.send(call, 'INVITE', { body: offer([...this.#relay.usePath, this.#localUri].join(' ')) });
    if (res.status !== 200) throw new Error(`the room refused to let us in: ${res.status} ${res.reason}${headerValue(res, 'Warning') ? ` (${headerValue(res, 'Warning')})` : ''}`);
    this.#call = call;
    await this.#sip.send(call, 'ACK');
    const answer = parseSdp(res.body);
    const media = answer.ok ? findMsrpMedia(answer.value) : undefined;
    if (!media?.ok) throw new Error('the room answered without an MSRP media line');
    this.#toPath = [...this.#relay.usePath, ...media.value.path];
    const nick = await this.setNickname(o.nickname);
    if (nick !== undefined) throw new Error(nick);
  }

  /** RFC 7701 §7.1: NICKNAME with Use-Nickname; undefined when taken, else why not. */
  async setNickname(name: string): Promise<string | undefined> {
    const res = await this.#msrp.request({
      kind: 'request', method: 'NICKNAME', transactionId: newTransactionId(), toPath: this.#toPath, fromPath: [this.#localUri],
      headers: [{ name: 'Use-Nickname', value: `"${name.replace(/(["\\])/g, '\\$1')}"` }], body: [], continuation: '$',
    });
    if (res.status === 200) return undefined;
    return res.status === 425 ? `the nickname "${name}" is taken` : `nickname refused: ${res.status} ${res.comment}`;
  }

  /** A text to the room, or to one participant (private, RFC 7701 §6.2). */
  say(text: string, to?: Participant): Promise<void> {
    return this.#send({ contentType: 'text/plain;charset=utf-8', content: Buffer.from(text, 'utf8') }, to);
  }

  /** A file as one CPIM message with Content-Disposition (RFC 5547 §5 names it), chunked. */
  sendFile(name: string, type: string, bytes: Buffer, onProgress: (acked: number, total: number) => void, to?: Participant): Promise<void> {
    const safe = name.replace(/["\\\r\n]/g, '_');
    return this.#send({
      contentType: type || 'application/octet-stream', content: bytes,
      contentHeaders: [{ name: 'Content-Disposition', value: `attachment; filename="${safe}"` }],
    }, to, onProgress);
  }

  async leave(): Promise<void> {
    if (this.#closed) return;
    if (this.#call !== undefined) await this.#sip.send(this.#call, 'BYE', { inDialog: true }).catch(() => undefined);
    if (this.#subscription !== undefined) {
      await this.#sip.send(this.#subscription, 'SUBSCRIBE', { inDialog: true, headers: [['Event', 'conference'], ['Expires', '0']] }).catch(() => undefined);
    }
    this.#shutdown();
  }

  #send(body: { contentType: string; content: Buffer; contentHeaders?: { name: string; value: string }[] }, to?: Participant, onProgress?: (acked: number, total: number) => void): Promise<void> {
    // A private message names its participant by URI, with the nickname as display name.
    const toAddr: CpimAddress = to === undefined ? { uri: this.#o.room } : { displayName: to.nickname ?? to.displayText ?? to.uri, uri: to.uri };
    const cpim = formatCpim({ from: { uri: this.#o.me }, to: [toAddr], dateTime: new Date(), ...body });
    return sendMessage(this.#msrp, { toPath: this.#toPath, fromPath: [this.#localUri] }, cpim, onProgress);
  }

  #decode(body: Buffer): ChatMessage | undefined {
    const c = parseCpim(body);
    if (!c.ok) return undefined;
    const m = c.message;
    const to = m.to[0]?.uri;
    const priv = to !== undefined && to.toLowerCase() !== this.#o.room.toLowerCase();
    const type = m.contentType ?? 'text/plain';
    const disposition = m.contentHeaders.find((h) => h.name.toLowerCase() === 'content-disposition')?.value;
    const name = fileNameOf(disposition);
    if (/^text\/plain\b/i.test(type) && name === undefined) return { from: m.from, private: priv, text: m.content.toString('utf8') };
    // RFC 5438 disposition notifications and other non-content types are not shown.
    if (/^message\/imdn/i.test(type)) return undefined;
    return { from: m.from, private: priv, file: { name: name ?? 'attachment', type, bytes: m.content } };
  }

  #scheduleRefresh(): void {
    this.#refresh = setTimeout(() => {
      const d = this.#subscription;
      if (d === undefined || this.#closed) return;
      void this.#sip.send(d, 'SUBSCRIBE', { inDialog: true, headers: [['Event', 'conference'], ['Expires', String(SUBSCRIBE_EXPIRES_S)]] })
        .then(() => this.#scheduleRefresh(), () => undefined);
    }, (SUBSCRIBE_EXPIRES_S - 60) * 1000);
  }

  #shutdown(): void {
    this.#closed = true;
    clearTimeout(this.#refresh);
    this.#relay.stop();
    this.#msrp.onClose = undefined;
    this.#sip.onClose = undefined;
    this.#msrp.close();
    this.#sip.close();
  }
}
