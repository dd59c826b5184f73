package otc_test

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
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/redisstore"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

// Single use, replacement and attempt counting rest on the ChallengeStore
// contract; the core tests run on every backend (servers skip when absent,
// fail under CI=true).
var (
	postgresDSN = testenv.Getenv("WEBAUTHNKIT_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	mysqlDSN    = testenv.Getenv("WEBAUTHNKIT_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test?parseTime=true&multiStatements=false")
	redisAddr   = testenv.Getenv("WEBAUTHNKIT_REDIS_ADDR", "127.0.0.1:6379")
)

type storeBackend struct {
	name string
	open func(t *testing.T, c *clock) webauthnkit.ChallengeStore
}

var storeBackends = []storeBackend{
	{"memstore", func(t *testing.T, c *clock) webauthnkit.ChallengeStore {
		return newMemStore(t, memstore.WithClock(c.Now))
	}},
	{"postgres", func(t *testing.T, c *clock) webauthnkit.ChallengeStore {
		return openSQL(t, c, "pgx", postgresDSN, sqlstore.Postgres, "PostgreSQL", "127.0.0.1:5432")
	}},
	{"mariadb", func(t *testing.T, c *clock) webauthnkit.ChallengeStore {
		return openSQL(t, c, "mysql", mysqlDSN, sqlstore.MySQL, "MariaDB", "127.0.0.1:3306")
	}},
	{"sqlite", func(t *testing.T, c *clock) webauthnkit.ChallengeStore {
		db, err := sqlitedb.Open(t.TempDir() + "/otc.db")
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return migrated(t, c, db, sqlstore.SQLite)
	}},
	{"redis", openRedis},
}

func randomPrefix() string {
	b := make([]byte, 5)
	rand.Read(b)
	return "otc" + hex.EncodeToString(b) + "_"
}

func openSQL(t *testing.T, c *clock, driver, dsn string, dialect sqlstore.Dialect, server, addr string) webauthnkit.ChallengeStore {
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(16)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		testenv.Unavailable(t, server, addr, err, "bash scripts/services.sh")
	}
	return migrated(t, c, db, dialect)
}

func migrated(t *testing.T, c *clock, db *sql.DB, dialect sqlstore.Dialect) webauthnkit.ChallengeStore {
	prefix := sqlstore.WithTablePrefix(randomPrefix())
	ctx := context.Background()
	require.NoError(t, sqlstore.Migrate(ctx, db, dialect, prefix))
	t.Cleanup(func() { _ = sqlstore.MigrateDown(context.Background(), db, dialect, prefix) })
	s, err := sqlstore.New(db, dialect, prefix, sqlstore.WithClock(c.Now))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func openRedis(t *testing.T, c *clock) webauthnkit.ChallengeStore {
	client := redis.NewClient(&redis.Options{Addr: redisAddr, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(t, "Redis", redisAddr, err, "bash scripts/services.sh")
	}
	prefix := randomPrefix()
	s, err := redisstore.New(client, redisstore.WithKeyPrefix(prefix), redisstore.WithClock(c.Now))
	require.NoError(t, err)
	t.Cleanup(func() {
		keys, _ := client.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
	})
	return s
}
