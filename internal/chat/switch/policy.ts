// A room's policy: what the ChatRoom spec says (internal/operator/api/chatroom.ts, stored as
// opaque JSON by internal/store/rooms.ts) plus the switch's own knobs (quarantine, queue
// bound, flood limits). `policyFromSpec` maps the stored spec onto it; anything the spec
// does not name takes the defaults below.
//
// URI comparison and allow/deny patterns live here too, since both are policy questions:
// who is "the same participant" and who may join.

export interface RoomPolicy {
  /** RFC 7701 §7: participants may take nicknames (NICKNAME requests). */
  readonly nicknames: boolean;
  /** RFC 7701 §6.2: participants may send private messages. */
  readonly privateMessages: boolean;
  /** Distinct participant URIs in the room (devices of one URI count once). */
  readonly maxParticipants: number;
  /** Sessions (devices) one participant URI may hold at once. */
  readonly maxDevicesPerParticipant: number;
  /** Public messages replayed to a joining device; 0 disables history. */
  readonly historySize: number;
  /** Only URIs matching one of these may join; anyone when empty. `*` matches any run of characters. */
  readonly allow: readonly string[];
  /** URIs matching one of these may not join (wins over allow). */
  readonly deny: readonly string[];
  /** May remove participants and change the subject. */
  readonly moderators: readonly string[];
  /** Sent (as CPIM from the room) to each device that joins, after the history. */
  readonly welcome: string | undefined;
  /** Join and leave notices to the room. */
  readonly notices: boolean;
  /** A released nickname stays reserved for its last holder this long (ms). */
  readonly nicknameQuarantineMs: number;
  /** Nicknames nobody may take (compared after RFC 8266-style preparation). */
  readonly reservedNicknames: readonly string[];
  /** Flood control per participant URI: messages per second and burst. */
  readonly messagesPerSec: number;
  readonly messageBurst: number;
  /** Flood control per participant URI: body bytes per second and burst. */
  readonly bytesPerSec: number;
  readonly byteBurst: number;
  /** A chunked message whose next chunk (or next body bytes) does not come within this time is aborted with "#". */
  readonly chunkTimeoutMs: number;
  /** A complete public message up to this size is kept in history (files larger than it are not). */
  readonly historyMaxMessageBytes: number;
}

export const DEFAULT_POLICY: RoomPolicy = {
  nicknames: true,
  privateMessages: true,
  maxParticipants: 100,
  maxDevicesPerParticipant: 5,
  historySize: 50,
  allow: [],
  deny: [],
  moderators: [],
  welcome: undefined,
  notices: true,
  nicknameQuarantineMs: 5 * 60_000,
  reservedNicknames: ['admin', 'moderator', 'focus', 'room'],
  messagesPerSec: 20,
  messageBurst: 40,
  bytesPerSec: 4 * 1024 * 1024,
  byteBurst: 8 * 1024 * 1024,
  chunkTimeoutMs: 15_000,
  historyMaxMessageBytes: 64 * 1024,
};

export function makePolicy(overrides: Partial<RoomPolicy> = {}): RoomPolicy {
  return { ...DEFAULT_POLICY, ...overrides };
}

type Json = { [key: string]: unknown };
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);

/**
 * The policy of a stored ChatRoom spec (`{ uri?, name?, subject?, policy: {...} }`, see
 * internal/operator/api/chatroom.ts). Validation happened in the admin API; this only
 * refuses to take values of the wrong type, falling back to `base`.
 */
export function policyFromSpec(spec: unknown, base: RoomPolicy = DEFAULT_POLICY): RoomPolicy {
  const p = obj(obj(spec)['policy']);
  const history = obj(p['history']);
  const historyEnabled = bool(history['enabled']) ?? true;
  const welcome = p['welcome'];
  return {
    ...base,
    nicknames: bool(p['nicknames']) ?? base.nicknames,
    privateMessages: bool(p['privateMessages']) ?? base.privateMessages,
    maxParticipants: int(p['maxParticipants']) ?? base.maxParticipants,
    historySize: historyEnabled ? (int(history['size']) ?? base.historySize) : 0,
    allow: strings(p['allow']) ?? base.allow,
    deny: strings(p['deny']) ?? base.deny,
    moderators: strings(p['moderators']) ?? base.moderators,
    welcome: typeof welcome === 'string' && welcome !== '' ? welcome : base.welcome,
  };
}

/**
 * A comparable form of a SIP URI for "is this the same participant": scheme and host
 * lower-cased (RFC 3261 §19.1.4: they compare case-insensitively, the user part does
 * not), URI parameters and headers dropped, sips: treated as sip: (a participant joining
 * over TLS and naming itself sip: in CPIM is the same person).
 */
export function uriKey(uri: string): string {
  let u = uri.trim();
  if (u.startsWith('<') && u.endsWith('>')) u = u.slice(1, -1);
  const colon = u.indexOf(':');
  if (colon < 0) return u.toLowerCase();
  let scheme = u.slice(0, colon).toLowerCase();
  if (scheme === 'sips') scheme = 'sip';
  let rest = u.slice(colon + 1);
  const cut = rest.search(/[;?]/);
  if (cut >= 0) rest = rest.slice(0, cut);
  const at = rest.lastIndexOf('@');
  const user = at >= 0 ? rest.slice(0, at + 1) : '';
  const host = (at >= 0 ? rest.slice(at + 1) : rest).toLowerCase();
  return `${scheme}:${user}${host}`;
}

/** RFC 7701 does not define patterns: ours are globs, `*` any run of characters, `?` one, case-insensitive. */
export function uriPattern(glob: string): RegExp {
  const body = uriKey(glob).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

export function matchesAny(uri: string, globs: readonly string[]): boolean {
  const key = uriKey(uri);
  return globs.some((g) => uriPattern(g).test(key));
}

/** Admission by allow/deny lists: deny wins; a non-empty allow list admits only its matches. */
export function admittedByLists(uri: string, policy: Pick<RoomPolicy, 'allow' | 'deny'>): boolean {
  if (matchesAny(uri, policy.deny)) return false;
  return policy.allow.length === 0 || matchesAny(uri, policy.allow);
}
