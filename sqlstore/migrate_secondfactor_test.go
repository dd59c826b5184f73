package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// insertCredentialAsRelease2 stores a credential with the INSERT of a
// release that predates Credential.SecondFactorOnly (migrations 001 and
// 002): it does not name second_factor_only.
func insertCredentialAsRelease2(ctx context.Context, t *testing.T, db *sql.DB, d sqlstore.Dialect, prefix string, id, userHandle []byte) {
	t.Helper()
	now := timeValue(d, time.Now())
	_, err := db.ExecContext(ctx, rebindAll(d, "INSERT INTO "+prefix+"credentials "+
		"(id, user_handle, public_key, sign_count, aaguid, attestation_format, transports, "+
		"user_present, user_verified, backup_eligible, backup_state, attachment, name, "+
		"created_at, last_used_at, clone_suspected) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)"),
		id, userHandle, []byte("cose key"), 7, make([]byte, 16), "none", `["usb"]`,
		true, false, false, false, "cross-platform", "Old key", now, false)
	require.NoError(t, err)
}

// TestMigrateSecondFactorOnly: migration 003 adds
// credentials.second_factor_only to a database with credentials in it (they
// read back false: ordinary passkeys), the previous release's INSERT still
// works on the migrated table (its rows get false), the store keeps true and
// false, the down file removes the column, and New refuses tables without
// it.
func TestMigrateSecondFactorOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		ctx := t.Context()
		prefix := uniquePrefix()
		opt := sqlstore.WithTablePrefix(prefix)
		dropTablesAtEnd(t, db, prefix)

		require.NoError(t, sqlstore.Migrate(ctx, db, b.dialect, opt))
		require.True(t, columnExists(t, db, b.dialect, prefix+"credentials", "second_factor_only"))
		revertToVersion(t, db, b.dialect, prefix, 2)
		require.False(t, columnExists(t, db, b.dialect, prefix+"credentials", "second_factor_only"), "003 down drops the column")
		require.True(t, columnExists(t, db, b.dialect, prefix+"users", "session_epoch"), "002 stays")
		_, err := sqlstore.New(db, b.dialect, opt)
		require.ErrorContains(t, err, "run sqlstore.Migrate", "New on a schema without second_factor_only")

		// A user and a credential stored by the previous release.
		handle := storetest.RandomBytes(16)
		_, err = db.ExecContext(ctx, rebindAll(b.dialect, "INSERT INTO "+prefix+
			"users (handle, name, display_name, created_at, session_epoch) VALUES (?, ?, ?, ?, 0)"),
			handle, "old-user", "Old User", timeValue(b.dialect, time.Now()))
		require.NoError(t, err)
		oldID := storetest.RandomBytes(20)
		insertCredentialAsRelease2(ctx, t, db, b.dialect, prefix, oldID, handle)

		require.NoError(t, sqlstore.Migrate(ctx, db, b.dialect, opt))
		require.Equal(t, allVersions, versionRows(t, db, prefix))
		s, err := sqlstore.New(db, b.dialect, opt)
		require.NoError(t, err)
		old, err := s.GetCredential(ctx, oldID)
		require.NoError(t, err)
		require.False(t, old.SecondFactorOnly, "existing credentials are not second-factor-only")
		require.Equal(t, "Old key", old.Name, "and are otherwise unchanged")
		require.EqualValues(t, 7, old.SignCount)

		// The previous release, still running during a rolling deploy.
		rollingID := storetest.RandomBytes(20)
		insertCredentialAsRelease2(ctx, t, db, b.dialect, prefix, rollingID, handle)
		rolling, err := s.GetCredential(ctx, rollingID)
		require.NoError(t, err)
		require.False(t, rolling.SecondFactorOnly, "the previous release's rows get false")

		// This release stores both values.
		second := storetest.RandomCredential(handle)
		second.SecondFactorOnly = true
		require.NoError(t, s.AddCredential(ctx, second))
		got, err := s.GetCredential(ctx, second.ID)
		require.NoError(t, err)
		storetest.AssertCredentialEqual(t, second, got)
		require.True(t, got.SecondFactorOnly)
		got, _, err = s.GetCredentialWithUser(ctx, second.ID)
		require.NoError(t, err)
		require.True(t, got.SecondFactorOnly, "GetCredentialWithUser")
		list, err := s.ListCredentials(ctx, handle)
		require.NoError(t, err)
		require.Len(t, list, 3)
		for _, c := range list {
			require.Equal(t, string(c.ID) == string(second.ID), c.SecondFactorOnly, "ListCredentials")
		}

		require.NoError(t, sqlstore.MigrateDown(ctx, db, b.dialect, opt))
		requireTables(t, db, b.dialect, prefix, false)
	})
}
