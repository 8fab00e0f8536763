// The conference-info document (RFC 4575 §5) a chat room publishes to subscribers of the
// conference event package: users by SIP URI, one endpoint per device (RFC 4575 §5.6,
// §5.7), the message media (§5.7.4), and the participant's nickname.
//
// Nicknames, as RFC 7701 §7.4 says (read in the RFC text): the focus extends the <user>
// element with the 'nickname' attribute of the XCON data model (RFC 6501), and §9.6
// (Figure 7) shows it in the namespace urn:ietf:params:xml:ns:xcon-conference-info with the
// prefix "xcon":
//
//   <user entity="sip:bob@example.com" state="full" xcon:nickname="Dopey Donkey">
//     <display-text>Bob Hoskins</display-text>
//
// display-text stays the user's own display name (From); a user without one shows the
// nickname there too, so clients that ignore the attribute still see a name (RFC 4575
// §5.6.1: display-text is free-form).
//
// Full state lists everything; partial state (RFC 4575 §4.6) carries only the user that
// changed: state="full" for a joiner, "deleted" for a leaver, "partial" with the changed
// elements for a nickname change or a device coming/going.
import type { ParticipantView } from './chat-port.ts';

export const CONFERENCE_INFO_TYPE = 'application/conference-info+xml';
export const CONFERENCE_INFO_NS = 'urn:ietf:params:xml:ns:conference-info';
/** RFC 7701 §9.6 / RFC 6501: the XCON namespace of the <user> 'nickname' attribute. */
export const NICKNAME_NS = 'urn:ietf:params:xml:ns:xcon-conference-info';

export interface ConferenceState {
  readonly entity: string;
  readonly name: string;
  readonly subject: string | undefined;
  readonly participants: readonly ParticipantView[];
  /** The SIP Contact of a device (its endpoint entity), when the focus knows it. */
  readonly contactOf?: (participantId: string) => string | undefined;
}

/** What changed, for a partial notification (RFC 4575 §4.6). */
export type StateChange =
  | { readonly kind: 'user'; readonly sipUri: string }
  | { readonly kind: 'endpoint-gone'; readonly sipUri: string; readonly participantId: string }
  | { readonly kind: 'subject' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function head(entity: string, state: 'full' | 'partial', version: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<conference-info xmlns="${CONFERENCE_INFO_NS}" xmlns:xcon="${NICKNAME_NS}" entity="${esc(entity)}" state="${state}" version="${version}">\n`;
}

function endpointEntity(s: ConferenceState, p: ParticipantView, participantId: string): string {
  return s.contactOf?.(participantId) ?? `${p.sipUri};session=${participantId}`;
}

function userXml(s: ConferenceState, p: ParticipantView, state: 'full' | 'partial'): string {
  const shown = p.displayName ?? p.nickname;
  const nickname = p.nickname === undefined ? '' : ` xcon:nickname="${esc(p.nickname)}"`;
  let out = `    <user entity="${esc(p.sipUri)}" state="${state}"${nickname}>\n`;
  if (shown !== undefined) out += `      <display-text>${esc(shown)}</display-text>\n`;
  if (p.moderator) out += '      <roles><entry>moderator</entry></roles>\n';
  for (const d of p.devices) {
    out += `      <endpoint entity="${esc(endpointEntity(s, p, d.participantId))}" state="full">\n` +
      `        <status>${d.connected ? 'connected' : 'pending'}</status>\n        <joining-method>dialed-in</joining-method>\n` +
      `        <joining-info><when>${d.joinedAt.toISOString()}</when></joining-info>\n` +
      '        <media id="1"><type>message</type><label>chat</label><status>sendrecv</status></media>\n' +
      '      </endpoint>\n';
  }
  return out + '    </user>\n';
}

const countXml = (s: ConferenceState) => `  <conference-state><user-count>${s.participants.length}</user-count><active>true</active></conference-state>\n`;

/** Full state: every participant with every device. */
export function fullConferenceInfo(s: ConferenceState, version: number): string {
  return head(s.entity, 'full', version) +
    '  <conference-description>\n' +
    `    <display-text>${esc(s.name)}</display-text>\n` +
    (s.subject === undefined || s.subject === '' ? '' : `    <subject>${esc(s.subject)}</subject>\n`) +
    '    <available-media><entry label="chat"><type>message</type><status>sendrecv</status></entry></available-media>\n' +
    '  </conference-description>\n' + countXml(s) +
    `  <users>\n${s.participants.map((p) => userXml(s, p, 'full')).join('')}  </users>\n</conference-info>\n`;
}

/**
 * Partial state for one change, from the state after it: a user present now is sent
 * whole (its devices, names and nickname: simpler for subscribers than element-level
 * deltas and still a partial document, RFC 4575 §4.6); a user gone is state="deleted";
 * a device gone from a user who stays is that endpoint with state="deleted".
 */
export function partialConferenceInfo(s: ConferenceState, change: StateChange, version: number): string {
  if (change.kind === 'subject') {
    return head(s.entity, 'partial', version) +
      `  <conference-description state="partial">\n    <subject>${esc(s.subject ?? '')}</subject>\n  </conference-description>\n</conference-info>\n`;
  }
  const p = s.participants.find((x) => x.sipUri === change.sipUri);
  let user: string;
  if (!p) user = `    <user entity="${esc(change.sipUri)}" state="deleted"/>\n`;
  else if (change.kind === 'endpoint-gone') {
    user = `    <user entity="${esc(p.sipUri)}" state="partial">\n` +
      `      <endpoint entity="${esc(endpointEntity(s, p, change.participantId))}" state="deleted"><status>disconnected</status></endpoint>\n    </user>\n`;
  } else user = userXml(s, p, 'full');
  return head(s.entity, 'partial', version) + countXml(s) + `  <users state="partial">\n${user}  </users>\n</conference-info>\n`;
}
