package webauthnotel_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthnotel"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Wiring: wrap the stores, report the events. The metrics are read here
// with the SDK's in-memory reader; an application uses an exporter
// (Prometheus, OTLP) instead.
func Example() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	tel, _ := webauthnotel.New(webauthnotel.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	store, _ := memstore.New()
	defer store.Close()
	rp, _ := webauthnkit.New(webauthnkit.Config{
		RPID: "example.com", Origins: []string{"https://example.com"},
		Credentials: tel.CredentialStore(store), Ceremonies: tel.ChallengeStore(store),
		OnEvent: tel.OnEvent,
	})

	device := webauthntest.New()
	begin, _ := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	body, _ := device.Register(begin.Options)
	rp.FinishRegistration(ctx, begin.CeremonyID, body)
	login, _ := rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	body, _ = device.Login(login.Options, webauthntest.BadSignature())
	rp.FinishLogin(ctx, login.CeremonyID, body)

	var rm metricdata.ResourceMetrics
	reader.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name != webauthnotel.MetricCeremonyDuration {
			continue
		}
		for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
			fmt.Println(p.Attributes.Encoded(attribute.DefaultEncoder()), p.Count)
		}
	}
	// Unordered output:
	// ceremony=registration,outcome=success 1
	// ceremony=login,code=invalid_response,outcome=failure 1
}
