-- Migrate treats "can't drop, check that it exists" (1091) as already done
-- (MySQL has no DROP COLUMN IF EXISTS; MariaDB has, but one file serves
-- both).
ALTER TABLE {{.Prefix}}credentials
    DROP COLUMN attestation_object,
    DROP COLUMN attestation_client_data_hash,
    DROP COLUMN attestation_trust,
    DROP COLUMN attestation_checked_at,
    DROP COLUMN quarantined_at,
    DROP COLUMN quarantine_reason;
