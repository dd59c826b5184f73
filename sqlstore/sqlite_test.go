package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
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
// ErrStoreUnavailable, in about busy_timeout.
func TestSQLiteBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	db := openSQLiteDSN(t, "file:"+path+"?_pragma=busy_timeout(100)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	s := newStore(t, db, sqlstore.SQLite)
	u := storetest.RandomUser()
	c := storetest.RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, &c))

	// Another process takes the write lock and keeps it.
	other := openSQLiteDSN(t, "file:"+path)
	conn, err := other.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	require.NoError(t, err)

	start := time.Now()
	err = s.RenameCredential(t.Context(), u.Handle, c.ID, "blocked")
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.Less(t, time.Since(start), 5*time.Second)
	err = s.PutCeremony(t.Context(), storetest.RandomCeremonyID(), []byte("x"), time.Now().Add(time.Minute))
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)

	// Readers are not blocked (WAL), and writes work once the lock is gone.
	got, err := s.GetCredential(t.Context(), c.ID)
	require.NoError(t, err)
	storetest.AssertCredentialEqual(t, c, got)
	_, err = conn.ExecContext(context.Background(), "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, s.RenameCredential(t.Context(), u.Handle, c.ID, "unblocked"))
}

// TestSQLiteConcurrentWrites: concurrent sign-in traffic (put ceremony,
// read the credential, take the ceremony, compare-and-set the counter) by
// 32 goroutines over a pool of 16 connections, through two Stores sharing
// one *sql.DB, with a busy_timeout far shorter than the queue of writers
// would need in SQLite's busy handler. The writes queue on the write lock
// in Go instead, so none fails. (Without that lock, or with a lock per
// Store, writes fail here with "database is locked".)
func TestSQLiteConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "concurrent.db")
	db := openSQLiteDSN(t, "file:"+path+"?_pragma=busy_timeout(20)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_txlock=immediate")
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	stores := []*sqlstore.Store{newStore(t, db, sqlstore.SQLite), newStore(t, db, sqlstore.SQLite)}

	const workers, rounds = 32, 20
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		failed = func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	)
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			s := stores[w%len(stores)]
			u := storetest.RandomUser()
			c := storetest.RandomCredential(u.Handle)
			if err := s.CreateUser(ctx, u, &c); err != nil {
				failed(fmt.Errorf("create user: %w", err))
				return
			}
			count := c.SignCount
			for range rounds {
				id := storetest.RandomCeremonyID()
				if err := s.PutCeremony(ctx, id, []byte("state"), time.Now().Add(time.Minute)); err != nil {
					failed(fmt.Errorf("put ceremony: %w", err))
					continue
				}
				if _, err := s.GetCredential(ctx, c.ID); err != nil {
					failed(fmt.Errorf("get credential: %w", err))
				}
				if _, err := s.TakeCeremony(ctx, id); err != nil {
					failed(fmt.Errorf("take ceremony: %w", err))
				}
				use := webauthnkit.CredentialUse{SignCount: count + 1, UserVerified: true, LastUsedAt: time.Now()}
				if err := s.UpdateCredentialUse(ctx, c.ID, count, use); err != nil {
					failed(fmt.Errorf("update credential use: %w", err))
				} else {
					count++
				}
			}
			if err := s.RenameCredential(ctx, u.Handle, c.ID, "renamed"); err != nil {
				failed(fmt.Errorf("rename credential: %w", err))
			}
			if _, err := s.DeleteExpired(ctx); err != nil {
				failed(fmt.Errorf("delete expired: %w", err))
			}
			got, err := s.GetCredential(ctx, c.ID)
			if err != nil {
				failed(fmt.Errorf("get credential: %w", err))
			} else if got.SignCount != c.SignCount+rounds {
				failed(fmt.Errorf("sign count %d, want %d", got.SignCount, c.SignCount+rounds))
			}
			if err := s.DeleteUser(ctx, u.Handle); err != nil {
				failed(fmt.Errorf("delete user: %w", err))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i == 10 {
			t.Errorf("... and %d more", len(errs)-i)
			break
		}
		t.Error(err)
	}
}

