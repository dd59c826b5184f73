// Package sqlitedb opens SQLite databases (with the pure-Go driver
// modernc.org/sqlite) configured the way package sqlstore needs them.
//
// It is separate from sqlstore so that sqlstore imports no driver: only
// programs that import sqlitedb link and register modernc.org/sqlite
// (driver name "sqlite").
//
//	db, err := sqlitedb.Open("passkeys.db")
//	...
//	err = sqlstore.Migrate(ctx, db, sqlstore.SQLite)
//	store, err := sqlstore.New(db, sqlstore.SQLite)
package sqlitedb

import (
	"database/sql"
	"errors"
	"net/url"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DriverName is the database/sql driver name registered by modernc.org/sqlite.
const DriverName = "sqlite"

// Memory is the path Open takes for a private in-memory database.
const Memory = ":memory:"

// settings are applied by the driver to every new connection:
//
//   - busy_timeout(10000): a writer waits up to 10 s for the write lock
//     instead of failing at once with "database is locked". (sqlstore
//     queues the writes made through one *sql.DB in Go; this covers
//     writers in other processes.)
//   - foreign_keys(1): SQLite leaves foreign keys off unless asked, per
//     connection; sqlstore relies on ON DELETE CASCADE.
//   - journal_mode(WAL): readers and the writer do not block each other.
//     (Persistent: recorded in the database file.)
//   - _txlock=immediate: BEGIN takes the write lock at once. A deferred
//     transaction that reads and then writes can fail with SQLITE_BUSY
//     without waiting when another connection wrote in between.
//
// synchronous stays at SQLite's default, FULL: a credential reported as
// stored survives a power cut.
const settings = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_txlock=immediate"

// DSN returns the modernc.org/sqlite data source name for the database file
// at path with the settings above, for callers who open the database
// themselves: sql.Open(sqlitedb.DriverName, sqlitedb.DSN("passkeys.db")).
// It is not meant for ":memory:" (use Open, which limits the pool to one
// connection).
func DSN(path string) string {
	// A "file:" URI, so that the path may contain '?' or '#' (escaped) and
	// query parameters cannot be smuggled in through it.
	u := url.URL{Path: path}
	return "file:" + u.EscapedPath() + "?" + settings
}

// Open opens (creating it if needed) the SQLite database at path with the
// settings sqlstore needs. Open(Memory) opens a private in-memory database
// on a single connection (each connection to ":memory:" would otherwise be
// a separate, empty database); it lives until db.Close.
func Open(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("sqlitedb: empty path (use sqlitedb.Memory for an in-memory database)")
	}
	if path == Memory {
		db, err := sql.Open(DriverName, "file::memory:?_pragma=foreign_keys(1)")
		if err != nil {
			return nil, err
		}
		// One connection, never recycled: closing it would drop the data.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return db, nil
	}
	if strings.HasPrefix(path, "file:") {
		return nil, errors.New("sqlitedb: Open takes a file path, not a URI; use sql.Open with your own DSN for URIs")
	}
	db, err := sql.Open(DriverName, DSN(path))
	if err != nil {
		return nil, err
	}
	// Check now that the file can be opened and the settings apply, rather
	// than at the first request.
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
