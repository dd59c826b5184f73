package storetest_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/redisstore"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

// The three backends have one shape (issue 12, item 2): New(<the backend's
// handle>, opts ...Option) (*Store, error), Option a function over the
// package's options, and a *Store that is both stores, declares Features
// and has Close() error. These declarations stop compiling if one drifts.
var (
	_ func(...memstore.Option) (*memstore.Store, error)                            = memstore.New
	_ func(*sql.DB, sqlstore.Dialect, ...sqlstore.Option) (*sqlstore.Store, error) = sqlstore.New
	_ func(redis.UniversalClient, ...redisstore.Option) (*redisstore.Store, error) = redisstore.New

	_ backend = (*memstore.Store)(nil)
	_ backend = (*sqlstore.Store)(nil)
	_ backend = (*redisstore.Store)(nil)
)

type backend interface {
	webauthnkit.CredentialStore
	webauthnkit.ChallengeStore
	Close() error
}

// TestBackendsOneShape builds each backend that needs no server the same
// way and checks the common contract: errors name the package and the
// method, Close may
// be called twice, the Store works after Close, and Close leaves the
// caller's handle open. (redisstore's Close is checked in its own tests,
// which find the Redis server.)
func TestBackendsOneShape(t *testing.T) {
	db, err := sqlitedb.Open(sqlitedb.Memory)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, sqlstore.Migrate(context.Background(), db, sqlstore.SQLite))

	builds := map[string]func() (backend, error){
		"memstore": func() (backend, error) { return memstore.New() },
		"sqlstore": func() (backend, error) { return sqlstore.New(db, sqlstore.SQLite) },
	}
	for name, build := range builds {
		t.Run(name, func(t *testing.T) {
			s, err := build()
			require.NoError(t, err)
			require.NoError(t, s.Close())
			require.NoError(t, s.Close(), "second Close")

			_, err = s.GetCredential(t.Context(), []byte("no such credential"))
			require.ErrorIs(t, err, webauthnkit.ErrNotFound, "the Store works after Close")
			prefix := name + ": GetCredential: " // "<package>: <method>: " in every backend
			require.True(t, strings.HasPrefix(err.Error(), prefix), "error %q lacks the %q prefix", err, prefix)
		})
	}
	require.NoError(t, db.PingContext(t.Context()), "sqlstore's Close closed the caller's *sql.DB")
}

// TestBackendsRejectBadOptions: every New reports an option it cannot
// honour as an error prefixed with its package, rather than ignoring it.
func TestBackendsRejectBadOptions(t *testing.T) {
	_, err := memstore.New(memstore.WithMaxCeremonies(-1))
	require.ErrorContains(t, err, "memstore: New: ")
	_, err = sqlstore.New(&sql.DB{}, sqlstore.SQLite, sqlstore.WithTablePrefix("Bad-Prefix"))
	require.ErrorContains(t, err, "sqlstore: ")
	unreachable := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer unreachable.Close()
	_, err = redisstore.New(unreachable, redisstore.WithKeyPrefix("{x}"))
	require.ErrorContains(t, err, "redisstore: New: ")
	require.False(t, errors.Is(err, webauthnkit.ErrStoreUnavailable), "the prefix is checked before the server is reached")
}

// TestExampleConformance runs the code of Example_conformance, which cannot
// run as an Example (the suite needs a *testing.T).
func TestExampleConformance(t *testing.T) { myStoreConformance(t) }
