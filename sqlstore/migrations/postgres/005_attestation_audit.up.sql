-- Credential.AttestationObject and AttestationClientDataHash (kept from the
-- registration so that RelyingParty.AuditCredentials can evaluate the
-- attestation again when the metadata changes) and the audit state written
-- by CredentialAuditor.SetCredentialAudit (trust, checked at, quarantine).
--
-- The byte columns are NULL for credentials registered before this
-- migration (nothing to re-audit); the texts default to '' and the times to
-- NULL (never checked, not quarantined), so the previous release's INSERT,
-- which names none of them, keeps working during a rolling deploy. Adding
-- nullable columns, and NOT NULL ones with a constant default, rewrites no
-- rows (PostgreSQL 11+).
--
-- The attestation object is at most webauthnkit.MaxAttestationObjectSize
-- (48 KiB; the store refuses more); TOAST keeps it out of the row.
-- ScanCredentials pages by id (the primary key): no new index.

ALTER TABLE {{.Prefix}}credentials
    ADD COLUMN attestation_object bytea,
    ADD COLUMN attestation_client_data_hash bytea,
    ADD COLUMN attestation_trust text NOT NULL DEFAULT '',
    ADD COLUMN attestation_checked_at timestamptz,
    ADD COLUMN quarantined_at timestamptz,
    ADD COLUMN quarantine_reason text NOT NULL DEFAULT '';
