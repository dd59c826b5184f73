package testenv

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records Skip and Fatal instead of ending
// the test, so the CI rule itself can be checked.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped, r.msg = true, fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any) { r.failed, r.msg = true, fmt.Sprint(args...) }

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRequireSkipsOrFailsUnderCI(t *testing.T) {
	addr := closedAddr(t)
	for _, ci := range []string{"", "false", "true", "1"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			r := &recorder{}
			Require(r, "PostgreSQL", addr, HowToStartPostgres)
			wantFail := ci == "true" || ci == "1"
			if r.failed != wantFail || r.skipped == wantFail {
				t.Fatalf("CI=%q: failed=%v skipped=%v, want failed=%v", ci, r.failed, r.skipped, wantFail)
			}
			for _, want := range []string{"PostgreSQL", addr, HowToStartPostgres, "scripts/services.sh"} {
				if !strings.Contains(r.msg, want) {
					t.Errorf("message %q does not name %q", r.msg, want)
				}
			}
		})
	}
}

func TestRequirePassesWhenListening(t *testing.T) {
	t.Setenv("CI", "true")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := &recorder{}
	Require(r, "Redis", ln.Addr().String(), HowToStartRedis)
	if r.failed || r.skipped {
		t.Fatalf("a listening server was reported missing: %s", r.msg)
	}
}

// A missing server costs one dial per test binary, not one per test.
func TestRequireProbesOnce(t *testing.T) {
	addr := closedAddr(t)
	Require(&recorder{}, "x", addr, "")
	probe, ok := probes.Load(addr)
	if !ok {
		t.Fatal("no probe remembered")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); Require(&recorder{}, "x", addr, "") }()
	}
	wg.Wait()
	if again, _ := probes.Load(addr); fmt.Sprint(again) != fmt.Sprint(probe) {
		t.Fatal("the probe was replaced")
	}
}

func TestServerDefaultsAndOverrides(t *testing.T) {
	t.Setenv(PostgresDSNEnv, "")
	t.Setenv(MySQLDSNEnv, "")
	t.Setenv(RedisAddrEnv, "")
	if PostgresDSN() != DefaultPostgresDSN || MySQLDSN() != DefaultMySQLDSN || RedisAddr() != DefaultRedisAddr {
		t.Fatalf("defaults: %q %q %q", PostgresDSN(), MySQLDSN(), RedisAddr())
	}
	t.Setenv(PostgresDSNEnv, "postgres://u@db:6543/x")
	t.Setenv(MySQLDSNEnv, "u@tcp(db:3307)/x")
	t.Setenv(RedisAddrEnv, "cache:6380")
	if PostgresDSN() != "postgres://u@db:6543/x" || MySQLDSN() != "u@tcp(db:3307)/x" || RedisAddr() != "cache:6380" {
		t.Fatalf("overrides: %q %q %q", PostgresDSN(), MySQLDSN(), RedisAddr())
	}
	// The defaults point at the servers scripts/services.sh sets up.
	if PostgresAddr(DefaultPostgresDSN) != "127.0.0.1:5432" || MySQLAddr(DefaultMySQLDSN) != "127.0.0.1:3306" {
		t.Fatal("defaults are not the local test servers")
	}
}

func TestDSNAddresses(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable": "127.0.0.1:5432",
		"postgres://app:secret@db.internal/app":                   "db.internal:5432",
		"postgres://[::1]:6543/x":                                 "[::1]:6543",
		"host=/run/postgresql dbname=test":                        "", // key=value form: not probed
	} {
		if got := PostgresAddr(dsn); got != want {
			t.Errorf("PostgresAddr(%q) = %q, want %q", dsn, got, want)
		}
	}
	for dsn, want := range map[string]string{
		"root@tcp(127.0.0.1:3306)/test?interpolateParams=true": "127.0.0.1:3306",
		"app:pw@tcp(db)/app":                      "db:3306",
		"root@unix(/run/mysqld/mysqld.sock)/test": "",
		"root@tcp(/x":                             "",
	} {
		if got := MySQLAddr(dsn); got != want {
			t.Errorf("MySQLAddr(%q) = %q, want %q", dsn, got, want)
		}
	}
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprint(&b, "x")
			}
		}()
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Fatalf("%d bytes, want 800", n)
	}
}
