package webauthnotel_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/webauthnkit/webauthnkit/webauthnotel"
)

// docs/monitoring.md lists every instrument under its OpenTelemetry and
// Prometheus names (the demo's /metrics test checks the latter are what
// the exporter serves).
func TestDocsListEveryInstrument(t *testing.T) {
	data, err := os.ReadFile("../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, name := range []string{
		"| `" + webauthnotel.MetricCeremonyDuration + "` | `webauthnkit_ceremony_duration_seconds`",
		"| `" + webauthnotel.MetricEvents + "` | `webauthnkit_events_total`",
		"| `" + webauthnotel.MetricStoreDuration + "` | `webauthnkit_store_duration_seconds`",
		"| `" + webauthnotel.MetricRateLimitRefusals + "` | `webauthnkit_ratelimit_refusals_total`",
	} {
		if !strings.Contains(doc, name) {
			t.Errorf("docs/monitoring.md lacks the row %q", name)
		}
	}
}

// Every Prometheus series name in docs/monitoring.md (the alert rules
// included) is one the exporter serves (TestMetricsEndpoint in the demo
// checks the base names against a real scrape).
func TestDocsNameOnlyServedSeries(t *testing.T) {
	data, err := os.ReadFile("../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, h := range []string{"webauthnkit_ceremony_duration_seconds", "webauthnkit_store_duration_seconds"} {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			served[h+suffix] = true
		}
	}
	served["webauthnkit_events_total"] = true
	served["webauthnkit_ratelimit_refusals_total"] = true
	names := regexp.MustCompile(`webauthnkit_[a-z_]+`).FindAllString(string(data), -1)
	if len(names) < 10 {
		t.Fatalf("only %d series names found", len(names))
	}
	for _, n := range names {
		if !served[n] {
			t.Errorf("docs/monitoring.md names %s, which is not served", n)
		}
	}
}
