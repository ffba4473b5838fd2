-- One entry per registration and per real change of a client, written in the same transaction as
-- the change. KYC records are regulated: entries are kept for good and never rewritten.
CREATE TABLE client_history (
    client_id        UUID        NOT NULL REFERENCES clients (id),
    version          BIGINT      NOT NULL,
    organization_id  INTEGER     NOT NULL,
    recorded_at      TIMESTAMPTZ NOT NULL,
    actor_key_id     TEXT,                  -- the API key that made the change, when there is one
    actor_name       TEXT        NOT NULL,
    request_id       TEXT,
    changes          TEXT        NOT NULL,  -- JSON array of {field, old, new}
    -- The primary key also serves the history endpoint (one client, newest first).
    PRIMARY KEY (client_id, version)
);

CREATE FUNCTION client_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'client_history is append-only';
END;
$$;

CREATE TRIGGER client_history_append_only
    BEFORE UPDATE OR DELETE ON client_history
    FOR EACH ROW EXECUTE FUNCTION client_history_is_append_only();
