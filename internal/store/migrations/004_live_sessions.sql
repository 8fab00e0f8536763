-- Relay-wide live views (docs/relay.md "Relay-wide limits and views"): the replicas of a
-- relay (the pods of one StatefulSet, one public URI) publish the sessions they hold, so
-- that limits per user and the admin API's session list cover every replica.
--
-- `relay` is the relay's public host:port (every replica of one relay has the same);
-- `ordinal` is the replica (session ids start with r<ordinal>-). A replica heartbeats its
-- relay_replicas row every few seconds, with the database's clock; rows of a replica whose
-- heartbeat is older than the staleness bound do not count (it died, or lost the
-- database). A replica deletes the rows of its ordinal when it starts (a restarted replica
-- lost all its sessions). Writes come from a queue behind the relay, never from its
-- forwarding path. `delete_requested_at` is set by the admin API to have the owning replica
-- close a session (it is told through NOTIFY msrp_changes, and polls as well).
-- Hot, disposable state: no change-feed trigger (the store notifies delete requests itself).

CREATE TABLE relay_replicas (
  relay         text        NOT NULL CHECK (length(relay) BETWEEN 1 AND 300),
  ordinal       integer     NOT NULL CHECK (ordinal BETWEEN 0 AND 9999),
  instance      text        NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (relay, ordinal)
);

CREATE TABLE live_sessions (
  relay                text        NOT NULL,
  id                   text        NOT NULL CHECK (length(id) BETWEEN 1 AND 256),
  ordinal              integer     NOT NULL,
  realm                text        NOT NULL,
  username             text        NOT NULL,
  uri                  text        NOT NULL,
  client_uri           text        NOT NULL,
  peer                 text        NOT NULL,
  created_at           timestamptz NOT NULL,
  expires_at           timestamptz NOT NULL,
  delete_requested_at  timestamptz,
  PRIMARY KEY (relay, id)
);

CREATE INDEX live_sessions_user ON live_sessions (relay, realm, username);
CREATE INDEX live_sessions_replica ON live_sessions (relay, ordinal);
CREATE INDEX live_sessions_id ON live_sessions (id);
