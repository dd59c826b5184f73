package sqlstore_test

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

var schemaTables = []string{"users", "credentials", "ceremonies", "recovery_codes", "schema_migrations"}

// tableExists reports whether the table exists in db's current database or
// schema search path.
func tableExists(t *testing.T, db *sql.DB, d sqlstore.Dialect, name string) bool {
	t.Helper()
	var query string
	switch d {
	case sqlstore.Postgres:
		query = "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1"
	case sqlstore.MySQL:
		query = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	case sqlstore.SQLite:
		query = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	}
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), query, name).Scan(&n))
	return n == 1
}

func requireTables(t *testing.T, db *sql.DB, d sqlstore.Dialect, prefix string, exist bool) {
	t.Helper()
	for _, name := range schemaTables {
		require.Equal(t, exist, tableExists(t, db, d, prefix+name), "table %s%s exists", prefix, name)
	}
}

// allVersions is what Migrate records on a new database.
var allVersions = []versionRow{{1, "init"}, {2, "session_epoch"}, {3, "second_factor_only"}, {4, "email_recovery_codes"}, {5, "attestation_audit"}, {6, "sealed_values"}}

type versionRow struct {
	version int64
	name    string
}

func versionRows(t *testing.T, db *sql.DB, prefix string) []versionRow {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT version, name FROM "+prefix+"schema_migrations ORDER BY version")
	require.NoError(t, err)
	defer rows.Close()
	var out []versionRow
	for rows.Next() {
		var r versionRow
		require.NoError(t, rows.Scan(&r.version, &r.name))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// dropTablesAtEnd removes every table of prefix when t ends, in case the
// test failed before MigrateDown.
func dropTablesAtEnd(t *testing.T, db *sql.DB, prefix string) {
	t.Cleanup(func() {
		for _, name := range []string{"ceremonies", "credentials", "recovery_codes", "users", "schema_migrations"} {
			db.Exec("DROP TABLE IF EXISTS " + prefix + name)
		}
	})
}

func TestMigrateUpDownUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		ctx := t.Context()
		prefix := uniquePrefix()
		opt := sqlstore.WithTablePrefix(prefix)
		dropTablesAtEnd(t, db, prefix)

		requireTables(t, db, b.dialect, prefix, false)
		require.NoError(t, sqlstore.Migrate(ctx, db, b.dialect, opt))
		requireTables(t, db, b.dialect, prefix, true)
		require.Equal(t, allVersions, versionRows(t, db, prefix))
		_, err := sqlstore.New(db, b.dialect, opt)
		require.NoError(t, err)

		require.NoError(t, sqlstore.MigrateDown(ctx, db, b.dialect, opt))
		requireTables(t, db, b.dialect, prefix, false)
		_, err = sqlstore.New(db, b.dialect, opt)
		require.ErrorContains(t, err, "run sqlstore.Migrate", "New without the tables")

		require.NoError(t, sqlstore.Migrate(ctx, db, b.dialect, opt))
		requireTables(t, db, b.dialect, prefix, true)
		require.Equal(t, allVersions, versionRows(t, db, prefix))
		s, err := sqlstore.New(db, b.dialect, opt)
		require.NoError(t, err)
		require.NoError(t, s.PutCeremony(ctx, "id", []byte("works"), time.Now().Add(time.Minute)))

		require.NoError(t, sqlstore.MigrateDown(ctx, db, b.dialect, opt))
		requireTables(t, db, b.dialect, prefix, false)
	})
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		s := newStore(t, db, b.dialect)
		prefix := sqlstore.TablePrefix(s)
		require.NoError(t, s.PutCeremony(t.Context(), "kept", []byte("data"), time.Now().Add(time.Minute)))
		before := versionRows(t, db, prefix)

		require.NoError(t, sqlstore.Migrate(t.Context(), db, b.dialect, sqlstore.WithTablePrefix(prefix)))
		require.Equal(t, before, versionRows(t, db, prefix))
		data, err := s.TakeCeremony(t.Context(), "kept")
		require.NoError(t, err, "a second Migrate must keep the data")
		require.Equal(t, []byte("data"), data)
	})
}

// openHandles returns n *sql.DB handles on one database, as n processes
// starting at once would have (for an in-memory SQLite database, the same
// handle n times: there is no other way to reach it).
func openHandles(t *testing.T, b backend, n int) []*sql.DB {
	dbs := make([]*sql.DB, n)
	var path string
	if b.name == "sqlite-file" {
		path = filepath.Join(t.TempDir(), "shared.db")
	}
	for i := range dbs {
		switch {
		case b.name == "sqlite-memory" && i > 0:
			dbs[i] = dbs[0]
		case path != "":
			db, err := sqlitedb.Open(path)
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			dbs[i] = db
		default:
			dbs[i] = b.open(t)
		}
	}
	return dbs
}

func TestMigrateConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		const processes = 4
		dbs := openHandles(t, b, processes)
		prefix := uniquePrefix()
		opt := sqlstore.WithTablePrefix(prefix)
		dropTablesAtEnd(t, dbs[0], prefix)

		errs := make([]error, processes)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, db := range dbs {
			wg.Go(func() {
				<-start
				errs[i] = sqlstore.Migrate(t.Context(), db, b.dialect, opt)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "concurrent Migrate %d", i)
		}
		require.Equal(t, allVersions, versionRows(t, dbs[0], prefix), "each version recorded once")
		requireTables(t, dbs[0], b.dialect, prefix, true)
		require.NoError(t, sqlstore.MigrateDown(t.Context(), dbs[0], b.dialect, opt))
	})
}

func TestMigrateDownRefusesUnknownVersion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		prefix := uniquePrefix()
		opt := sqlstore.WithTablePrefix(prefix)
		dropTablesAtEnd(t, db, prefix)
		require.NoError(t, sqlstore.Migrate(t.Context(), db, b.dialect, opt))
		// As if a newer release had migrated the database.
		_, err := db.ExecContext(t.Context(), rebind(b.dialect, "INSERT INTO "+prefix+
			"schema_migrations (version, name, applied_at) VALUES (999, 'future', ?)"), timeValue(b.dialect, time.Now()))
		require.NoError(t, err)

		require.NoError(t, sqlstore.Migrate(t.Context(), db, b.dialect, opt), "an older release's Migrate is a no-op")
		err = sqlstore.MigrateDown(t.Context(), db, b.dialect, opt)
		require.ErrorContains(t, err, "migration 999")
		requireTables(t, db, b.dialect, prefix, true)
	})
}

func rebind(d sqlstore.Dialect, query string) string {
	if d == sqlstore.Postgres {
		return strings.ReplaceAll(query, "?", "$1")
	}
	return query
}

func timeValue(d sqlstore.Dialect, t time.Time) any {
	switch d {
	case sqlstore.SQLite:
		return t.UnixMicro()
	case sqlstore.MySQL:
		return t.UTC().Format("2006-01-02 15:04:05.000000")
	}
	return t
}

func TestMigrationsFS(t *testing.T) {
	for _, d := range []sqlstore.Dialect{sqlstore.Postgres, sqlstore.MySQL, sqlstore.SQLite} {
		t.Run(d.String(), func(t *testing.T) {
			fsys, err := sqlstore.Migrations(d)
			require.NoError(t, err)
			entries, err := fs.ReadDir(fsys, ".")
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			require.Equal(t, []string{
				"001_init.down.sql", "001_init.up.sql",
				"002_session_epoch.down.sql", "002_session_epoch.up.sql",
				"003_second_factor_only.down.sql", "003_second_factor_only.up.sql",
				"004_email_recovery_codes.down.sql", "004_email_recovery_codes.up.sql",
				"005_attestation_audit.down.sql", "005_attestation_audit.up.sql",
				"006_sealed_values.down.sql", "006_sealed_values.up.sql",
			}, names)

			up, err := fs.ReadFile(fsys, "001_init.up.sql")
			require.NoError(t, err)
			assert.Contains(t, string(up), "webauthnkit_users (")
			assert.Contains(t, string(up), "webauthnkit_credentials (")
			assert.NotContains(t, string(up), "{{", "template not rendered")

			fsys, err = sqlstore.Migrations(d, sqlstore.WithTablePrefix("auth_"))
			require.NoError(t, err)
			down, err := fs.ReadFile(fsys, "001_init.down.sql")
			require.NoError(t, err)
			assert.Contains(t, string(down), "DROP TABLE IF EXISTS auth_users")
			assert.NotContains(t, string(down), "webauthnkit_")
		})
	}
	_, err := sqlstore.Migrations(sqlstore.Dialect(42))
	require.ErrorContains(t, err, "unknown dialect")
}

func TestTablePrefixValidated(t *testing.T) {
	db := openSQLiteMemory(t)
	for _, prefix := range []string{
		"users; DROP TABLE x; --", "a-b_", "1abc_", "Auth_", "tab\t", "é_",
		strings.Repeat("a", 41),
	} {
		opt := sqlstore.WithTablePrefix(prefix)
		require.ErrorContains(t, sqlstore.Migrate(t.Context(), db, sqlstore.SQLite, opt), "table prefix", "Migrate with prefix %q", prefix)
		_, err := sqlstore.New(db, sqlstore.SQLite, opt)
		require.ErrorContains(t, err, "table prefix", "New with prefix %q", prefix)
		_, err = sqlstore.Migrations(sqlstore.SQLite, opt)
		require.ErrorContains(t, err, "table prefix", "Migrations with prefix %q", prefix)
	}
	for _, prefix := range []string{"", "_", "auth_", "a1_", strings.Repeat("a", 40)} {
		opt := sqlstore.WithTablePrefix(prefix)
		require.NoError(t, sqlstore.Migrate(t.Context(), db, sqlstore.SQLite, opt), "prefix %q", prefix)
		_, err := sqlstore.New(db, sqlstore.SQLite, opt)
		require.NoError(t, err, "prefix %q", prefix)
		require.NoError(t, sqlstore.MigrateDown(t.Context(), db, sqlstore.SQLite, opt), "prefix %q", prefix)
	}
}
