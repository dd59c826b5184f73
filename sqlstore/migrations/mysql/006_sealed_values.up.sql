-- Room for sealed values (package sealstore). A sealed credential record
-- holds the passkey's name, AAGUID, transports and attestation object
-- (up to webauthnkit.MaxAttestationObjectSize, 48 KiB), encrypted and
-- base64url-encoded in credentials.name: up to about 66 KB, more than a
-- TEXT column (65,535 bytes) holds. MEDIUMTEXT holds 16 MiB. Nothing else
-- changes; without sealstore the column holds the plain name as before.
--
-- PostgreSQL (text) and SQLite (TEXT) have no such limit: their 006 is
-- empty. MODIFY keeps the NOT NULL and the binary collation; it is
-- idempotent, so a re-run after a failure to record the version is safe.

ALTER TABLE {{.Prefix}}credentials
    MODIFY name MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
