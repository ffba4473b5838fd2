-- Registration retries: the first request with a key claims it (completed = false); the same
-- transaction that creates the client stores its response (completed = true), which later retries
-- with the same key and body get back. Keys live 24 hours.
CREATE TABLE idempotency_keys (
    organization_id  INTEGER     NOT NULL,
    key              TEXT        NOT NULL,
    request_hash     TEXT        NOT NULL,  -- SHA-256 of the canonical JSON body
    created_at       TEXT        NOT NULL,
    completed        BOOLEAN     NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    location         TEXT,
    etag             TEXT,
    PRIMARY KEY (organization_id, key)
);

-- Expired keys are purged by age.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
