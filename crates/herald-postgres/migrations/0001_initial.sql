-- herald schema, version 1: sessions and the outbox.
--
-- Records are kept as the JSON the sled backend writes (type json: stored verbatim, so any string the API accepts,
-- NUL escapes included, round-trips). The other columns are derived from the record at every write and exist only
-- for the queries' indexes. Instants are a timestamptz floored to the microsecond plus the nanoseconds below it, so
-- comparisons are exact. Identifier columns use the "C" collation: byte order, as the reference semantics order
-- conversation ids.

-- The last sequence number handed out. One row; an enqueue transaction locks it while it assigns seqs, so seq order
-- is commit order and `unfinished(after_seq)` never misses a record committed late with a smaller seq.
CREATE TABLE herald_outbox_seq (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_seq bigint NOT NULL CHECK (last_seq >= 0)
);
INSERT INTO herald_outbox_seq (singleton, last_seq) VALUES (true, 0);

CREATE TABLE herald_outbox (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    id uuid NOT NULL UNIQUE,
    idempotency_key text COLLATE "C" UNIQUE,
    integration text COLLATE "C" NOT NULL,
    status text NOT NULL
        CHECK (status IN ('pending', 'attempting', 'delivered', 'deferred', 'failed', 'expired')),
    -- The customer a deferred record waits for (NULL unless status = 'deferred').
    deferred_for text COLLATE "C",
    -- The record's last change (newest history entry): what retention looks at.
    last_change timestamptz NOT NULL,
    last_change_ns smallint NOT NULL CHECK (last_change_ns BETWEEN 0 AND 999),
    record json NOT NULL
);
-- Work still to do, in enqueue order: stays small however many delivered records are kept.
CREATE INDEX herald_outbox_unfinished ON herald_outbox (seq) WHERE status IN ('pending', 'attempting');
-- Listings by status and by integration, newest first from a cursor.
CREATE INDEX herald_outbox_by_status ON herald_outbox (status, seq);
CREATE INDEX herald_outbox_by_integration ON herald_outbox (integration, seq);
CREATE INDEX herald_outbox_deferred ON herald_outbox (integration, deferred_for, seq) WHERE status = 'deferred';
CREATE INDEX herald_outbox_final ON herald_outbox (last_change, last_change_ns)
    WHERE status IN ('delivered', 'failed', 'expired');

-- Upstream messages attributed to notifications: the first delivered receipt naming a message keeps it; removed with
-- its record.
CREATE TABLE herald_outbox_attribution (
    integration text COLLATE "C" NOT NULL,
    upstream_message_id text COLLATE "C" NOT NULL,
    notification_id uuid NOT NULL REFERENCES herald_outbox (id) ON DELETE CASCADE,
    PRIMARY KEY (integration, upstream_message_id)
);
CREATE INDEX herald_outbox_attribution_of ON herald_outbox_attribution (notification_id);

CREATE TABLE herald_sessions (
    conversation_id text COLLATE "C" PRIMARY KEY,
    integration text COLLATE "C" NOT NULL,
    state text NOT NULL CHECK (state IN ('queued', 'connected', 'closed')),
    updated_at timestamptz NOT NULL,
    updated_ns smallint NOT NULL CHECK (updated_ns BETWEEN 0 AND 999),
    -- For closed sessions only: when it closed (or its last activity if that is unknown); what retention looks at.
    retain_from timestamptz,
    retain_from_ns smallint CHECK (retain_from_ns BETWEEN 0 AND 999),
    -- Every non-empty customer id (external contact, customer key, guest) and every agent id, for "any id" queries.
    customer_ids text[] COLLATE "C" NOT NULL,
    agent_ids text[] COLLATE "C" NOT NULL,
    session json NOT NULL
);
-- Activity order, newest first when walked backwards; ties by conversation id (bytes).
CREATE INDEX herald_sessions_by_activity ON herald_sessions (updated_at, updated_ns, conversation_id);
CREATE INDEX herald_sessions_of_customer ON herald_sessions USING gin (customer_ids);
CREATE INDEX herald_sessions_of_agent ON herald_sessions USING gin (agent_ids);
CREATE INDEX herald_sessions_closed ON herald_sessions (retain_from, retain_from_ns) WHERE state = 'closed';
