-- Credential.AttestationObject and AttestationClientDataHash (kept from the
-- registration so that RelyingParty.AuditCredentials can evaluate the
-- attestation again when the metadata changes) and the audit state written
-- by CredentialAuditor.SetCredentialAudit (trust, checked at, quarantine).
--
-- The byte columns are NULL for credentials registered before this
-- migration; the texts default to '' and the times (Unix microseconds) to
-- NULL, so the previous release's INSERT, which names none of them, keeps
-- working. The attestation object is at most
-- webauthnkit.MaxAttestationObjectSize (48 KiB; the store refuses more).
-- ScanCredentials pages by id (the primary key): no new index.

ALTER TABLE {{.Prefix}}credentials ADD COLUMN attestation_object BLOB;
ALTER TABLE {{.Prefix}}credentials ADD COLUMN attestation_client_data_hash BLOB;
ALTER TABLE {{.Prefix}}credentials ADD COLUMN attestation_trust TEXT NOT NULL DEFAULT '';
ALTER TABLE {{.Prefix}}credentials ADD COLUMN attestation_checked_at INTEGER;
ALTER TABLE {{.Prefix}}credentials ADD COLUMN quarantined_at INTEGER;
ALTER TABLE {{.Prefix}}credentials ADD COLUMN quarantine_reason TEXT NOT NULL DEFAULT '';
