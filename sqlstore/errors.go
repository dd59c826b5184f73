package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"syscall"

	"github.com/webauthnkit/webauthnkit"
)

// This file is the one place where database errors become the errors of the
// webauthnkit store contract.
//
// The package imports no driver, so that an application links and registers
// only the driver it uses (importing github.com/go-sql-driver/mysql, for
// instance, registers "mysql" with database/sql in every binary, including
// SQLite-only ones, and panics at start-up if another package registers that
// name). Driver errors are therefore recognised without their types:
//
//   - PostgreSQL: pgx's *pgconn.PgError and lib/pq's *pq.Error both have a
//     SQLState() string method: matched with an interface.
//   - SQLite: modernc.org/sqlite's *sqlite.Error has Code() int (an extended
//     result code): matched with an interface, only for the SQLite dialect.
//   - MySQL: *mysql.MySQLError has no method that exposes its number (only a
//     Number field), so it is recognised by its type's package path and name
//     and the field is read with reflect, on the error path only. The driver's
//     ErrInvalidConn is a plain errors.New value, recognised by its text,
//     which is its only identity without the import; it only ever decides
//     "unavailable" versus "other", never a unique violation. Both are pinned
//     by tests that import the real driver (errors_internal_test.go), so a
//     driver upgrade that changes them fails the build's tests, not
//     production.
//
// Unique violations are recognised by error code only, never by message.
//
// A server error never reaches the caller as the driver's error: its text
// may quote stored values (MySQL's "Duplicate entry 'alice' for key ...",
// with the raw bytes of a credential ID for a duplicate ID; PostgreSQL's
// "invalid byte sequence for encoding ...: 0xc3 0x28"), and error texts end
// up in logs. wrapError replaces it by a *ServerError (servererror.go),
// which keeps the code and the name of the constraint involved and drops
// the message. Client-side errors (network, timeouts, the context) are
// kept: they name addresses and causes, not stored values.

// errorKind is what an error means for the store contract.
type errorKind int

const (
	kindOther       errorKind = iota
	kindUnique                // a unique or primary key violation
	kindForeignKey            // a foreign key violation: the referenced user does not exist
	kindUnavailable           // the database could not be reached or did not answer in time
)

// fail turns an error from database/sql into the error a Store method
// returns, prefixed "sqlstore: <op>: ". onUnique is the sentinel for a unique
// violation in this operation (ErrUserExists, ErrCredentialExists,
// ErrDuplicate), or nil if none is expected.
func (s *Store) fail(ctx context.Context, op string, err error, onUnique error) error {
	return wrapError(ctx, s.dialect, op, err, onUnique)
}

func wrapError(ctx context.Context, d Dialect, op string, err error, onUnique error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, webauthnkit.ErrNotFound)
	}
	kind := d.classify(err)
	err = d.scrub(err)
	if kind == kindUnavailable && ctx != nil && errors.Is(ctx.Err(), context.Canceled) {
		// The caller gave up (client went away): not the database's fault,
		// and no reason to answer 503.
		kind = kindOther
	}
	switch kind {
	case kindUnique:
		if onUnique != nil {
			return fmt.Errorf("sqlstore: %s: %w: %w", op, onUnique, err)
		}
	case kindForeignKey:
		return fmt.Errorf("sqlstore: %s: %w: %w", op, webauthnkit.ErrNotFound, err)
	case kindUnavailable:
		return fmt.Errorf("sqlstore: %s: %w: %w", op, webauthnkit.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// classify says what err means. Driver codes come first: a server error
// that names a unique violation is that, whatever else wraps it.
func (d Dialect) classify(err error) errorKind {
	var k errorKind
	switch d {
	case Postgres:
		k = classifyPostgres(err)
	case SQLite:
		k = classifySQLite(err)
	case MySQL:
		k = classifyMySQL(err)
	}
	if k != kindOther {
		return k
	}
	if isConnectionError(err) {
		return kindUnavailable
	}
	return kindOther
}

// isConnectionError reports driver-independent signs of a lost or refused
// connection or a timeout. context.Canceled is not one: wrapError decides
// about cancellation from the caller's context.
func isConnectionError(err error) bool {
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn), // database/sql gave up retrying
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	var netErr net.Error // *net.OpError, *net.DNSError, i/o timeouts
	return errors.As(err, &netErr)
}

func classifyPostgres(err error) errorKind {
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		code := pgErr.SQLState()
		switch code {
		case "23505": // unique_violation
			return kindUnique
		case "23503": // foreign_key_violation
			return kindForeignKey
		case "57P01", // admin_shutdown (also pg_terminate_backend)
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now (starting up, in recovery)
			"57014", // query_canceled: statement_timeout
			"55P03", // lock_not_available: lock_timeout
			"25006": // read_only_sql_transaction: connected to a standby (failover)
			return kindUnavailable
		}
		switch code[:min(2, len(code))] { // the class
		case "08", // connection_exception
			"53", // insufficient_resources: too many connections, out of memory, disk full
			"58": // system_error: I/O error
			return kindUnavailable
		}
		return kindOther
	}
	// pgconn marks errors raised before anything reached the server
	// (connect failures and the like) as safe to retry.
	var retryable interface{ SafeToRetry() bool }
	if errors.As(err, &retryable) && retryable.SafeToRetry() {
		return kindUnavailable
	}
	return kindOther
}

