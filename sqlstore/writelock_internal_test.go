package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"
)

func TestWriteLock(t *testing.T) {
	var none *writeLock // other dialects
	require.NoError(t, none.lock(t.Context()))
	none.unlock()

	l := &writeLock{ch: make(chan struct{}, 1)}
	require.NoError(t, l.lock(t.Context()))

	// Waiters give up when their context ends, with an error wrapping the
	// context's.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := l.lock(ctx)
	require.ErrorIs(t, err, context.Canceled)
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	err = l.lock(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// Waiters get the lock when it is released, one at a time.
	const waiters = 8
	var holders atomic.Int32
	done := make(chan struct{}, waiters)
	for range waiters {
		go func() {
			defer func() { done <- struct{}{} }()
			if err := l.lock(t.Context()); err != nil {
				t.Error(err)
				return
			}
			if n := holders.Add(1); n != 1 {
				t.Errorf("%d holders", n)
			}
			time.Sleep(time.Millisecond)
			holders.Add(-1)
			l.unlock()
		}()
	}
	l.unlock()
	for range waiters {
		<-done
	}
	require.NoError(t, l.lock(t.Context()))
	l.unlock()
}

// noConnector is a driver.Connector that never connects: sqliteWriteLock
// only needs *sql.DB values.
type noConnector struct{}

func (noConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no connections")
}
func (noConnector) Driver() driver.Driver { return nil }

func TestSQLiteWriteLockPerDB(t *testing.T) {
	db1, db2 := sql.OpenDB(noConnector{}), sql.OpenDB(noConnector{})
	defer db1.Close()
	defer db2.Close()
	l1 := sqliteWriteLock(db1)
	require.Same(t, l1, sqliteWriteLock(db1), "one lock per *sql.DB")
	require.NotSame(t, l1, sqliteWriteLock(db2))
}

// TestSQLiteWriteLockCollected: the lock of a *sql.DB goes when the *sql.DB
// is garbage collected (database/sql keeps an open one reachable from a
// goroutine until Close).
func TestSQLiteWriteLockCollected(t *testing.T) {
	present := func(key weak.Pointer[sql.DB]) bool {
		writeLocks.Lock()
		defer writeLocks.Unlock()
		return writeLocks.m[key] != nil
	}
	key := func() weak.Pointer[sql.DB] {
		db := sql.OpenDB(noConnector{})
		sqliteWriteLock(db)
		require.NoError(t, db.Close())
		key := weak.Make(db)
		require.True(t, present(key))
		runtime.KeepAlive(db)
		return key
	}()
	require.Eventually(t, func() bool {
		runtime.GC()
		return !present(key)
	}, 10*time.Second, 10*time.Millisecond)
}
