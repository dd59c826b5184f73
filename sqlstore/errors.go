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
	"regexp"
	"strconv"
	"strings"
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
// up in logs. wrapError replaces it by a *ServerError, which keeps the code
// and the name of the constraint involved and drops the message. Client-side
// errors (network, timeouts, the context) are kept: they name addresses and
// causes, not stored values.

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
		return fmt.Errorf("sqlstore: %s: %w: %w", op, webauthnkit.ErrUnavailable, err)
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

// ServerError is an error reported by the database server, reduced to what
// identifies it: the code and the constraint (or key, or columns) it names.
// It stands in for the driver's error, whose message can quote stored
// values (see the top of this file). Get it with errors.As.
type ServerError struct {
	Dialect Dialect
	// Code is the SQLSTATE on PostgreSQL ("23505"), the error number on
	// MySQL ("1062") and the extended result code on SQLite ("2067").
	Code string
	// Name is the code's symbolic name, where this package knows it:
	// "unique_violation", "ER_DUP_ENTRY", "SQLITE_CONSTRAINT_UNIQUE".
	Name string
	// Constraint is the constraint or key the error names, if any:
	// "webauthnkit_users_name_key", "PRIMARY"; on SQLite the columns,
	// "webauthnkit_users.name".
	Constraint string

	// cause is the context's error when the driver's error wrapped it, so
	// that errors.Is(err, context.Canceled) still holds.
	cause error
}

// Error returns, for example, "mysql error 1062 (ER_DUP_ENTRY) on key
// webauthnkit_users_name_key": no message from the server.
func (e *ServerError) Error() string {
	var b strings.Builder
	b.WriteString(e.Dialect.String())
	b.WriteString(" error ")
	if e.Dialect == Postgres {
		b.WriteString("SQLSTATE ")
	}
	b.WriteString(e.Code)
	if e.Name != "" {
		b.WriteString(" (" + e.Name + ")")
	}
	if e.Constraint != "" {
		switch e.Dialect {
		case MySQL:
			b.WriteString(" on key ")
		case SQLite:
			b.WriteString(" on ")
		default:
			b.WriteString(" on constraint ")
		}
		b.WriteString(e.Constraint)
	}
	if e.cause != nil {
		b.WriteString(": " + e.cause.Error())
	}
	return b.String()
}

func (e *ServerError) Unwrap() error { return e.cause }

// scrub returns err, or a *ServerError in its place if a server error is in
// its chain.
func (d Dialect) scrub(err error) error {
	var se *ServerError
	switch {
	case errors.As(err, &se): // already scrubbed (fail called twice)
		return err
	case d == Postgres:
		se = postgresServerError(err)
	case d == SQLite:
		se = sqliteServerError(err)
	case d == MySQL:
		se = mysqlServerError(err)
	}
	if se == nil {
		return err
	}
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ctxErr) {
			se.cause = ctxErr
		}
	}
	return se
}

// identifier accepts what a constraint, key or column name in this
// package's schema looks like, and refuses anything else that the parsing
// of a message might have picked up.
var identifier = regexp.MustCompile(`^[A-Za-z0-9_$.]{1,128}$`)

func keepIdentifier(s string) string {
	if identifier.MatchString(s) {
		return s
	}
	return ""
}

// postgresCodeNames are the SQLSTATEs this package may meet.
var postgresCodeNames = map[string]string{
	"23505": "unique_violation",
	"23503": "foreign_key_violation",
	"23502": "not_null_violation",
	"23514": "check_violation",
	"22001": "string_data_right_truncation",
	"22021": "character_not_in_repertoire",
	"40001": "serialization_failure",
	"40P01": "deadlock_detected",
	"42P01": "undefined_table",
	"42703": "undefined_column",
	"57P01": "admin_shutdown",
	"57P02": "crash_shutdown",
	"57P03": "cannot_connect_now",
	"57014": "query_canceled",
	"55P03": "lock_not_available",
	"25006": "read_only_sql_transaction",
	"53300": "too_many_connections",
}

// postgresServerError: pgx's *pgconn.PgError has the constraint in
// ConstraintName, lib/pq's *pq.Error in Constraint.
func postgresServerError(err error) *ServerError {
	var pgErr interface{ SQLState() string }
	if !errors.As(err, &pgErr) {
		return nil
	}
	code := pgErr.SQLState()
	return &ServerError{
		Dialect:    Postgres,
		Code:       code,
		Name:       postgresCodeNames[code],
		Constraint: keepIdentifier(stringField(pgErr, "ConstraintName", "Constraint")),
	}
}

