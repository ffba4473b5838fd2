-- The end of a client's business relationship (contract section 9): a row while it is closed,
-- none while it runs. `retain_until` is fixed at closing (RETENTION_YEARS after `ended_at`) and
-- never recomputed. A table of its own: the client's row keeps exactly the seed's fields.
CREATE TABLE client_relationships (
    client_id        UUID        PRIMARY KEY,
    organization_id  INTEGER     NOT NULL,
    ended_at         TIMESTAMPTZ NOT NULL,
    retain_until     TIMESTAMPTZ NOT NULL
);
