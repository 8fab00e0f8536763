-- Realms and users (DESIGN.md §2 store/). No clear password is ever stored: HA1 digests
-- for Digest MD5 and SHA-256 (RFC 7616 §3.4.2), plus an optional AES-256-GCM sealed
-- secret for operators who need to recover it (key outside the database).

CREATE TABLE realms (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 253),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  realm_id    bigint      NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
  username    text        NOT NULL CHECK (length(username) BETWEEN 1 AND 256 AND position(':' IN username) = 0),
  ha1_md5     text        NOT NULL CHECK (ha1_md5 ~ '^[0-9a-f]{32}$'),
  ha1_sha256  text        NOT NULL CHECK (ha1_sha256 ~ '^[0-9a-f]{64}$'),
  secret_enc  bytea,
  disabled    boolean     NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (realm_id, username)
);

-- Change feed: every write, from this code or anyone's SQL, notifies msrp_changes with
-- {"table", "op", "key"}; delivered at commit. A user row removed by the cascade of its
-- realm's deletion sends nothing: the realm's own delete event covers its users.
CREATE FUNCTION msrp_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  rec record;
  realm_name text;
  payload json;
BEGIN
  IF TG_OP = 'DELETE' THEN rec := OLD; ELSE rec := NEW; END IF;
  IF TG_TABLE_NAME = 'realms' THEN
    payload := json_build_object('table', 'realms', 'op', lower(TG_OP), 'key', json_build_object('realm', rec.name));
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

CREATE TRIGGER realms_notify AFTER INSERT OR UPDATE OR DELETE ON realms
  FOR EACH ROW EXECUTE FUNCTION msrp_notify_change();
CREATE TRIGGER users_notify AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION msrp_notify_change();
