package sqlstore

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

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
	"22003": "numeric_value_out_of_range",
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
	3091: "SQLITE_CONSTRAINT_DATATYPE",
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
	1690: "ER_DATA_OUT_OF_RANGE",
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
