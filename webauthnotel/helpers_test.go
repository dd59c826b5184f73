package webauthnotel_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/webauthnotel"
)

const (
	rpID   = "example.com"
	origin = "https://example.com"
)

// sdk is an OpenTelemetry SDK that keeps everything in memory: metrics
// through a ManualReader, spans through a SpanRecorder.
type sdk struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tracer *sdktrace.TracerProvider
	tel    *webauthnotel.Telemetry
}

func newSDK(t testing.TB) *sdk {
	t.Helper()
	s := &sdk{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	s.tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = s.tracer.Shutdown(context.Background())
	})
	tel, err := webauthnotel.New(webauthnotel.Options{MeterProvider: mp, TracerProvider: s.tracer})
	require.NoError(t, err)
	s.tel = tel
	return s
}

// metrics collects the current values.
func (s *sdk) metrics(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, s.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, webauthnotel.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// key renders an attribute set as "k=v,k=v" (sorted by key).
func key(set attribute.Set) string {
	var parts []string
	for _, kv := range set.ToSlice() {
		parts = append(parts, fmt.Sprintf("%s=%s", kv.Key, kv.Value.String()))
	}
	return strings.Join(parts, ",")
}

// counts returns a counter's values, or a histogram's counts, by attribute
// set.
func counts(t testing.TB, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out[key(p.Attributes)] = p.Value
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out[key(p.Attributes)] = int64(p.Count)
		}
	default:
		t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
	}
	return out
}

// allAttributeValues lists every attribute value of every metric data point,
// span, span event and span status description recorded.
func (s *sdk) allAttributeValues(t testing.TB) []string {
	var vals []string
	for _, m := range s.metrics(t) {
		var sets []attribute.Set
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				sets = append(sets, p.Attributes)
			}
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				sets = append(sets, p.Attributes)
			}
		}
		for _, set := range sets {
			for _, kv := range set.ToSlice() {
				vals = append(vals, kv.Value.String())
			}
		}
	}
	for _, sp := range s.spans.Ended() {
		vals = append(vals, sp.Name(), sp.Status().Description)
		for _, kv := range sp.Attributes() {
			vals = append(vals, kv.Value.String())
		}
		for _, ev := range sp.Events() {
			vals = append(vals, ev.Name)
			for _, kv := range ev.Attributes {
				vals = append(vals, kv.Value.String())
			}
		}
	}
	return vals
}

// requireNoSecret fails if any recorded value contains one of the secrets,
// raw or base64url (either padding), or the name.
func requireNoSecret(t testing.TB, vals []string, secrets [][]byte, names ...string) {
	t.Helper()
	var needles []string
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		needles = append(needles, string(s), base64.RawURLEncoding.EncodeToString(s),
			base64.StdEncoding.EncodeToString(s), fmt.Sprintf("%x", s))
	}
	needles = append(needles, names...)
	for _, v := range vals {
		for _, n := range needles {
			if n != "" && strings.Contains(v, n) {
				t.Fatalf("recorded value %q contains a secret or personal value %q", v, n)
			}
		}
	}
}

func accountEvent(typ string) account.Event {
	return account.Event{Type: account.EventType(typ), UserHandle: []byte("handle-not-recorded"), Username: "carol"}
}
