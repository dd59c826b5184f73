// Runs the whole account suite on another backend than memstore:
//
//	WEBAUTHNKIT_ACCOUNT_BACKEND=postgres|mariadb|sqlite|redis go test ./account/
//
// scripts/test.sh runs it once per backend; the servers are the tests'
// usual ones (internal/testenv, docs/testing.md).

package account_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/redisstore"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

func prefix() string { b := make([]byte, 5); rand.Read(b); return "acc" + hex.EncodeToString(b) + "_" }

func sqlBackend(t testing.TB, db *sql.DB, d sqlstore.Dialect, now func() time.Time) backend {
	p := sqlstore.WithTablePrefix(prefix())
	require.NoError(t, sqlstore.Migrate(context.Background(), db, d, p))
	t.Cleanup(func() { _ = sqlstore.MigrateDown(context.Background(), db, d, p) })
	s, err := sqlstore.New(db, d, p, sqlstore.WithClock(now))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// requireServer ends the test binary when the chosen backend's server is
// not reachable: a failure under CI, a skip message elsewhere (the rule of
// internal/testenv, which needs a *testing.T that TestMain does not have).
func requireServer(name, addr string) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	msg := name + " not reachable at " + addr + ": " + err.Error() + " (run: bash scripts/services.sh)"
	if testenv.InCI() {
		fmt.Fprintln(os.Stderr, "account: CI=true and "+msg)
		os.Exit(1)
	}
	fmt.Println("account: skipping the " + name + " run: " + msg)
	os.Exit(0)
}

func TestMain(m *testing.M) {
	switch which := os.Getenv("WEBAUTHNKIT_ACCOUNT_BACKEND"); which {
	case "postgres", "mariadb":
		driver, dsn, d := "pgx", testenv.PostgresDSN(), sqlstore.Postgres
		addr := testenv.PostgresAddr(dsn)
		if which == "mariadb" {
			driver, dsn, d = "mysql", testenv.MySQLDSN(), sqlstore.MySQL
			addr = testenv.MySQLAddr(dsn)
		}
		requireServer(which, addr)
		db, err := sql.Open(driver, dsn)
		if err != nil {
			panic(err)
		}
		db.SetMaxOpenConns(16)
		openBackend = func(t testing.TB, now func() time.Time) backend { return sqlBackend(t, db, d, now) }
	case "sqlite":
		openBackend = func(t testing.TB, now func() time.Time) backend {
			db, err := sqlitedb.Open(t.TempDir() + "/a.db")
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			return sqlBackend(t, db, sqlstore.SQLite, now)
		}
	case "redis":
		requireServer("Redis", testenv.RedisAddr())
		openBackend = func(t testing.TB, now func() time.Time) backend {
			client := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), MaxRetries: -1})
			t.Cleanup(func() { client.Close() })
			p := prefix()
			s, err := redisstore.New(client, redisstore.WithKeyPrefix(p), redisstore.WithClock(now))
			require.NoError(t, err)
			t.Cleanup(func() {
				keys, _ := client.Keys(context.Background(), p+"*").Result()
				if len(keys) > 0 {
					client.Del(context.Background(), keys...)
				}
			})
			return s
		}
	}
	os.Exit(m.Run())
}
