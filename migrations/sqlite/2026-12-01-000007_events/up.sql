-- The event log (contract section 7): one event per history entry, written in the same
-- transaction as the change. SQLite has one writer at a time, so the order of `seq` is the order
-- of commits, and the feed reads in `seq` order.
CREATE TABLE events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT    NOT NULL UNIQUE,
    organization_id  INTEGER NOT NULL,
    client_id        TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    type             TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    body             TEXT    NOT NULL
);

CREATE INDEX events_of_an_organization_in_feed_order ON events (organization_id, seq);
