// The conference factory URI (RFC 4579's conference factory: an INVITE to it creates a
// conference; RCS/OMA CPM group chat is created this way): `sip:<factory>@<chat domain>`. An INVITE to it
//
//   with a Conversation-ID (or, without one, a Contribution-ID) of a group we made before
//     → the client rejoins that room (RCS clients re-INVITE the factory when they lost the
//       conference URI); the 200's Contact names the room (;isfocus)
//   otherwise → a new ad-hoc room: name grp-<hash of the conversation>, subject from the
//     Subject header, the creator its moderator, the conversation id kept in the spec;
//     written through the directory, so with a store it is a row of the rooms table that
//     the admin API and the operator see; the creator joins it like any room, and the
//     people of a request-contained list (RFC 5366: multipart/mixed with
//     application/resource-lists+xml) are then invited (dial-out.ts)
//
// The offer is the SDP part of a multipart body, or the body itself.
import { createHash, randomBytes } from 'node:crypto';
import { contentType } from '../../sip/fields.ts';
import { headerValue } from '../../sip/message.ts';
import { parseMultipart, resourceListUris } from '../../sip/multipart.ts';
import type { IncomingRequest } from '../../sip/ua.ts';
import { parseSipUri, unescapeUri } from '../../sip/uri.ts';
import type { RoomDirectory, RoomEntry } from './directory.ts';

/** Invitees of one creation, at most (a resource list is the client's word). */
const MAX_INVITEES = 100;

export interface FactoryInvite {
  /** The room to join: found again by its conversation, or made now. */
  readonly room: RoomEntry;
  /** The request as the join sees it: its body is the SDP offer. */
  readonly incoming: IncomingRequest;
  readonly created: boolean;
  /** People to invite once the creator is in (a new room only). */
  readonly invitees: readonly string[];
}

export type FactoryResult = FactoryInvite | { readonly status: 400 | 403 | 415 | 500; readonly reason: string };

/** Is `requestUri` the factory URI (user `factoryUser` on one of our hosts)? */
export function isFactoryUri(requestUri: string, factoryUser: string | undefined, localHost: (host: string) => boolean): boolean {
  if (factoryUser === undefined) return false;
  const u = parseSipUri(requestUri);
  return u?.user !== undefined && unescapeUri(u.user) === factoryUser && localHost(u.host.replace(/^\[|\]$/g, ''));
}

/** The group a factory INVITE is about: Conversation-ID first (OMA CPM), else Contribution-ID. */
export function conversationOf(incoming: IncomingRequest): string | undefined {
  const id = (headerValue(incoming.request, 'Conversation-ID') ?? headerValue(incoming.request, 'Contribution-ID'))?.trim();
  return id === undefined || id === '' || id.length > 256 ? undefined : id;
}

/** `creator` is who asked (identity.ts: authenticated when the focus has Digest realms), the new room's moderator. */
export async function factoryInvite(incoming: IncomingRequest, o: { readonly rooms: RoomDirectory; readonly domain: string; readonly creator: string }): Promise<FactoryResult> {
  const req = incoming.request;
  let offer = req.body;
  let invitees: string[] = [];
  const type = contentType(req);
  if (type?.mediaType === 'multipart/mixed') {
    const parts = parseMultipart(req.body, headerValue(req, 'Content-Type') ?? '');
    if (!parts.ok) return { status: 400, reason: 'Bad Multipart Body' };
    const sdp = parts.value.find((p) => p.mediaType === 'application/sdp');
    if (sdp === undefined) return { status: 415, reason: 'No SDP Part' };
    offer = sdp.body;
    const list = parts.value.find((p) => p.mediaType === 'application/resource-lists+xml');
    if (list !== undefined) invitees = resourceListUris(list.body, MAX_INVITEES);
  }
  const asJoin: IncomingRequest = { ...incoming, request: { ...req, body: offer } };
  const conversation = conversationOf(incoming);
  const known = conversation === undefined ? undefined : await o.rooms.byConversation?.(conversation);
  if (known !== undefined) return { room: known, incoming: asJoin, created: false, invitees: [] };
  if (o.rooms.create === undefined) return { status: 403, reason: 'Rooms Cannot Be Created Here' };
  const creator = o.creator;
  const key = conversation ?? randomBytes(16).toString('hex');
  const name = `grp-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  const subject = headerValue(req, 'Subject')?.slice(0, 256);
  const room = await o.rooms.create(name, `sip:${name}@${o.domain}`, {
    ...(subject === undefined ? {} : { subject }),
    policy: creator === '' ? {} : { moderators: [creator] },
    ...(conversation === undefined ? {} : { conversationId: conversation }),
  });
  // The name is taken (the same conversation created a moment ago by a retransmission, or a
  // room of that name from elsewhere): join what the directory has.
  const existing = room ?? (await o.rooms.byName(name));
  if (existing === undefined) return { status: 500, reason: 'Room Not Created' };
  return { room: existing, incoming: asJoin, created: room !== undefined, invitees: room === undefined ? [] : invitees.filter((u) => u !== creator) };
}
