// Package webauthnotel reports webauthnkit's activity as OpenTelemetry
// metrics and traces: ceremony counts and latencies by outcome and error
// code, every event by type, the latency and result of each store call, and
// the adapter's rate-limit refusals. It is a separate package so that the
// core (package webauthnkit) does not import OpenTelemetry.
//
// Wire it in three places (docs/monitoring.md has the full list of
// instruments and an example alert rule):
//
//	tel, err := webauthnotel.New(webauthnotel.Options{}) // the global providers
//	creds, cers := tel.CredentialStore(creds), tel.ChallengeStore(cers)
//	rp, err := webauthnkit.New(webauthnkit.Config{..., Credentials: creds, Ceremonies: cers,
//		OnEvent: tel.OnEvent})
//	h, err := httpadapter.New(rp, httpadapter.Options{...,
//		RateLimit: httpadapter.RateLimit{OnRefused: tel.OnRateLimited}})
//
// Nothing it records identifies a person or a passkey: no user handle,
// name, credential ID, challenge, key or error text appears in an
// attribute (metrics would also grow without bound with them). Who failed
// to sign in belongs in the audit log (package audit), not in metrics.
package webauthnotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/webauthnkit/webauthnkit/webauthnotel"

// The instruments' names (docs/monitoring.md gives their Prometheus names).
const (
	MetricCeremonyDuration  = "webauthnkit.ceremony.duration"
	MetricEvents            = "webauthnkit.events"
	MetricStoreDuration     = "webauthnkit.store.duration"
	MetricRateLimitRefusals = "webauthnkit.ratelimit.refusals"
)

// DurationBuckets are the histogram bounds of the ceremony and store
// durations, in seconds: from 100 µs (a memstore call) to 10 s (a hung
// store), about three per decade.
var DurationBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Options configures New.
type Options struct {
	// MeterProvider makes the meter. Default: otel.GetMeterProvider() (a
	// no-op until the application sets one).
	MeterProvider metric.MeterProvider
	// TracerProvider makes the tracer. Default: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
}

// Telemetry records webauthnkit's activity. Build it with New; it is safe
// for concurrent use.
type Telemetry struct {
	tracer    trace.Tracer
	ceremony  metric.Float64Histogram
	events    metric.Int64Counter
	store     metric.Float64Histogram
	refusals  metric.Int64Counter
	loginOK   metric.MeasurementOption // precomputed attribute sets of the
	regOK     metric.MeasurementOption // common outcomes
	storeOK   [numMethods]metric.MeasurementOption
	eventSets map[string]metric.MeasurementOption
}

// New makes the instruments.
func New(opts Options) (*Telemetry, error) {
	mp, tp := opts.MeterProvider, opts.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	m := mp.Meter(ScopeName)
	t := &Telemetry{tracer: tp.Tracer(ScopeName)}
	var err error
	if t.ceremony, err = m.Float64Histogram(MetricCeremonyDuration,
		metric.WithDescription("Duration of finished registration and login ceremonies (Finish calls), by ceremony, outcome and error code."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(DurationBuckets...)); err != nil {
		return nil, err
	}
	if t.events, err = m.Int64Counter(MetricEvents,
		metric.WithDescription("webauthnkit and account events, by type."),
		metric.WithUnit("{event}")); err != nil {
		return nil, err
	}
	if t.store, err = m.Float64Histogram(MetricStoreDuration,
		metric.WithDescription("Duration of credential and challenge store calls, by store, method and result."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(DurationBuckets...)); err != nil {
		return nil, err
	}
	if t.refusals, err = m.Int64Counter(MetricRateLimitRefusals,
		metric.WithDescription("Requests refused with 429 by the HTTP adapter's rate limit, by endpoint class and budget (client or global)."),
		metric.WithUnit("{request}")); err != nil {
		return nil, err
	}
	t.loginOK = ceremonyAttrs(ceremonyLogin, outcomeSuccess, "")
	t.regOK = ceremonyAttrs(ceremonyRegistration, outcomeSuccess, "")
	for m := range numMethods {
		t.storeOK[m] = storeAttrs(m, resultOK)
	}
	t.eventSets = make(map[string]metric.MeasurementOption)
	for _, typ := range knownEventTypes {
		t.eventSets[typ] = metric.WithAttributeSet(attribute.NewSet(attrType.String(typ)))
	}
	return t, nil
}
