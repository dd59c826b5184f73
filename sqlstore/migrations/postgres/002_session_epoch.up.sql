-- User.SessionEpoch: how many times the account's sessions were ended
-- (Store.EndSessions). Sessions carry the epoch they were issued under and
-- are valid only while it is current. Existing users start at 0.
-- Adding a column with a constant default rewrites no rows (PostgreSQL 11+).

ALTER TABLE {{.Prefix}}users
    ADD COLUMN session_epoch bigint NOT NULL DEFAULT 0;
