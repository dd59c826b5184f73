// Package backendtest opens each shipped store backend (memstore, and
// sqlstore on PostgreSQL, MariaDB and SQLite, and redisstore) on the test
// servers, for the packages whose tests run once per backend (otc, totp,
// account). Each store is private to its test (random table or key prefix,
// removed at the end); a server that cannot be reached skips the test, or
// fails it under CI=true (testenv.Unavailable).
package backendtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/redisstore"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

// Store is a store in both roles, as every shipped backend is.
type Store interface {
	webauthnkit.CredentialStore
	webauthnkit.ChallengeStore
}

// Backend opens a fresh store of one kind whose clock is now.
type Backend struct {
	Name string
	Open func(t testing.TB, now func() time.Time) Store
}

// All returns every backend, memstore first.
func All() []Backend {
	return []Backend{
		{"memstore", openMemstore},
		{"postgres", func(t testing.TB, now func() time.Time) Store {
			dsn := testenv.PostgresDSN()
			return openSQL(t, now, "pgx", dsn, sqlstore.Postgres, "PostgreSQL", testenv.PostgresAddr(dsn))
		}},
		{"mariadb", func(t testing.TB, now func() time.Time) Store {
			dsn := testenv.MySQLDSN()
			return openSQL(t, now, "mysql", dsn, sqlstore.MySQL, "MariaDB", testenv.MySQLAddr(dsn))
		}},
		{"sqlite", func(t testing.TB, now func() time.Time) Store {
			db, err := sqlitedb.Open(t.TempDir() + "/test.db")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return migrated(t, now, db, sqlstore.SQLite)
		}},
		{"redis", openRedis},
	}
}

// Named returns the backend called name; a name ending in SealedSuffix
// ("sqlite+sealed") is that backend wrapped by sealstore.
func Named(name string) (Backend, bool) {
	for _, b := range All() {
		if b.Name == name {
			return b, true
		}
	}
	return namedSealed(name)
}

func openMemstore(t testing.TB, now func() time.Time) Store {
	s, err := memstore.New(memstore.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randomPrefix() string {
	b := make([]byte, 5)
	rand.Read(b)
	return "bt" + hex.EncodeToString(b) + "_"
}

func openSQL(t testing.TB, now func() time.Time, driver, dsn string, dialect sqlstore.Dialect, server, addr string) Store {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		testenv.Unavailable(t, server, addr, err, "bash scripts/services.sh")
	}
	return migrated(t, now, db, dialect)
}

func migrated(t testing.TB, now func() time.Time, db *sql.DB, dialect sqlstore.Dialect) Store {
	prefix := sqlstore.WithTablePrefix(randomPrefix())
	if err := sqlstore.Migrate(context.Background(), db, dialect, prefix); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlstore.MigrateDown(context.Background(), db, dialect, prefix) })
	s, err := sqlstore.New(db, dialect, prefix, sqlstore.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openRedis(t testing.TB, now func() time.Time) Store {
	addr := testenv.RedisAddr()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(t, "Redis", addr, err, "bash scripts/services.sh")
	}
	prefix := randomPrefix()
	s, err := redisstore.New(client, redisstore.WithKeyPrefix(prefix), redisstore.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		keys, _ := client.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
	})
	return s
}
