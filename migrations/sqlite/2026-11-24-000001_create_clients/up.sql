-- SQLite keeps UUIDs, timestamps (RFC 3339) and dates as text; the column list and the rules
-- are the same as on PostgreSQL.
-- One row per person client: the Client part and the Person part together, so that an update is
-- a single-row write.
CREATE TABLE clients (
    id                          TEXT        PRIMARY KEY NOT NULL,  -- UUID v7, hyphenated lower case: sorts by time
    organization_id             INTEGER     NOT NULL,
    version                     INTEGER     NOT NULL CHECK (version >= 1),
    created_at                  TEXT        NOT NULL,
    updated_at                  TEXT        NOT NULL,

    kyc_level                   TEXT        NOT NULL CHECK (kyc_level IN ('FULL_KYC', 'DOC_ONLY', 'NOT_REQUIRED')),
    kyc_status                  TEXT        NOT NULL CHECK (kyc_status IN ('NOT_STARTED', 'CREATED', 'PROCESSING', 'ABORTED', 'PENDING_REVIEW', 'VALIDATED', 'DECLINED')),
    risk_level                  TEXT        NOT NULL CHECK (risk_level IN ('Low', 'Medium', 'High')),
    is_blacklisted              BOOLEAN     NOT NULL,
    blacklisted_comment         TEXT,
    blocked                     BOOLEAN     NOT NULL,
    kyc_note                    TEXT,
    external_client_code        TEXT,

    first_name                  TEXT        NOT NULL,
    middle_name                 TEXT,
    last_name                   TEXT        NOT NULL,
    date_of_birth               TEXT        NOT NULL,
    gender                      TEXT        NOT NULL CHECK (gender IN ('male', 'female')),
    nationality                 TEXT        NOT NULL,
    birth_country               TEXT        NOT NULL,
    country_of_tax_residence    TEXT        NOT NULL,

    email                       TEXT        NOT NULL,
    second_email                TEXT,
    mobile_phone_number         TEXT,
    second_mobile_phone_number  TEXT,

    address                     TEXT        NOT NULL,
    city                        TEXT        NOT NULL,
    postcode                    TEXT        NOT NULL,
    state_province              TEXT,
    country_code                TEXT        NOT NULL,

    planned_income              TEXT,
    planned_expenditure         TEXT
);

-- The email is unique among an organization's clients, compared case-insensitively. The
-- application checks first to answer 409; this index is the guarantee under concurrency.
CREATE UNIQUE INDEX clients_org_email_uq ON clients (organization_id, lower(email));

-- An external client code, when given, is unique within the organization.
CREATE UNIQUE INDEX clients_org_external_code_uq ON clients (organization_id, external_client_code)
    WHERE external_client_code IS NOT NULL;
