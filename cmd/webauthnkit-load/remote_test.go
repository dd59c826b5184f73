package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// startDemo serves the passkeys demo (memory stores) on a loopback port,
// as a deployment the tool knows nothing about, with origin
// http://<host>:<port> and RP ID localhost. Rate limits are raised: the
// whole load comes from one address.
func startDemo(t *testing.T, host string) (base string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base = "http://" + host + ":" + port
	many := httpadapter.Rate{PerSecond: 1e6, Burst: 1 << 30}
	h, closer, err := app.New(app.Config{
		RPID: "localhost", Origins: []string{base},
		RateLimit: httpadapter.RateLimit{Begin: many, Finish: many, Manage: many, Account: many, CeremoniesInFlight: 1 << 40},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); closer.Close() })
	return base
}

// TestDriveDeployment drives a server the tool did not start (the demo)
// through its HTTP API alone, with a short run bounded by -max-requests,
// and checks the report.
func TestDriveDeployment(t *testing.T) {
	base := startDemo(t, "localhost")
	r, stdout, stderr := runTool(t,
		"-target", base+"/passkeys", "-origin", base, "-rp-id", "localhost",
		"-users", "4", "-warmup", "0", "-duration", "3s", "-max-requests", "120",
		"-progress", "100ms")
	if r.Store != "external" || r.InProcess || r.Signups != 4 || r.Errors != 0 {
		t.Errorf("run = %+v", r)
	}
	// Bounded by -max-requests: 8 sign-up requests, then logins of two
	// requests each up to 120.
	if r.Requests > 120 || r.Logins < 1 || r.Logins > 56 || 8+2*r.Logins > 120 {
		t.Errorf("requests %d, logins %d: want at most 120 requests", r.Requests, r.Logins)
	}
	if r.Seconds >= 3 && r.Logins < 56 {
		t.Errorf("the run took the whole -duration (%v s) with %d logins: not stopped by -max-requests", r.Seconds, r.Logins)
	}
	if r.Login.N != int(r.Logins) || r.Login.P99 <= 0 || r.Finish.P99 <= 0 || r.ProcessCPUPerLoginMs <= 0 {
		t.Errorf("latencies/CPU missing: %+v", r)
	}
	if len(r.StoreCallsPerLogin) != 0 {
		t.Errorf("store calls of a server the tool cannot see: %v", r.StoreCallsPerLogin)
	}
	// The progress bar went to stderr (not a terminal: one line per update).
	if !strings.Contains(stderr, "%") || !strings.Contains(stderr, "[#") {
		t.Errorf("no progress bar on stderr:\n%s", stderr)
	}
	if !strings.Contains(stdout, "logins/s") {
		t.Errorf("no summary:\n%s", stdout)
	}
}

// The origin and the RP ID must agree, and the server's RP ID must be the
// one given: a mistake is reported before any load is sent, or at the
// first sign-up, never as a run of failed logins.
func TestDeploymentRPIDChecked(t *testing.T) {
	base := startDemo(t, "localhost")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-rp-id", "example.com"}, "cannot use RP ID"},
		{[]string{"-origin", "http://passkeys.example.com", "-rp-id", "example.com"}, "https"},
		{[]string{"-rp-id", "localhost", "-remote=false", "-origin", "https://localhost.example.com"}, "cannot use RP ID"},
	} {
		var stderr bytes.Buffer
		args := append([]string{"-target", base + "/passkeys", "-users", "1", "-duration", "1s", "-q"}, tc.args...)
		if code := realMain(args, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q (want %q)", tc.args, code, stderr.String(), tc.want)
		}
	}
	// Flags that agree with each other but not with the server.
	var stderr bytes.Buffer
	// A demo served at http://127.0.0.1:<port> with RP ID localhost.
	ip := startDemo(t, "127.0.0.1")
	code := realMain([]string{"-target", ip + "/passkeys", "-origin", ip, "-rp-id", "127.0.0.1", "-users", "1", "-duration", "1s", "-q"}, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), `the server's RP ID is "localhost", not -rp-id "127.0.0.1"`) {
		t.Errorf("server RP ID mismatch: exit %d, stderr %q", code, stderr.String())
	}
	// Without -remote a non-loopback target is refused; -max-requests too
	// small for the sign-ups is refused.
	if code := realMain([]string{"-target", "https://passkeys.example.com/passkeys"}, io.Discard, &stderr); code != 2 {
		t.Errorf("non-loopback without -remote: exit %d", code)
	}
	if code := realMain([]string{"-target", base + "/passkeys", "-users", "10", "-max-requests", "5"}, io.Discard, &stderr); code != 2 {
		t.Errorf("-max-requests 5 for 10 users: exit %d", code)
	}
}
