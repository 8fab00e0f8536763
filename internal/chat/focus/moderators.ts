// Who speaks for a SIP request to a room, and whether that identity may moderate it: the one
// place the focus decides this (REFER method=BYE and method=INVITE, RFC 4579 §5.5), so that
// the identity can become the authenticated one (SIP Digest, P-Asserted-Identity) here alone.
import { fromHeader } from '../../sip/fields.ts';
import type { IncomingRequest } from '../../sip/ua.ts';
import { matchesAny } from '../switch/policy.ts';
import type { RoomEntry } from './directory.ts';

/**
 * The identity of a request: the participant URI of the caller's own call when the request
 * came within it (admitted, Digest-checked when the room wants it), else the From URI
 * (RFC 3261 §22: From alone is only a claim).
 */
export function requesterOf(incoming: IncomingRequest, inCall: { readonly sipUri: string } | undefined): string {
  return inCall?.sipUri ?? (fromHeader(incoming.request)?.uri ?? '').replace(/^<|>$/g, '');
}

/** May `identity` moderate `room` (its policy's moderators, URI globs)? */
export function mayModerate(room: RoomEntry, identity: string): boolean {
  return identity !== '' && matchesAny(identity, room.policy.moderators);
}