// sqliteCodeNames are SQLite's extended and primary result codes this
// package may meet (https://sqlite.org/rescode.html).
var sqliteCodeNames = map[int]string{
	1:    "SQLITE_ERROR",
	5:    "SQLITE_BUSY",
	6:    "SQLITE_LOCKED",
	10:   "SQLITE_IOERR",
	13:   "SQLITE_FULL",
	14:   "SQLITE_CANTOPEN",
	15:   "SQLITE_PROTOCOL",
	19:   "SQLITE_CONSTRAINT",
	275:  "SQLITE_CONSTRAINT_CHECK",
	517:  "SQLITE_BUSY_SNAPSHOT",
	787:  "SQLITE_CONSTRAINT_FOREIGNKEY",
	1299: "SQLITE_CONSTRAINT_NOTNULL",
	1555: "SQLITE_CONSTRAINT_PRIMARYKEY",
	2067: "SQLITE_CONSTRAINT_UNIQUE",
}

// sqliteConstraintColumns finds the columns in SQLite's "UNIQUE constraint
// failed: t.a, t.b" (also PRIMARY KEY, NOT NULL, CHECK).
var sqliteConstraintColumns = regexp.MustCompile(`(?:UNIQUE|PRIMARY KEY|NOT NULL|CHECK) constraint failed: ([A-Za-z0-9_$.]+(?:, [A-Za-z0-9_$.]+)*)`)

func sqliteServerError(err error) *ServerError {
	var sqliteErr interface{ Code() int }
	if !errors.As(err, &sqliteErr) {
		return nil
	}
	code := sqliteErr.Code()
	name, ok := sqliteCodeNames[code]
	if !ok {
		name = sqliteCodeNames[code&0xff]
	}
	se := &ServerError{Dialect: SQLite, Code: strconv.Itoa(code), Name: name}
	if m := sqliteConstraintColumns.FindStringSubmatch(sqliteErr.(error).Error()); m != nil {
		se.Constraint = m[1]
	}
	return se
}

// mysqlCodeNames are the MySQL and MariaDB error numbers this package may
// meet.
var mysqlCodeNames = map[uint16]string{
	1040: "ER_CON_COUNT_ERROR",
	1053: "ER_SERVER_SHUTDOWN",
	1054: "ER_BAD_FIELD_ERROR",
	1062: "ER_DUP_ENTRY",
	1146: "ER_NO_SUCH_TABLE",
	1205: "ER_LOCK_WAIT_TIMEOUT",
	1213: "ER_LOCK_DEADLOCK",
	1216: "ER_NO_REFERENCED_ROW",
	1290: "ER_OPTION_PREVENTS_STATEMENT",
	1317: "ER_QUERY_INTERRUPTED",
	1366: "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD",
	1406: "ER_DATA_TOO_LONG",
	1451: "ER_ROW_IS_REFERENCED_2",
	1452: "ER_NO_REFERENCED_ROW_2",
	1586: "ER_DUP_ENTRY_WITH_KEY_NAME",
	1836: "ER_READ_ONLY_MODE",
	1927: "ER_CONNECTION_KILLED",
	1969: "ER_STATEMENT_TIMEOUT",
	3024: "ER_QUERY_TIMEOUT",
	4031: "ER_CLIENT_INTERACTION_TIMEOUT",
}

var (
	// mysqlDuplicateKey finds the key at the end of "Duplicate entry '...'
	// for key 'name'" (MySQL 8 writes 'table.name'). The entry, which is
	// the stored value, comes before and may itself contain anything, so
	// the match is anchored at the end.
	mysqlDuplicateKey = regexp.MustCompile(` for key '([A-Za-z0-9_$.]+)'$`)
	// mysqlForeignKey finds "CONSTRAINT `name` FOREIGN KEY" in a foreign
	// key error, which quotes no values.
	mysqlForeignKey = regexp.MustCompile("CONSTRAINT `([A-Za-z0-9_$]+)` FOREIGN KEY")
)

func mysqlServerError(err error) *ServerError {
	var se *ServerError
	anyInChain(err, func(e error) bool {
		number, ok := mysqlErrorNumberOf(e)
		if !ok {
			return false
		}
		se = &ServerError{Dialect: MySQL, Code: strconv.Itoa(int(number)), Name: mysqlCodeNames[number]}
		message := stringField(e, "Message")
		for _, re := range []*regexp.Regexp{mysqlDuplicateKey, mysqlForeignKey} {
			if m := re.FindStringSubmatch(message); m != nil {
				se.Constraint = m[1]
				break
			}
		}
		return true
	})
	return se
}

// stringField returns the first of the named string fields of the struct
// that v is or points to, or "".
func stringField(v any, names ...string) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return ""
	}
	for _, name := range names {
		if f := rv.FieldByName(name); f.IsValid() && f.Kind() == reflect.String {
			return f.String()
		}
	}
	return ""
}
