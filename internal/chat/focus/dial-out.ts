// Dial-out (RFC 4579 §5.5, RFC 3515): a moderator sends the room a REFER whose Refer-To is
// the person to add (`<sip:carol@example.com;method=INVITE>`, or no method parameter: INVITE
// is what a SIP URI in Refer-To means), and the focus invites that person itself:
//
//   REFER (moderator) → 403 unless isModerator (identity.ts: authenticated) · 202 Accepted · NOTIFY "100 Trying" (active)
//   INVITE carol, From the room, Contact ;isfocus, offer a=path:<our session>, a=setup:actpass
//   2xx with an MSRP answer → ACK, admit (the reserved session), the call is the room's like
//   any joined one · NOTIFY "200 OK" (terminated) · any other outcome: NOTIFY with it
//
// The same `invite` adds the people a conference factory INVITE lists (factory.ts).
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Dialog } from '../../sip/dialogs.ts';
import { headerValue, reasonPhrase } from '../../sip/message.ts';
import { buildChatRoomOffer, findMsrpMedia } from '../../sip/sdp-msrp.ts';
import { formatSdp, parseSdp } from '../../sip/sdp.ts';
import type { IncomingRequest, UserAgentServer } from '../../sip/ua.ts';
import { parseSipUri } from '../../sip/uri.ts';
import { acceptsCpim, isPrivateHost } from './admission.ts';
import type { Call } from './calls.ts';
import type { AdmitResult, ChatRoomPort } from './chat-port.ts';
import type { RoomEntry } from './directory.ts';
import { isAuthenticated, isModerator, type Identity } from './identity.ts';

export interface DialOutOptions {
  readonly ua: UserAgentServer;
  readonly logger: Logger;
  /** Host of our SDP c=/o=. */
  readonly publicHost: string;
  contactFor(room: RoomEntry, transport: string): string;
  /** A NOTIFY of the REFER's implicit subscription (RFC 3515 §2.4.5): `final` ends it. */
  notify(dialog: Dialog, sipfrag: string, final: boolean): void;
  /** The invitee answered and is in the room: the call joins the others (calls.ts). */
  adopt(call: Call): void;
  /** Host name → address for the INVITE (default: the host as written). */
  resolve?(host: string): Promise<string>;
  /**
   * chat.media.privateAddresses: `deny` also keeps dial-out off private, loopback and
   * link-local addresses, judged on the resolved address (transport/address-class.ts), so a
   * moderator cannot make the focus send SIP into the pod network or to a metadata service.
   */
  readonly privateAddresses?: 'allow' | 'deny';
}

export interface DialOutcome {
  readonly status: number;
  readonly reason: string;
}

export class DialOut {
  readonly #o: DialOutOptions;

  constructor(o: DialOutOptions) {
    this.#o = o;
  }

  /** REFER method=INVITE from `who` (authenticated moderators only, identity.ts). */
  refer(incoming: IncomingRequest, room: RoomEntry, chat: ChatRoomPort, target: string, who: Identity): void {
    const requester = who.uri;
    if (!isModerator(who, room)) {
      this.#o.logger.info({ room: room.name, requester, authenticated: isAuthenticated(who) }, 'REFER INVITE refused: not an authenticated moderator');
      incoming.respond(403, { reason: 'Only moderators invite' });
      return;
    }
    if (inviteeOf(target) === undefined) {
      incoming.respond(400, { reason: 'Bad Refer-To' });
      return;
    }
    // RFC 4488: Refer-Sub: false asks for no implicit subscription (no NOTIFYs).
    const noSub = (headerValue(incoming.request, 'Refer-Sub') ?? '').trim().toLowerCase() === 'false';
    const dialog = incoming.respond(202, noSub ? { headers: [['Refer-Sub', 'false']] } : {});
    const subscribed = dialog !== undefined && !noSub ? dialog : undefined;
    if (subscribed) this.#o.notify(subscribed, 'SIP/2.0 100 Trying\r\n', false);
    void this.invite(room, chat, target, requester).then((r) => {
      if (subscribed) this.#o.notify(subscribed, `SIP/2.0 ${r.status} ${r.reason}\r\n`, true);
    });
  }

