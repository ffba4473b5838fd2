-- Webhooks (contract section 7): the partners' endpoints, one delivery per (endpoint, event), and
-- the attempts made.
--
-- A change writes its event's deliveries in the same statement as the event, one per endpoint
-- of the organization whose types take it: an event that committed always has them, and an
-- endpoint receives exactly the events committed after it was.
CREATE TABLE webhook_endpoints (
    id               UUID        PRIMARY KEY,
    organization_id  INTEGER     NOT NULL,
    url              TEXT        NOT NULL,
    description      TEXT,
    -- The types asked for, as the API shows them (a JSON array), and as a bit mask for the
    -- write that fans an event out; both NULL: every type.
    event_types      TEXT,
    event_mask       INTEGER,
    -- The signing secret, encrypted (AES-256-GCM, the endpoint's id as associated data).
    secret           TEXT        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    -- While the endpoint cannot be reached at all (refused connection, no address), none of its
    -- deliveries is claimed until then: it gets one attempt per backoff, not one per client.
    paused_until     TIMESTAMPTZ,
    -- Deleted endpoints are kept for their deliveries' sake, and receive nothing more.
    deleted_at       TIMESTAMPTZ
);

CREATE INDEX webhook_endpoints_of_an_organization ON webhook_endpoints (organization_id)
    WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id                  BIGSERIAL   PRIMARY KEY,
    endpoint_id         UUID        NOT NULL,
    -- The endpoint's (and the event's) organization: every table carries it (contract §8).
    organization_id     INTEGER     NOT NULL,
    event_id            UUID        NOT NULL,
    client_id           UUID        NOT NULL,
    version             BIGINT      NOT NULL,
    -- The event's created_at, for the age of the oldest undelivered event.
    event_created_at    TIMESTAMPTZ NOT NULL,
    -- pending, delivered, failed (given up) or cancelled (its endpoint was deleted).
    state               TEXT        NOT NULL DEFAULT 'pending',
    attempts            INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at     TIMESTAMPTZ NOT NULL,
    first_attempted_at  TIMESTAMPTZ,
    -- A claim: the instance sending it, and until when no other may.
    claimed_by          UUID,
    claimed_until       TIMESTAMPTZ,
    UNIQUE (endpoint_id, event_id)
);

-- What a client's next event waits for (head of line per client and endpoint).
CREATE INDEX webhook_deliveries_pending_per_client ON webhook_deliveries (endpoint_id, client_id, version)
    WHERE state = 'pending';
-- An endpoint's due deliveries, oldest first (the claim), and the claims it holds (in flight).
CREATE INDEX webhook_deliveries_pending_per_endpoint ON webhook_deliveries (endpoint_id, next_attempt_at, id)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_claimed ON webhook_deliveries (endpoint_id)
    WHERE claimed_until IS NOT NULL;

CREATE TABLE webhook_attempts (
    id            BIGSERIAL   PRIMARY KEY,
    endpoint_id   UUID        NOT NULL,
    organization_id INTEGER     NOT NULL,
    event_id      UUID        NOT NULL,
    attempt       INTEGER     NOT NULL,
    attempted_at  TIMESTAMPTZ NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    duration_ms   BIGINT      NOT NULL,
    -- delivered, retrying or failed.
    outcome       TEXT        NOT NULL
);

CREATE INDEX webhook_attempts_newest_first ON webhook_attempts (endpoint_id, id DESC);

-- The fingerprint of the key that encrypts the secrets (not the key): an instance started with
-- another key refuses to start, rather than fail every delivery it cannot sign.
CREATE TABLE webhook_secrets_key (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint  TEXT    NOT NULL
);
