package sqlstore_test

import (
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// columnExists reports whether table has the column.
func columnExists(t *testing.T, db *sql.DB, d sqlstore.Dialect, table, column string) bool {
	t.Helper()
	var query string
	switch d {
	case sqlstore.Postgres:
		query = "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2"
	case sqlstore.MySQL:
		query = "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?"
	case sqlstore.SQLite:
		query = "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?"
	}
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), query, table, column).Scan(&n))
	return n == 1
}

// revertToVersion runs the down files of the migrations after keep, newest
// first, by hand and forgets their versions: the database is as a release
// with only migrations 1 to keep left it.
func revertToVersion(t *testing.T, db *sql.DB, d sqlstore.Dialect, prefix string, keep int) {
	t.Helper()
	fsys, err := sqlstore.Migrations(d, sqlstore.WithTablePrefix(prefix))
	require.NoError(t, err)
	downs, err := fs.Glob(fsys, "*.down.sql")
	require.NoError(t, err)
	slices.Sort(downs)
	for _, name := range slices.Backward(downs) {
		var version int
		_, err := fmt.Sscanf(name, "%d_", &version)
		require.NoError(t, err, name)
		if version <= keep {
			continue
		}
		down, err := fs.ReadFile(fsys, name)
		require.NoError(t, err)
		for _, stmt := range sqlStatements(string(down)) {
			_, err := db.ExecContext(t.Context(), stmt)
			require.NoError(t, err, stmt)
		}
		_, err = db.ExecContext(t.Context(), rebindAll(d, "DELETE FROM "+prefix+"schema_migrations WHERE version = ?"), version)
		require.NoError(t, err)
	}
}

// TestMigrateSessionEpoch: migration 002 adds users.session_epoch to a
// database with users in it (they start at epoch 0), its down file removes
// the column, and New refuses tables without it.
func TestMigrateSessionEpoch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		ctx := t.Context()
		prefix := uniquePrefix()
		opt := sqlstore.WithTablePrefix(prefix)
		dropTablesAtEnd(t, db, prefix)

		require.NoError(t, sqlstore.Migrate(ctx, db, b.dialect, opt))
		require.True(t, columnExists(t, db, b.dialect, prefix+"users", "session_epoch"))
		revertToVersion(t, db, b.dialect, prefix, 1)
		require.False(t, columnExists(t, db, b.dialect, prefix+"users", "session_epoch"), "002 down drops the column")
		_, err := sqlstore.New(db, b.dialect, opt)
		require.ErrorContains(t, err, "run sqlstore.Migrate", "New on a schema without session_epoch")

		// A user stored by the previous release.
		handle := storetest.RandomBytes(16)
		_, err = db.ExecContext(ctx, rebindAll(b.dialect, "INSERT INTO "+prefix+
			"users (handle, name, display_name, created_at) VALUES (?, ?, ?, ?)"),
			handle, "old-user", "Old User", timeValue(b.dialect, time.Now()))
		require.NoError(t, err)

		require.NoError(t, sqlstore.Migrate(ctx, db, b.dialect, opt))
		require.Equal(t, allVersions, versionRows(t, db, prefix))
		s, err := sqlstore.New(db, b.dialect, opt)
		require.NoError(t, err)
		u, err := s.GetUserByHandle(ctx, handle)
		require.NoError(t, err)
		require.Zero(t, u.SessionEpoch, "existing users start at epoch 0")
		epoch, err := s.EndSessions(ctx, handle)
		require.NoError(t, err)
		require.EqualValues(t, 1, epoch)

		require.NoError(t, sqlstore.MigrateDown(ctx, db, b.dialect, opt))
		requireTables(t, db, b.dialect, prefix, false)
	})
}

// TestMySQLMigrationRerun: MySQL DDL commits on its own, so a migration
// can have run without its version being recorded (a crash in between).
// Migrate then runs it again, and the ALTER TABLE that finds its column
// already added (or already dropped, going down) counts as done. Each
// migration that adds a column: 002 (users.session_epoch), 003
// (credentials.second_factor_only) and 004 (users.email).
func TestMySQLMigrationRerun(t *testing.T) {
	for _, m := range []struct {
		version       int
		table, column string
	}{
		{2, "users", "session_epoch"},
		{3, "credentials", "second_factor_only"},
		{4, "users", "email"},
	} {
		t.Run(fmt.Sprintf("%03d", m.version), func(t *testing.T) {
			db := openMySQL(t, mysqlDSN)
			ctx := t.Context()
			prefix := uniquePrefix()
			opt := sqlstore.WithTablePrefix(prefix)
			dropTablesAtEnd(t, db, prefix)

			require.NoError(t, sqlstore.Migrate(ctx, db, sqlstore.MySQL, opt))
			_, err := db.ExecContext(ctx, "DELETE FROM "+prefix+"schema_migrations WHERE version = ?", m.version)
			require.NoError(t, err)
			require.NoError(t, sqlstore.Migrate(ctx, db, sqlstore.MySQL, opt), "re-running the migration over its column")
			require.Equal(t, allVersions, versionRows(t, db, prefix))
			require.True(t, columnExists(t, db, sqlstore.MySQL, prefix+m.table, m.column))

			// Down: the column is gone but the version is still recorded.
			_, err = db.ExecContext(ctx, "ALTER TABLE "+prefix+m.table+" DROP COLUMN "+m.column)
			require.NoError(t, err)
			require.NoError(t, sqlstore.MigrateDown(ctx, db, sqlstore.MySQL, opt), "re-running the down file without its column")
			requireTables(t, db, sqlstore.MySQL, prefix, false)
		})
	}
}

// sqlStatements splits a migration file like Migrate does (whole-line
// comments, every statement ends with ";" at a line end).
func sqlStatements(script string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(script) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	return out
}

// rebindAll numbers the ? placeholders for PostgreSQL ($1, $2, ...).
func rebindAll(d sqlstore.Dialect, query string) string {
	if d != sqlstore.Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
