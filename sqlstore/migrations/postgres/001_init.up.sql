-- webauthnkit sqlstore schema, PostgreSQL. Table names start with the
-- prefix set by sqlstore.WithTablePrefix (default "webauthnkit_").
-- Times are timestamptz (microsecond precision). Names and ceremony IDs use
-- the "C" collation: equality and ordering are byte for byte, as the store
-- contract requires.

CREATE TABLE {{.Prefix}}users (
    handle       bytea PRIMARY KEY,
    name         text COLLATE "C" NOT NULL,
    display_name text NOT NULL,
    created_at   timestamptz NOT NULL,
    CONSTRAINT {{.Prefix}}users_name_key UNIQUE (name)
);

CREATE TABLE {{.Prefix}}credentials (
    id                 bytea PRIMARY KEY,
    user_handle        bytea NOT NULL
                       REFERENCES {{.Prefix}}users (handle) ON DELETE CASCADE,
    public_key         bytea NOT NULL,
    sign_count         bigint NOT NULL,
    aaguid             bytea NOT NULL,
    attestation_format text NOT NULL,
    transports         text NOT NULL,
    user_present       boolean NOT NULL,
    user_verified      boolean NOT NULL,
    backup_eligible    boolean NOT NULL,
    backup_state       boolean NOT NULL,
    attachment         text NOT NULL,
    name               text NOT NULL,
    created_at         timestamptz NOT NULL,
    last_used_at       timestamptz,
    clone_suspected    boolean NOT NULL
);

-- Serves ListCredentials (WHERE user_handle = ? ORDER BY created_at, id) and
-- the ON DELETE CASCADE from users.
CREATE INDEX {{.Prefix}}credentials_user_idx
    ON {{.Prefix}}credentials (user_handle, created_at, id);

CREATE TABLE {{.Prefix}}ceremonies (
    id         text COLLATE "C" PRIMARY KEY,
    data       bytea NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Serves DeleteExpired.
CREATE INDEX {{.Prefix}}ceremonies_expires_idx
    ON {{.Prefix}}ceremonies (expires_at);
