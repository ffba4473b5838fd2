ALTER TABLE clients
    ALTER COLUMN version TYPE BIGINT,
    ALTER COLUMN kyc_level TYPE TEXT,
    ALTER COLUMN kyc_status TYPE TEXT,
    ALTER COLUMN risk_level TYPE TEXT,
    ALTER COLUMN gender TYPE TEXT,
    ADD CONSTRAINT clients_version_check CHECK (version >= 1),
    ADD CONSTRAINT clients_kyc_level_check CHECK (kyc_level IN ('FULL_KYC', 'DOC_ONLY', 'NOT_REQUIRED')),
    ADD CONSTRAINT clients_kyc_status_check CHECK (kyc_status IN ('NOT_STARTED', 'CREATED', 'PROCESSING', 'ABORTED', 'PENDING_REVIEW', 'VALIDATED', 'DECLINED')),
    ADD CONSTRAINT clients_risk_level_check CHECK (risk_level IN ('Low', 'Medium', 'High')),
    ADD CONSTRAINT clients_gender_check CHECK (gender IN ('male', 'female'));

DROP DOMAIN client_version;
DROP DOMAIN kyc_level_code;
DROP DOMAIN kyc_status_code;
DROP DOMAIN risk_level_code;
DROP DOMAIN gender_code;
