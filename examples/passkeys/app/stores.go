package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // "mysql" driver for -mysql
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
		db, err = sql.Open("pgx", cfg.PostgresDSN)
		dialect, st.credsName = sqlstore.Postgres, "PostgreSQL"
	case cfg.MySQLDSN != "":
		db, err = sql.Open("mysql", cfg.MySQLDSN)
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

	if cfg.RedisAddr != "" {
		ropts, err := redisOptions(cfg.RedisAddr)
		if err != nil {
			return nil, err
		}
		client := redis.NewClient(ropts)
		st.closers = append(st.closers, client.Close)
		var opts []redisstore.Option
		if cfg.StorePrefix != "" {
			opts = append(opts, redisstore.WithKeyPrefix(cfg.StorePrefix))
		}
		// The address only: the URL may hold a password.
		st.ceremoniesName = "Redis " + ropts.Addr
		if ropts.TLSConfig != nil {
			st.ceremoniesName += " (TLS)"
		}
		r, err := redisstore.New(client, opts...)
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

// Redis client timeouts. redisstore's advice: fail fast when Redis is down
// rather than hold requests (DialerRetries 1), and honour the request's
// deadline (ContextTimeoutEnabled); the timeouts bound a request whose
// context has none.
const (
	redisDialTimeout  = 5 * time.Second
	redisReadTimeout  = 3 * time.Second
	redisWriteTimeout = 3 * time.Second
)

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
