-- The event store: the service's own state, append-only. The events table is also the outbox
-- that the relay publishes to Kafka from.
--
-- Global order is (xid, position), not position alone. A bigserial is handed out when a row is
-- inserted, but rows become visible when their transaction commits, so a reader that remembers
-- "the highest position I have seen" skips rows of a slower transaction that commits later with a
-- smaller position. Readers therefore only read rows whose transaction id is below the xmin of
-- their snapshot: every such transaction has finished, so nothing can appear behind the cursor.
-- Writers never wait for each other (unlike a table lock), which is what keeps appends fast. The
-- price: transaction ids are server-wide, so a long-open writing transaction in any database of
-- the server holds back every reader until it ends. Keep transactions short.
--
-- A stream's versions are checked against the stream's previous event, which must come from an
-- older transaction: so a stream's order and the global order always agree.

CREATE TABLE events (
    position        bigserial PRIMARY KEY,
    xid             xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text NOT NULL,
    version         integer NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    schema_version  integer NOT NULL,
    subject         text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    correlation_id  text,
    causation_id    text,
    data            jsonb NOT NULL,
    CONSTRAINT events_stream_version UNIQUE (stream_id, version),
    CONSTRAINT events_event_id UNIQUE (event_id)
);

CREATE INDEX events_global_order ON events (xid, position);

-- Where each reader of the global order (the relay, local projections) has got to.
CREATE TABLE checkpoints (
    name        text PRIMARY KEY,
    xid         xid8 NOT NULL,
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Events consumed from Kafka, recorded in the same transaction as their effect so a redelivered
-- event changes nothing.
CREATE TABLE inbox (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    topic         text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset  bigint NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
