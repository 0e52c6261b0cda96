-- herald schema, version 2: the state store (rule cooldowns and windows, own-message marks, Teams references and
-- links). One row per (namespace, key); values are JSON; an entry may expire (an instant split like the others:
-- timestamptz floored to the microsecond plus the nanoseconds below it); `version` is the compare-and-set token.

CREATE TABLE herald_state (
    namespace text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value json NOT NULL,
    expires_at timestamptz,
    expires_ns smallint CHECK (expires_ns BETWEEN 0 AND 999),
    version bigint NOT NULL CHECK (version > 0),
    PRIMARY KEY (namespace, key)
);
-- `purge_expired` walks only entries that can expire.
CREATE INDEX herald_state_expiry ON herald_state (expires_at, expires_ns) WHERE expires_at IS NOT NULL;
