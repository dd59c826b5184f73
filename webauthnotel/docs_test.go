package webauthnotel_test

import (
	"os"
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
