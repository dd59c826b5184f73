package webauthnotel_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthnotel"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// rpWith builds a RelyingParty on a memstore wrapped by tel, reporting
// events to tel, and returns it with the memstore.
func rpWith(t *testing.T, s *sdk, onEvent func(context.Context, webauthnkit.Event)) (*webauthnkit.RelyingParty, *memstore.Store) {
	t.Helper()
	mem, err := memstore.New()
	require.NoError(t, err)
	t.Cleanup(func() { mem.Close() })
	if onEvent == nil {
		onEvent = s.tel.OnEvent
	}
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID: rpID, Origins: []string{origin},
		Credentials: s.tel.CredentialStore(mem), Ceremonies: s.tel.ChallengeStore(mem),
		OnEvent: onEvent,
	})
	require.NoError(t, err)
	return rp, mem
}

func register(t *testing.T, ctx context.Context, rp *webauthnkit.RelyingParty, d *webauthntest.Authenticator, name string) *webauthnkit.Registration {
	t.Helper()
	begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
	require.NoError(t, err)
	body, err := d.Register(begin.Options)
	require.NoError(t, err)
	reg, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	return reg
}

// challengeOf returns the challenge of a ceremony's options.
func challengeOf(t *testing.T, options []byte) []byte {
	var o struct {
		Challenge string `json:"challenge"`
	}
	require.NoError(t, json.Unmarshal(options, &o))
	require.NotEmpty(t, o.Challenge)
	return []byte(o.Challenge) // base64url already
}

