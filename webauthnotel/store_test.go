package webauthnotel_test

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/storetest"
	"github.com/webauthnkit/webauthnkit/webauthnotel"
)

// The wrappers pass the stores' conformance suites: they change nothing.
func TestStoreWrappersConform(t *testing.T) {
	s := newSDK(t)
	newMem := func(t *testing.T) *memstore.Store {
		m, err := memstore.New()
		require.NoError(t, err)
		t.Cleanup(func() { m.Close() })
		return m
	}
	storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore {
		return s.tel.CredentialStore(newMem(t))
	})
	storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore {
		return s.tel.ChallengeStore(newMem(t))
	})
}

// Features are the wrapped store's, and GetCredentialWithUser is declared
// only when the wrapped store declares it.
func TestStoreWrapperFeatures(t *testing.T) {
	s := newSDK(t)
	mem, err := memstore.New()
	require.NoError(t, err)
	defer mem.Close()
	require.Equal(t, webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true, ListUserHandles: true, Audit: true}, s.tel.CredentialStore(mem).Features())
	require.Equal(t, webauthnkit.Features{ProcessLocal: true}, s.tel.ChallengeStore(mem).Features())

	hidden := storewrap.New(mem, mem, storewrap.WithoutCredentialWithUser())
	w := s.tel.CredentialStore(hidden)
	require.Equal(t, webauthnkit.Features{ProcessLocal: true, Audit: true}, w.Features())
	_, _, err = w.(webauthnkit.CredentialUserGetter).GetCredentialWithUser(context.Background(), []byte("id"))
	require.Error(t, err)
	require.Zero(t, hidden.Count(storewrap.GetCredentialWithUser), "not forwarded when not declared")
}

// Store faults show as their code, and their spans as errors; the answers
// of the contract (not_found) do not.
func TestStoreFaults(t *testing.T) {
	s := newSDK(t)
	mem, err := memstore.New()
	require.NoError(t, err)
	defer mem.Close()
	faulty := storewrap.New(mem, mem)
	creds := s.tel.CredentialStore(faulty)
	cers := s.tel.ChallengeStore(faulty)
	// Without a span in the context, no trace is started.
	_, err = creds.GetUserByHandle(context.Background(), []byte("h"))
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	require.Empty(t, s.spans.Ended())
	ctx, root := s.tracer.Tracer("test").Start(context.Background(), "request")

	_, err = creds.GetUserByName(ctx, "nobody")
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	faulty.Fail(storewrap.ErrDown, storewrap.GetUserByName, storewrap.PutCeremony)
	_, err = creds.GetUserByName(ctx, "nobody")
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.ErrorIs(t, cers.PutCeremony(ctx, "id", []byte("x"), time.Now().Add(time.Minute)), webauthnkit.ErrStoreUnavailable)
	faulty.Fail(nil)
	faulty.SetDelay(time.Hour)
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	_, err = cers.TakeCeremony(short, "id")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	root.End()
	require.Equal(t, map[string]int64{
		"method=GetUserByHandle,result=not_found,store=credentials":       1,
		"method=GetUserByName,result=not_found,store=credentials":         1,
		"method=GetUserByName,result=store_unavailable,store=credentials": 1,
		"method=PutCeremony,result=store_unavailable,store=ceremonies":    1,
		"method=TakeCeremony,result=deadline_exceeded,store=ceremonies":   1,
	}, counts(t, s.metrics(t)[webauthnotel.MetricStoreDuration]))

	status := map[string]codes.Code{}
	for _, sp := range s.spans.Ended() {
		if sp.Name() == "request" {
			continue
		}
		require.Equal(t, root.SpanContext().SpanID(), sp.Parent().SpanID())
		var res string
		for _, kv := range sp.Attributes() {
			if kv.Key == "webauthnkit.store.result" {
				res = kv.Value.AsString()
			}
		}
		status[sp.Name()+" "+res] = sp.Status().Code
		if sp.Status().Code == codes.Error {
			require.Equal(t, res, sp.Status().Description, "the code, never the error's text")
		}
	}
	require.Equal(t, map[string]codes.Code{
		"webauthnkit.store.GetUserByName not_found":         codes.Unset,
		"webauthnkit.store.GetUserByName store_unavailable": codes.Error,
		"webauthnkit.store.PutCeremony store_unavailable":   codes.Error,
		"webauthnkit.store.TakeCeremony deadline_exceeded":  codes.Error,
	}, status)
	requireNoSecret(t, s.allAttributeValues(t), nil, "nobody", "10.0.0.1", "connection refused")
}

// OnRateLimited counts refusals by class and budget, and never records the
// client's address.
func TestOnRateLimited(t *testing.T) {
	s := newSDK(t)
	ctx, span := s.tracer.Tracer("test").Start(context.Background(), "POST /login/begin")
	r := httptest.NewRequestWithContext(ctx, "POST", "/login/begin", nil)
	client := netip.MustParseAddr("203.0.113.7")
	s.tel.OnRateLimited(r, httpadapter.Refusal{Class: "begin", Client: client, RetryAfter: time.Second})
	s.tel.OnRateLimited(r, httpadapter.Refusal{Class: "begin", Client: client, Global: true})
	s.tel.OnRateLimited(r, httpadapter.Refusal{Class: "finish", Client: client})
	span.End()
	require.Equal(t, map[string]int64{
		"budget=client,class=begin":  1,
		"budget=global,class=begin":  1,
		"budget=client,class=finish": 1,
	}, counts(t, s.metrics(t)[webauthnotel.MetricRateLimitRefusals]))
	require.Len(t, s.spans.Ended()[0].Events(), 3)
	requireNoSecret(t, s.allAttributeValues(t), nil, "203.0.113.7")
}
