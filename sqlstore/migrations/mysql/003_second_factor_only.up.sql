-- Credential.SecondFactorOnly: a credential registered as a second factor
-- (a security key without user verification, added after a password
-- sign-in), never accepted for a usernameless sign-in. Existing credentials
-- are ordinary passkeys: FALSE. Immutable after registration.
--
-- One statement (atomic DDL on MySQL 8 and MariaDB 10.5+). MySQL has no
-- ADD COLUMN IF NOT EXISTS, so Migrate treats "duplicate column" (1060) as
-- already done when it re-runs a migration whose version it failed to record.

ALTER TABLE {{.Prefix}}credentials
    ADD COLUMN second_factor_only BOOLEAN NOT NULL DEFAULT FALSE;
