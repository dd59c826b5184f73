package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"

	"github.com/webauthnkit/webauthnkit"
)

// These tests pin the driver error shapes that errors.go recognises without
// importing the drivers: if a driver upgrade renames MySQLError.Number or
// ErrInvalidConn's text, or drops PgError.SQLState or sqlite.Error.Code,
// they fail here.

func TestClassifyDriverErrors(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("driver said: %w", err) }
	for _, tc := range []struct {
		name    string
		dialect Dialect
		err     error
		want    errorKind
	}{
		{"pg unique", Postgres, &pgconn.PgError{Code: "23505"}, kindUnique},
		{"pg unique wrapped", Postgres, wrap(&pgconn.PgError{Code: "23505"}), kindUnique},
		{"pg foreign key", Postgres, &pgconn.PgError{Code: "23503"}, kindForeignKey},
		{"pg terminated", Postgres, &pgconn.PgError{Code: "57P01"}, kindUnavailable},
		{"pg connection failure", Postgres, &pgconn.PgError{Code: "08006"}, kindUnavailable},
		{"pg too many connections", Postgres, &pgconn.PgError{Code: "53300"}, kindUnavailable},
		{"pg read only (standby)", Postgres, &pgconn.PgError{Code: "25006"}, kindUnavailable},
		{"pg syntax error", Postgres, &pgconn.PgError{Code: "42601"}, kindOther},
		{"pg undefined table", Postgres, &pgconn.PgError{Code: "42P01"}, kindOther},
		{"pg check violation", Postgres, &pgconn.PgError{Code: "23514"}, kindOther},

		{"mysql duplicate", MySQL, &mysql.MySQLError{Number: 1062}, kindUnique},
		{"mysql duplicate wrapped", MySQL, wrap(&mysql.MySQLError{Number: 1062}), kindUnique},
		{"mysql duplicate in a join", MySQL, errors.Join(io.ErrShortWrite, &mysql.MySQLError{Number: 1062}), kindUnique},
		{"mysql foreign key", MySQL, &mysql.MySQLError{Number: 1452}, kindForeignKey},
		{"mysql connection killed", MySQL, &mysql.MySQLError{Number: 1927}, kindUnavailable},
		{"mysql lock wait timeout", MySQL, &mysql.MySQLError{Number: 1205}, kindUnavailable},
		{"mysql syntax error", MySQL, &mysql.MySQLError{Number: 1064}, kindOther},
		{"mysql invalid connection", MySQL, mysql.ErrInvalidConn, kindUnavailable},
		{"mysql invalid connection wrapped", MySQL, wrap(mysql.ErrInvalidConn), kindUnavailable},
		{"mysql malformed packet", MySQL, mysql.ErrMalformPkt, kindOther},
		// A PostgreSQL error seen by the MySQL dialect is not misread.
		{"mysql dialect, pg error", MySQL, &pgconn.PgError{Code: "23505"}, kindOther},

		{"bad conn", Postgres, driver.ErrBadConn, kindUnavailable},
		{"deadline", MySQL, wrap(context.DeadlineExceeded), kindUnavailable},
		{"canceled", Postgres, context.Canceled, kindOther},
		{"refused", Postgres, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, kindUnavailable},
		{"reset", MySQL, wrap(syscall.ECONNRESET), kindUnavailable},
		{"unexpected EOF", Postgres, wrap(io.ErrUnexpectedEOF), kindUnavailable},
		{"i/o timeout", SQLite, os.ErrDeadlineExceeded, kindUnavailable},
		{"plain", SQLite, errors.New("something"), kindOther},
		{"no rows", Postgres, sql.ErrNoRows, kindOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.dialect.classify(tc.err))
		})
	}
}

// TestClassifySQLiteErrors provokes real modernc.org/sqlite errors: their
// fields are unexported.
func TestClassifySQLiteErrors(t *testing.T) {
	db, err := sql.Open("sqlite", "file::memory:?_pragma=foreign_keys(1)")
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, stmt := range []string{
		"CREATE TABLE p (id BLOB PRIMARY KEY NOT NULL, name TEXT UNIQUE)",
		"CREATE TABLE c (id BLOB PRIMARY KEY NOT NULL, p BLOB REFERENCES p (id))",
		"INSERT INTO p VALUES (x'01', 'a')",
	} {
		_, err := db.Exec(stmt)
		require.NoError(t, err)
	}
	for _, tc := range []struct {
		stmt string
		want errorKind
	}{
		{"INSERT INTO p VALUES (x'01', 'b')", kindUnique},       // primary key
		{"INSERT INTO p VALUES (x'02', 'a')", kindUnique},       // unique
		{"INSERT INTO c VALUES (x'01', x'99')", kindForeignKey}, // no such parent
		{"INSERT INTO nowhere VALUES (1)", kindOther},
	} {
		_, err := db.Exec(tc.stmt)
		require.Error(t, err, tc.stmt)
		var sqliteErr *sqlite.Error
		require.ErrorAs(t, err, &sqliteErr)
		assert.Equal(t, tc.want, SQLite.classify(err), "%s: %v (code %d)", tc.stmt, err, sqliteErr.Code())
	}
}