// TestSQLiteWriteLockWait: while a write holds the write lock in Go (here
// stuck in SQLite's busy handler behind another process's transaction),
// reads go on, and writers waiting for the lock, through this Store or
// another on the same *sql.DB, give up as soon as their context ends: a
// cancelled one with an error wrapping context.Canceled, not
// ErrStoreUnavailable; one past its deadline with ErrStoreUnavailable, like a
// database that does not answer in time. A Store on another *sql.DB does
// not wait.
func TestSQLiteWriteLockWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wait.db")
	db := openSQLiteDSN(t, sqlitedb.DSN(path)) // busy_timeout 10 s
	s := newStore(t, db, sqlstore.SQLite)
	sameDB := newStore(t, db, sqlstore.SQLite)
	u := storetest.RandomUser()
	c := storetest.RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, &c))

	// Another process takes SQLite's write lock and keeps it; a write of s
	// then holds the Go lock while it waits in the busy handler.
	other := openSQLiteDSN(t, "file:"+path)
	conn, err := other.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	require.NoError(t, err)
	stuck := make(chan error, 1)
	go func() { stuck <- s.RenameCredential(context.Background(), u.Handle, c.ID, "stuck") }()
	require.Eventually(t, func() bool { return sqlstore.WriteLockHeld(s) }, 5*time.Second, time.Millisecond)
	require.True(t, sqlstore.WriteLockHeld(sameDB), "Stores on one *sql.DB share the lock")

	got, err := s.GetCredential(t.Context(), c.ID)
	require.NoError(t, err, "reads do not wait for the write lock")
	storetest.AssertCredentialEqual(t, c, got)

	// Cancelled while waiting.
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err = sameDB.PutCeremony(ctx, storetest.RandomCeremonyID(), []byte("x"), time.Now().Add(time.Minute))
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.ErrorContains(t, err, "waiting for the SQLite write lock")
	require.Less(t, time.Since(start), 2*time.Second)

	// Cancelled before the call.
	_, err = s.TakeCeremony(ctx, storetest.RandomCeremonyID())
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, webauthnkit.ErrStoreUnavailable)

	// Deadline while waiting.
	ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = s.UpdateCredentialUse(ctx, c.ID, c.SignCount, webauthnkit.CredentialUse{SignCount: c.SignCount + 1})
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "waiting for the SQLite write lock")
	require.Less(t, time.Since(start), 2*time.Second)

	// The user writes of issue 13 queue the same way.
	for name, write := range map[string]func(context.Context) error{
		"UpdateUser": func(ctx context.Context) error { return s.UpdateUser(ctx, u.Handle, u.Name, "renamed") },
		"CreateUser without a credential": func(ctx context.Context) error {
			return s.CreateUser(ctx, storetest.RandomUser(), nil)
		},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		err = write(ctx)
		cancel()
		require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, name)
		require.ErrorContains(t, err, "waiting for the SQLite write lock", name)
	}

	// A Store over another *sql.DB has its own lock: its write reaches
	// SQLite (and waits in the busy handler, bounded here by the context).
	otherStore, err := sqlstore.New(openSQLiteDSN(t, sqlitedb.DSN(path)), sqlstore.SQLite,
		sqlstore.WithTablePrefix(sqlstore.TablePrefix(s)))
	require.NoError(t, err)
	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err = otherStore.PutCeremony(ctx, storetest.RandomCeremonyID(), []byte("x"), time.Now().Add(time.Minute))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "waiting for the SQLite write lock")

	// Once the other process lets go, the stuck write completes and the
	// lock is free again.
	_, err = conn.ExecContext(context.Background(), "ROLLBACK")
	require.NoError(t, err)
	select {
	case err := <-stuck:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the write stuck behind the other process did not complete")
	}
	require.False(t, sqlstore.WriteLockHeld(s))
	require.NoError(t, sameDB.PutCeremony(t.Context(), storetest.RandomCeremonyID(), []byte("x"), time.Now().Add(time.Minute)))
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
