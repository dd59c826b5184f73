-- DROP COLUMN needs SQLite 3.35 (the package needs 3.37).
ALTER TABLE {{.Prefix}}credentials DROP COLUMN quarantine_reason;
ALTER TABLE {{.Prefix}}credentials DROP COLUMN quarantined_at;
ALTER TABLE {{.Prefix}}credentials DROP COLUMN attestation_checked_at;
ALTER TABLE {{.Prefix}}credentials DROP COLUMN attestation_trust;
ALTER TABLE {{.Prefix}}credentials DROP COLUMN attestation_client_data_hash;
ALTER TABLE {{.Prefix}}credentials DROP COLUMN attestation_object;
