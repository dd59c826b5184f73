package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/redisstore"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

// Store combinations selectable with -store. The name before "+" keeps
// users and credentials, the one after it (if any) in-flight ceremonies.
const (
	storeMemstore      = "memstore"
	storeSQLite        = "sqlite"
	storePostgresRedis = "postgres+redis"
	storeMariaDBRedis  = "mariadb+redis"
	storePostgres      = "postgres"
	storeMariaDB       = "mariadb"
	storeRedis         = "redis"
)

// knownStores lists every -store value, in the order "all" runs the
// published set (the first four).
var knownStores = []string{storeMemstore, storeSQLite, storePostgresRedis, storeMariaDBRedis, storePostgres, storeMariaDB, storeRedis}

const publishedStores = 4

// parseStores splits a -store list, expanding "all".
func parseStores(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(strings.ToLower(s))
		switch {
		case s == "":
		case s == "all":
			out = append(out, knownStores[:publishedStores]...)
		case contains(knownStores, s):
			out = append(out, s)
		default:
			return nil, fmt.Errorf("unknown store %q (want one of %s, or all)", s, strings.Join(knownStores, ", "))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no store given")
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// backendConfig says where the servers are.
type backendConfig struct {
	PostgresDSN string
	MySQLDSN    string
	RedisAddr   string
	DBConns     int // max open connections of a SQL pool
}

// stores is one opened store combination, with everything needed to clean
// it up and to describe it.
type stores struct {
	name      string
	creds     webauthnkit.CredentialStore
	cers      webauthnkit.ChallengeStore
	versions  map[string]string // backend -> server version
	wire      *wireCounters     // client writes per backend (nil for in-memory)
	pg        *sql.DB           // set for postgres combinations (scale seeding)
	prefix    string            // table / key prefix of this run
	cleanups  []func(context.Context) error
	closeOnce sync.Once
}

// usesProcess reports whether the stores talk to a database server process
// with this command name.
func (st *stores) usesProcess(comm string) bool {
	backend := map[string]string{"postgres": storePostgres, "redis-server": storeRedis, "mariadbd": storeMariaDB, "mysqld": storeMariaDB}[comm]
	if backend == "" {
		return false
	}
	_, ok := st.versions[backend]
	return ok
}

// runPrefix returns a fresh lower-case prefix for tables and keys.
func runPrefix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "wkload_" + hex.EncodeToString(b) + "_"
}

// openStores opens the named combination with fresh tables / keys.
func openStores(ctx context.Context, name string, cfg backendConfig) (st *stores, err error) {
	st = &stores{name: name, versions: map[string]string{}, prefix: runPrefix()}
	defer func() {
		if err != nil {
			_ = st.close(context.WithoutCancel(ctx))
			st = nil
		}
	}()
	credsBackend, cersBackend, _ := strings.Cut(name, "+")
	if cersBackend == "" {
		cersBackend = credsBackend
	}
	if credsBackend != storeMemstore && credsBackend != storeSQLite {
		st.wire = newWireCounters()
	}
	var sqlStore *sqlstore.Store
	var redisStore *redisstore.Store
	openSQL := func(backend string) error {
		if sqlStore != nil {
			return nil
		}
		db, dialect, err := st.openDB(ctx, backend, cfg)
		if err != nil {
			return err
		}
		mctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := sqlstore.Migrate(mctx, db, dialect, sqlstore.WithTablePrefix(st.prefix)); err != nil {
			return fmt.Errorf("%s: migrate: %w", backend, err)
		}
		st.cleanups = append(st.cleanups, func(ctx context.Context) error {
			return sqlstore.MigrateDown(ctx, db, dialect, sqlstore.WithTablePrefix(st.prefix))
		})
		sqlStore, err = sqlstore.New(db, dialect, sqlstore.WithTablePrefix(st.prefix), sqlstore.WithJanitor(time.Minute))
		if err != nil {
			return fmt.Errorf("%s: %w", backend, err)
		}
		st.cleanups = append(st.cleanups, func(context.Context) error { return sqlStore.Close() })
		return nil
	}
	openRedis := func() error {
		if redisStore != nil {
			return nil
		}
		opts := &redis.Options{
			Addr:     cfg.RedisAddr,
			PoolSize: max(cfg.DBConns, 10),
			Dialer:   st.wire.dialer("redis", nil),
		}
		c := redis.NewClient(opts)
		prefix := strings.ReplaceAll(st.prefix, "_", ":")
		st.cleanups = append(st.cleanups, func(ctx context.Context) error {
			_, err := deleteRedisKeys(ctx, c, prefix)
			return errors.Join(err, c.Close())
		})
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis at %s: %w (start it with scripts/services.sh)", cfg.RedisAddr, err)
		}
		if info, err := c.Info(ctx, "server").Result(); err == nil {
			st.versions["redis"] = infoField(info, "redis_version")
		}
		var err error
		redisStore, err = redisstore.New(c, redisstore.WithKeyPrefix(prefix))
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		return nil
	}

	switch credsBackend {
	case storeMemstore:
		m, err := memstore.New()
		if err != nil {
			return nil, err
		}
		st.cleanups = append(st.cleanups, func(context.Context) error { return m.Close() })
		st.creds = m
		if cersBackend == storeMemstore {
			st.cers = m
		}
	case storeSQLite, storePostgres, storeMariaDB:
		if err := openSQL(credsBackend); err != nil {
			return nil, err
		}
		st.creds = sqlStore
	case storeRedis:
		if err := openRedis(); err != nil {
			return nil, err
		}
		st.creds = redisStore
	default:
		return nil, fmt.Errorf("unknown credential store %q", credsBackend)
	}
	if st.cers == nil {
		switch cersBackend {
		case storeRedis:
			if err := openRedis(); err != nil {
				return nil, err
			}
			st.cers = redisStore
		case credsBackend:
			st.cers = st.creds.(webauthnkit.ChallengeStore)
		default:
			return nil, fmt.Errorf("unsupported ceremony store %q", cersBackend)
		}
	}
	return st, nil
}

