-- User.Email and User.EmailVerifiedAt, and the recovery codes of
-- CredentialStore.SetRecoveryCodes / UseRecoveryCode.
--
-- email is NULL for a user without an address (the store binds "" as NULL),
-- so the unique index, which ignores NULLs, holds only among users that have
-- one. "C" collation: compared byte for byte, like name. Existing users get
-- NULL and NULL (no address, unverified). Adding nullable columns without a
-- default rewrites no rows.

ALTER TABLE {{.Prefix}}users
    ADD COLUMN email text COLLATE "C",
    ADD COLUMN email_verified_at timestamptz;

CREATE UNIQUE INDEX {{.Prefix}}users_email_key
    ON {{.Prefix}}users (email);

-- hash is the library's keyed hash of one code (32 bytes), never the code.
-- The primary key serves UseRecoveryCode's DELETE, RecoveryCodesLeft's
-- COUNT and the ON DELETE CASCADE from users.
CREATE TABLE {{.Prefix}}recovery_codes (
    user_handle bytea NOT NULL
                REFERENCES {{.Prefix}}users (handle) ON DELETE CASCADE,
    hash        bytea NOT NULL,
    CONSTRAINT {{.Prefix}}recovery_codes_pkey PRIMARY KEY (user_handle, hash)
);
