package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// ---- a TCP proxy that can take the server away ----

// tcpProxy forwards connections from a loopback port to a database server.
// Stopping it closes the port and every forwarded connection, which to the
// store is the server going away; restarting it on the same port brings the
// server back. In blackhole mode it accepts connections and never answers,
// like a server behind a dead network path.
type tcpProxy struct {
	target    string
	addr      string
	blackhole atomic.Bool

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &tcpProxy{target: target, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}}
	go p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		if !p.track(client) {
			client.Close()
			continue
		}
		go p.forward(client)
	}
}

func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tcpProxy) forward(client net.Conn) {
	if p.blackhole.Load() {
		io.Copy(io.Discard, client) // until the proxy closes it
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(server) {
		server.Close()
		client.Close()
		return
	}
	go func() { io.Copy(server, client); server.Close() }()
	io.Copy(client, server)
	client.Close()
}

// dropConnections closes every forwarded connection, keeping the port open.
func (p *tcpProxy) dropConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// stop closes the port and every connection: the server is unreachable.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.dropConnections()
}

// restart listens on the same port again.
func (p *tcpProxy) restart(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
}

// withAddr returns the backend's DSN with the server address replaced.
func withAddr(t *testing.T, b backend, addr string) string {
	t.Helper()
	switch b.dialect {
	case sqlstore.Postgres:
		u, err := url.Parse(postgresDSN)
		require.NoError(t, err)
		u.Host = addr
		q := u.Query()
		q.Set("connect_timeout", "5")
		u.RawQuery = q.Encode()
		return u.String()
	case sqlstore.MySQL:
		cfg, err := mysql.ParseDSN(mysqlDSN)
		require.NoError(t, err)
		cfg.Addr = addr
		cfg.Timeout = 5 * time.Second
		return cfg.FormatDSN()
	}
	t.Fatalf("no server for %s", b.name)
	return ""
}

func openDSN(t *testing.T, b backend, dsn string) *sql.DB {
	t.Helper()
	driverName := map[sqlstore.Dialect]string{sqlstore.Postgres: "pgx", sqlstore.MySQL: "mysql"}[b.dialect]
	db, err := sql.Open(driverName, dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(16)
	t.Cleanup(func() { db.Close() })
	return db
}

// proxiedStore returns a store that reaches the backend's server through a
// proxy, and the proxy. Its tables are created and dropped directly.
func proxiedStore(t *testing.T, b backend) (*sqlstore.Store, *tcpProxy) {
	t.Helper()
	direct := b.open(t) // skips if the server is down
	p := startProxy(t, serverAddr(b))
	s := newStoreWithMigrationDB(t, direct, openDSN(t, b, withAddr(t, b, p.addr)), b.dialect)
	return s, p
}

func serverAddr(b backend) string {
	if b.dialect == sqlstore.Postgres {
		return testenv.PostgresAddr(postgresDSN)
	}
	return testenv.MySQLAddr(mysqlDSN)
}

// newStoreWithMigrationDB is newStore with the tables created and dropped
// through migrateDB, so that the cleanup works whatever happened to db.
func newStoreWithMigrationDB(t *testing.T, migrateDB, db *sql.DB, d sqlstore.Dialect, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	prefix := uniquePrefix()
	opts = append([]sqlstore.Option{sqlstore.WithTablePrefix(prefix)}, opts...)
	require.NoError(t, sqlstore.Migrate(t.Context(), migrateDB, d, opts...))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := sqlstore.MigrateDown(ctx, migrateDB, d, sqlstore.WithTablePrefix(prefix)); err != nil {
			t.Errorf("dropping the test tables %s*: %v", prefix, err)
		}
	})
	s, err := sqlstore.New(db, d, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// ---- the server goes away ----

// TestUnavailable runs the storetest suites for an unreachable backend: the
// store was created while the server was up, then the server went away
// (port closed, connections cut). Every call must wrap ErrStoreUnavailable, and
// the store must recover by itself when the server is back.
func TestUnavailable(t *testing.T) {
	for _, b := range serverBackends() {
		t.Run(b.name, func(t *testing.T) {
			s, p := proxiedStore(t, b)
			ctx := t.Context()
			id := storetest.RandomCeremonyID()
			require.NoError(t, s.PutCeremony(ctx, id, []byte("before"), time.Now().Add(time.Hour)))

			p.stop()
			storetest.TestCredentialStoreUnavailable(t, func(t *testing.T) webauthnkit.CredentialStore { return s })
			storetest.TestChallengeStoreUnavailable(t, func(t *testing.T) webauthnkit.ChallengeStore { return s })

			p.restart(t)
			data, err := s.TakeCeremony(ctx, id)
			require.NoError(t, err, "the store must recover once the server is back")
			require.Equal(t, []byte("before"), data)
		})
	}
}

// TestUnavailableWithinDeadline: a server that accepts connections but never
// answers gives ErrStoreUnavailable when the caller's deadline passes, not a hang
// and not a generic error.
func TestUnavailableWithinDeadline(t *testing.T) {
	for _, b := range serverBackends() {
		t.Run(b.name, func(t *testing.T) {
			s, p := proxiedStore(t, b)
			p.blackhole.Store(true)
			p.dropConnections() // pooled connections would still work

			for _, call := range []struct {
				name string
				f    func(ctx context.Context) error
			}{
				{"GetCredential", func(ctx context.Context) error { _, err := s.GetCredential(ctx, []byte("id")); return err }},
				{"TakeCeremony", func(ctx context.Context) error { _, err := s.TakeCeremony(ctx, "id"); return err }},
			} {
				// A pooled connection the proxy has just dropped may fail at
				// once ("invalid connection": also ErrStoreUnavailable, seen on
				// MariaDB under CI load); try again until a call meets the
				// silent server and waits out its deadline.
				waited := false
				for attempt := 0; attempt < 4 && !waited; attempt++ {
					ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
					start := time.Now()
					err := call.f(ctx)
					cancel()
					took := time.Since(start)
					require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, call.name)
					require.Less(t, took, 3*time.Second, "%s returned long after the deadline", call.name)
					if took >= 400*time.Millisecond {
						require.ErrorIs(t, err, context.DeadlineExceeded, call.name)
						waited = true
					}
				}
				require.True(t, waited, "%s never reached the silent server", call.name)
			}

			p.blackhole.Store(false)
			p.dropConnections()
			_, err := s.GetCredential(t.Context(), []byte("id"))
			require.ErrorIs(t, err, webauthnkit.ErrNotFound, "the store must recover")
		})
	}
}

