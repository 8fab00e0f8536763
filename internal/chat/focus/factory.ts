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
//
// Creations are bounded (FactoryLimits), since an unauthenticated focus lets anyone write
// rooms to the store: ad-hoc rooms in the directory at most `maxRooms` (over it: 503 with
// Retry-After, RFC 3261 §21.5.4, a server-wide condition a proxy may fail over on), and per
// creator `perCreator` creations a window (over it: 486 Busy Here with Retry-After, RFC 3261
// §21.4.24: this caller is refused for now, while a 503 would make a proxy in front treat the
// whole focus as down for everyone, RFC 3261 §16.7, RFC 3263 §4.3). The creator is the
// authenticated user when the focus has Digest realms, else the source address (an IPv4
// address, an IPv6 /64: auth/guesses.ts sourceKey). A rejoin creates nothing and is not
// limited. Two INVITEs checked at once may both create: the cap can be passed by the number
// of creations in flight, no more.
import { createHash, randomBytes } from 'node:crypto';
import { GuessLimiter } from '../../auth/guesses.ts';
import { contentType } from '../../sip/fields.ts';
import { headerValue } from '../../sip/message.ts';
import { parseMultipart, resourceListUris } from '../../sip/multipart.ts';
import type { IncomingRequest } from '../../sip/ua.ts';
import { parseSipUri, unescapeUri } from '../../sip/uri.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import type { RoomDirectory, RoomEntry } from './directory.ts';

/** Invitees of one creation, at most (a resource list is the client's word). */
const MAX_INVITEES = 100;

/**
 * Retry-After of the 503 over `maxRooms`: nothing frees a room on its own (an admin deletes
 * ad-hoc rooms), so a client should not come back within seconds.
 */
const ROOMS_FULL_RETRY_SEC = 300;

export interface FactoryLimitOptions {
  /** Ad-hoc rooms in the directory at once; 0 = unlimited. */
  readonly maxRooms: number;
  /** Rooms one creator (user, or source address without Digest) may create per window; 0 = unlimited. */
  readonly perCreator: number;
  readonly windowSec: number;
}

export type FactoryRefusal = { readonly status: 503 | 486; readonly reason: string; readonly retryAfterSec: number; readonly why: 'rooms' | 'rate' };

/** The bounds on room creation of one focus (see the top of this file). */
export class FactoryLimits {
  readonly #maxRooms: number;
  readonly #byUser: boolean;
  /** A fixed-window counter per user and per source: here it counts creations, not failures. */
  readonly #creations: GuessLimiter;
  readonly #refused: ReturnType<Metrics['counter']> | undefined;

  /** `byUser`: the focus authenticates creators (Digest), so they are counted per user. */
  constructor(o: FactoryLimitOptions & { readonly byUser: boolean; readonly metrics?: Metrics | undefined; readonly now?: () => number }) {
    this.#maxRooms = o.maxRooms;
    this.#byUser = o.byUser;
    const windowMs = o.windowSec * 1000;
    this.#creations = new GuessLimiter(o.byUser ? { perUser: o.perCreator, perSource: 0, windowMs } : { perUser: 0, perSource: o.perCreator, windowMs }, o.now === undefined ? {} : { now: o.now });
    this.#refused = o.metrics?.counter<'reason'>({
      name: 'focus_factory_refusals_total', labelNames: ['reason'],
      help: 'INVITEs to the conference factory refused before creating a room: reason="rooms" (chat.factoryLimits.maxRooms ad-hoc rooms exist, 503), reason="rate" (the creator made perCreator rooms this window, 486).',
    });
  }

  /** May `creator` (the identity's URI) from `source` (an address) create a room while `adHocRooms` exist? */
  check(adHocRooms: number, creator: string, source: string): FactoryRefusal | undefined {
    let refusal: FactoryRefusal | undefined;
    if (this.#maxRooms > 0 && adHocRooms >= this.#maxRooms) {
      refusal = { status: 503, reason: 'Too Many Ad-hoc Rooms', retryAfterSec: ROOMS_FULL_RETRY_SEC, why: 'rooms' };
    } else {
      const v = this.#creations.check('', this.#byUser ? creator : '', source);
      if (!v.ok) refusal = { status: 486, reason: 'Too Many Rooms Created', retryAfterSec: Math.max(1, Math.ceil(v.retryAfterMs / 1000)), why: 'rate' };
    }
    if (refusal !== undefined) this.#refused?.inc({ reason: refusal.why });
    return refusal;
  }

  created(creator: string, source: string): void {
    this.#creations.failed('', this.#byUser ? creator : '', source);
  }
}

export interface FactoryInvite {
  /** The room to join: found again by its conversation, or made now. */
  readonly room: RoomEntry;
  /** The request as the join sees it: its body is the SDP offer. */
  readonly incoming: IncomingRequest;
  readonly created: boolean;
  /** People to invite once the creator is in (a new room only). */
  readonly invitees: readonly string[];
}

export type FactoryResult = FactoryInvite | { readonly status: 400 | 403 | 415 | 500; readonly reason: string } | FactoryRefusal;

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

/**
 * `creator` is who asked (identity.ts: authenticated when the focus has Digest realms), the
 * new room's moderator; `limits` bound the creations (a rejoin is not one).
 */
export async function factoryInvite(
  incoming: IncomingRequest,
  o: { readonly rooms: RoomDirectory; readonly domain: string; readonly creator: string; readonly limits?: FactoryLimits | undefined },
): Promise<FactoryResult> {
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
  const source = incoming.source.address;
  const refused = o.limits?.check(o.rooms.adHocRooms?.() ?? 0, creator, source);
  if (refused !== undefined) return refused;
  const key = conversation ?? randomBytes(16).toString('hex');
  // The shape of AD_HOC_ROOM_NAME (directory.ts), by which the cap counts these rooms.
  const name = `grp-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  const subject = headerValue(req, 'Subject')?.slice(0, 256);
  const room = await o.rooms.create(name, `sip:${name}@${o.domain}`, {
    ...(subject === undefined ? {} : { subject }),
    policy: creator === '' ? {} : { moderators: [creator] },
    ...(conversation === undefined ? {} : { conversationId: conversation }),
  });
  // The name is taken (the same conversation created a moment ago by a retransmission, or a
  // room of that name from elsewhere): join what the directory has.
  if (room !== undefined) o.limits?.created(creator, source);
  const existing = room ?? (await o.rooms.byName(name));
  if (existing === undefined) return { status: 500, reason: 'Room Not Created' };
  return { room: existing, incoming: asJoin, created: room !== undefined, invitees: room === undefined ? [] : invitees.filter((u) => u !== creator) };
}
