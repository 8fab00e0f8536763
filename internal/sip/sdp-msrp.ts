// MSRP media in SDP (RFC 4975 §8), its connection setup (RFC 6135) and chat rooms
// (RFC 7701 §8), and the answer a chat-room focus gives to an offer:
//
//   m=message 7654 TCP/MSRP *                 (TCP/TLS/MSRP over TLS; the port is informative)
//   c=IN IP4 client.atlanta.example.com
//   a=path:msrp://client.atlanta.example.com:7654/jshA7weztas;tcp
//   a=accept-types:message/cpim text/plain
//   a=accept-wrapped-types:text/plain text/html
//   a=max-size:131072
//   a=setup:actpass
//   a=chatroom:nickname private-messages

import { sipError, type SipResult } from './errors.ts';
import { attributeValues, type SdpAttribute, type SdpMedia, type SessionDescription } from './sdp.ts';

export const MSRP_PROTOS = ['TCP/MSRP', 'TCP/TLS/MSRP'] as const;
export type MsrpProto = (typeof MSRP_PROTOS)[number];
export type SetupRole = 'active' | 'passive' | 'actpass' | 'holdconn';

export interface ChatroomFeatures {
  /** RFC 7701 §8: the nickname feature. */
  readonly nickname: boolean;
  /** RFC 7701 §8: private messages to one participant. */
  readonly privateMessages: boolean;
  /** Tokens we do not know, kept for logs. */
  readonly others: readonly string[];
}

export interface MsrpMedia {
  /** Index of the m= line in the description. */
  readonly index: number;
  readonly proto: MsrpProto;
  /** a=path: MSRP URIs, first hop first (RFC 4975 §8.2). */
  readonly path: readonly string[];
  readonly acceptTypes: readonly string[];
  readonly acceptWrappedTypes: readonly string[];
  readonly maxSize: number | undefined;
  /** a=setup (RFC 6135); undefined when absent (RFC 4975 §4: then the offerer connects). */
  readonly setup: SetupRole | undefined;
  readonly chatroom: ChatroomFeatures | undefined;
  /** a=file-selector (RFC 5547), raw. */
  readonly fileSelector: string | undefined;
  /** sendrecv / sendonly / recvonly / inactive (RFC 3264 §5.1), default sendrecv. */
  readonly direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
}

function bad(detail: string): SipResult<never> {
  return { ok: false, error: sipError('bad-sdp', detail) };
}

const splitSpaces = (v: string) => v.split(/\s+/).filter((x) => x !== '');

export function isMsrpMedia(m: SdpMedia): boolean {
  return m.media === 'message' && (MSRP_PROTOS as readonly string[]).includes(m.proto.toUpperCase());
}

