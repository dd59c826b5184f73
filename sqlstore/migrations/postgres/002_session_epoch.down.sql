ALTER TABLE {{.Prefix}}users DROP COLUMN IF EXISTS session_epoch;