// TestNewUnreachable: New and Migrate against a closed port fail at once
// with ErrStoreUnavailable.
func TestNewUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := ln.Addr().String()
	ln.Close()

	for _, b := range serverBackends() {
		t.Run(b.name, func(t *testing.T) {
			db := openDSN(t, b, withAddr(t, b, closedAddr))
			start := time.Now()
			_, err := sqlstore.New(db, b.dialect)
			require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
			require.ErrorContains(t, err, "sqlstore: ")

			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			err = sqlstore.Migrate(ctx, db, b.dialect)
			require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
			require.Less(t, time.Since(start), 5*time.Second)
		})
	}
}

// ---- the server kills the store's connections ----

// killer terminates, from its own admin connection, every server session
// of the store under test.
type killer interface {
	kill(t *testing.T) int
}

type postgresKiller struct {
	admin   *sql.DB
	appName string
}

func (k postgresKiller) kill(t *testing.T) int {
	var n int
	require.NoError(t, k.admin.QueryRowContext(t.Context(), `
		SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`,
		k.appName).Scan(&n))
	return n
}

type mysqlKiller struct {
	admin *sql.DB
	user  string
}

func (k mysqlKiller) kill(t *testing.T) int {
	rows, err := k.admin.QueryContext(t.Context(),
		"SELECT id FROM information_schema.processlist WHERE user = ? AND id <> CONNECTION_ID()", k.user)
	require.NoError(t, err)
	var ids []int64
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	n := 0
	for _, id := range ids {
		// The session may have ended in between (unknown thread id: 1094).
		if _, err := k.admin.ExecContext(t.Context(), fmt.Sprintf("KILL %d", id)); err == nil {
			n++
		}
	}
	return n
}

// killableStore returns a store whose server sessions can be told apart from
// everyone else's (a PostgreSQL application_name, a MariaDB user of its
// own), and a killer for them.
func killableStore(t *testing.T, b backend) (*sqlstore.Store, *sql.DB, killer) {
	t.Helper()
	admin := b.open(t)
	admin.SetMaxOpenConns(1)
	tag := uniquePrefix() + "fault"
	switch b.dialect {
	case sqlstore.Postgres:
		u, err := url.Parse(postgresDSN)
		require.NoError(t, err)
		q := u.Query()
		q.Set("application_name", tag)
		u.RawQuery = q.Encode()
		db := openDSN(t, b, u.String())
		s := newStoreWithMigrationDB(t, admin, db, b.dialect)
		return s, db, postgresKiller{admin: admin, appName: tag}
	default:
		ctx := t.Context()
		for _, stmt := range []string{
			"CREATE USER '" + tag + "'@'%'",
			"CREATE USER '" + tag + "'@'localhost'",
			"GRANT ALL ON " + databaseName(t, admin) + ".* TO '" + tag + "'@'%'",
			"GRANT ALL ON " + databaseName(t, admin) + ".* TO '" + tag + "'@'localhost'",
		} {
			_, err := admin.ExecContext(ctx, stmt)
			require.NoError(t, err, stmt)
		}
		t.Cleanup(func() {
			admin.Exec("DROP USER '" + tag + "'@'%'")
			admin.Exec("DROP USER '" + tag + "'@'localhost'")
		})
		cfg, err := mysql.ParseDSN(mysqlDSN)
		require.NoError(t, err)
		cfg.User, cfg.Passwd = tag, ""
		db := openDSN(t, b, cfg.FormatDSN())
		s := newStoreWithMigrationDB(t, admin, db, b.dialect)
		return s, db, mysqlKiller{admin: admin, user: tag}
	}
}

