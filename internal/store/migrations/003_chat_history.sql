-- Chat room history (internal/chat/switch/history.ts, internal/store/history.ts): the last N
-- public messages of a room, replayed to a device when it joins. `room` is the room URI
-- the switch uses (not rooms.name: rooms from configuration have no row), so there is no
-- foreign key; the switch drops a room's history when the room is deleted. `cpim` is the
-- message/cpim body exactly as the sender wrote it, so a replay is byte-identical.
-- Appends trim to the newest N per room, walking the (room, id DESC) index.
-- History is not part of the change feed: no trigger.

CREATE TABLE chat_messages (
  id            bigserial   PRIMARY KEY,
  room          text        NOT NULL CHECK (length(room) BETWEEN 1 AND 1024),
  message_id    text,
  sender        text        NOT NULL,
  content_type  text,
  cpim          bytea       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX chat_messages_room_id ON chat_messages (room, id DESC);