/** Reads the MSRP attributes of one m=message line. */
export function readMsrpMedia(sdp: SessionDescription, index: number): SipResult<MsrpMedia> {
  const m = sdp.media[index];
  if (!m || !isMsrpMedia(m)) return bad(`m= line ${index} is not message TCP/MSRP or TCP/TLS/MSRP`);
  const first = (name: string) => attributeValues(sdp, m, name)[0];
  const path = splitSpaces(m.attributes.find((a) => a.name === 'path')?.value ?? '');
  if (path.length === 0) return bad('a=path is mandatory for MSRP media (RFC 4975 §8.2)');
  if (!path.every((u) => /^msrps?:\/\//i.test(u))) return bad('a=path holds a URI that is not msrp: or msrps:');
  const acceptTypes = splitSpaces(first('accept-types') ?? '');
  if (acceptTypes.length === 0) return bad('a=accept-types is mandatory for MSRP media (RFC 4975 §8.2)');
  const maxSizeText = first('max-size');
  if (maxSizeText !== undefined && !/^\d{1,15}$/.test(maxSizeText.trim())) return bad(`bad a=max-size ${maxSizeText}`);
  const setupText = first('setup')?.trim().toLowerCase();
  if (setupText !== undefined && !['active', 'passive', 'actpass', 'holdconn'].includes(setupText)) return bad(`bad a=setup ${setupText}`);
  const chatroomText = first('chatroom');
  let chatroom: ChatroomFeatures | undefined;
  if (chatroomText !== undefined) {
    const tokens = splitSpaces(chatroomText.toLowerCase());
    chatroom = { nickname: tokens.includes('nickname'), privateMessages: tokens.includes('private-messages'), others: tokens.filter((t) => t !== 'nickname' && t !== 'private-messages') };
  }
  const directions = ['sendrecv', 'sendonly', 'recvonly', 'inactive'] as const;
  const direction = directions.find((d) => m.attributes.some((a) => a.name === d)) ?? directions.find((d) => sdp.attributes.some((a) => a.name === d)) ?? 'sendrecv';
  return {
    ok: true,
    value: {
      index, proto: m.proto.toUpperCase() as MsrpProto, path, acceptTypes, acceptWrappedTypes: splitSpaces(first('accept-wrapped-types') ?? ''),
      maxSize: maxSizeText === undefined ? undefined : Number(maxSizeText.trim()), setup: setupText as SetupRole | undefined,
      chatroom, fileSelector: first('file-selector'), direction,
    },
  };
}

/** The first usable MSRP media of an offer. */
export function findMsrpMedia(sdp: SessionDescription): SipResult<MsrpMedia> {
  const index = sdp.media.findIndex((m) => isMsrpMedia(m) && m.port !== 0);
  return index < 0 ? bad('no m=message TCP/MSRP or TCP/TLS/MSRP line') : readMsrpMedia(sdp, index);
}

/** Formats the MSRP attributes for an m= line (the inverse of readMsrpMedia's view). */
export function msrpAttributes(media: Omit<MsrpMedia, 'index' | 'proto'>): SdpAttribute[] {
  const out: SdpAttribute[] = [
    { name: 'accept-types', value: media.acceptTypes.join(' ') },
  ];
  if (media.acceptWrappedTypes.length > 0) out.push({ name: 'accept-wrapped-types', value: media.acceptWrappedTypes.join(' ') });
  if (media.maxSize !== undefined) out.push({ name: 'max-size', value: String(media.maxSize) });
  out.push({ name: 'path', value: media.path.join(' ') });
  if (media.setup !== undefined) out.push({ name: 'setup', value: media.setup });
  if (media.chatroom !== undefined) {
    const tokens = [...(media.chatroom.nickname ? ['nickname'] : []), ...(media.chatroom.privateMessages ? ['private-messages'] : []), ...media.chatroom.others];
    out.push({ name: 'chatroom', value: tokens.join(' ') });
  }
  if (media.fileSelector !== undefined) out.push({ name: 'file-selector', value: media.fileSelector });
  if (media.direction !== 'sendrecv') out.push({ name: media.direction, value: null });
  return out;
}

/**
 * The focus's offer when it calls a participant out (RFC 4579 §5.5 dial-out, RFC 7701 §5):
 * one m=message line with our session URI as a=path, message/cpim, the room's chatroom
 * features, and a=setup:actpass (RFC 6135: the invitee chooses who connects).
 */
export function buildChatRoomOffer(o: {
  readonly path: readonly string[]; readonly address: string; readonly sessionId: string; readonly port: number;
  readonly proto?: MsrpProto; readonly features: { readonly nickname: boolean; readonly privateMessages: boolean };
}): SessionDescription {
  const addrType = o.address.includes(':') ? 'IP6' : 'IP4';
  const attributes = msrpAttributes({
    path: o.path, acceptTypes: ['message/cpim'], acceptWrappedTypes: ['text/plain', '*'], maxSize: undefined, setup: 'actpass',
    chatroom: { ...o.features, others: [] }, fileSelector: undefined, direction: 'sendrecv',
  });
  return {
    version: 0,
    origin: { username: '-', sessionId: o.sessionId, sessionVersion: '1', netType: 'IN', addrType, address: o.address },
    sessionName: '-', information: undefined, uri: undefined, emails: [], phones: [],
    connection: { netType: 'IN', addrType, address: o.address }, bandwidths: [], timing: [{ time: '0 0', repeats: [] }],
    timeZones: undefined, key: undefined, attributes: [],
    media: [{ media: 'message', port: o.port, portCount: undefined, proto: o.proto ?? 'TCP/MSRP', formats: ['*'], information: undefined, connections: [], bandwidths: [], key: undefined, attributes }],
  };
}

export interface ChatRoomAnswerOptions {
  /** a=path for the answer: relay hops first, the focus's own MSRP URI for this session last (RFC 4975 §8.2). */
  readonly path: readonly string[];
  /** Host name or address for c= and o= (IPv6 literals give IP6). */
  readonly address: string;
  readonly sessionId: string;
  readonly sessionVersion?: string;
  /** Port for the m= line (RFC 4975 §8.1: informative; the path decides). */
  readonly port: number;
  /** RFC 7701 §7: a focus requires message/cpim; defaults to message/cpim. */
  readonly acceptTypes?: readonly string[];
  readonly acceptWrappedTypes?: readonly string[];
  readonly maxSize?: number;
  readonly features?: { readonly nickname: boolean; readonly privateMessages: boolean };
}

export interface ChatRoomAnswer {
  readonly sdp: SessionDescription;
  readonly media: MsrpMedia;
  /** RFC 6135: true when the offer was passive and the focus must open the MSRP connection. */
  readonly focusConnects: boolean;
}

/**
 * Builds the focus's answer to a chat-room offer (RFC 3264 §6, RFC 4975 §8, RFC 7701 §8):
 * the first MSRP stream is accepted with our path, accept-types and chatroom features;
 * every other m= line is refused with port 0. The focus prefers to be passive (clients
 * behind NAT connect to it); it becomes active only when the offer says passive.
 */
export function buildChatRoomAnswer(offer: SessionDescription, options: ChatRoomAnswerOptions): SipResult<ChatRoomAnswer> {
  const found = findMsrpMedia(offer);
  if (!found.ok) return found;
  const offered = found.value;
  const setup: SetupRole = offered.setup === 'passive' ? 'active' : 'passive';
  const features = options.features ?? { nickname: true, privateMessages: true };
  const direction = offered.direction === 'sendonly' ? 'recvonly' : offered.direction === 'recvonly' ? 'sendonly' : offered.direction;
  const media: MsrpMedia = {
    index: offered.index, proto: offered.proto, path: options.path,
    acceptTypes: options.acceptTypes ?? ['message/cpim'], acceptWrappedTypes: options.acceptWrappedTypes ?? ['text/plain', '*'],
    maxSize: options.maxSize, setup,
    chatroom: offered.chatroom === undefined ? undefined : { ...features, others: [] },
    fileSelector: undefined, direction,
  };
  const addrType = options.address.includes(':') ? 'IP6' : 'IP4';
  const lines: SdpMedia[] = offer.media.map((m, i) => i === offered.index
    ? { media: 'message', port: options.port, portCount: undefined, proto: offered.proto, formats: ['*'], information: undefined, connections: [], bandwidths: [], key: undefined, attributes: msrpAttributes(media) }
    : { media: m.media, port: 0, portCount: undefined, proto: m.proto, formats: m.formats, information: undefined, connections: [], bandwidths: [], key: undefined, attributes: [] });
  const sdp: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: options.sessionId, sessionVersion: options.sessionVersion ?? options.sessionId, netType: 'IN', addrType, address: options.address },
    sessionName: '-', information: undefined, uri: undefined, emails: [], phones: [],
    connection: { netType: 'IN', addrType, address: options.address }, bandwidths: [], timing: [{ time: '0 0', repeats: [] }],
    timeZones: undefined, key: undefined, attributes: [], media: lines,
  };
  return { ok: true, value: { sdp, media, focusConnects: setup === 'active' } };
}
