package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/webauthnkit/webauthnkit/audit"
	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/webauthnotel"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

func attrKey(set attribute.Set) string {
	var parts []string
	for _, kv := range set.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// With Telemetry and AuditLog the app reports its ceremonies, store calls
// and rate-limit refusals to both.
func TestMonitoring(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	tel, err := webauthnotel.New(webauthnotel.Options{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	lines := &lockedBuffer{}
	a := start(t, app.Config{
		Telemetry: tel,
		AuditLog:  audit.NewJSON(lines, audit.Options{}),
		// Four begins, never refilled (the test's peer is 127.0.0.1).
		RateLimit: httpadapter.RateLimit{Begin: httpadapter.Rate{PerSecond: 1e-6, Burst: 4}},
	})
	b := newBrowser(t, a)
	b.signUp("alice", "Alice")
	b.signIn("alice")
	resp, err := b.device.Login(b.api("login/begin", []byte(`{}`)), webauthntest.BadSignature())
	if err != nil {
		t.Fatal(err)
	}
	if status, body, _ := b.do(http.MethodPost, "/passkeys/login/finish", "application/json", resp, a.URL); status != http.StatusUnauthorized {
		t.Fatalf("a bad signature = %d %s", status, body)
	}
	b.api("login/begin", []byte(`{}`))
	if status, _, _ := b.do(http.MethodPost, "/passkeys/login/begin", "application/json", []byte(`{}`), a.URL); status != http.StatusTooManyRequests {
		t.Fatalf("the fifth begin = %d, want 429", status)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[m.Name+" "+attrKey(p.Attributes)] = p.Count
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[m.Name+" "+attrKey(p.Attributes)] = uint64(p.Value)
				}
			}
		}
	}
	for k, want := range map[string]uint64{
		"webauthnkit.ceremony.duration ceremony=registration,outcome=success":                1,
		"webauthnkit.ceremony.duration ceremony=login,outcome=success":                       1,
		"webauthnkit.ceremony.duration ceremony=login,code=invalid_response,outcome=failure": 1,
		"webauthnkit.ratelimit.refusals budget=client,class=begin":                           1,
		"webauthnkit.store.duration method=PutCeremony,result=ok,store=ceremonies":           4,
	} {
		if got[k] != want {
			t.Errorf("%s = %d, want %d", k, got[k], want)
		}
	}
	if t.Failed() {
		t.Logf("metrics: %v", got)
	}

	events := map[string]map[string]any{}
	for line := range strings.SplitSeq(strings.TrimSpace(lines.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		events[m["event"].(string)] = m
	}
	for _, ev := range []string{"registration.succeeded", "login.succeeded", "login.failed", "http.rate_limited"} {
		if events[ev] == nil {
			t.Errorf("no %s audit line in\n%s", ev, lines.String())
		}
	}
	if ip := events["http.rate_limited"]["client_ip"]; ip != "127.0.0.1" {
		t.Errorf("rate-limit audit line names %v, want 127.0.0.1", ip)
	}
	if strings.Contains(lines.String(), "alice") {
		t.Error("the audit log names the user without IncludeUsername")
	}
}
