// What the SIP focus needs from the MSRP switch (internal/chat/switch), and nothing more: the
// focus admits and removes devices and listens to room events; the switch owns MSRP
// connections, nicknames and routing (RFC 7701 §5: focus and switch are one logical
// entity, split here along the SIP/MSRP seam). The shapes are the switch's Room API
// (room.ts) so a switch hands its rooms over as they are; tests use a double.
import type { AdmitRequest, AdmitResult, LeaveReason, ParticipantView, RoomEvent } from '../switch/room.ts';
import type { RoomEntry } from './directory.ts';

export type { AdmitRequest, AdmitResult, LeaveReason, ParticipantView, RoomEvent, DeviceView } from '../switch/room.ts';

export type ModeratorRemoval = { ok: true; removed: number } | { ok: false; status: 403 | 404 | 503; message: string };

/**
 * The part of the switch's Room the focus calls. A room of this process (the switch's
 * Room itself) answers synchronously; a room another replica owns (room-mesh.ts) answers
 * with promises, so callers take either and await only a promise: the single-process path
 * stays as it was.
 */
export interface ChatRoomPort {
  readonly uri: string;
  readonly subject: string;
  admit(request: AdmitRequest): AdmitResult | Promise<AdmitResult>;
  /** One device leaves; 'sip' when the focus asks (BYE), so the switch does not ask back. */
  remove(participantId: string, reason: LeaveReason): boolean | Promise<boolean>;
  removeByModerator(moderatorUri: string, targetUri: string): ModeratorRemoval | Promise<ModeratorRemoval>;
  /** Our session URI for a device the focus is about to invite (dial-out); admit with its sessionId once it answered. */
  reserveSession(): { sessionId: string; localUri: string } | Promise<{ sessionId: string; localUri: string }>;
  /** A re-INVITE changed the device's MSRP path (RFC 4975 §8.4): same session, new connection. */
  repath(participantId: string, remotePath: readonly string[], setup: 'active' | 'passive'): boolean | Promise<boolean>;
  /** Synchronous on both kinds: a remote room keeps a copy that its event stream keeps current. */
  participants(): ParticipantView[];
  onChange(fn: (e: RoomEvent) => void): () => void;
  /**
   * A remote room: called once when this process lost it (its owner died or gave it up).
   * Its devices were reported 'device-left' first; the next INVITE looks for the owner again.
   */
  onGone?(fn: () => void): void;
  /** A remote room nobody here takes part in or watches any more: stop following it (no events, no BYEs); false while an admission is in flight. */
  release?(): boolean;
}

/** The rooms of this process (server.ts switchChatPort): always synchronous. */
export interface LocalChatPort extends ChatPort {
  room(entry: RoomEntry): ChatRoomPort;
}

/** No replica can serve the room right now (its owner is unreachable and still holds it): 503 with Retry-After. */
export class RoomUnavailableError extends Error {
  readonly retryAfterSec: number;
  constructor(message: string, retryAfterSec: number) {
    super(message);
    this.name = 'RoomUnavailableError';
    this.retryAfterSec = retryAfterSec;
  }
}

export interface ChatPort {
  /**
   * The live room for a directory entry, created on first use; applies the entry's policy and
   * subject when its generation moved. A promise when the room's owner has to be found
   * (several replicas); rejects with RoomUnavailableError when none can serve it now.
   */
  room(entry: RoomEntry): ChatRoomPort | Promise<ChatRoomPort>;
}
