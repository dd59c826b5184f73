package main

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// localhost means both loopback addresses, on one port.
func TestListenLocalhost(t *testing.T) {
	ls, err := listen("localhost", "0", discard)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var hosts []string
	port := ""
	for _, l := range ls {
		h, p, _ := net.SplitHostPort(l.Addr().String())
		hosts = append(hosts, h)
		if port != "" && p != port {
			t.Errorf("ports differ: %s and %s", port, p)
		}
		port = p
	}
	if hosts[0] != "127.0.0.1" {
		t.Errorf("first listener on %s, want 127.0.0.1", hosts[0])
	}
	if len(ls) == 2 && hosts[1] != "::1" {
		t.Errorf("second listener on %s, want ::1", hosts[1])
	}
	if len(ls) == 1 {
		t.Log("no IPv6 loopback on this machine")
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "no-port"},
		{"extra"},
		{"-nosuchflag"},
		{"-addr", "localhost:0", "-rpid", "https://example.com", "-db", t.TempDir() + "/x.db"},
		{"-addr", "localhost:0", "-db", t.TempDir() + "/x.db", "-attestation", "enforce"}, // no -mds
		{"-addr", "localhost:0", "-db", t.TempDir() + "/x.db", "-attestation", "sometimes"},
		{"-addr", "localhost:0", "-db", t.TempDir() + "/x.db", "-attestation", "monitor", "-mds", t.TempDir() + "/missing.jwt"},
	} {
		if err := run(args, discard); err == nil {
			t.Errorf("run(%s) succeeded", strings.Join(args, " "))
		}
	}
}

func TestParseRateLimit(t *testing.T) {
	rl, err := parseRateLimit("on", "")
	if err != nil || rl.Disabled || rl.Begin.PerSecond != 0 || len(rl.TrustedProxies) != 0 {
		t.Errorf("on: %+v, %v (want the adapter's defaults)", rl, err)
	}
	rl, err = parseRateLimit("off", "")
	if err != nil || !rl.Disabled {
		t.Errorf("off: %+v, %v", rl, err)
	}
	rl, err = parseRateLimit("begin=5/50, manage=40/400", "10.0.0.0/8, 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if rl.Begin.PerSecond != 5 || rl.Begin.Burst != 50 || rl.Manage.PerSecond != 40 || rl.Manage.Burst != 400 || rl.Finish.PerSecond != 0 {
		t.Errorf("budgets: %+v", rl)
	}
	if strings.Join(rl.TrustedProxies, " ") != "10.0.0.0/8 192.0.2.1" {
		t.Errorf("proxies: %q", rl.TrustedProxies)
	}
	for _, bad := range []string{"begin=10", "begin=x/1", "begin=1/0", "begin=-1/5", "login=1/1", "sometimes"} {
		if _, err := parseRateLimit(bad, ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// A bad proxy CIDR is refused when the app builds the adapter.
	if err := run([]string{"-addr", "localhost:0", "-db", t.TempDir() + "/x.db", "-trusted-proxies", "10.0.0.0/99"}, discard); err == nil || !strings.Contains(err.Error(), "TrustedProxies") {
		t.Errorf("a bad trusted proxy gave %v", err)
	}
}
