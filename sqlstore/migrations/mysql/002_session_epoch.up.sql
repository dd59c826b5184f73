-- User.SessionEpoch: how many times the account's sessions were ended
-- (Store.EndSessions). Sessions carry the epoch they were issued under and
-- are valid only while it is current. Existing users start at 0.
--
-- One statement (atomic DDL on MySQL 8 and MariaDB 10.5+). MySQL has no
-- ADD COLUMN IF NOT EXISTS, so Migrate treats "duplicate column" (1060) as
-- already done when it re-runs a migration whose version it failed to record.

ALTER TABLE {{.Prefix}}users
    ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
