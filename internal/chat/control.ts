// The chat server's rooms for the engine's control endpoint (internal/relay/http.ts,
// RoomsControl): the live participants of a room and their removal, as the admin API's
// /v1/rooms/{name}/participants asks. A room of the directory with nobody in it answers an
// empty list (this engine serves it); a name the directory does not know answers undefined.
import type { ChatSwitch } from './switch/switch.ts';
import type { ParticipantView } from './focus/chat-port.ts';
import type { RoomDirectory } from './focus/directory.ts';
import type { RoomMesh } from './room-mesh.ts';

export interface RoomsControlView {
  participants(room: string): Promise<Record<string, unknown>[] | undefined>;
  removeParticipant(room: string, id: string): Promise<boolean>;
}

export function roomsControl(chat: { rooms: RoomDirectory; switch: ChatSwitch; roomMesh?: RoomMesh }): RoomsControlView {
  return {
    async participants(name) {
      const entry = await chat.rooms.byName(name);
      if (entry === undefined) return undefined;
      // With several replicas the room lives on its owner: ask it (room-mesh.ts).
      let list: readonly ParticipantView[];
      if (chat.roomMesh !== undefined) list = await chat.roomMesh.participantsOf(entry);
      else {
        const room = chat.switch.room(entry.uri);
        list = room === undefined || room.closed ? [] : room.participants();
      }
      // One entry per device: a participant joined from two devices is removed device by device.
      return list.flatMap((p) => p.devices.map((d) => ({
        id: d.participantId,
        uri: p.sipUri,
        ...(p.nickname === undefined ? {} : { nickname: p.nickname }),
        ...(p.displayName === undefined ? {} : { displayName: p.displayName }),
        moderator: p.moderator,
        connected: d.connected,
        joinedAt: new Date(d.joinedAt).toISOString(),
      })));
    },
    async removeParticipant(name, id) {
      const entry = await chat.rooms.byName(name);
      const room = entry === undefined ? undefined : chat.switch.room(entry.uri);
      if (room === undefined || room.closed) return false;
      // As a moderator's removal: the focus ends the participant's SIP dialog (BYE).
      return room.remove(id, 'moderator');
    },
  };
}
