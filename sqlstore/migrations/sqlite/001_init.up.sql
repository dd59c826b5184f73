-- webauthnkit sqlstore schema, SQLite 3.37 or later (STRICT tables; DELETE
-- ... RETURNING needs 3.35). Table names start with the prefix set by
-- sqlstore.WithTablePrefix (default "webauthnkit_").
-- Times are INTEGER Unix microseconds in UTC, so they sort and compare
-- numerically. TEXT and BLOB compare byte for byte (BINARY collation).
-- Foreign keys need PRAGMA foreign_keys=ON on every connection; sqlstore.New
-- checks it.

CREATE TABLE {{.Prefix}}users (
    handle       BLOB NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE {{.Prefix}}credentials (
    id                 BLOB NOT NULL PRIMARY KEY,
    user_handle        BLOB NOT NULL
                       REFERENCES {{.Prefix}}users (handle) ON DELETE CASCADE,
    public_key         BLOB NOT NULL,
    sign_count         INTEGER NOT NULL,
    aaguid             BLOB NOT NULL,
    attestation_format TEXT NOT NULL,
    transports         TEXT NOT NULL,
    user_present       INTEGER NOT NULL,
    user_verified      INTEGER NOT NULL,
    backup_eligible    INTEGER NOT NULL,
    backup_state       INTEGER NOT NULL,
    attachment         TEXT NOT NULL,
    name               TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER,
    clone_suspected    INTEGER NOT NULL
) STRICT;

-- Serves ListCredentials (WHERE user_handle = ? ORDER BY created_at, id) and
-- the ON DELETE CASCADE from users.
CREATE INDEX {{.Prefix}}credentials_user_idx
    ON {{.Prefix}}credentials (user_handle, created_at, id);

CREATE TABLE {{.Prefix}}ceremonies (
    id         TEXT NOT NULL PRIMARY KEY,
    data       BLOB NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- Serves DeleteExpired.
CREATE INDEX {{.Prefix}}ceremonies_expires_idx
    ON {{.Prefix}}ceremonies (expires_at);
