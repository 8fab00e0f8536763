-- Rooms, API tokens and the audit log for the admin API (DESIGN.md §2 store/, §4).
-- A room's spec is stored as jsonb as the admin API validated it; `generation` grows by
-- one on every change of the spec and stays put when the same spec is written again
-- (declarative PUT). Tokens are stored as SHA-256 hashes only; the secret is shown once.

ALTER TABLE realms ADD COLUMN description text NOT NULL DEFAULT '' CHECK (length(description) <= 1024);

CREATE TABLE rooms (
  name        text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
  spec        jsonb       NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
  generation  bigint      NOT NULL DEFAULT 1 CHECK (generation >= 1),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
  id          text        PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
  name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
  role        text        NOT NULL CHECK (role IN ('admin', 'read-only')),
  hash        bytea       NOT NULL UNIQUE CHECK (length(hash) = 32),
  created_by  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz,
  revoked_at  timestamptz
);

CREATE TABLE audit_log (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text        NOT NULL,
  action      text        NOT NULL,
  resource    text        NOT NULL,
  details     jsonb       NOT NULL DEFAULT '{}'::jsonb
);

-- The change feed grows two tables. Event shapes on msrp_changes (documented in
-- docs/admin-api.md for the engine's caches):
--   {"table":"realms","op":"insert|update|delete","key":{"realm":R}}
--   {"table":"users", "op":...,"key":{"realm":R,"username":U}}
--   {"table":"rooms", "op":...,"key":{"room":N},"generation":G}
--   {"table":"tokens","op":...,"key":{"id":I}}
-- The audit log is append-only history and sends nothing.
CREATE OR REPLACE FUNCTION msrp_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  rec record;
  realm_name text;
  payload json;
BEGIN
  IF TG_OP = 'DELETE' THEN rec := OLD; ELSE rec := NEW; END IF;
  IF TG_TABLE_NAME = 'realms' THEN
    payload := json_build_object('table', 'realms', 'op', lower(TG_OP), 'key', json_build_object('realm', rec.name));
  ELSIF TG_TABLE_NAME = 'rooms' THEN
    payload := json_build_object('table', 'rooms', 'op', lower(TG_OP), 'key', json_build_object('room', rec.name),
                                 'generation', rec.generation);
  ELSIF TG_TABLE_NAME = 'api_tokens' THEN
    payload := json_build_object('table', 'tokens', 'op', lower(TG_OP), 'key', json_build_object('id', rec.id));
  ELSE
    SELECT name INTO realm_name FROM realms WHERE id = rec.realm_id;
    IF realm_name IS NULL THEN RETURN NULL; END IF;
    payload := json_build_object('table', 'users', 'op', lower(TG_OP),
                                 'key', json_build_object('realm', realm_name, 'username', rec.username));
  END IF;
  PERFORM pg_notify('msrp_changes', payload::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER rooms_notify AFTER INSERT OR UPDATE OR DELETE ON rooms
  FOR EACH ROW EXECUTE FUNCTION msrp_notify_change();
CREATE TRIGGER api_tokens_notify AFTER INSERT OR UPDATE OR DELETE ON api_tokens
  FOR EACH ROW EXECUTE FUNCTION msrp_notify_change();
