//go:build accountbackends

// Runs the whole account suite on another backend:
//
//	ACCOUNT_BACKEND=postgres|mariadb|sqlite|redis go test -tags accountbackends ./account/
//
// Behind a tag until the sqlstore and redisstore branches are merged (this
// branch's stores do not implement the email contract yet); servers as in
// BRIEF (scripts/services.sh).

package account_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

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

func TestMain(m *testing.M) {
	switch os.Getenv("ACCOUNT_BACKEND") {
	case "postgres", "mariadb":
		driver, dsn, d := "pgx", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", sqlstore.Postgres
		if os.Getenv("ACCOUNT_BACKEND") == "mariadb" {
			driver, dsn, d = "mysql", "root@tcp(127.0.0.1:3306)/test?parseTime=true&multiStatements=false", sqlstore.MySQL
		}
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
		openBackend = func(t testing.TB, now func() time.Time) backend {
			client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", MaxRetries: -1})
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
