package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

// The servers the tests use. Each test works in tables with its own random
// prefix and drops them at the end, so runs (and packages) sharing a
// database never see each other's rows.
var (
	postgresDSN = testenv.PostgresDSN()
	mysqlDSN    = testenv.MySQLDSN()
)

// backend is one database the store runs against.
type backend struct {
	name    string
	dialect sqlstore.Dialect
	// open returns a fresh *sql.DB, closed when t ends. For a server it
	// skips t (fails it under CI) if the server cannot be reached.
	open func(t testing.TB) *sql.DB
}

var backends = []backend{
	{"postgres", sqlstore.Postgres, func(t testing.TB) *sql.DB { return openPostgres(t, postgresDSN) }},
	{"mariadb", sqlstore.MySQL, func(t testing.TB) *sql.DB { return openMySQL(t, mysqlDSN) }},
	{"sqlite-file", sqlstore.SQLite, openSQLiteFile},
	{"sqlite-memory", sqlstore.SQLite, openSQLiteMemory},
}

// serverBackends are the backends with a server that can go away.
func serverBackends() []backend { return backends[:2] }

func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

func openPostgres(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	// Enough for the concurrent subtests, few enough to share the server.
	db.SetMaxOpenConns(16)
	t.Cleanup(func() { db.Close() })
	if err := ping(db); err != nil {
		testenv.Unavailable(t, "PostgreSQL", testenv.PostgresAddr(dsn), err, testenv.HowToStartPostgres)
	}
	return db
}

func openMySQL(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(16)
	t.Cleanup(func() { db.Close() })
	if err := ping(db); err != nil {
		testenv.Unavailable(t, "MariaDB", testenv.MySQLAddr(dsn), err, testenv.HowToStartMySQL)
	}
	return db
}

func openSQLiteFile(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "passkeys.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func openSQLiteMemory(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sqlitedb.Open(sqlitedb.Memory)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func ping(db *sql.DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// uniquePrefix returns a table prefix no other test run uses.
func uniquePrefix() string {
	b := make([]byte, 5)
	rand.Read(b)
	return "t" + hex.EncodeToString(b) + "_"
}

// newStore migrates fresh tables with a unique prefix in db and returns a
// Store over them. When t ends the Store is closed and the tables dropped.
func newStore(t testing.TB, db *sql.DB, dialect sqlstore.Dialect, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	prefix := uniquePrefix()
	opts = append([]sqlstore.Option{sqlstore.WithTablePrefix(prefix)}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, sqlstore.Migrate(ctx, db, dialect, opts...), "Migrate")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := sqlstore.MigrateDown(ctx, db, dialect, sqlstore.WithTablePrefix(prefix)); err != nil {
			t.Errorf("dropping the test tables %s*: %v", prefix, err)
		}
	})
	s, err := sqlstore.New(db, dialect, opts...)
	require.NoError(t, err, "New")
	t.Cleanup(func() { s.Close() })
	return s
}
