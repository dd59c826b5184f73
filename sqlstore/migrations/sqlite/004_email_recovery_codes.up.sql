-- User.Email and User.EmailVerifiedAt, and the recovery codes of
-- CredentialStore.SetRecoveryCodes / UseRecoveryCode.
--
-- email is NULL for a user without an address (the store binds "" as NULL),
-- so the unique index, which treats NULLs as distinct, holds only among
-- users that have one. email_verified_at is Unix microseconds like the other
-- times, NULL while unverified. Existing users get NULL and NULL.

ALTER TABLE {{.Prefix}}users ADD COLUMN email TEXT;
ALTER TABLE {{.Prefix}}users ADD COLUMN email_verified_at INTEGER;

CREATE UNIQUE INDEX {{.Prefix}}users_email_key
    ON {{.Prefix}}users (email);

-- hash is the library's keyed hash of one code (32 bytes), never the code.
-- The primary key serves UseRecoveryCode's DELETE, RecoveryCodesLeft's
-- COUNT and the ON DELETE CASCADE from users.
CREATE TABLE {{.Prefix}}recovery_codes (
    user_handle BLOB NOT NULL
                REFERENCES {{.Prefix}}users (handle) ON DELETE CASCADE,
    hash        BLOB NOT NULL,
    PRIMARY KEY (user_handle, hash)
) STRICT, WITHOUT ROWID;
