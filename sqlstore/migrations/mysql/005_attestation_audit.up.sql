-- Credential.AttestationObject and AttestationClientDataHash (kept from the
-- registration so that RelyingParty.AuditCredentials can evaluate the
-- attestation again when the metadata changes) and the audit state written
-- by CredentialAuditor.SetCredentialAudit (trust, checked at, quarantine).
--
-- The byte columns are NULL for credentials registered before this
-- migration; the texts default to '' and the times (DATETIME(6) in UTC, like
-- the others) to NULL, so the previous release's INSERT, which names none
-- of them, keeps working during a rolling deploy. The attestation object is
-- at most webauthnkit.MaxAttestationObjectSize (48 KiB; the store refuses
-- more), which a BLOB (64 KiB) holds. ScanCredentials pages by id (the
-- primary key): no new index.
--
-- One ALTER (atomic DDL on MySQL 8 and MariaDB 10.5+). MySQL has no
-- ADD COLUMN IF NOT EXISTS, so Migrate treats "duplicate column" (1060) as
-- already done when it re-runs a migration whose version it failed to
-- record.

ALTER TABLE {{.Prefix}}credentials
    ADD COLUMN attestation_object BLOB NULL,
    ADD COLUMN attestation_client_data_hash VARBINARY(64) NULL,
    ADD COLUMN attestation_trust VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    ADD COLUMN attestation_checked_at DATETIME(6) NULL,
    ADD COLUMN quarantined_at DATETIME(6) NULL,
    ADD COLUMN quarantine_reason VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '';
