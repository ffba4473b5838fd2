-- One entry per registration and per real change of a client, written in the same transaction as
-- the change. KYC records are regulated: entries are kept for good and never rewritten.
CREATE TABLE client_history (
    client_id        TEXT    NOT NULL REFERENCES clients (id),
    version          INTEGER NOT NULL,
    organization_id  INTEGER NOT NULL,
    recorded_at      TEXT    NOT NULL,
    actor_key_id     TEXT,                  -- the API key that made the change, when there is one
    actor_name       TEXT    NOT NULL,
    request_id       TEXT,
    changes          TEXT    NOT NULL,      -- JSON array of {field, old, new}
    -- The primary key also serves the history endpoint (one client, newest first).
    PRIMARY KEY (client_id, version)
);

CREATE TRIGGER client_history_no_update BEFORE UPDATE ON client_history
BEGIN
    SELECT RAISE(ABORT, 'client_history is append-only');
END;

CREATE TRIGGER client_history_no_delete BEFORE DELETE ON client_history
BEGIN
    SELECT RAISE(ABORT, 'client_history is append-only');
END;
