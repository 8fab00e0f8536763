// One RFC 7701 chat room: its policy, members and their devices, nicknames, subject,
// history, and the API the SIP focus calls (admit on INVITE, remove on BYE, participants
// and change events for the conference event package, RFC 4575 / RFC 7701 §7.4).
//
//   const r = room.admit({ sipUri, displayName, remotePath: offer.path, acceptsPrivate, ... });
//   if (!r.ok) reply(r.sipStatus); else answer with a=path:r.localUri, a=setup:r.setup,
//   a=chatroom per r.features.  On BYE: room.remove(r.participantId, 'bye').
//   room.onChange((e) => { e.type === 'device-left' && e.initiator !== 'sip' && sendBye(e.participantId); ... })
import type { Logger } from 'pino';
import { formatCpim } from '../../msrp/cpim.ts';
import { hasMsrpScheme } from '../../msrp/headers.ts';
import type { HistoryEntry, HistoryStore } from './history.ts';
import { NicknameRegistry, type NicknameOutcome } from './nicknames.ts';
import { Member, type Device } from './participant.ts';
import { admittedByLists, matchesAny, uriKey, type RoomPolicy } from './policy.ts';

/** An a=path a device can be reached by: one or more msrp/msrps URIs (RFC 4975 §8.2). */
function isMsrpPath(path: readonly string[]): boolean {
  return path.length > 0 && path.every(hasMsrpScheme);
}

/** RFC 3261 §8.2.2.1 / RCS: the To a client uses for "the room" when it does not know its URI. */
export const ANONYMOUS_URI = 'sip:anonymous@anonymous.invalid';

export interface AdmitRequest {
  /** The participant's URI from the SIP dialog (P-Asserted-Identity or From, authenticated). */
  readonly sipUri: string;
  readonly displayName?: string;
  /** The offer's a=path (RFC 4975 §8.2), first hop first, the device's own URI last. */
  readonly remotePath: readonly string[];
  readonly acceptTypes?: readonly string[];
  /** The offer's a=accept-wrapped-types (RFC 4975 §8.6), honoured by the fan-out; absent: no restriction. */
  readonly acceptWrappedTypes?: readonly string[];
  /** RFC 7701 §8: "private-messages" in the offer's a=chatroom. */
  readonly acceptsPrivate?: boolean;
  /** +sip.instance or another device identifier, for views. */
  readonly deviceId?: string;
  /**
   * RFC 6135 a=setup of the answer: 'passive' (default) waits for the device to connect;
   * 'active' connects to the first URI of remotePath (the offer said a=setup:passive).
   */
  readonly setup?: 'active' | 'passive';
  /**
   * A file transfer session (RFC 5547 push: the offer was a=sendonly with a=file-selector)
   * of a participant already in the room: the device only sends, and the file it sends is
   * passed to the room as a CPIM file message (fanout.ts). It receives nothing.
   */
  readonly upload?: FileUpload;
  /** A session id from reserveSession (the focus's own offer named it before the device answered: dial-out). */
  readonly sessionId?: string;
}

/** What an RFC 5547 offer said of the file a participant pushes into the room. */
export interface FileUpload {
  /** a=file-transfer-id. */
  readonly transferId: string;
  readonly name?: string;
  /** The file's media type; application/octet-stream when the selector names none. */
  readonly type: string;
  readonly size?: number;
}

export type AdmitFailure = 'denied' | 'full' | 'too-many-devices' | 'closed' | 'bad-path' | 'unavailable' | 'not-a-participant';

export type AdmitResult =
  | {
      readonly ok: true;
      readonly participantId: string;
      /** Our session URI for this device: the answer's a=path is [localUri] (relays of ours would come first). */
      readonly localUri: string;
      readonly setup: 'active' | 'passive';
      /** What the answer's a=chatroom should list (RFC 7701 §8). */
      readonly features: { readonly nickname: boolean; readonly privateMessages: boolean };
    }
  | {
      readonly ok: false;
      readonly reason: AdmitFailure;
      /** Suggested SIP final response (RFC 3261 §21): 403 denied, 486 full, 404 room closed, 488 unusable path, 503 the owner replica is unreachable (a remote room, internal/chat/room-mesh.ts). */
      readonly sipStatus: 403 | 404 | 486 | 488 | 503;
      readonly message: string;
    };

export interface DeviceView {
  readonly participantId: string;
  readonly localUri: string;
  readonly remotePath: readonly string[];
  readonly deviceId: string | undefined;
  readonly connected: boolean;
  readonly acceptsPrivate: boolean;
  readonly queuedBytes: number;
  readonly joinedAt: Date;
}

export interface ParticipantView {
  readonly sipUri: string;
  readonly displayName: string | undefined;
  readonly nickname: string | undefined;
  readonly moderator: boolean;
  readonly joinedAt: Date;
  readonly devices: readonly DeviceView[];
}

