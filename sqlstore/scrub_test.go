package sqlstore_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// requireNoValue fails if the text of err, or of any error it wraps, holds
// value in any of the spellings a log could show: raw, hex, base64.
func requireNoValue(t *testing.T, err error, value []byte, what string) {
	t.Helper()
	spellings := []string{
		string(value),
		hex.EncodeToString(value),
		base64.RawURLEncoding.EncodeToString(value),
		base64.StdEncoding.EncodeToString(value),
	}
	for e := range errorChain(err) {
		for _, s := range spellings {
			require.NotContains(t, e.Error(), s, "the error text quotes the %s", what)
		}
	}
}

// errorChain yields err and every error it wraps.
func errorChain(err error) func(func(error) bool) {
	return func(yield func(error) bool) {
		var walk func(error) bool
		walk = func(e error) bool {
			for e != nil {
				if !yield(e) {
					return false
				}
				switch u := e.(type) {
				case interface{ Unwrap() error }:
					e = u.Unwrap()
				case interface{ Unwrap() []error }:
					for _, inner := range u.Unwrap() {
						if !walk(inner) {
							return false
						}
					}
					return true
				default:
					return true
				}
			}
			return true
		}
		walk(err)
	}
}

// TestErrorsQuoteNoStoredValues (issue 11 item 9): a duplicate name or
// credential ID gives an error whose text, and that of everything it wraps,
// holds neither the name nor the ID. MariaDB's own message is "Duplicate
// entry 'alice' for key ..." (the raw ID bytes for a duplicate ID), and the
// store used to wrap it verbatim. What stays is value-free: the error code
// and the constraint's name, in a *sqlstore.ServerError.
func TestErrorsQuoteNoStoredValues(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		ctx := t.Context()
		u := storetest.RandomUser()
		u.Name = "secret-name-" + hex.EncodeToString(storetest.RandomBytes(6))
		c := storetest.RandomCredential(u.Handle)
		// Printable, so that a message quoting the raw bytes shows them.
		c.ID = []byte("secret-credential-id-" + hex.EncodeToString(storetest.RandomBytes(6)))
		require.NoError(t, s.CreateUser(ctx, u, &c))

		same := storetest.RandomUser()
		same.Name = u.Name
		err := s.CreateUser(ctx, same, new(storetest.RandomCredential(same.Handle)))
		require.ErrorIs(t, err, webauthnkit.ErrUserExists)
		requireNoValue(t, err, []byte(u.Name), "user name")
		requireServerError(t, b.dialect, err, "name")

		dup := storetest.RandomCredential(u.Handle)
		dup.ID = c.ID
		err = s.AddCredential(ctx, dup)
		require.ErrorIs(t, err, webauthnkit.ErrCredentialExists)
		requireNoValue(t, err, c.ID, "credential ID")
		requireServerError(t, b.dialect, err, "")

		other := storetest.RandomUser()
		dup.UserHandle = other.Handle
		err = s.CreateUser(ctx, other, &dup)
		require.ErrorIs(t, err, webauthnkit.ErrCredentialExists, "CreateUser with a taken credential ID")
		requireNoValue(t, err, c.ID, "credential ID")

		// The driver's error, message and all, is not in the chain either:
		// some error reporters walk the chain and log every link.
		var myErr *mysql.MySQLError
		var pgErr *pgconn.PgError
		require.False(t, errors.As(err, &myErr) || errors.As(err, &pgErr), "the driver's error is still wrapped: %v", err)
	})
}

// requireServerError checks the value-free detail an operator keeps: the
// code and, where the server names it, the constraint.
func requireServerError(t *testing.T, d sqlstore.Dialect, err error, constraintHas string) {
	t.Helper()
	t.Logf("%v", err)
	var se *sqlstore.ServerError
	require.ErrorAs(t, err, &se)
	want := map[sqlstore.Dialect][]string{
		sqlstore.Postgres: {"23505"},
		sqlstore.MySQL:    {"1062"},
		sqlstore.SQLite:   {"2067", "1555"}, // UNIQUE, PRIMARY KEY
	}[d]
	require.Contains(t, want, se.Code)
	require.NotEmpty(t, se.Name)
	require.NotEmpty(t, se.Constraint, "the constraint or key is named")
	if constraintHas != "" {
		require.Contains(t, se.Constraint, constraintHas)
	}
	require.Contains(t, err.Error(), se.Code, "the code is in the text")
	require.Contains(t, err.Error(), se.Constraint, "the constraint is in the text")
}

// TestPostgresEncodingErrorScrubbed: PostgreSQL's message for a name that
// is not UTF-8 quotes the offending bytes ("invalid byte sequence for
// encoding \"UTF8\": 0xff 0xfe"). The library refuses such names before
// they reach the store; the store must not rely on that.
func TestPostgresEncodingErrorScrubbed(t *testing.T) {
	s := newStore(t, openPostgres(t, postgresDSN), sqlstore.Postgres)
	_, err := s.GetUserByName(t.Context(), "alice\xff\xfe")
	require.Error(t, err)
	assert.NotContains(t, strings.ToLower(err.Error()), "0xff", "the bytes are not quoted")
	var se *sqlstore.ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "22021", se.Code)
}