// The ceremonies' outcomes, codes and latencies, the events by type and the
// store calls by method and result are read back through the SDK's
// in-memory reader; spans through a recorder. No user name, handle,
// credential ID or challenge appears in any of them.
func TestCeremonyMetricsAndSpans(t *testing.T) {
	s := newSDK(t)
	rp, _ := rpWith(t, s, nil)
	// Spans are added to a request's trace only: every call here has one,
	// as under an HTTP middleware.
	ctx, root := s.tracer.Tracer("test").Start(context.Background(), "test")
	key := webauthntest.New(webauthntest.WithOrigin(origin), webauthntest.SecurityKey())
	reg := register(t, ctx, rp, key, "alice@example.com")

	// The first login's own request span.
	parentCtx, parent := s.tracer.Tracer("test").Start(context.Background(), "POST /login/finish")
	begin, err := rp.BeginLogin(parentCtx, webauthnkit.LoginRequest{})
	require.NoError(t, err)
	challenge := challengeOf(t, begin.Options)
	body, err := key.Login(begin.Options)
	require.NoError(t, err)
	_, err = rp.FinishLogin(parentCtx, begin.CeremonyID, body)
	require.NoError(t, err)
	parent.End()

	// Replayed: the ceremony is gone.
	_, err = rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrCeremonyNotFound)

	// A passkey this RP does not know, twice.
	stranger := webauthntest.New(webauthntest.WithOrigin(origin), webauthntest.SyncedPasskey())
	other, _ := rpWith(t, newSDK(t), func(context.Context, webauthnkit.Event) {})
	strangerReg := register(t, ctx, other, stranger, "mallory@example.com")
	for range 2 {
		begin, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
		require.NoError(t, err)
		body, err := stranger.Login(begin.Options)
		require.NoError(t, err)
		_, err = rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
	}

	// A cloned key: its counter goes backwards (refused by the default
	// CounterReject policy, and reported).
	require.True(t, key.SetSignCount(reg.Credential.ID, 0))
	begin, err = rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(t, err)
	body, err = key.Login(begin.Options)
	require.NoError(t, err)
	_, err = rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrCounterRegression)

	root.End()

	m := s.metrics(t)
	require.Equal(t, map[string]int64{
		"ceremony=registration,outcome=success":                  1,
		"ceremony=login,outcome=success":                         1,
		"ceremony=login,code=ceremony_not_found,outcome=failure": 1,
		"ceremony=login,code=unknown_credential,outcome=failure": 2,
		"ceremony=login,code=counter_regression,outcome=failure": 1,
	}, counts(t, m[webauthnotel.MetricCeremonyDuration]))
	require.Equal(t, "s", m[webauthnotel.MetricCeremonyDuration].Unit)
	require.Equal(t, map[string]int64{
		"type=registration.succeeded":        1,
		"type=login.succeeded":               1,
		"type=login.failed":                  4,
		"type=credential.counter_regression": 1,
	}, counts(t, m[webauthnotel.MetricEvents]))

	store := counts(t, m[webauthnotel.MetricStoreDuration])
	require.Equal(t, int64(5), store["method=PutCeremony,result=ok,store=ceremonies"], "one registration and four login begins")
	require.Equal(t, int64(5), store["method=TakeCeremony,result=ok,store=ceremonies"])
	require.Equal(t, int64(1), store["method=TakeCeremony,result=not_found,store=ceremonies"], "the replay")
	require.Equal(t, int64(2), store["method=GetCredentialWithUser,result=ok,store=credentials"], "memstore declares CredentialWithUser: the wrapper forwards it")
	require.Equal(t, int64(2), store["method=GetCredentialWithUser,result=not_found,store=credentials"])
	require.Equal(t, int64(1), store["method=UpdateCredentialUse,result=ok,store=credentials"])
	require.Equal(t, int64(1), store["method=CreateUser,result=ok,store=credentials"])
	require.Zero(t, store["method=GetCredential,result=ok,store=credentials"])

	// Spans: the Finish of each ceremony, timed after the fact, and one per
	// store call; those of the first login are children of the request span.
	var finishes []trace.ReadOnlySpan
	children := map[string]int{}
	for _, sp := range s.spans.Ended() {
		if sp.Name() == "webauthnkit.FinishLogin" || sp.Name() == "webauthnkit.FinishRegistration" {
			finishes = append(finishes, sp)
			require.False(t, sp.EndTime().Before(sp.StartTime()))
		}
		if sp.Parent().SpanID() == parent.SpanContext().SpanID() {
			children[sp.Name()]++
		}
	}
	require.Len(t, finishes, 6)
	require.Equal(t, map[string]int{
		"webauthnkit.store.PutCeremony":           1,
		"webauthnkit.store.TakeCeremony":          1,
		"webauthnkit.store.GetCredentialWithUser": 1,
		"webauthnkit.store.UpdateCredentialUse":   1,
		"webauthnkit.FinishLogin":                 1,
	}, children)
	failed := 0
	for _, sp := range finishes {
		if sp.Status().Code == codes.Error {
			failed++
			require.Contains(t, []string{"ceremony_not_found", "unknown_credential", "counter_regression"}, sp.Status().Description)
		}
	}
	require.Equal(t, 4, failed)

	requireNoSecret(t, s.allAttributeValues(t),
		[][]byte{reg.User.Handle, reg.Credential.ID, reg.Credential.PublicKey, strangerReg.Credential.ID, challenge},
		"alice", "mallory")
}

// Events other than the ceremonies' are added to the span in the context;
// account events are counted too.
func TestOtherEventsOnTheRequestSpan(t *testing.T) {
	s := newSDK(t)
	rp, _ := rpWith(t, s, nil)
	d := webauthntest.New(webauthntest.WithOrigin(origin), webauthntest.SyncedPasskey())
	reg := register(t, context.Background(), rp, d, "bob")
	ctx, span := s.tracer.Tracer("test").Start(context.Background(), "DELETE credentials")
	require.NoError(t, rp.RevokeCredential(ctx, reg.User.Handle, reg.Credential.ID, true))
	span.End()
	ended := s.spans.Ended()
	req := ended[len(ended)-1]
	require.Equal(t, "DELETE credentials", req.Name())
	var names []string
	for _, ev := range req.Events() {
		names = append(names, ev.Name)
	}
	require.Equal(t, []string{"sessions.ended", "credential.revoked"}, names)

	s.tel.OnAccountEvent(accountEvent("account.recovery_started"))
	require.Equal(t, map[string]int64{
		"type=registration.succeeded":   1,
		"type=sessions.ended":           1,
		"type=credential.revoked":       1,
		"type=account.recovery_started": 1,
	}, counts(t, s.metrics(t)[webauthnotel.MetricEvents]))
	requireNoSecret(t, s.allAttributeValues(t), [][]byte{reg.User.Handle, reg.Credential.ID}, "bob")
}