// openDB opens a database/sql pool for a SQL backend, counting the client's
// socket writes for server backends.
func (st *stores) openDB(ctx context.Context, backend string, cfg backendConfig) (*sql.DB, sqlstore.Dialect, error) {
	var (
		db      *sql.DB
		dialect sqlstore.Dialect
		version string
	)
	switch backend {
	case storeSQLite:
		dir, err := os.MkdirTemp("", "webauthnkit-load-")
		if err != nil {
			return nil, 0, err
		}
		st.cleanups = append(st.cleanups, func(context.Context) error { return os.RemoveAll(dir) })
		db, err = sqlitedb.Open(filepath.Join(dir, "passkeys.db"))
		if err != nil {
			return nil, 0, fmt.Errorf("sqlite: %w", err)
		}
		dialect = sqlstore.SQLite
		db.SetMaxOpenConns(cfg.DBConns)
		db.SetMaxIdleConns(cfg.DBConns)
		st.cleanups = append(st.cleanups, func(context.Context) error { return db.Close() })
		if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version); err == nil {
			st.versions["sqlite"] = version
		}
		return db, dialect, nil
	case storePostgres:
		pc, err := pgx.ParseConfig(cfg.PostgresDSN)
		if err != nil {
			return nil, 0, fmt.Errorf("postgres DSN: %w", err)
		}
		pc.DialFunc = st.wire.dialer("postgres", pc.DialFunc)
		db = stdlib.OpenDB(*pc)
		dialect = sqlstore.Postgres
		st.pg = db
	case storeMariaDB:
		mc, err := mysql.ParseDSN(cfg.MySQLDSN)
		if err != nil {
			return nil, 0, fmt.Errorf("mariadb DSN: %w", err)
		}
		netName := registerMySQLDialer(mc.Net, st.wire)
		mc.Net = netName
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return nil, 0, fmt.Errorf("mariadb: %w", err)
		}
		db = sql.OpenDB(conn)
		dialect = sqlstore.MySQL
	default:
		return nil, 0, fmt.Errorf("unknown SQL backend %q", backend)
	}
	db.SetMaxOpenConns(cfg.DBConns)
	db.SetMaxIdleConns(cfg.DBConns)
	st.cleanups = append(st.cleanups, func(context.Context) error { return db.Close() })
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		return nil, 0, fmt.Errorf("%s: %w (start it with scripts/services.sh)", backend, err)
	}
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err == nil {
		if backend == storePostgres {
			// "PostgreSQL 15.8 (Debian 15.8-0+deb12u1) on x86_64-pc-linux-gnu, ..."
			version, _, _ = strings.Cut(version, " on ")
		}
		st.versions[backend] = version
	}
	return db, dialect, nil
}

var mysqlDialers sync.Map // net name -> registered

// registerMySQLDialer registers (once per counter set) a go-sql-driver dial
// function that counts writes, and returns its network name.
func registerMySQLDialer(network string, w *wireCounters) string {
	if network == "" {
		network = "tcp"
	}
	name := fmt.Sprintf("wkload-%p", w)
	if _, loaded := mysqlDialers.LoadOrStore(name, true); !loaded {
		dial := w.dialer("mariadb", nil)
		mysql.RegisterDialContext(name, func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, network, addr)
		})
	}
	return name
}

// close removes the run's tables and keys and closes the clients, in reverse
// order of opening.
func (st *stores) close(ctx context.Context) error {
	var errs []error
	st.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		for i := len(st.cleanups) - 1; i >= 0; i-- {
			if err := st.cleanups[i](ctx); err != nil {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// deleteRedisKeys deletes every key starting with prefix.
func deleteRedisKeys(ctx context.Context, c *redis.Client, prefix string) (int, error) {
	n := 0
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.Unlink(ctx, batch...).Err()
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// infoField returns one "name:value" line of a Redis INFO reply.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// wireCounters counts the writes the clients make on their sockets, per
// backend. A request-response protocol client writes once per round trip
// (pgx, go-sql-driver/mysql and go-redis flush each command, or each
// pipeline, in one write), so writes per login is the number of round trips
// a login costs.
type wireCounters struct {
	mu sync.Mutex
	m  map[string]*wireCounter
}

type wireCounter struct {
	writes, bytesOut, dials atomic.Int64
}

func newWireCounters() *wireCounters { return &wireCounters{m: map[string]*wireCounter{}} }

func (w *wireCounters) counter(backend string) *wireCounter {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.m[backend]
	if c == nil {
		c = new(wireCounter)
		w.m[backend] = c
	}
	return c
}

// snapshot returns the writes so far per backend.
func (w *wireCounters) snapshot() map[string]int64 {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int64, len(w.m))
	for k, c := range w.m {
		out[k] = c.writes.Load()
	}
	return out
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// dialer wraps next (net.Dialer when nil) so that the connections it makes
// count their writes. A nil *wireCounters returns next unchanged.
func (w *wireCounters) dialer(backend string, next dialFunc) dialFunc {
	if next == nil {
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		next = d.DialContext
	}
	if w == nil {
		return next
	}
	c := w.counter(backend)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.dials.Add(1)
		return &countingConn{Conn: conn, c: c}, nil
	}
}

type countingConn struct {
	net.Conn
	c *wireCounter
}

func (cc *countingConn) Write(p []byte) (int, error) {
	cc.c.writes.Add(1)
	cc.c.bytesOut.Add(int64(len(p)))
	return cc.Conn.Write(p)
}
