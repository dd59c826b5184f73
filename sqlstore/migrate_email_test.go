package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// insertUserAsRelease3 stores a user with the INSERT of a release that
// predates User.Email (migrations 001 to 003): it names neither email
// column.
func insertUserAsRelease3(ctx context.Context, t *testing.T, db *sql.DB, d sqlstore.Dialect, prefix string, handle []byte, name string) {
	t.Helper()
	_, err := db.ExecContext(ctx, rebindAll(d, "INSERT INTO "+prefix+
		"users (handle, name, display_name, created_at, session_epoch) VALUES (?, ?, ?, ?, 3)"),
		handle, name, "Old "+name, timeValue(d, time.Now()))
	require.NoError(t, err)
}

// TestMigrateEmailRecoveryCodes: migration 004 adds users.email,
// users.email_verified_at and the recovery_codes table to a database with
// users in it: they read back with no address, unverified and no codes, and
// several of them coexist under the unique index (their email is NULL). The
// previous release's INSERT still works on the migrated table, the store
// keeps emails and codes for old users, and the down file removes it all
// (New then refuses the tables).
func TestMigrateEmailRecoveryCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		ctx := t.Context()
		prefix := uniquePrefix()
		opt := sqlstore.WithTablePrefix(prefix)
		dropTablesAtEnd(t, db, prefix)

		require.NoError(t, sqlstore.Migrate(ctx, db, b.dialect, opt))
		require.True(t, columnExists(t, db, b.dialect, prefix+"users", "email"))
		require.True(t, columnExists(t, db, b.dialect, prefix+"users", "email_verified_at"))
		require.True(t, tableExists(t, db, b.dialect, prefix+"recovery_codes"))
		revertToVersion(t, db, b.dialect, prefix, 3)
		require.False(t, columnExists(t, db, b.dialect, prefix+"users", "email"), "004 down drops users.email")
		require.False(t, columnExists(t, db, b.dialect, prefix+"users", "email_verified_at"), "004 down drops users.email_verified_at")
		require.False(t, tableExists(t, db, b.dialect, prefix+"recovery_codes"), "004 down drops recovery_codes")
		require.True(t, columnExists(t, db, b.dialect, prefix+"credentials", "second_factor_only"), "003 stays")
		_, err := sqlstore.New(db, b.dialect, opt)
		require.ErrorContains(t, err, "run sqlstore.Migrate", "New on a schema without the email columns")

		// Users stored by the previous release, one with a credential.
		oldHandles := [][]byte{storetest.RandomHandle(), storetest.RandomHandle()}
		insertUserAsRelease3(ctx, t, db, b.dialect, prefix, oldHandles[0], "old-one")
		insertUserAsRelease3(ctx, t, db, b.dialect, prefix, oldHandles[1], "old-two")
		credID := storetest.RandomBytes(20)
		insertCredentialAsRelease2(ctx, t, db, b.dialect, prefix, credID, oldHandles[0])

		require.NoError(t, sqlstore.Migrate(ctx, db, b.dialect, opt))
		require.Equal(t, allVersions, versionRows(t, db, prefix))
		s, err := sqlstore.New(db, b.dialect, opt)
		require.NoError(t, err)
		for _, h := range oldHandles {
			u, err := s.GetUserByHandle(ctx, h)
			require.NoError(t, err)
			require.Empty(t, u.Email, "existing users have no address")
			require.True(t, u.EmailVerifiedAt.IsZero(), "existing users are unverified")
			require.EqualValues(t, 3, u.SessionEpoch, "and are otherwise unchanged")
			n, err := s.RecoveryCodesLeft(ctx, h)
			require.NoError(t, err)
			require.Zero(t, n, "existing users have no recovery codes")
		}
		_, err = s.GetUserByEmail(ctx, "")
		require.ErrorIs(t, err, webauthnkit.ErrNotFound, "no lookup finds the users without an address")
		_, u, err := s.GetCredentialWithUser(ctx, credID)
		require.NoError(t, err)
		require.Empty(t, u.Email, "GetCredentialWithUser reads the new columns too")

		// The previous release, still running during a rolling deploy: a
		// third user without an address is no unique violation.
		rolling := storetest.RandomHandle()
		insertUserAsRelease3(ctx, t, db, b.dialect, prefix, rolling, "rolling")

		// This release gives old users an address and codes.
		verified := time.Now().Add(-time.Minute)
		require.NoError(t, s.SetEmail(ctx, oldHandles[0], "old@example.com", verified))
		byEmail, err := s.GetUserByEmail(ctx, "old@example.com")
		require.NoError(t, err)
		require.Equal(t, oldHandles[0], byEmail.Handle)
		require.WithinDuration(t, verified, byEmail.EmailVerifiedAt, time.Microsecond)
		require.Equal(t, time.UTC, byEmail.EmailVerifiedAt.Location())
		require.ErrorIs(t, s.SetEmail(ctx, rolling, "old@example.com", time.Time{}), webauthnkit.ErrUserExists)
		require.NoError(t, s.SetRecoveryCodes(ctx, oldHandles[1], [][]byte{storetest.RandomBytes(32), storetest.RandomBytes(32)}))
		n, err := s.RecoveryCodesLeft(ctx, oldHandles[1])
		require.NoError(t, err)
		require.Equal(t, 2, n)

		require.NoError(t, sqlstore.MigrateDown(ctx, db, b.dialect, opt))
		requireTables(t, db, b.dialect, prefix, false)
	})
}

// TestMySQLMigration004Rerun: MySQL commits each DDL statement of 004 on
// its own. If the ALTER TABLE committed but the CREATE TABLE did not run (a
// crash in between), Migrate re-runs 004: the ALTER that finds its columns
// counts as done and the table is created.
func TestMySQLMigration004Rerun(t *testing.T) {
	db := openMySQL(t, mysqlDSN)
	ctx := t.Context()
	prefix := uniquePrefix()
	opt := sqlstore.WithTablePrefix(prefix)
	dropTablesAtEnd(t, db, prefix)

	require.NoError(t, sqlstore.Migrate(ctx, db, sqlstore.MySQL, opt))
	_, err := db.ExecContext(ctx, "DROP TABLE "+prefix+"recovery_codes")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "DELETE FROM "+prefix+"schema_migrations WHERE version = 4")
	require.NoError(t, err)
	require.NoError(t, sqlstore.Migrate(ctx, db, sqlstore.MySQL, opt), "re-running 004 over its columns")
	require.Equal(t, allVersions, versionRows(t, db, prefix))
	require.True(t, tableExists(t, db, sqlstore.MySQL, prefix+"recovery_codes"))

	s, err := sqlstore.New(db, sqlstore.MySQL, opt)
	require.NoError(t, err)
	u := storetest.RandomUser()
	require.NoError(t, s.CreateUser(ctx, u, nil))
	code := storetest.RandomBytes(32)
	require.NoError(t, s.SetRecoveryCodes(ctx, u.Handle, [][]byte{code}))
	require.NoError(t, s.UseRecoveryCode(ctx, u.Handle, code))

	// Down, after the table went: DROP TABLE IF EXISTS and the ALTER both
	// pass; then down, after the columns went too (1091 counts as done).
	_, err = db.ExecContext(ctx, "DROP TABLE "+prefix+"recovery_codes")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "ALTER TABLE "+prefix+"users DROP COLUMN email, DROP COLUMN email_verified_at")
	require.NoError(t, err)
	require.NoError(t, sqlstore.MigrateDown(ctx, db, sqlstore.MySQL, opt), "re-running the down file without its table and columns")
	requireTables(t, db, sqlstore.MySQL, prefix, false)
}