// SQLite result codes (https://sqlite.org/rescode.html). modernc.org/sqlite
// turns extended result codes on; the primary code is the low byte.
const (
	sqliteBusy                 = 5
	sqliteLocked               = 6
	sqliteIOErr                = 10
	sqliteFull                 = 13
	sqliteCantOpen             = 14
	sqliteProtocol             = 15
	sqliteConstraintForeignKey = 787
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

func classifySQLite(err error) errorKind {
	var sqliteErr interface{ Code() int }
	if !errors.As(err, &sqliteErr) {
		return kindOther
	}
	code := sqliteErr.Code()
	switch code {
	case sqliteConstraintPrimaryKey, sqliteConstraintUnique:
		return kindUnique
	case sqliteConstraintForeignKey:
		return kindForeignKey
	}
	switch code & 0xff {
	case sqliteBusy, // busy_timeout elapsed: another writer held the lock
		sqliteLocked, sqliteIOErr, sqliteFull, sqliteCantOpen, sqliteProtocol:
		return kindUnavailable
	}
	return kindOther
}

func classifyMySQL(err error) errorKind {
	if number, ok := mysqlErrorNumber(err); ok {
		switch number {
		case 1062, // ER_DUP_ENTRY
			1586: // ER_DUP_ENTRY_WITH_KEY_NAME
			return kindUnique
		case 1452, // ER_NO_REFERENCED_ROW_2
			1216: // ER_NO_REFERENCED_ROW
			return kindForeignKey
		case 1040, // ER_CON_COUNT_ERROR: too many connections
			1053,                   // ER_SERVER_SHUTDOWN
			1158, 1159, 1160, 1161, // ER_NET_{READ_ERROR,READ_INTERRUPTED,ERROR_ON_WRITE,WRITE_INTERRUPTED}
			1205, // ER_LOCK_WAIT_TIMEOUT
			1290, // ER_OPTION_PREVENTS_STATEMENT: --read-only (failover)
			1317, // ER_QUERY_INTERRUPTED
			1836, // ER_READ_ONLY_MODE
			1927, // ER_CONNECTION_KILLED (MariaDB)
			1969, // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
			2006, // CR_SERVER_GONE_ERROR
			2013, // CR_SERVER_LOST
			3024, // ER_QUERY_TIMEOUT (MySQL max_execution_time)
			4031: // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8.0.24+)
			return kindUnavailable
		}
		return kindOther
	}
	// mysql.ErrInvalidConn: the driver lost the connection in the middle of
	// a command (it closes the connection and logs the network error).
	if anyInChain(err, func(e error) bool { return e.Error() == "invalid connection" }) {
		return kindUnavailable
	}
	return kindOther
}

// mysqlErrorNumber returns the Number of the first
// *github.com/go-sql-driver/mysql.MySQLError in err's chain.
func mysqlErrorNumber(err error) (number uint16, ok bool) {
	anyInChain(err, func(e error) bool {
		number, ok = mysqlErrorNumberOf(e)
		return ok
	})
	return number, ok
}

// mysqlErrorNumberOf returns e's Number if e is a
// *github.com/go-sql-driver/mysql.MySQLError.
func mysqlErrorNumberOf(e error) (number uint16, ok bool) {
	v := reflect.ValueOf(e)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return 0, false
	}
	t := v.Type().Elem()
	if t.Kind() != reflect.Struct || t.Name() != "MySQLError" || t.PkgPath() != "github.com/go-sql-driver/mysql" {
		return 0, false
	}
	f := v.Elem().FieldByName("Number")
	if !f.IsValid() || !f.CanUint() {
		return 0, false
	}
	return uint16(f.Uint()), true
}

// anyInChain reports whether match holds for err or any error it wraps,
// depth first, following both Unwrap() error and Unwrap() []error.
func anyInChain(err error, match func(error) bool) bool {
	for err != nil {
		if match(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if anyInChain(e, match) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
