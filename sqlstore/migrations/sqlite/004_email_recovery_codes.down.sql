-- DROP COLUMN needs SQLite 3.35 (the package needs 3.37); a column with an
-- index must lose the index first.
DROP TABLE IF EXISTS {{.Prefix}}recovery_codes;
DROP INDEX IF EXISTS {{.Prefix}}users_email_key;
ALTER TABLE {{.Prefix}}users DROP COLUMN email_verified_at;
ALTER TABLE {{.Prefix}}users DROP COLUMN email;
