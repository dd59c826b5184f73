package testenv

import (
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// The servers the tests use, one environment variable and one default each
// (docs/testing.md lists them). scripts/services.sh sets up the defaults.
const (
	// PostgresDSNEnv names the PostgreSQL DSN (pgx URL form).
	PostgresDSNEnv     = "WEBAUTHNKIT_POSTGRES_DSN"
	DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

	// MySQLDSNEnv names the MariaDB/MySQL DSN (go-sql-driver/mysql form).
	// The default asks for interpolateParams, the setting sqlstore's docs
	// recommend (one round trip less per call); the store needs no other.
	MySQLDSNEnv     = "WEBAUTHNKIT_MYSQL_DSN"
	DefaultMySQLDSN = "root@tcp(127.0.0.1:3306)/test?interpolateParams=true"

	// RedisAddrEnv names the Redis address (host:port).
	RedisAddrEnv     = "WEBAUTHNKIT_REDIS_ADDR"
	DefaultRedisAddr = "127.0.0.1:6379"
)

// PostgresDSN returns $WEBAUTHNKIT_POSTGRES_DSN, or DefaultPostgresDSN.
func PostgresDSN() string { return Getenv(PostgresDSNEnv, DefaultPostgresDSN) }

// MySQLDSN returns $WEBAUTHNKIT_MYSQL_DSN, or DefaultMySQLDSN.
func MySQLDSN() string { return Getenv(MySQLDSNEnv, DefaultMySQLDSN) }

// RedisAddr returns $WEBAUTHNKIT_REDIS_ADDR, or DefaultRedisAddr.
func RedisAddr() string { return Getenv(RedisAddrEnv, DefaultRedisAddr) }

// How to start each server by hand, for Unavailable's message
// (scripts/services.sh does all of it).
const (
	HowToStartPostgres = "pg_ctlcluster <version> main start"
	HowToStartMySQL    = "start-stop-daemon --start --background --exec /usr/sbin/mariadbd"
	HowToStartRedis    = `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`
)

// RequirePostgres returns PostgresDSN() if its server accepts connections;
// otherwise it skips t, or fails it under CI.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	dsn := PostgresDSN()
	Require(t, "PostgreSQL", PostgresAddr(dsn), HowToStartPostgres)
	return dsn
}

// RequireMySQL returns MySQLDSN() if its server accepts connections;
// otherwise it skips t, or fails it under CI.
func RequireMySQL(t testing.TB) string {
	t.Helper()
	dsn := MySQLDSN()
	Require(t, "MariaDB/MySQL", MySQLAddr(dsn), HowToStartMySQL)
	return dsn
}

// RequireRedis returns RedisAddr() if a server accepts connections there;
// otherwise it skips t, or fails it under CI.
func RequireRedis(t testing.TB) string {
	t.Helper()
	addr := RedisAddr()
	Require(t, "Redis", addr, HowToStartRedis)
	return addr
}

// Require checks that something accepts TCP connections at addr (host:port)
// and calls Unavailable if not. It proves the server is there, not that it
// lets the test in: a server that answers but refuses the test's login is a
// broken setup, which the test's own connection then reports as a failure.
// An empty addr (a DSN this package cannot read, a Unix socket) is not
// probed.
func Require(t testing.TB, server, addr, howToStart string) {
	t.Helper()
	if addr == "" {
		return
	}
	if err := dial(addr); err != nil {
		Unavailable(t, server, addr, err, howToStart)
	}
}

// probes remembers each address's answer for the test binary's life, so a
// missing server costs one dial timeout, not one per test.
var probes sync.Map // addr -> func() error

func dial(addr string) error {
	probe, _ := probes.LoadOrStore(addr, sync.OnceValue(func() error {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}))
	return probe.(func() error)()
}

// PostgresAddr returns the host:port of a PostgreSQL URL DSN (port 5432 if
// none is given), or "" if dsn is not a URL with a host.
func PostgresAddr(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432")
	}
	return u.Host
}

// MySQLAddr returns the address of a go-sql-driver/mysql DSN's tcp(...)
// part (port 3306 if none is given), or "" for another protocol.
func MySQLAddr(dsn string) string {
	_, rest, ok := strings.Cut(dsn, "@tcp(")
	if !ok {
		return ""
	}
	addr, _, ok := strings.Cut(rest, ")")
	if !ok || addr == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return net.JoinHostPort(addr, "3306")
	}
	return addr
}