/** Why a device left; 'sip' when the focus asked (BYE), anything else means the focus should send BYE. */
export type LeaveReason = 'sip' | 'moderator' | 'slow-reader' | 'connection-lost' | 'connect-timeout' | 'session-gone' | 'room-closed' | 'policy';

export type RoomEvent =
  | { readonly type: 'joined'; readonly participant: ParticipantView }
  | { readonly type: 'left'; readonly sipUri: string; readonly reason: LeaveReason }
  | { readonly type: 'device-joined'; readonly participantId: string; readonly sipUri: string }
  | { readonly type: 'device-connected'; readonly participantId: string; readonly sipUri: string }
  | { readonly type: 'device-left'; readonly participantId: string; readonly sipUri: string; readonly reason: LeaveReason }
  | { readonly type: 'nickname'; readonly sipUri: string; readonly nickname: string | undefined; readonly previous: string | undefined }
  | { readonly type: 'subject'; readonly subject: string; readonly by: string | undefined };

/** What a room needs from the switch that hosts it. */
export interface RoomHost {
  readonly log: Logger;
  readonly history: HistoryStore;
  newDevice(room: Room, member: Member, req: AdmitRequest): Device;
  dropDevice(device: Device, reason: LeaveReason): void;
  connectOut(device: Device): void;
  /** A fresh session id and our URI for it, for an offer the focus makes before admitting (dial-out). */
  reserveSession(): { sessionId: string; localUri: string };
  /** The device's path changed (re-INVITE): leave its connection, then wait for or open the new one. */
  repathDevice(device: Device, remotePath: readonly string[], setup: 'active' | 'passive'): void;
}

export class Room {
  readonly uri: string;
  readonly key: string;
  #policy: RoomPolicy;
  #subject: string;
  readonly #host: RoomHost;
  readonly #members = new Map<string, Member>();
  readonly #nicknames: NicknameRegistry;
  readonly #listeners = new Set<(e: RoomEvent) => void>();
  #recent: HistoryEntry[] = [];
  #closed = false;
  /** Resolves once the history was loaded from the store. */
  readonly ready: Promise<void>;
  readonly log: Logger;

  constructor(host: RoomHost, uri: string, policy: RoomPolicy, subject = '') {
    this.#host = host;
    this.uri = uri;
    this.key = uriKey(uri);
    this.#policy = policy;
    this.#subject = subject;
    this.log = host.log.child({ room: uri });
    this.#nicknames = new NicknameRegistry({ quarantineMs: policy.nicknameQuarantineMs, reserved: policy.reservedNicknames });
    this.ready = host.history.recent(uri, policy.historySize).then(
      (entries) => {
        this.#recent = [...entries, ...this.#recent].slice(-policy.historySize);
      },
      (err: Error) => this.log.warn({ err }, 'room history not loaded'),
    );
  }

  get policy(): RoomPolicy {
    return this.#policy;
  }

  get subject(): string {
    return this.#subject;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get size(): number {
    return this.#members.size;
  }

