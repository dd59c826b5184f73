-- User.Email and User.EmailVerifiedAt, and the recovery codes of
-- CredentialStore.SetRecoveryCodes / UseRecoveryCode.
--
-- email is VARBINARY like name (byte-for-byte comparison, no PAD SPACE) and
-- NULL for a user without an address (the store binds "" as NULL), so the
-- UNIQUE key, which allows any number of NULLs, holds only among users that
-- have one. email_verified_at is DATETIME(6) in UTC like the other times,
-- NULL while unverified. Existing users get NULL and NULL.
--
-- One ALTER (atomic DDL on MySQL 8 and MariaDB 10.5+). MySQL has no
-- ADD COLUMN IF NOT EXISTS, so Migrate treats "duplicate column" (1060) as
-- already done when it re-runs a migration whose version it failed to
-- record; the table is CREATE TABLE IF NOT EXISTS.

ALTER TABLE {{.Prefix}}users
    ADD COLUMN email VARBINARY(1024) NULL,
    ADD COLUMN email_verified_at DATETIME(6) NULL,
    ADD UNIQUE KEY {{.Prefix}}users_email_key (email);

-- hash is the library's keyed hash of one code (32 bytes), never the code.
-- The primary key serves UseRecoveryCode's DELETE, RecoveryCodesLeft's
-- COUNT and the foreign key.
CREATE TABLE IF NOT EXISTS {{.Prefix}}recovery_codes (
    user_handle VARBINARY(64) NOT NULL,
    hash        VARBINARY(64) NOT NULL,
    PRIMARY KEY (user_handle, hash),
    CONSTRAINT {{.Prefix}}recovery_codes_user_fk FOREIGN KEY (user_handle)
        REFERENCES {{.Prefix}}users (handle) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
