ALTER TABLE {{.Prefix}}credentials
    DROP COLUMN IF EXISTS attestation_object,
    DROP COLUMN IF EXISTS attestation_client_data_hash,
    DROP COLUMN IF EXISTS attestation_trust,
    DROP COLUMN IF EXISTS attestation_checked_at,
    DROP COLUMN IF EXISTS quarantined_at,
    DROP COLUMN IF EXISTS quarantine_reason;
