-- Migrate treats "can't drop, check that it exists" (1091) as already done
-- (MySQL has no DROP COLUMN IF EXISTS). Dropping the column drops its
-- UNIQUE key.
DROP TABLE IF EXISTS {{.Prefix}}recovery_codes;
ALTER TABLE {{.Prefix}}users
    DROP COLUMN email,
    DROP COLUMN email_verified_at;