func databaseName(t *testing.T, db *sql.DB) string {
	var name string
	require.NoError(t, db.QueryRowContext(t.Context(), "SELECT DATABASE()").Scan(&name))
	return name
}

// TestServerKillsConnections: the server terminates every connection of the
// store while it is busy. Calls in flight may fail, but only with
// ErrStoreUnavailable, and the store carries on by itself: database/sql drops the
// dead connections and opens new ones.
//
// A call that draws a dead idle connection from the pool fails when the
// driver cannot tell that the statement never ran: pgx reads PostgreSQL's
// "terminating connection" (57P01) as the answer to the statement it just
// sent. That costs at most one failed call per dead idle connection. The
// MySQL driver checks an idle connection's socket before using it and
// database/sql retries on another, so there it usually costs nothing.
func TestServerKillsConnections(t *testing.T) {
	for _, b := range serverBackends() {
		t.Run(b.name, func(t *testing.T) {
			s, db, k := killableStore(t, b)
			ctx := t.Context()
			u := storetest.RandomUser()
			c := storetest.RandomCredential(u.Handle)
			require.NoError(t, s.CreateUser(ctx, u, &c))

			// Workers run a login-like mix of calls until stopped.
			var (
				stop        atomic.Bool
				wg          sync.WaitGroup
				calls, errs atomic.Int64
				mu          sync.Mutex
				unexpected  []error
			)
			record := func(err error) {
				calls.Add(1)
				if err == nil {
					return
				}
				errs.Add(1)
				if !errors.Is(err, webauthnkit.ErrStoreUnavailable) && !errors.Is(err, webauthnkit.ErrConflict) {
					mu.Lock()
					unexpected = append(unexpected, err)
					mu.Unlock()
				}
			}
			for w := range 6 {
				wg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						id := fmt.Sprintf("fault-%d-%d", w, i)
						err := s.PutCeremony(ctx, id, []byte("data"), time.Now().Add(time.Minute))
						record(err)
						if err == nil {
							_, err = s.TakeCeremony(ctx, id)
							record(err)
						}
						got, err := s.GetCredential(ctx, c.ID)
						record(err)
						if err == nil {
							record(s.UpdateCredentialUse(ctx, c.ID, got.SignCount,
								webauthnkit.CredentialUse{SignCount: got.SignCount + 1, LastUsedAt: time.Now()}))
						}
					}
				})
			}

			killed := 0
			for range 3 {
				time.Sleep(150 * time.Millisecond)
				killed += k.kill(t)
			}
			time.Sleep(150 * time.Millisecond)
			stop.Store(true)
			wg.Wait()
			require.NotZero(t, killed, "no connection of the store was found to kill")
			require.Empty(t, unexpected, "errors other than ErrStoreUnavailable (or a lost CAS race) while connections were killed")
			t.Logf("killed %d connections; %d of %d calls failed with ErrStoreUnavailable or ErrConflict", killed, errs.Load(), calls.Load())

			// Now with every connection idle in the pool, and dead: each
			// dead connection may fail one call, no more.
			idle := db.Stats().Idle
			require.NotZero(t, k.kill(t))
			time.Sleep(50 * time.Millisecond) // let the server finish closing them
			failures := 0
			afterKill := map[string]func() error{
				"GetCredential":   func() error { _, err := s.GetCredential(ctx, c.ID); return err },
				"GetUserByName":   func() error { _, err := s.GetUserByName(ctx, u.Name); return err },
				"ListCredentials": func() error { _, err := s.ListCredentials(ctx, u.Handle); return err },
				"RenameCredential": func() error {
					return s.RenameCredential(ctx, u.Handle, c.ID, "after the kill")
				},
				"PutCeremony": func() error {
					return s.PutCeremony(ctx, storetest.RandomCeremonyID(), []byte("x"), time.Now().Add(time.Minute))
				},
				"AddCredential": func() error { return s.AddCredential(ctx, storetest.RandomCredential(u.Handle)) },
				// Unchanged values: on MySQL the locked second UPDATE runs too.
				"UpdateUser": func() error { return s.UpdateUser(ctx, u.Handle, u.Name, u.DisplayName) },
				"CreateUser": func() error { return s.CreateUser(ctx, storetest.RandomUser(), nil) },
			}
			for name, call := range afterKill {
				err := call()
				for err != nil && failures < idle {
					failures++
					require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, "%s right after the kill", name)
					err = call()
				}
				require.NoError(t, err, "%s after the kill, %d calls failed with %d dead idle connections", name, failures, idle)
			}
			t.Logf("after killing %d idle connections: %d failed calls", idle, failures)
		})
	}
}
