// Public surface of internal/focus: the SIP chat focus (RFC 7701 §5) and the chat server wiring.
export { startFocus, type FocusOptions, type RunningFocus } from './focus.ts';
export { startChatServer, switchChatPort, ChatConfigSchema, type ChatConfig, type ChatServerDeps, type RunningChatServer } from './server.ts';
export { MemoryRoomDirectory, StoreRoomDirectory, roomEntryFromSpec, roomUri, type RoomDirectory, type RoomEntry } from './directory.ts';
export { checkOffer, isPrivateHost, LAB_MEDIA_POLICY, type MediaPolicy } from './admission.ts';
export type { ChatPort, ChatRoomPort } from './chat-port.ts';
export { fullConferenceInfo, partialConferenceInfo, CONFERENCE_INFO_TYPE, NICKNAME_NS } from './conference-info.ts';
