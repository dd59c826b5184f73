package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"   // "mysql" driver for -mysql
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for -postgres
	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/redisstore"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

// stores is what New opened; Close releases all of it.
type stores struct {
	creds          webauthnkit.CredentialStore
	ceremonies     webauthnkit.ChallengeStore
	db             *sql.DB // nil without an SQL store
	credsName      string
	ceremoniesName string
	// rateLimiter is set with Redis: every instance shares the buckets.
	rateLimiter *redisstore.RateLimiter
	closers     []func() error
}

func (s *stores) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

func openStores(ctx context.Context, cfg Config) (_ *stores, err error) {
	st := &stores{}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()

	var db *sql.DB
	var dialect sqlstore.Dialect
	switch {
	case cfg.PostgresDSN != "":
		var dsn string
		if dsn, err = postgresDSN(cfg.PostgresDSN); err == nil {
			db, err = sql.Open("pgx", dsn)
		}
		dialect, st.credsName = sqlstore.Postgres, "PostgreSQL"
	case cfg.MySQLDSN != "":
		var dsn string
		if dsn, err = mysqlDSN(cfg.MySQLDSN); err == nil {
			db, err = sql.Open("mysql", dsn)
		}
		dialect, st.credsName = sqlstore.MySQL, "MySQL/MariaDB"
	case cfg.SQLitePath != "":
		db, err = sqlitedb.Open(cfg.SQLitePath)
		dialect, st.credsName = sqlstore.SQLite, "SQLite "+cfg.SQLitePath
	}
	if err != nil {
		return nil, fmt.Errorf("app: opening the %s database: %w", st.credsName, err)
	}
	if db != nil {
		st.closers = append(st.closers, db.Close)
		conns := cfg.DBConns
		if conns <= 0 {
			conns = DefaultDBConns
		}
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		st.db = db
		var prefix []sqlstore.Option
		if cfg.StorePrefix != "" {
			prefix = append(prefix, sqlstore.WithTablePrefix(cfg.StorePrefix))
		}
		if err := sqlstore.Migrate(ctx, db, dialect, prefix...); err != nil {
			return nil, fmt.Errorf("app: creating the tables in %s: %w", st.credsName, err)
		}
		opts := append(prefix, sqlstore.WithJanitor(5*time.Minute), sqlstore.WithClock(cfg.Now), sqlstore.WithLogger(cfg.Logger))
		s, err := sqlstore.New(db, dialect, opts...)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		st.closers = append(st.closers, s.Close)
		st.creds = s
	} else {
		m, err := memstore.New(memstore.WithClock(cfg.Now))
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, m.Close)
		st.creds, st.credsName = m, "memory"
	}

	if cfg.usesRedis() {
		client, name, err := redisClient(cfg)
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, client.Close)
		var opts []redisstore.Option
		if cfg.StorePrefix != "" {
			opts = append(opts, redisstore.WithKeyPrefix(cfg.StorePrefix))
		}
		st.ceremoniesName = name
		storeOpts := opts
		if cfg.RedisReplicaAck > 0 {
			storeOpts = append(storeOpts, redisstore.WithReplicaAck(cfg.RedisReplicaAck, redisReplicaAckTimeout))
		}
		r, err := redisstore.New(client, storeOpts...)
		if err != nil {
			return nil, fmt.Errorf("app: %s: %w", st.ceremoniesName, err)
		}
		st.ceremonies = r
		if st.rateLimiter, err = redisstore.NewRateLimiter(client, opts...); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	} else {
		m, err := memstore.New(memstore.WithClock(cfg.Now))
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, m.Close)
		st.ceremonies, st.ceremoniesName = m, "memory"
	}
	return st, nil
}

// DefaultDBConns is the default of Config.DBConns.
const DefaultDBConns = 16

// Store client timeouts. The request's deadline (httpadapter's
// Options.StoreTimeout, 2 s by default) is what bounds a request; these
// bound what has no deadline or outlives one, and a connection attempt to a
// server that accepts TCP but does not answer (a paused or overloaded one).
//
// Redis: fail fast when Redis is down rather than hold requests
// (DialerRetries 1: one dial per attempt, not go-redis's 5), and honour the
// request's deadline (ContextTimeoutEnabled); read and write timeouts below
// go-redis's 5 s defaults. The pool: go-redis's default PoolSize (10 per
// CPU), ample for a store whose calls take well under a millisecond; a
// caller waiting for a connection still gives up at its deadline.
const (
	redisDialTimeout  = 2 * time.Second
	redisReadTimeout  = 3 * time.Second
	redisWriteTimeout = 3 * time.Second

	// PostgreSQL: connect_timeout (seconds) bounds a dial and the start-up
	// exchange; statement_timeout makes the server end a statement that
	// runs on after its request gave up (a lock wait, a runaway plan).
	pgConnectTimeout   = "2"
	pgStatementTimeout = "10s"

	// MySQL/MariaDB: the driver's dial timeout and its socket read and
	// write timeouts (a connection that hits one is discarded).
	mysqlDialTimeout  = 2 * time.Second
	mysqlReadTimeout  = 10 * time.Second
	mysqlWriteTimeout = 10 * time.Second
)

