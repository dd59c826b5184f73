package app

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

func TestRedisOptions(t *testing.T) {
	o, err := redisOptions("redis://app:s3cret-pw@cache.internal:6380/2")
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != "cache.internal:6380" || o.Username != "app" || o.Password != "s3cret-pw" || o.DB != 2 || o.TLSConfig != nil {
		t.Errorf("redis:// URL parsed as %+v", o)
	}
	if o.DialTimeout != redisDialTimeout || o.ReadTimeout != redisReadTimeout || o.WriteTimeout != redisWriteTimeout || o.DialerRetries != 1 || !o.ContextTimeoutEnabled {
		t.Errorf("timeouts not set: dial %v read %v write %v retries %d ctx %v", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.DialerRetries, o.ContextTimeoutEnabled)
	}
	o, err = redisOptions("rediss://:pw@cache.internal/0")
	if err != nil {
		t.Fatal(err)
	}
	if o.TLSConfig == nil || o.TLSConfig.ServerName != "cache.internal" || o.Password != "pw" || o.Addr != "cache.internal:6379" {
		t.Errorf("rediss:// URL parsed as %+v", o)
	}
	o, err = redisOptions("127.0.0.1:6379")
	if err != nil || o.Addr != "127.0.0.1:6379" || o.ReadTimeout != redisReadTimeout {
		t.Errorf("host:port: %+v, %v", o, err)
	}
	for _, bad := range []string{"redis://u:hunter2@host:notaport/x", "http://u:hunter2@host/", "hunter2-no-port"} {
		_, err := redisOptions(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
}

// The app's Redis client really sends AUTH: with a password the server
// does not have, opening the stores fails (and the error shows no password).
func TestRedisURLAuthIsSent(t *testing.T) {
	addr := testenv.RedisAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := openStores(ctx, Config{RedisAddr: "redis://" + addr + "/0", Now: time.Now})
	if err != nil {
		testenv.Unavailable(t, "Redis", addr, err, "bash scripts/services.sh")
	}
	st.Close()
	_, err = openStores(ctx, Config{RedisAddr: "redis://nobody:wrong-hunter2@" + addr + "/0", Now: time.Now})
	if err == nil {
		t.Fatal("a wrong Redis user and password were accepted")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error repeats the password: %v", err)
	}
}

// The SQL pool keeps as many idle connections as it may open, so a burst
// does not open and close connections per request.
func TestSQLPoolSized(t *testing.T) {
	ctx := context.Background()
	st, err := openStores(ctx, Config{SQLitePath: filepath.Join(t.TempDir(), "p.db"), DBConns: 6, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := st.db.Stats().MaxOpenConnections; got != 6 {
		t.Errorf("MaxOpenConnections %d, want 6", got)
	}
	// Hold 6 connections at once, then release them: all stay idle (the
	// database/sql default would keep 2).
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 6 {
		wg.Go(func() {
			tx, err := st.db.BeginTx(ctx, nil)
			if err != nil {
				t.Error(err)
				return
			}
			<-start
			tx.Rollback()
		})
	}
	for st.db.Stats().InUse < 6 {
		time.Sleep(time.Millisecond)
	}
	close(start)
	wg.Wait()
	if idle := st.db.Stats().Idle; idle != 6 {
		t.Errorf("%d idle connections after a burst of 6, want 6", idle)
	}
}

// The demo adds connect and statement timeouts to a PostgreSQL DSN, and the
// driver's timeouts to a MySQL DSN, unless they are given.
func TestStoreDSNTimeouts(t *testing.T) {
	t.Setenv("PGCONNECT_TIMEOUT", "")
	for in, want := range map[string]string{
		"postgres://u:pw@db:5432/app?sslmode=disable":                        "postgres://u:pw@db:5432/app?connect_timeout=2&sslmode=disable&statement_timeout=10s",
		"postgres://db/app?connect_timeout=9&statement_timeout=1s":           "postgres://db/app?connect_timeout=9&statement_timeout=1s",
		"host=db user=u dbname=app":                                          "host=db user=u dbname=app connect_timeout=2 statement_timeout=10s",
		"host=db connect_timeout=7 options='-c statement_timeout=3s' user=u": "host=db connect_timeout=7 options='-c statement_timeout=3s' user=u",
	} {
		got, err := postgresDSN(in)
		if err != nil || got != want {
			t.Errorf("postgresDSN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := postgresDSN("postgres://u:hunter2@db:notaport/x"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad URL: %v", err)
	}
	got, err := mysqlDSN("root:pw@tcp(127.0.0.1:3306)/test?interpolateParams=true")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"timeout=2s", "readTimeout=10s", "writeTimeout=10s", "interpolateParams=true"} {
		if !strings.Contains(got, p) {
			t.Errorf("mysqlDSN: %q lacks %s", got, p)
		}
	}
	if got, err := mysqlDSN("root@tcp(127.0.0.1:3306)/test"); err != nil || !strings.Contains(got, "interpolateParams=true") {
		t.Errorf("mysqlDSN without interpolateParams: %q %v, want it on (one round trip per query)", got, err)
	}
	if got, err := mysqlDSN("root@tcp(127.0.0.1:3306)/test?interpolateParams=false"); err != nil || strings.Contains(got, "interpolateParams=true") {
		t.Errorf("mysqlDSN overrode interpolateParams=false: %q %v", got, err)
	}
	got, err = mysqlDSN("root@tcp(127.0.0.1:3306)/test?readTimeout=1s")
	if err != nil || !strings.Contains(got, "readTimeout=1s") {
		t.Errorf("mysqlDSN kept readTimeout? %q %v", got, err)
	}
}
