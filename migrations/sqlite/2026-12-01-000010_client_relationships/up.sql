-- The end of a client's business relationship (contract section 9); see the PostgreSQL
-- migration of the same name.
CREATE TABLE client_relationships (
    client_id        TEXT    PRIMARY KEY,
    organization_id  INTEGER NOT NULL,
    ended_at         TEXT    NOT NULL,
    retain_until     TEXT    NOT NULL
);