  /** A new policy (the store's change feed). Members already in stay; limits apply to new joins. */
  updatePolicy(policy: RoomPolicy): void {
    this.#policy = policy;
    this.#nicknames.configure({ quarantineMs: policy.nicknameQuarantineMs, reserved: policy.reservedNicknames });
    if (this.#recent.length > policy.historySize) this.#recent = this.#recent.slice(-policy.historySize);
  }

  onChange(fn: (e: RoomEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Our session URI for a device the focus invites (RFC 4579 §5.5): its offer needs it before the answer; admit with its sessionId. */
  reserveSession(): { sessionId: string; localUri: string } {
    return this.#host.reserveSession();
  }

  /** A participant (or another device of one) joins: called by the SIP focus on INVITE, before answering. */
  admit(req: AdmitRequest): AdmitResult {
    const p = this.#policy;
    if (this.#closed) return { ok: false, reason: 'closed', sipStatus: 404, message: 'the room is closed' };
    if (!isMsrpPath(req.remotePath)) {
      return { ok: false, reason: 'bad-path', sipStatus: 488, message: 'a=path must hold MSRP URIs' };
    }
    if (!admittedByLists(req.sipUri, p)) return { ok: false, reason: 'denied', sipStatus: 403, message: 'not allowed in this room' };
    const key = uriKey(req.sipUri);
    let member = this.#members.get(key);
    // A file goes to the room from someone in it: a file session does not make a participant.
    if (req.upload !== undefined && member === undefined) {
      return { ok: false, reason: 'not-a-participant', sipStatus: 403, message: 'join the room before sending it a file' };
    }
    if (member === undefined && this.#members.size >= p.maxParticipants) {
      return { ok: false, reason: 'full', sipStatus: 486, message: `the room is full (${p.maxParticipants} participants)` };
    }
    if (member !== undefined && member.devices.size >= p.maxDevicesPerParticipant) {
      return { ok: false, reason: 'too-many-devices', sipStatus: 486, message: `at most ${p.maxDevicesPerParticipant} devices per participant` };
    }
    const isNew = member === undefined;
    member ??= new Member(key, req.sipUri, req.displayName, p);
    if (req.displayName !== undefined) member.displayName = req.displayName;
    if (isNew) this.#members.set(key, member);
    const device = this.#host.newDevice(this, member, req);
    member.devices.set(device.id, device);

    // History first, then the welcome: both queue in the device's outbox until it connects.
    // A file session receives nothing (it is recvonly on our side, RFC 5547).
    if (req.upload === undefined) {
      for (const h of this.#recent) device.deliver(h.cpim);
      if (p.welcome !== undefined) device.deliver(this.#notice(p.welcome, member));
    }
    if (isNew) {
      if (p.notices) this.broadcast(this.#notice(`${this.#nameOf(member)} joined`), member);
      this.#emit({ type: 'joined', participant: this.#view(member) });
    }
    this.#emit({ type: 'device-joined', participantId: device.id, sipUri: member.sipUri });
    const setup = req.setup ?? 'passive';
    if (setup === 'active') this.#host.connectOut(device);
    this.log.info({ participant: member.sipUri, session: device.id, devices: member.devices.size }, 'participant admitted');
    return {
      ok: true,
      participantId: device.id,
      localUri: device.localUri,
      setup,
      features: { nickname: p.nicknames, privateMessages: p.privateMessages },
    };
  }

  /** One device leaves (BYE, or the switch decided). The participant leaves with its last device. */
  remove(participantId: string, reason: LeaveReason): boolean {
    for (const m of this.#members.values()) {
      const d = m.devices.get(participantId);
      if (d !== undefined) {
        this.removeDevice(d, reason);
        return true;
      }
    }
    return false;
  }

  /**
   * A re-INVITE changed the device's a=path (RFC 4975 §8.4: "This new path may be the same as
   * its previous path, but may be different"): the device keeps its session (our URI, its
   * nickname, its place in the room) and moves to a new connection: it connects again
   * (setup 'passive') or the switch connects to the new first hop ('active'). False when
   * there is no such device or the path is not MSRP URIs.
   */
  repath(participantId: string, remotePath: readonly string[], setup: 'active' | 'passive'): boolean {
    if (!isMsrpPath(remotePath)) return false;
    for (const m of this.#members.values()) {
      const d = m.devices.get(participantId);
      if (d === undefined) continue;
      this.#host.repathDevice(d, remotePath, setup);
      this.log.info({ participant: m.sipUri, session: d.id, setup }, 'device path changed by re-INVITE');
      return true;
    }
    return false;
  }

  /** Every device of a participant URI leaves. */
  removeParticipant(sipUri: string, reason: LeaveReason): number {
    const m = this.#members.get(uriKey(sipUri));
    if (m === undefined) return 0;
    const devices = [...m.devices.values()];
    for (const d of devices) this.removeDevice(d, reason);
    return devices.length;
  }

  /** Moderation (beyond RFC 7701): a moderator removes a participant (all its devices). */
  removeByModerator(moderatorUri: string, targetUri: string): { ok: true; removed: number } | { ok: false; status: 403 | 404; message: string } {
    if (!this.isModerator(moderatorUri)) return { ok: false, status: 403, message: 'not a moderator of this room' };
    const m = this.#members.get(uriKey(targetUri));
    if (m === undefined) return { ok: false, status: 404, message: 'no such participant' };
    const name = this.#nameOf(m);
    const removed = this.removeParticipant(targetUri, 'moderator');
    if (this.#policy.notices) this.broadcast(this.#notice(`${name} was removed by a moderator`));
    return { ok: true, removed };
  }

  /** The subject (RFC 4575 conference-description subject); moderators only, `by` undefined for the admin API. */
  setSubject(subject: string, by?: string): { ok: true } | { ok: false; status: 403; message: string } {
    if (by !== undefined && !this.isModerator(by)) return { ok: false, status: 403, message: 'only moderators change the subject' };
    this.#subject = subject;
    this.broadcast(formatCpim({
      from: { displayName: 'room', uri: this.uri }, to: [{ uri: this.uri }], dateTime: new Date(), subject,
      contentType: 'text/plain;charset=utf-8', content: `subject: ${subject}`,
    }));
    this.#emit({ type: 'subject', subject, by });
    return { ok: true };
  }

  isModerator(uri: string): boolean {
    return matchesAny(uri, this.#policy.moderators);
  }

  participants(): ParticipantView[] {
    return [...this.#members.values()].map((m) => this.#view(m));
  }

  /** The member behind a participant URI, or the holder of a nickname. */
  member(uriOrNickname: { uri?: string; nickname?: string }): Member | undefined {
    if (uriOrNickname.uri !== undefined) {
      const m = this.#members.get(uriKey(uriOrNickname.uri));
      if (m !== undefined) return m;
    }
    if (uriOrNickname.nickname !== undefined) {
      const owner = this.#nicknames.ownerOf(uriOrNickname.nickname);
      if (owner !== undefined) return this.#members.get(owner);
    }
    return undefined;
  }

  /** Every device of every member, except `except`'s devices (or just `exceptDevice`). */
  devices(except?: Member, exceptDevice?: Device): Device[] {
    const out: Device[] = [];
    for (const m of this.#members.values()) {
      if (m === except) continue;
      for (const d of m.devices.values()) if (d !== exceptDevice && !d.removed && d.upload === undefined) out.push(d);
    }
    return out;
  }

  /** A complete message/cpim to every device (except `except`'s). */
  broadcast(cpim: Buffer, except?: Member): void {
    for (const d of this.devices(except)) d.deliver(cpim);
  }

  claimNickname(member: Member, nickname: string): NicknameOutcome {
    const r = this.#nicknames.claim(member.key, nickname);
    if (r.ok && r.previous !== nickname) this.#emit({ type: 'nickname', sipUri: member.sipUri, nickname, previous: r.previous });
    return r;
  }

  nicknameOf(member: Member): string | undefined {
    return this.#nicknames.nicknameOf(member.key);
  }

  /** Keeps a complete public message for replay. */
  remember(entry: HistoryEntry): void {
    const n = this.#policy.historySize;
    if (n <= 0) return;
    this.#recent.push(entry);
    if (this.#recent.length > n) this.#recent.splice(0, this.#recent.length - n);
    this.#host.history.append(this.uri, entry, n).catch((err: Error) => this.log.warn({ err }, 'history not stored'));
  }

  /** The switch (or the API) takes a device out. */
  removeDevice(d: Device, reason: LeaveReason): void {
    if (d.removed) return;
    d.removed = true;
    const m = d.member;
    m.devices.delete(d.id);
    this.#host.dropDevice(d, reason);
    this.log.info({ participant: m.sipUri, session: d.id, reason }, 'device left');
    this.#emit({ type: 'device-left', participantId: d.id, sipUri: m.sipUri, reason });
    if (m.devices.size > 0) return;
    this.#members.delete(m.key);
    const name = this.#nameOf(m);
    const released = this.#nicknames.release(m.key);
    if (released !== undefined) this.#emit({ type: 'nickname', sipUri: m.sipUri, nickname: undefined, previous: released });
    if (this.#policy.notices && reason !== 'room-closed' && reason !== 'moderator') {
      this.broadcast(this.#notice(reason === 'slow-reader' ? `${name} left (could not keep up)` : `${name} left`));
    }
    this.#emit({ type: 'left', sipUri: m.sipUri, reason });
  }

  /** Everyone leaves; the room refuses new joins. */
  close(): void {
    this.#closed = true;
    for (const m of [...this.#members.values()]) for (const d of [...m.devices.values()]) this.removeDevice(d, 'room-closed');
  }

  #nameOf(m: Member): string {
    return this.#nicknames.nicknameOf(m.key) ?? m.displayName ?? m.sipUri;
  }

  /** A notice from the room itself (beyond RFC 7701): CPIM From is the room URI. */
  #notice(text: string, to?: Member): Buffer {
    return formatCpim({
      from: { displayName: 'room', uri: this.uri },
      to: [{ uri: to?.sipUri ?? this.uri }],
      dateTime: new Date(),
      contentType: 'text/plain;charset=utf-8',
      content: text,
    });
  }

  #view(m: Member): ParticipantView {
    return {
      sipUri: m.sipUri,
      displayName: m.displayName,
      nickname: this.#nicknames.nicknameOf(m.key),
      moderator: this.isModerator(m.sipUri),
      joinedAt: m.joinedAt,
      devices: [...m.devices.values()].map((d) => ({
        participantId: d.id, localUri: d.localUri, remotePath: d.remotePath, deviceId: d.deviceId,
        connected: d.connection !== undefined && !d.connection.closed, acceptsPrivate: d.acceptsPrivate,
        queuedBytes: d.outbox.pendingBytes, joinedAt: d.joinedAt,
      })),
    };
  }

  emitConnected(d: Device): void {
    this.#emit({ type: 'device-connected', participantId: d.id, sipUri: d.member.sipUri });
  }

  #emit(e: RoomEvent): void {
    for (const fn of this.#listeners) {
      try {
        fn(e);
      } catch (err) {
        this.log.error({ err }, 'room listener threw');
      }
    }
  }
}
