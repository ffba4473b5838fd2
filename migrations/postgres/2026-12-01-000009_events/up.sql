-- The event log (contract section 7): one event per history entry, written by the same statement
-- as the change. A table of its own rather than the history's: events are the partners' copy of
-- a change, rendered once (the client after the change included) and kept for delivery and the
-- feed, while the history is the record itself, kept for as long as the law asks.
--
-- The feed serves events in (tx, seq) order and only those whose transaction is older than every
-- transaction still running (`pg_snapshot_xmin`): an event that commits late always sorts after
-- every event already served, so a reader resuming `after=` the last id it saw skips nothing.
CREATE TABLE events (
    seq              BIGSERIAL   PRIMARY KEY,
    -- The writing transaction's id (64-bit, never wraps).
    tx               BIGINT      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    id               UUID        NOT NULL UNIQUE,
    organization_id  INTEGER     NOT NULL,
    client_id        UUID        NOT NULL,
    version          BIGINT      NOT NULL,
    type             TEXT        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    -- The event as the API shows it (JSON).
    body             TEXT        NOT NULL
);

CREATE INDEX events_in_feed_order ON events (tx, seq);
CREATE INDEX events_of_an_organization_in_feed_order ON events (organization_id, tx, seq);
