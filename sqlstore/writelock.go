package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"
	"weak"
)

// SQLite lets one connection write at a time. A writer that finds the
// database locked sleeps in SQLite's busy handler (1, 2, 5, 10, ... 100 ms)
// and retries; under load the losers sleep far longer than the writes take
// (a sign-in p99 of 0.2 to 0.5 s with 32 concurrent users and 16
// connections, against 40 to 60 ms with this lock), and whoever retries at
// the right moment wins, not whoever came first.
// So on SQLite every write of this package first takes a writeLock in Go:
// writers of this process queue there, in order, honouring their contexts,
// and find SQLite's lock free when they get to it. busy_timeout still
// matters for writers in other processes (or other *sql.DB pools of this
// one), which the lock cannot see.
//
// The lock belongs to the *sql.DB, not to the Store: every Store over one
// pool (several table prefixes in one database, say) writes to the same
// database file, so they contend for the same SQLite lock, and per-Store
// locks would leave them fighting in the busy handler as before. Two pools
// opened on one file are not joined (file identity is not worth guessing
// at: symlinks, hard links, relative paths); they are like two processes.
//
// Lock order, which keeps it deadlock-free: the writeLock first, then a pool
// connection, then SQLite's lock. A goroutine waiting for the writeLock
// holds neither of the others, and a holder never calls another method that
// takes it (each write is one statement or one transaction, and reads do
// not take it).

// writeLock is a mutex whose waiters give up when their context ends. A nil
// *writeLock (dialects other than SQLite) does nothing.
type writeLock struct {
	// ch holds a token while the lock is held. Blocked senders are queued
	// first come, first served.
	ch chan struct{}
}

// lock waits for the lock until ctx ends; then it returns an error wrapping
// ctx.Err(), which Store.fail turns into the package's usual errors (a
// deadline is ErrStoreUnavailable, a cancellation is not).
func (l *writeLock) lock(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l.ch <- struct{}{}:
		return nil
	default:
	}
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the SQLite write lock: %w", ctx.Err())
	}
}

func (l *writeLock) unlock() {
	if l == nil {
		return
	}
	<-l.ch
}

// writeLocks maps each *sql.DB used with SQLite to its lock. The keys are
// weak pointers and an entry is removed once its *sql.DB has been garbage
// collected, so programs (and tests) that open many databases do not keep
// them, or their entries, alive.
var writeLocks struct {
	sync.Mutex
	m map[weak.Pointer[sql.DB]]*writeLock
}

// sqliteWriteLock returns the write lock of db, creating it on first use.
func sqliteWriteLock(db *sql.DB) *writeLock {
	key := weak.Make(db)
	writeLocks.Lock()
	defer writeLocks.Unlock()
	if l := writeLocks.m[key]; l != nil {
		return l
	}
	if writeLocks.m == nil {
		writeLocks.m = map[weak.Pointer[sql.DB]]*writeLock{}
	}
	l := &writeLock{ch: make(chan struct{}, 1)}
	writeLocks.m[key] = l
	// A weak pointer made from another *sql.DB never equals key, even one
	// allocated at the same address later, so this deletes only db's entry.
	runtime.AddCleanup(db, func(key weak.Pointer[sql.DB]) {
		writeLocks.Lock()
		delete(writeLocks.m, key)
		writeLocks.Unlock()
	}, key)
	return l
}
