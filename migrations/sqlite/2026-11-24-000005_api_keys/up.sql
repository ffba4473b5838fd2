-- API keys. A key is shown once when created; only the SHA-256 of its secret part is kept. The
-- key's id is in the key itself, so authentication is one primary-key lookup.
CREATE TABLE api_keys (
    id               TEXT        PRIMARY KEY NOT NULL,
    organization_id  INTEGER,              -- NULL: an admin key, which sees every organization
    name             TEXT        NOT NULL,
    secret_hash      TEXT        NOT NULL,  -- hex SHA-256 of the secret
    created_at       TEXT        NOT NULL,
    last_used_at     TEXT       ,
    revoked_at       TEXT       
);
