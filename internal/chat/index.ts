// Public surface of internal/chat: the chat server (RFC 7701): its SIP focus (chat/focus/, RFC 7701 §5), its MSRP switch (chat/switch/) and their assembly.
export { startFocus, type FocusOptions, type RunningFocus } from './focus/focus.ts';
export { startChatServer, switchChatPort, ChatConfigSchema, type ChatConfig, type ChatServerDeps, type RunningChatServer } from './server.ts';
export { MemoryRoomDirectory, StoreRoomDirectory, roomEntryFromSpec, roomUri, type RoomDirectory, type RoomEntry } from './focus/directory.ts';
export { checkOffer, isPrivateHost, LAB_MEDIA_POLICY, type MediaPolicy } from './focus/admission.ts';
export type { ChatPort, ChatRoomPort } from './focus/chat-port.ts';
export { fullConferenceInfo, partialConferenceInfo, CONFERENCE_INFO_TYPE, NICKNAME_NS } from './focus/conference-info.ts';
