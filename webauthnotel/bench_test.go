package webauthnotel_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/audit"
	"github.com/webauthnkit/webauthnkit/internal/loginbench"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/storetest"
	"github.com/webauthnkit/webauthnkit/webauthnotel"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// BenchmarkFinishLoginMonitoring is the core's BenchmarkFinishLogin (a
// synced passkey on memstore, one body valid for every ceremony) with the
// monitoring hooks on, to give what they add per login:
//
//   - none: no hook (the baseline);
//   - metrics: webauthnotel with the SDK's MeterProvider (a ManualReader:
//     aggregation in memory, as with the Prometheus exporter between
//     scrapes), stores wrapped, the no-op tracer;
//   - traces: the same plus the SDK's TracerProvider sampling every span,
//     under a request span in the context (no exporter: span creation and
//     ending only);
//   - audit: the JSON audit log, written to io.Discard;
//   - all: metrics, traces and audit.
//
// cpu-ns/op is the process CPU time (user + system) per login.
func BenchmarkFinishLoginMonitoring(b *testing.B) {
	for _, v := range []struct {
		name                    string
		metrics, traces, audits bool
	}{
		{"none", false, false, false},
		{"metrics", true, false, false},
		{"traces", true, true, false},
		{"audit", false, false, true},
		{"all", true, true, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			mem, err := memstore.New()
			require.NoError(b, err)
			defer mem.Close()
			var creds webauthnkit.CredentialStore = mem
			var cers webauthnkit.ChallengeStore = mem
			var hooks []func(context.Context, webauthnkit.Event)
			var tp *sdktrace.TracerProvider
			if v.metrics {
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
				defer mp.Shutdown(context.Background())
				opts := webauthnotel.Options{MeterProvider: mp}
				if v.traces {
					tp = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
					defer tp.Shutdown(context.Background())
					opts.TracerProvider = tp
				}
				tel, err := webauthnotel.New(opts)
				require.NoError(b, err)
				creds, cers = tel.CredentialStore(mem), tel.ChallengeStore(mem)
				hooks = append(hooks, tel.OnEvent)
			}
			if v.audits {
				hooks = append(hooks, audit.NewJSON(io.Discard, audit.Options{}).OnEvent)
			}
			var onEvent func(context.Context, webauthnkit.Event)
			switch len(hooks) {
			case 1:
				onEvent = hooks[0]
			case 2:
				onEvent = func(ctx context.Context, ev webauthnkit.Event) { hooks[0](ctx, ev); hooks[1](ctx, ev) }
			}
			rp, body := loginFixture(b, creds, cers, onEvent)
			ctx := context.Background()
			if tp != nil {
				// The request's span, as an HTTP middleware starts it:
				// webauthnotel adds its spans under it.
				var span trace.Span
				ctx, span = tp.Tracer("bench").Start(ctx, "POST /login/finish")
				defer span.End()
			}
			ids := make([]string, b.N)
			for i := range ids {
				begin, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
				require.NoError(b, err)
				ids[i] = begin.CeremonyID
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := testenv.ProcessCPU()
			for i := range b.N {
				if _, err := rp.FinishLogin(ctx, ids[i], body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((testenv.ProcessCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// loginFixture is loginbench.New with an OnEvent: a synced passkey and a
// login body valid for every ceremony (fixed challenge, counter 0).
func loginFixture(b *testing.B, creds webauthnkit.CredentialStore, cers webauthnkit.ChallengeStore, onEvent func(context.Context, webauthnkit.Event)) (*webauthnkit.RelyingParty, []byte) {
	ctx := context.Background()
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID: loginbench.RPID, Origins: []string{loginbench.Origin},
		Credentials: creds, Ceremonies: cers,
		NewChallenge: func() ([]byte, error) { return loginbench.Challenge, nil },
		Secret:       bytes.Repeat([]byte{0x5e}, 32),
		OnEvent:      onEvent,
		Now:          time.Now,
	})
	require.NoError(b, err)
	d := webauthntest.New(webauthntest.WithOrigin(loginbench.Origin), webauthntest.SyncedPasskey())
	begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: storetest.RandomName()})
	require.NoError(b, err)
	body, err := d.Register(begin.Options)
	require.NoError(b, err)
	_, err = rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(b, err)
	login, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(b, err)
	body, err = d.Login(login.Options)
	require.NoError(b, err)
	_, err = rp.FinishLogin(ctx, login.CeremonyID, body)
	require.NoError(b, err)
	return rp, body
}

// BenchmarkHookParts measures the hooks' parts one by one, which the
// end-to-end benchmark above cannot resolve on a busy machine: OnEvent of
// a successful login (metrics; metrics and a sampled span; the audit line
// to io.Discard), and one store call (memstore's GetUserByHandle, found)
// raw and wrapped. A sign-in makes four store calls (PutCeremony at begin;
// TakeCeremony, GetCredentialWithUser, UpdateCredentialUse at finish), so
// the hooks cost about OnEvent + 4 x (wrapped - raw) per sign-in.
func BenchmarkHookParts(b *testing.B) {
	ctx := context.Background()
	mem, err := memstore.New()
	require.NoError(b, err)
	defer mem.Close()
	handle := bytes.Repeat([]byte{9}, 32)
	require.NoError(b, mem.CreateUser(ctx, webauthnkit.User{Handle: handle, Name: "bench", CreatedAt: time.Now()}, nil))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(ctx)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer tp.Shutdown(ctx)
	metricsOnly, err := webauthnotel.New(webauthnotel.Options{MeterProvider: mp})
	require.NoError(b, err)
	withTraces, err := webauthnotel.New(webauthnotel.Options{MeterProvider: mp, TracerProvider: tp})
	require.NoError(b, err)
	al := audit.NewJSON(io.Discard, audit.Options{})
	ev := webauthnkit.Event{Type: webauthnkit.EventLoginSucceeded, Time: time.Now(), Duration: 100 * time.Microsecond,
		UserHandle: bytes.Repeat([]byte{1}, 32), Username: "alice", CredentialID: bytes.Repeat([]byte{2}, 16)}

	run := func(name string, f func()) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := testenv.ProcessCPU()
			for range b.N {
				f()
			}
			b.ReportMetric(float64((testenv.ProcessCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
	run("OnEvent/metrics", func() { metricsOnly.OnEvent(ctx, ev) })
	traced, span := tp.Tracer("bench").Start(ctx, "request")
	defer span.End()
	run("OnEvent/traces", func() { withTraces.OnEvent(traced, ev) })
	run("OnEvent/audit", func() { al.OnEvent(ctx, ev) })
	var raw webauthnkit.CredentialStore = mem
	for _, s := range []struct {
		name  string
		ctx   context.Context
		store webauthnkit.CredentialStore
	}{{"raw", ctx, raw}, {"metrics", ctx, metricsOnly.CredentialStore(mem)}, {"traces", traced, withTraces.CredentialStore(mem)}} {
		run("Store/"+s.name, func() {
			if _, err := s.store.GetUserByHandle(s.ctx, handle); err != nil {
				b.Fatal(err)
			}
		})
	}
}