  /** Invites `target` into `room`; resolves with the outcome (never rejects). */
  async invite(room: RoomEntry, chat: ChatRoomPort, target: string, referredBy: string | undefined): Promise<DialOutcome> {
    const log = this.#o.logger.child({ room: room.name, invitee: target });
    const invitee = inviteeOf(target);
    if (invitee === undefined) return outcome(400);
    let reserved: { sessionId: string; localUri: string };
    try {
      const r = chat.reserveSession();
      reserved = r instanceof Promise ? await r : r;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'dial-out: no session at the room owner');
      return outcome(503);
    }
    let address: string;
    try {
      address = this.#o.resolve === undefined ? invitee.host : await this.#o.resolve(invitee.host);
    } catch {
      return outcome(404);
    }
    if (this.#o.privateAddresses === 'deny' && isPrivateHost(address)) {
      log.warn({ address }, 'dial-out refused: the target resolves to a private address (chat.media.privateAddresses: deny)');
      return outcome(403);
    }
    const offer = buildChatRoomOffer({
      path: [reserved.localUri], address: this.#o.publicHost, sessionId: String(randomInt(1, 2 ** 47)),
      port: Number(/:(\d+)\//.exec(reserved.localUri)?.[1] ?? '2855'), proto: reserved.localUri.startsWith('msrps:') ? 'TCP/TLS/MSRP' : 'TCP/MSRP',
      features: { nickname: room.policy.nicknames, privateMessages: room.policy.privateMessages },
    });
    const { response, dialog } = await this.#o.ua.invite({
      uri: invitee.requestUri, destination: { transport: invitee.transport, address, port: invitee.port },
      from: `<${room.uri}>`, to: `<${invitee.aor}>`, contact: this.#o.contactFor(room, invitee.transport),
      // RFC 3892: who asked for this call.
      headers: referredBy === undefined ? [] : [['Referred-By', `<${referredBy}>`]],
      body: Buffer.from(formatSdp(offer)), contentType: 'application/sdp',
    });
    if (dialog === undefined) {
      log.info({ status: response.status }, 'dial-out not answered');
      return { status: response.status, reason: response.reason };
    }
    const hangUp = (status: number): DialOutcome => {
      void this.#o.ua.request(dialog, 'BYE').catch(() => undefined);
      return outcome(status);
    };
    const sdp = parseSdp(response.body);
    const media = sdp.ok ? findMsrpMedia(sdp.value) : undefined;
    if (media === undefined || !media.ok || !acceptsCpim(media.value.acceptTypes)) {
      log.info('dial-out answer without usable MSRP media: hung up');
      return hangUp(488);
    }
    const m = media.value;
    // RFC 6135: our offer said actpass; the answer's role decides. Without a=setup the
    // offerer connects (RFC 4975 §8.5): that is us.
    const setup = m.setup === 'active' ? 'passive' : 'active';
    let admitted: AdmitResult;
    try {
      const a = chat.admit({
        sipUri: invitee.aor, remotePath: m.path, acceptTypes: m.acceptTypes, acceptWrappedTypes: m.acceptWrappedTypes,
        acceptsPrivate: m.chatroom?.privateMessages ?? false, deviceId: dialog.id.callId, setup, sessionId: reserved.sessionId,
      });
      admitted = a instanceof Promise ? await a : a;
    } catch {
      return hangUp(503);
    }
    if (!admitted.ok) {
      log.info({ reason: admitted.reason }, 'dial-out: the room refused the invitee');
      return hangUp(admitted.sipStatus);
    }
    this.#o.adopt({
      // The address we called, not an authenticated identity: a moderator action in this dialog is challenged.
      dialog, room, chat, participantId: admitted.participantId, sipUri: invitee.aor, identity: { uri: invitee.aor, by: 'from' }, contact: dialog.remoteTarget,
      sessionId: offer.origin.sessionId, remotePath: m.path, sessionVersion: 1, answer: offer, ending: false,
    });
    log.info({ session: admitted.participantId, setup }, 'invited participant joined');
    return outcome(200);
  }
}

function outcome(status: number): DialOutcome {
  return { status, reason: reasonPhrase(status) };
}

/** The invitee of a Refer-To / resource-list URI: where to send the INVITE and who joins. */
function inviteeOf(target: string): { aor: string; requestUri: string; host: string; port: number; transport: string } | undefined {
  const u = parseSipUri(target.replace(/^<|>$/g, ''));
  if (!u || u.user === undefined) return undefined;
  const transport = (u.params.get('transport') ?? (u.scheme === 'sips' ? 'tls' : 'udp')).toUpperCase();
  if (!['UDP', 'TCP', 'TLS'].includes(transport)) return undefined;
  const hostPort = `${u.host}${u.port === undefined ? '' : `:${u.port}`}`;
  return {
    aor: `${u.scheme}:${u.user}@${u.host}`,
    requestUri: `${u.scheme}:${u.user}@${hostPort}${transport === 'UDP' ? '' : `;transport=${transport.toLowerCase()}`}`,
    host: u.host.replace(/^\[|\]$/g, ''), port: u.port ?? (u.scheme === 'sips' ? 5061 : 5060), transport,
  };
}