func TestWrapError(t *testing.T) {
	ctx := context.Background()
	unique := &pgconn.PgError{Code: "23505"}

	err := wrapError(ctx, Postgres, "CreateUser", unique, webauthnkit.ErrUserExists)
	assert.ErrorIs(t, err, webauthnkit.ErrUserExists)
	assert.ErrorIs(t, err, webauthnkit.ErrDuplicate)
	var pgErr *pgconn.PgError
	assert.False(t, errors.As(err, &pgErr), "the driver error, message and all, is replaced")
	var se *ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, ServerError{Dialect: Postgres, Code: "23505", Name: "unique_violation"}, *se)
	// The sentinel's own text is the core's: only what sqlstore adds is pinned.
	assert.Equal(t, "sqlstore: CreateUser: "+webauthnkit.ErrUserExists.Error()+": postgres error SQLSTATE 23505 (unique_violation)", err.Error())

	// A unique violation where none is expected is not a duplicate.
	err = wrapError(ctx, Postgres, "op", unique, nil)
	assert.NotErrorIs(t, err, webauthnkit.ErrDuplicate)

	err = wrapError(ctx, Postgres, "GetCredential", fmt.Errorf("scan: %w", sql.ErrNoRows), nil)
	assert.ErrorIs(t, err, webauthnkit.ErrNotFound)
	assert.Equal(t, "sqlstore: GetCredential: "+webauthnkit.ErrNotFound.Error(), err.Error())

	err = wrapError(ctx, MySQL, "AddCredential", &mysql.MySQLError{Number: 1452}, webauthnkit.ErrCredentialExists)
	assert.ErrorIs(t, err, webauthnkit.ErrNotFound, "foreign key violation: no such user")
	assert.NotErrorIs(t, err, webauthnkit.ErrDuplicate)

	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	err = wrapError(ctx, Postgres, "GetUserByName", refused, nil)
	assert.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the cause stays reachable")
	assert.True(t, strings.HasPrefix(err.Error(), "sqlstore: GetUserByName: "+webauthnkit.ErrStoreUnavailable.Error()+": dial tcp"), err.Error())

	// The caller gave up: not the database's fault.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	err = wrapError(canceled, Postgres, "GetUserByName", fmt.Errorf("read: %w: %w", context.Canceled, os.ErrDeadlineExceeded), nil)
	assert.NotErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	assert.ErrorIs(t, err, context.Canceled)

	assert.NoError(t, wrapError(ctx, Postgres, "op", nil, nil))
}

func TestMariaDBHasDeleteReturning(t *testing.T) {
	for version, want := range map[string]bool{
		"10.11.19-MariaDB-0+deb12u1": true,
		"10.5.0-MariaDB":             true,
		"10.4.32-MariaDB":            false,
		"11.4.2-MariaDB-ubu2404":     true,
		"5.5.5-10.11.6-MariaDB":      true,  // the prefix MariaDB < 11 shows old clients
		"8.4.2":                      false, // MySQL
		"9.1.0-commercial":           false,
		"":                           false,
	} {
		assert.Equal(t, want, mariaDBHasDeleteReturning(version), version)
	}
}

func TestSplitStatements(t *testing.T) {
	script := `-- header; with a semicolon
CREATE TABLE a (
    -- inline comment;
    x int
);

CREATE INDEX b ON a (x);
DROP TABLE c`
	assert.Equal(t, []string{
		"CREATE TABLE a (\n    x int\n)",
		"CREATE INDEX b ON a (x)",
		"DROP TABLE c",
	}, splitStatements(script))
}

func TestRebind(t *testing.T) {
	assert.Equal(t, "SELECT $1, $2 WHERE a = $3", Postgres.rebind("SELECT ?, ? WHERE a = ?"))
	assert.Equal(t, "SELECT ?", MySQL.rebind("SELECT ?"))
	assert.Equal(t, "SELECT ?", SQLite.rebind("SELECT ?"))
}
