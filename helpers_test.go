package webauthnkit_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

const (
	testRPID   = "example.com"
	testOrigin = "https://example.com"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// eventLog records every event.
type eventLog struct {
	mu     sync.Mutex
	events []webauthnkit.Event
}

func (l *eventLog) record(_ context.Context, e webauthnkit.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) types() []webauthnkit.EventType {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []webauthnkit.EventType
	for _, e := range l.events {
		out = append(out, e.Type)
	}
	return out
}

func (l *eventLog) last() webauthnkit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events[len(l.events)-1]
}

type env struct {
	rp     *webauthnkit.RelyingParty
	store  *memstore.Store
	clock  *fakeClock
	events *eventLog
	logs   *testenv.SyncBuffer
}

func newEnv(t testing.TB, mutate ...func(*webauthnkit.Config)) *env {
	t.Helper()
	store := newMemStore(t)
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, clock: &fakeClock{t: time.Now().UTC().Truncate(time.Millisecond)}, events: &eventLog{}, logs: &testenv.SyncBuffer{}}
	cfg := webauthnkit.Config{
		RPID:        testRPID,
		RPName:      "Example",
		Origins:     []string{testOrigin},
		Credentials: store,
		Ceremonies:  store,
		Now:         e.clock.Now,
		OnEvent:     e.events.record,
		Logger:      slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	rp, err := webauthnkit.New(cfg)
	require.NoError(t, err)
	e.rp = rp
	return e
}

var ctx = context.Background()

// signUp registers a new account with a fresh authenticator.
func (e *env) signUp(t testing.TB, name string, opts ...webauthntest.Option) (*webauthnkit.Registration, *webauthntest.Authenticator) {
	t.Helper()
	return register(t, e.rp, webauthnkit.RegistrationRequest{Username: name}, opts...)
}

// register runs a whole registration ceremony on rp (a sign-up, or a
// passkey added with req.UserHandle) with a fresh authenticator for
// testOrigin, failing t on any error.
func register(t testing.TB, rp *webauthnkit.RelyingParty, req webauthnkit.RegistrationRequest, opts ...webauthntest.Option) (*webauthnkit.Registration, *webauthntest.Authenticator) {
	t.Helper()
	auth := webauthntest.New(append([]webauthntest.Option{webauthntest.WithOrigin(testOrigin)}, opts...)...)
	begin, err := rp.BeginRegistration(ctx, req)
	require.NoError(t, err)
	body, err := auth.Register(begin.Options)
	require.NoError(t, err)
	reg, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	return reg, auth
}

func (e *env) login(t testing.TB, auth *webauthntest.Authenticator, username string, call ...webauthntest.CallOption) (*webauthnkit.Login, error) {
	t.Helper()
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: username})
	require.NoError(t, err)
	body, err := auth.Login(begin.Options, call...)
	require.NoError(t, err)
	return e.rp.FinishLogin(ctx, begin.CeremonyID, body)
}

func withoutAllowList(t testing.TB, options []byte) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(options, &m))
	delete(m, "allowCredentials")
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

func setJSONField(t testing.TB, body []byte, field, value string) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m["response"].(map[string]any)[field] = value
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// allowedIDs returns the credential IDs of login options' allowCredentials.
func allowedIDs(t testing.TB, options []byte) [][]byte {
	t.Helper()
	var opts struct {
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	}
	require.NoError(t, json.Unmarshal(options, &opts))
	var ids [][]byte
	for _, c := range opts.AllowCredentials {
		id, err := base64.RawURLEncoding.DecodeString(c.ID)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

// setCredentialID rewrites an assertion's id and rawId, and sets its
// userHandle (or removes it when nil).
func setCredentialID(t testing.TB, body, id, userHandle []byte) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m["id"] = base64.RawURLEncoding.EncodeToString(id)
	m["rawId"] = m["id"]
	response := m["response"].(map[string]any)
	delete(response, "userHandle")
	if userHandle != nil {
		response["userHandle"] = base64.RawURLEncoding.EncodeToString(userHandle)
	}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}
