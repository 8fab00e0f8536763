-- Accounting (docs/relay.md "Accounting"): one row per relay session and per chat
-- participation, written when it ends. Bounded by age: the engine deletes rows whose
-- ended_at is older than accounting.retentionDays (index on ended_at).
CREATE TABLE accounting_records (
  id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind           text        NOT NULL CHECK (kind IN ('relay-session', 'chat-participation')),
  session_id     text        NOT NULL,
  realm          text        NOT NULL,
  username       text        NOT NULL,
  source         text        NOT NULL,
  room           text,
  started_at     timestamptz NOT NULL,
  ended_at       timestamptz NOT NULL,
  bytes_in       bigint      NOT NULL CHECK (bytes_in >= 0),
  bytes_out      bigint      NOT NULL CHECK (bytes_out >= 0),
  messages_in    bigint      NOT NULL CHECK (messages_in >= 0),
  messages_out   bigint      NOT NULL CHECK (messages_out >= 0),
  close_reason   text        NOT NULL
);

CREATE INDEX accounting_records_ended_at ON accounting_records (ended_at);
CREATE INDEX accounting_records_user ON accounting_records (realm, username, id);
