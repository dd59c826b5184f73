DROP TABLE IF EXISTS {{.Prefix}}recovery_codes;
-- Dropping the column drops its unique index.
ALTER TABLE {{.Prefix}}users
    DROP COLUMN IF EXISTS email,
    DROP COLUMN IF EXISTS email_verified_at;
