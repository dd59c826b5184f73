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
	} {
		if err := run(args, discard); err == nil {
			t.Errorf("run(%s) succeeded", strings.Join(args, " "))
		}
	}
}
