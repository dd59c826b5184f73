package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// The /metrics listener serves the names docs/monitoring.md lists, in
// Prometheus' text format.
func TestMetricsEndpoint(t *testing.T) {
	m, err := startMetrics("127.0.0.1:0", discard)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	ctx := context.Background()
	m.tel.OnEvent(ctx, webauthnkit.Event{Type: webauthnkit.EventLoginSucceeded, Duration: 3 * time.Millisecond})
	m.tel.OnEvent(ctx, webauthnkit.Event{Type: webauthnkit.EventLoginFailed, Code: webauthnkit.CodeUnknownCredential, Duration: time.Millisecond})
	m.tel.OnEvent(ctx, webauthnkit.Event{Type: webauthnkit.EventCounterRegression})
	m.tel.OnRateLimited(httptest.NewRequest("POST", "/", nil), httpadapter.Refusal{Class: "begin", Client: netip.MustParseAddr("192.0.2.1")})
	mem, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if _, err := m.tel.CredentialStore(mem).GetUserByName(ctx, "nobody"); err == nil {
		t.Fatal("found nobody")
	}

	res, err := http.Get("http://" + m.l.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := string(body)
	for _, want := range []string{
		`webauthnkit_ceremony_duration_seconds_count{ceremony="login",otel_scope_name="github.com/webauthnkit/webauthnkit/webauthnotel",otel_scope_schema_url="",otel_scope_version="",outcome="success"} 1`,
		`webauthnkit_ceremony_duration_seconds_bucket{ceremony="login",code="unknown_credential",`,
		`webauthnkit_events_total{otel_scope_name="github.com/webauthnkit/webauthnkit/webauthnotel",otel_scope_schema_url="",otel_scope_version="",type="credential.counter_regression"} 1`,
		`webauthnkit_ratelimit_refusals_total{budget="client",class="begin",`,
		`webauthnkit_store_duration_seconds_count{method="GetUserByName",otel_scope_name="github.com/webauthnkit/webauthnkit/webauthnotel",otel_scope_schema_url="",otel_scope_version="",result="not_found",store="credentials"} 1`,
		"go_goroutines ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, "192.0.2.1") || strings.Contains(text, "nobody") {
		t.Error("/metrics holds a client address or a name")
	}
	if t.Failed() || os.Getenv("DUMP") != "" {
		t.Log(text)
	}
}

// -audit-log writes JSON lines to a file only its owner can read;
// -audit-usernames alone is refused.
func TestMonitoringFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var cfg app.Config
	stop, err := monitoring(&cfg, "", path, false, discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuditLog == nil || cfg.Telemetry != nil {
		t.Fatalf("AuditLog %v, Telemetry %v", cfg.AuditLog, cfg.Telemetry)
	}
	cfg.AuditLog.OnEvent(context.Background(), webauthnkit.Event{Type: webauthnkit.EventUserDeleted, UserHandle: []byte{1}})
	stop()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v", fi.Mode())
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"event":"user.deleted"`) {
		t.Errorf("audit log: %s", data)
	}
	if _, err := monitoring(&app.Config{}, "", "", true, discard); err == nil {
		t.Error("-audit-usernames without -audit-log accepted")
	}
	if _, err := monitoring(&app.Config{}, "no-port", "", false, discard); err == nil {
		t.Error("a bad -metrics-addr accepted")
	}
}
