package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
	"github.com/webauthnkit/webauthnkit/storetest"
)

func openSQLiteDSN(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(sqlitedb.DriverName, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestSQLiteNewChecksSettings: New refuses connection settings under which
// the store would be wrong (no foreign keys: orphan credentials) or fail
// under load (no busy timeout; an in-memory database spread over a pool).
func TestSQLiteNewChecksSettings(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, dsn string
		maxConns  int
		wantErr   string
	}{
		{"no foreign keys", "file:" + filepath.Join(dir, "a.db") + "?_pragma=busy_timeout(1000)", 0, "foreign keys are off"},
		{"no busy timeout", "file:" + filepath.Join(dir, "b.db") + "?_pragma=foreign_keys(1)", 0, "busy_timeout is 0"},
		{"no busy timeout, one connection", "file:" + filepath.Join(dir, "c.db") + "?_pragma=foreign_keys(1)", 1, ""},
		{"memory, pool", "file::memory:?_pragma=foreign_keys(1)&_pragma=busy_timeout(1000)", 0, "one connection"},
		{"memory, one connection", "file::memory:?_pragma=foreign_keys(1)", 1, ""},
		{"recommended", sqlitedb.DSN(filepath.Join(dir, "d.db")), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openSQLiteDSN(t, tc.dsn)
			if tc.maxConns > 0 {
				db.SetMaxOpenConns(tc.maxConns)
			}
			require.NoError(t, sqlstore.Migrate(t.Context(), db, sqlstore.SQLite))
			_, err := sqlstore.New(db, sqlstore.SQLite)
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.wantErr)
			}
		})
	}
}

// TestSQLiteBusyIsUnavailable: a write that waits longer than busy_timeout
// for another writer (another process holding the lock) fails with
// ErrUnavailable, in about busy_timeout.
func TestSQLiteBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	db := openSQLiteDSN(t, "file:"+path+"?_pragma=busy_timeout(100)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	s := newStore(t, db, sqlstore.SQLite)
	u := storetest.RandomUser()
	c := storetest.RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, c))

	// Another process takes the write lock and keeps it.
	other := openSQLiteDSN(t, "file:"+path)
	conn, err := other.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	require.NoError(t, err)

	start := time.Now()
	err = s.RenameCredential(t.Context(), u.Handle, c.ID, "blocked")
	require.ErrorIs(t, err, webauthnkit.ErrUnavailable)
	require.Less(t, time.Since(start), 5*time.Second)
	err = s.PutCeremony(t.Context(), storetest.RandomCeremonyID(), []byte("x"), time.Now().Add(time.Minute))
	require.ErrorIs(t, err, webauthnkit.ErrUnavailable)

	// Readers are not blocked (WAL), and writes work once the lock is gone.
	got, err := s.GetCredential(t.Context(), c.ID)
	require.NoError(t, err)
	storetest.AssertCredentialEqual(t, c, got)
	_, err = conn.ExecContext(context.Background(), "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, s.RenameCredential(t.Context(), u.Handle, c.ID, "unblocked"))
}

func TestSQLiteDBOpen(t *testing.T) {
	// A path that needs escaping in a URI.
	path := filepath.Join(t.TempDir(), "odd name?#%.db")
	db, err := sqlitedb.Open(path)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, sqlstore.Migrate(t.Context(), db, sqlstore.SQLite))
	s, err := sqlstore.New(db, sqlstore.SQLite)
	require.NoError(t, err)
	require.NoError(t, s.PutCeremony(t.Context(), "id", []byte("x"), time.Now().Add(time.Minute)))
	require.FileExists(t, path)

	var mode string
	require.NoError(t, db.QueryRow("PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)

	_, err = sqlitedb.Open("")
	require.Error(t, err)
	_, err = sqlitedb.Open("file:x.db")
	require.Error(t, err)
}
