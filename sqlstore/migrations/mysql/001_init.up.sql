-- webauthnkit sqlstore schema, MySQL 8 and MariaDB 10.5+ (InnoDB).
-- Table names start with the prefix set by sqlstore.WithTablePrefix (default
-- "webauthnkit_").
--
-- MySQL DDL is not transactional, so every statement is idempotent (IF NOT
-- EXISTS, indexes declared inline): a migration interrupted halfway is simply
-- run again.
--
-- Times are DATETIME(6) holding UTC wall-clock time (microseconds); the store
-- writes and reads them as UTC whatever the DSN's loc and parseTime are.
--
-- users.name is VARBINARY, not VARCHAR ... COLLATE utf8mb4_bin: the _bin
-- collations are PAD SPACE, so 'alice' = 'alice ' would hold and a lookup
-- could return another user. Names are compared byte for byte (the library
-- normalises them before they reach the store) and are valid UTF-8.
-- Text that is never compared is utf8mb4 with a binary collation.

CREATE TABLE IF NOT EXISTS {{.Prefix}}users (
    handle       VARBINARY(64) NOT NULL,
    name         VARBINARY(1024) NOT NULL,
    display_name TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    created_at   DATETIME(6) NOT NULL,
    PRIMARY KEY (handle),
    UNIQUE KEY {{.Prefix}}users_name_key (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {{.Prefix}}credentials (
    id                 VARBINARY(1023) NOT NULL,
    user_handle        VARBINARY(64) NOT NULL,
    public_key         BLOB NOT NULL,
    sign_count         BIGINT NOT NULL,
    aaguid             VARBINARY(64) NOT NULL,
    attestation_format VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    transports         TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    user_present       BOOLEAN NOT NULL,
    user_verified      BOOLEAN NOT NULL,
    backup_eligible    BOOLEAN NOT NULL,
    backup_state       BOOLEAN NOT NULL,
    attachment         VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    name               TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    created_at         DATETIME(6) NOT NULL,
    last_used_at       DATETIME(6) NULL,
    clone_suspected    BOOLEAN NOT NULL,
    PRIMARY KEY (id),
    -- Serves ListCredentials (WHERE user_handle = ? ORDER BY created_at, id)
    -- and the foreign key.
    KEY {{.Prefix}}credentials_user_idx (user_handle, created_at, id),
    CONSTRAINT {{.Prefix}}credentials_user_fk FOREIGN KEY (user_handle)
        REFERENCES {{.Prefix}}users (handle) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {{.Prefix}}ceremonies (
    id         VARBINARY(255) NOT NULL,
    data       MEDIUMBLOB NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    -- Serves DeleteExpired.
    KEY {{.Prefix}}ceremonies_expires_idx (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
