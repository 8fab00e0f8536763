-- Workers (docs/relay.md "Workers"): every worker process of a replica is a replica of its
-- own in relay_replicas and live_sessions, numbered worker × 10000 + replica ordinal
-- (internal/mesh/ownership.ts registryOrdinal), so worker 0 keeps the replica's ordinal and
-- worker w of replica k is w×10000+k. Workers are at most 256 per replica.
ALTER TABLE relay_replicas DROP CONSTRAINT relay_replicas_ordinal_check;
ALTER TABLE relay_replicas ADD CONSTRAINT relay_replicas_ordinal_check CHECK (ordinal BETWEEN 0 AND 2559999);
