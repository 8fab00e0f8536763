-- Which replica owns a chat room (internal/store/leases.ts, docs/chat.md "Several pods"):
-- one row per room held, keyed by the room URI the switch uses (as chat_messages). A
-- replica takes a room when the row is absent, expired, or already its own (`holder` is
-- the StatefulSet ordinal: two live pods never share one), renews the rows of the rooms it
-- serves every few seconds and deletes them on a clean shutdown. Times are the database's
-- clock only, so replicas need no synchronised clocks. Not part of the change feed.

CREATE TABLE room_leases (
  room         text        PRIMARY KEY CHECK (length(room) BETWEEN 1 AND 1024),
  holder       integer     NOT NULL CHECK (holder BETWEEN 0 AND 9999),
  instance     text        NOT NULL,
  expires_at   timestamptz NOT NULL,
  acquired_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX room_leases_holder ON room_leases (holder);
