// What the SIP focus needs from the MSRP switch (internal/chat), and nothing more: the
// focus admits and removes devices and listens to room events; the switch owns MSRP
// connections, nicknames and routing (RFC 7701 §5: focus and switch are one logical
// entity, split here along the SIP/MSRP seam). The shapes are internal/chat's Room API
// (room.ts) so a switch hands its rooms over as they are; tests use a double.
import type { AdmitRequest, AdmitResult, LeaveReason, ParticipantView, RoomEvent } from '../chat/room.ts';
import type { RoomEntry } from './directory.ts';

export type { AdmitRequest, AdmitResult, LeaveReason, ParticipantView, RoomEvent, DeviceView } from '../chat/room.ts';

/** The part of internal/chat's Room the focus calls. */
export interface ChatRoomPort {
  readonly uri: string;
  readonly subject: string;
  admit(request: AdmitRequest): AdmitResult;
  /** One device leaves; 'sip' when the focus asks (BYE), so the switch does not ask back. */
  remove(participantId: string, reason: LeaveReason): boolean;
  removeByModerator(moderatorUri: string, targetUri: string): { ok: true; removed: number } | { ok: false; status: 403 | 404; message: string };
  participants(): ParticipantView[];
  onChange(fn: (e: RoomEvent) => void): () => void;
}

export interface ChatPort {
  /** The live room for a directory entry, created on first use; applies the entry's policy and subject when its generation moved. */
  room(entry: RoomEntry): ChatRoomPort;
}