// postgresDSN adds connect_timeout and statement_timeout to a pgx DSN (URL
// or keyword=value form) that does not set them. Errors never repeat the
// DSN, which may hold a password.
func postgresDSN(dsn string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("app: the PostgreSQL DSN is not a valid URL")
		}
		q := u.Query()
		if q.Get("connect_timeout") == "" && os.Getenv("PGCONNECT_TIMEOUT") == "" {
			q.Set("connect_timeout", pgConnectTimeout)
		}
		if q.Get("statement_timeout") == "" && !strings.Contains(q.Get("options"), "statement_timeout") {
			q.Set("statement_timeout", pgStatementTimeout)
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// keyword=value form.
	if !strings.Contains(dsn, "connect_timeout=") && os.Getenv("PGCONNECT_TIMEOUT") == "" {
		dsn += " connect_timeout=" + pgConnectTimeout
	}
	if !strings.Contains(dsn, "statement_timeout") {
		dsn += " statement_timeout=" + pgStatementTimeout
	}
	return strings.TrimSpace(dsn), nil
}

// mysqlDSN sets the driver's timeouts in a go-sql-driver/mysql DSN that
// does not set them, and interpolateParams=true unless the DSN says
// otherwise: without it every query is a prepare, an execute and a close
// (three round trips instead of one; BENCHMARKS.md). The driver's
// client-side interpolation is safe with the utf8mb4 connection charset
// the driver uses by default (it refuses to interpolate under charsets
// where escaping is unsafe).
func mysqlDSN(dsn string) (string, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", errors.New("app: the MySQL DSN is not valid: use user:password@tcp(host:3306)/dbname")
	}
	if !strings.Contains(dsn, "interpolateParams=") {
		c.InterpolateParams = true
	}
	if c.Timeout == 0 {
		c.Timeout = mysqlDialTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = mysqlReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = mysqlWriteTimeout
	}
	return c.FormatDSN(), nil
}

// redisReplicaAckTimeout bounds the wait for Config.RedisReplicaAck.
const redisReplicaAckTimeout = 500 * time.Millisecond

// usesRedis reports whether cfg names a Redis for the ceremonies.
func (cfg Config) usesRedis() bool {
	return cfg.RedisAddr != "" || len(cfg.RedisCluster) > 0 || cfg.RedisSentinel != ""
}

// redisClient builds the client for whichever of RedisAddr, RedisCluster
// and RedisSentinel is set (New refuses more than one), with the same
// timeouts, and names it for the logs (addresses only: never a password).
func redisClient(cfg Config) (redis.UniversalClient, string, error) {
	base, err := redisOptions("127.0.0.1:6379")
	if err != nil {
		return nil, "", err
	}
	switch {
	case len(cfg.RedisCluster) > 0:
		for _, a := range cfg.RedisCluster {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, "", errors.New("app: each Redis Cluster address must be host:port")
			}
		}
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: cfg.RedisCluster, DialTimeout: base.DialTimeout, ReadTimeout: base.ReadTimeout,
			WriteTimeout: base.WriteTimeout, DialerRetries: base.DialerRetries, ContextTimeoutEnabled: true,
		}), "Redis Cluster " + strings.Join(cfg.RedisCluster, ","), nil
	case cfg.RedisSentinel != "":
		master, addrs, ok := strings.Cut(cfg.RedisSentinel, "@")
		sentinels := strings.Split(addrs, ",")
		for _, a := range sentinels {
			if _, _, err := net.SplitHostPort(a); err != nil {
				ok = false
			}
		}
		if !ok || master == "" {
			return nil, "", errors.New("app: the Redis Sentinel setting must be master-name@host:port[,host:port...] (the sentinels)")
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: master, SentinelAddrs: sentinels, DialTimeout: base.DialTimeout,
			ReadTimeout: base.ReadTimeout, WriteTimeout: base.WriteTimeout, DialerRetries: base.DialerRetries,
			ContextTimeoutEnabled: true,
		}), "Redis Sentinel " + master + "@" + addrs, nil
	}
	ropts, err := redisOptions(cfg.RedisAddr)
	if err != nil {
		return nil, "", err
	}
	// The address only: the URL may hold a password.
	name := "Redis " + ropts.Addr
	if ropts.TLSConfig != nil {
		name += " (TLS)"
	}
	return redis.NewClient(ropts), name, nil
}

// redisOptions reads Config.RedisAddr: host:port, or a redis:// or
// rediss:// (TLS) URL with optional user, password and database number.
// Errors never repeat the value, which may hold a password.
func redisOptions(addr string) (*redis.Options, error) {
	var opts *redis.Options
	if strings.Contains(addr, "://") {
		o, err := redis.ParseURL(addr)
		if err != nil {
			return nil, errors.New("app: the Redis URL is not valid: use redis://[user:password@]host[:port][/db] or rediss:// for TLS")
		}
		opts = o
	} else {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, errors.New("app: the Redis address must be host:port or a redis:// or rediss:// URL")
		}
		opts = &redis.Options{Addr: addr}
	}
	opts.DialTimeout = redisDialTimeout
	opts.ReadTimeout = redisReadTimeout
	opts.WriteTimeout = redisWriteTimeout
	opts.DialerRetries = 1
	opts.ContextTimeoutEnabled = true
	return opts, nil
}
