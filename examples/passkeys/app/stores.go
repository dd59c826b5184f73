package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	credsName      string
	ceremoniesName string
	closers        []func() error
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
		m := memstore.New(memstore.WithClock(cfg.Now))
		st.closers = append(st.closers, m.Close)
		st.creds, st.credsName = m, "memory"
	}

	if cfg.RedisAddr != "" {
		client := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr})
		st.closers = append(st.closers, client.Close)
		var opts []redisstore.Option
		if cfg.StorePrefix != "" {
			opts = append(opts, redisstore.WithKeyPrefix(cfg.StorePrefix))
		}
		r, err := redisstore.New(ctx, client, opts...)
		if err != nil {
			return nil, fmt.Errorf("app: Redis at %s: %w", cfg.RedisAddr, err)
		}
		st.ceremonies, st.ceremoniesName = r, "Redis "+cfg.RedisAddr
	} else {
		m := memstore.New(memstore.WithClock(cfg.Now))
		st.closers = append(st.closers, m.Close)
		st.ceremonies, st.ceremoniesName = m, "memory"
	}
	return st, nil
}
