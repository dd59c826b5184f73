-- Back to TEXT. Fails (ER_DATA_TOO_LONG in strict mode) while a row holds
-- a value longer than 65,535 bytes: open those rows first.

ALTER TABLE {{.Prefix}}credentials
    MODIFY name TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
