package webauthnkit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
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
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newEnv(t testing.TB, mutate ...func(*webauthnkit.Config)) *env {
	t.Helper()
	store := newMemStore(t)
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, clock: &fakeClock{t: time.Now().UTC().Truncate(time.Millisecond)}, events: &eventLog{}, logs: &syncBuffer{}}
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
	auth := webauthntest.New(append([]webauthntest.Option{webauthntest.WithOrigin(testOrigin)}, opts...)...)
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
	require.NoError(t, err)
	body, err := auth.Register(begin.Options)
	require.NoError(t, err)
	reg, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
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

func TestNewValidatesConfig(t *testing.T) {
	store := newMemStore(t)
	defer store.Close()
	base := func() webauthnkit.Config {
		return webauthnkit.Config{RPID: "example.com", Origins: []string{"https://example.com"}, Credentials: store, Ceremonies: store}
	}
	cases := []struct {
		name  string
		field string
		edit  func(*webauthnkit.Config)
	}{
		{"missing RPID", "RPID", func(c *webauthnkit.Config) { c.RPID = "" }},
		{"RPID with scheme", "RPID", func(c *webauthnkit.Config) { c.RPID = "https://example.com" }},
		{"RPID with port", "RPID", func(c *webauthnkit.Config) { c.RPID = "example.com:443" }},
		{"RPID is an IP", "RPID", func(c *webauthnkit.Config) { c.RPID = "127.0.0.1" }},
		{"no origins", "Origins", func(c *webauthnkit.Config) { c.Origins = nil }},
		{"http origin", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"http://example.com"} }},
		{"origin of another site", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"https://example.org"} }},
		{"origin suffix trick", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"https://evilexample.com"} }},
		{"origin with path", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"https://example.com/login"} }},
		{"origin not a URL", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"example.com"} }},
		{"only app origins", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"android:apk-key-hash:abc"} }},
		{"ttl too short", "ChallengeTTL", func(c *webauthnkit.Config) { c.ChallengeTTL = time.Second }},
		{"ttl too long", "ChallengeTTL", func(c *webauthnkit.Config) { c.ChallengeTTL = 2 * time.Hour }},
		{"browser timeout over ttl", "BrowserTimeout", func(c *webauthnkit.Config) { c.BrowserTimeout = 10 * time.Minute }},
		{"bad uv", "UserVerification", func(c *webauthnkit.Config) { c.UserVerification = "always" }},
		{"bad resident key", "ResidentKey", func(c *webauthnkit.Config) { c.ResidentKey = "yes" }},
		{"bad attestation", "Attestation", func(c *webauthnkit.Config) { c.Attestation = "full" }},
		{"bad counter policy", "CounterPolicy", func(c *webauthnkit.Config) { c.CounterPolicy = 7 }},
		{"short secret", "Secret", func(c *webauthnkit.Config) { c.Secret = []byte("short") }},
		{"no credential store", "Credentials", func(c *webauthnkit.Config) { c.Credentials = nil }},
		{"no challenge store", "Ceremonies", func(c *webauthnkit.Config) { c.Ceremonies = nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.edit(&cfg)
			_, err := webauthnkit.New(cfg)
			var ce *webauthnkit.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.True(t, strings.HasPrefix(err.Error(), "webauthnkit: invalid Config."+tc.field), err.Error())
		})
	}

	t.Run("defaults", func(t *testing.T) {
		rp, err := webauthnkit.New(base())
		require.NoError(t, err)
		cfg := rp.Config()
		assert.Equal(t, 5*time.Minute, cfg.ChallengeTTL)
		assert.Equal(t, 5*time.Minute, cfg.BrowserTimeout)
		assert.Equal(t, webauthnkit.UserVerificationPreferred, cfg.UserVerification)
		assert.Equal(t, webauthnkit.ResidentKeyRequired, cfg.ResidentKey)
		assert.Equal(t, webauthnkit.AttestationNone, cfg.Attestation)
		assert.Equal(t, webauthnkit.CounterReject, cfg.CounterPolicy)
		assert.Equal(t, "example.com", cfg.RPName)
		assert.Len(t, cfg.Secret, 32)
	})

	t.Run("accepted origins", func(t *testing.T) {
		for _, tc := range []struct{ rpID, origin string }{
			{"example.com", "https://login.example.com"},
			{"example.com", "https://example.com:8443"},
			{"example.com", "android:apk-key-hash:AbCdEf"},
			{"localhost", "http://localhost:8080"},
			{"localhost", "http://127.0.0.1:8080"},
			{"localhost", "http://[::1]:8080"},
		} {
			cfg := base()
			cfg.RPID = tc.rpID
			cfg.Origins = []string{tc.origin}
			if strings.HasPrefix(tc.origin, "android:") {
				cfg.Origins = append(cfg.Origins, "https://example.com")
			}
			_, err := webauthnkit.New(cfg)
			assert.NoError(t, err, tc.origin)
		}
	})
}

func TestRegistrationOptions(t *testing.T) {
	e := newEnv(t)
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "  Alice@Example.com ", DisplayName: "Alice"})
	require.NoError(t, err)

	var opts struct {
		Challenge string `json:"challenge"`
		RP        struct{ ID, Name string }
		User      struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		}
		PubKeyCredParams []struct {
			Alg int `json:"alg"`
		} `json:"pubKeyCredParams"`
		Timeout                int `json:"timeout"`
		AuthenticatorSelection struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		Attestation string `json:"attestation"`
	}
	require.NoError(t, json.Unmarshal(begin.Options, &opts))
	challenge, err := base64.RawURLEncoding.DecodeString(opts.Challenge)
	require.NoError(t, err, "challenge must be unpadded base64url")
	assert.Len(t, challenge, 32)
	handle, err := base64.RawURLEncoding.DecodeString(opts.User.ID)
	require.NoError(t, err, "user.id must be unpadded base64url (parseCreationOptionsFromJSON)")
	assert.Len(t, handle, 32)
	assert.NotContains(t, string(handle), "alice", "the user handle must not be derived from the name")
	assert.Equal(t, "alice@example.com", opts.User.Name)
	assert.Equal(t, "Alice", opts.User.DisplayName)
	assert.Equal(t, "example.com", opts.RP.ID)
	assert.Equal(t, "Example", opts.RP.Name)
	assert.Equal(t, 300000, opts.Timeout)
	assert.Equal(t, "required", opts.AuthenticatorSelection.ResidentKey)
	assert.Equal(t, "preferred", opts.AuthenticatorSelection.UserVerification)
	assert.Equal(t, "none", opts.Attestation)
	assert.NotEmpty(t, opts.PubKeyCredParams)
	assert.Equal(t, e.clock.Now().Add(5*time.Minute), begin.ExpiresAt)
	assert.Len(t, begin.CeremonyID, 43)

	// Two ceremonies never share a challenge, ceremony ID or user handle.
	begin2, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bob"})
	require.NoError(t, err)
	assert.NotEqual(t, begin.CeremonyID, begin2.CeremonyID)
	assert.NotContains(t, string(begin2.Options), opts.Challenge)
	assert.NotContains(t, string(begin2.Options), opts.User.ID)

	// Nothing is stored before the ceremony finishes.
	_, err = e.store.GetUserByName(ctx, "alice@example.com")
	assert.ErrorIs(t, err, webauthnkit.ErrNotFound)
}

func TestSignUpAndLoginByUsername(t *testing.T) {
	e := newEnv(t)
	reg, auth := e.signUp(t, "Alice")
	assert.True(t, reg.NewUser)
	assert.Equal(t, "alice", reg.User.Name)
	assert.Equal(t, "Alice", reg.User.DisplayName)
	assert.Len(t, reg.User.Handle, 32)
	assert.Equal(t, reg.User.Handle, reg.Credential.UserHandle)
	assert.Equal(t, "none", reg.Credential.AttestationFormat)
	assert.True(t, reg.Credential.UserPresent)
	assert.True(t, reg.Credential.UserVerified)
	assert.NotEmpty(t, reg.Credential.PublicKey)
	assert.Equal(t, e.clock.Now(), reg.Credential.CreatedAt)
	assert.True(t, reg.Credential.LastUsedAt.IsZero())

	stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
	require.NoError(t, err)
	assert.Equal(t, reg.Credential.PublicKey, stored.PublicKey)

	e.clock.Advance(time.Minute)
	login, err := e.login(t, auth, "ALICE")
	require.NoError(t, err)
	assert.Equal(t, reg.User.Handle, login.User.Handle)
	assert.Equal(t, "alice", login.User.Name)
	assert.True(t, login.UserVerified)
	assert.False(t, login.CloneSuspected)
	assert.Equal(t, uint32(1), login.Credential.SignCount)

	stored, err = e.store.GetCredential(ctx, reg.Credential.ID)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), stored.SignCount, "sign counter written back")
	assert.True(t, stored.LastUsedAt.Equal(e.clock.Now()), "last used written back")

	assert.Equal(t, []webauthnkit.EventType{webauthnkit.EventRegistrationSucceeded, webauthnkit.EventLoginSucceeded}, e.events.types())
	assert.Equal(t, "alice", e.events.last().Username)
}

func TestUsernamelessLogin(t *testing.T) {
	e := newEnv(t)
	reg, auth := e.signUp(t, "alice")
	e.signUp(t, "bob") // another account in the store

	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(t, err)
	assert.NotContains(t, string(begin.Options), "allowCredentials", "discoverable login lists no credentials")
	assert.Empty(t, begin.Mediation)
	body, err := auth.Login(begin.Options)
	require.NoError(t, err)
	login, err := e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	assert.Equal(t, reg.User.Handle, login.User.Handle)

	t.Run("conditional mediation", func(t *testing.T) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Conditional: true})
		require.NoError(t, err)
		assert.Equal(t, "conditional", begin.Mediation)
		body, err := auth.Login(begin.Options)
		require.NoError(t, err)
		login, err := e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.NoError(t, err)
		assert.Equal(t, "alice", login.User.Name)
	})

	t.Run("missing user handle falls back to the credential", func(t *testing.T) {
		// Some hybrid authenticators omit userHandle (go-webauthn issue #171).
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
		require.NoError(t, err)
		body, err := auth.Login(begin.Options, webauthntest.OmitUserHandle())
		require.NoError(t, err)
		login, err := e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.NoError(t, err)
		assert.Equal(t, "alice", login.User.Name)
	})
}

func TestReplayedFinishFails(t *testing.T) {
	e := newEnv(t)
	_, auth := e.signUp(t, "alice")
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	body, err := auth.Login(begin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrCeremonyNotFound)

	// A replayed registration neither.
	rb, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "carol"})
	require.NoError(t, err)
	rbody, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(rb.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, rb.CeremonyID, rbody)
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, rb.CeremonyID, rbody)
	require.ErrorIs(t, err, webauthnkit.ErrCeremonyNotFound)

	// A failed finish also consumes the ceremony: no second try with the same challenge.
	begin, err = e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	bad, err := auth.Login(begin.Options, webauthntest.BadSignature())
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, bad)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
	good, err := auth.Login(begin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, good)
	require.ErrorIs(t, err, webauthnkit.ErrCeremonyNotFound)
}

func TestConcurrentFinishOneWinner(t *testing.T) {
	e := newEnv(t)
	_, auth := e.signUp(t, "alice", webauthntest.SyncedPasskey())
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(t, err)
	body, err := auth.Login(begin.Options)
	require.NoError(t, err)
	var wins, notFound atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := e.rp.FinishLogin(ctx, begin.CeremonyID, body)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, webauthnkit.ErrCeremonyNotFound):
				notFound.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
	assert.Equal(t, int32(19), notFound.Load())
}

func TestExpiredCeremony(t *testing.T) {
	e := newEnv(t)
	_, auth := e.signUp(t, "alice")
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	body, err := auth.Login(begin.Options)
	require.NoError(t, err)
	e.clock.Advance(5*time.Minute + time.Millisecond)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrChallengeExpired)
	assert.Equal(t, webauthnkit.CodeChallengeExpired, webauthnkit.ErrorCode(err))

	rb, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bob"})
	require.NoError(t, err)
	rbody, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(rb.Options)
	require.NoError(t, err)
	e.clock.Advance(5 * time.Minute)
	_, err = e.rp.FinishRegistration(ctx, rb.CeremonyID, rbody)
	require.ErrorIs(t, err, webauthnkit.ErrChallengeExpired)
	_, err = e.store.GetUserByName(ctx, "bob")
	assert.ErrorIs(t, err, webauthnkit.ErrNotFound, "expired sign-up stores nothing")

	// Just before the TTL it still works.
	begin, err = e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	body, err = auth.Login(begin.Options)
	require.NoError(t, err)
	e.clock.Advance(5*time.Minute - time.Millisecond)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
}

func TestWrongCeremonyKind(t *testing.T) {
	e := newEnv(t)
	_, auth := e.signUp(t, "alice")

	loginBegin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	body, err := auth.Login(loginBegin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, loginBegin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrWrongCeremony, "a login ceremony finished as a registration")

	regBegin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bob"})
	require.NoError(t, err)
	rbody, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(regBegin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, regBegin.CeremonyID, rbody)
	require.ErrorIs(t, err, webauthnkit.ErrWrongCeremony, "a registration ceremony finished as a login")

	// A webauthn.create response for a login ceremony (clientData type swapped).
	loginBegin, err = e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	body, err = auth.Login(loginBegin.Options, webauthntest.WrongType())
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, loginBegin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrWrongCeremony)
}

func TestVerificationFailuresHaveCodes(t *testing.T) {
	cases := []struct {
		name string
		call webauthntest.CallOption
		want error
	}{
		{"bad signature", webauthntest.BadSignature(), webauthnkit.ErrInvalidResponse},
		{"tampered authenticator data", webauthntest.TamperAuthenticatorData(), webauthnkit.ErrInvalidResponse},
		{"wrong origin", webauthntest.WrongOrigin("https://evil.example"), webauthnkit.ErrOriginMismatch},
		{"origin of a sibling subdomain", webauthntest.WrongOrigin("https://other.example.com"), webauthnkit.ErrOriginMismatch},
		{"wrong rp id", webauthntest.WrongRPID("evil.example"), webauthnkit.ErrRPIDMismatch},
		{"wrong challenge", webauthntest.WrongChallenge(), webauthnkit.ErrChallengeMismatch},
		{"no user presence", webauthntest.WithoutUserPresence(), webauthnkit.ErrInvalidResponse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			reg, auth := e.signUp(t, "alice")
			_, err := e.login(t, auth, "alice", tc.call)
			require.ErrorIs(t, err, tc.want)
			var ke *webauthnkit.Error
			require.ErrorAs(t, err, &ke)
			assert.NotEmpty(t, ke.Message)
			assert.Equal(t, webauthnkit.EventLoginFailed, e.events.last().Type)
			assert.Equal(t, ke.Code, e.events.last().Code)
			stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
			require.NoError(t, err)
			assert.Equal(t, uint32(0), stored.SignCount, "a failed login writes nothing back")
			assert.True(t, stored.LastUsedAt.IsZero())
		})
	}

	t.Run("registration with wrong origin", func(t *testing.T) {
		e := newEnv(t)
		begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
		require.NoError(t, err)
		body, err := webauthntest.New(webauthntest.WithOrigin("https://evil.example")).Register(begin.Options)
		require.NoError(t, err)
		_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrOriginMismatch)
		_, err = e.store.GetUserByName(ctx, "alice")
		assert.ErrorIs(t, err, webauthnkit.ErrNotFound)
	})
}

func TestUserVerificationRequired(t *testing.T) {
	e := newEnv(t, func(c *webauthnkit.Config) { c.UserVerification = webauthnkit.UserVerificationRequired })
	_, auth := e.signUp(t, "alice")
	_, err := e.login(t, auth, "alice", webauthntest.WithoutUserVerification())
	require.ErrorIs(t, err, webauthnkit.ErrUserVerificationRequired)
	login, err := e.login(t, auth, "alice")
	require.NoError(t, err)
	assert.True(t, login.UserVerified)

	// With the default (preferred), a response without UV is accepted and reported.
	e2 := newEnv(t)
	_, auth2 := e2.signUp(t, "bob")
	login, err = e2.login(t, auth2, "bob", webauthntest.WithoutUserVerification())
	require.NoError(t, err)
	assert.False(t, login.UserVerified)
}

func TestCredentialOfAnotherUser(t *testing.T) {
	e := newEnv(t)
	alice, aliceAuth := e.signUp(t, "alice")
	bob, _ := e.signUp(t, "bob")

	t.Run("username login with someone else's passkey", func(t *testing.T) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "bob"})
		require.NoError(t, err)
		// Alice's authenticator answers bob's challenge with alice's credential
		// (an attacker controlling the client can do this).
		body, err := aliceAuth.Login(withoutAllowList(t, begin.Options))
		require.NoError(t, err)
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
		var ke *webauthnkit.Error
		require.ErrorAs(t, err, &ke)
		assert.Nil(t, ke.UnknownCredentialID, "another account's passkey must not be signalled as unknown")
	})

	t.Run("discoverable login claiming another user handle", func(t *testing.T) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
		require.NoError(t, err)
		body, err := aliceAuth.Login(begin.Options)
		require.NoError(t, err)
		// userHandle is not signed: swap in bob's.
		body = setJSONField(t, body, "userHandle", base64.RawURLEncoding.EncodeToString(bob.User.Handle))
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
	})

	t.Run("registering a credential ID owned by another user", func(t *testing.T) {
		// A fixed challenge lets one registration response be replayed into
		// another account's ceremony.
		fixed := bytes.Repeat([]byte{7}, 32)
		e := newEnv(t, func(c *webauthnkit.Config) {
			c.NewChallenge = func() ([]byte, error) { return fixed, nil }
		})
		auth := webauthntest.New(webauthntest.WithOrigin(testOrigin))
		b1, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
		require.NoError(t, err)
		body, err := auth.Register(b1.Options)
		require.NoError(t, err)
		_, err = e.rp.FinishRegistration(ctx, b1.CeremonyID, body)
		require.NoError(t, err)

		b2, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "mallory"})
		require.NoError(t, err)
		_, err = e.rp.FinishRegistration(ctx, b2.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrCredentialExists)
		_, err = e.store.GetUserByName(ctx, "mallory")
		assert.ErrorIs(t, err, webauthnkit.ErrNotFound, "the account is not created either")
	})
	_ = alice
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

func TestNoUsernameEnumeration(t *testing.T) {
	e := newEnv(t)
	_, _ = e.signUp(t, "alice")
	// bob exists but has no passkeys left.
	bob, _ := e.signUp(t, "bob")
	require.NoError(t, e.rp.RevokeCredential(ctx, bob.User.Handle, bob.Credential.ID, true))

	type allow struct {
		ID         string   `json:"id"`
		Type       string   `json:"type"`
		Transports []string `json:"transports"`
	}
	shape := func(name string) (keys []string, list []allow, begin *webauthnkit.Begin) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: name})
		require.NoError(t, err)
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(begin.Options, &m))
		for k := range m {
			keys = append(keys, k)
		}
		require.NoError(t, json.Unmarshal(m["allowCredentials"], &list))
		return keys, list, begin
	}
	realKeys, realList, _ := shape("alice")
	for _, name := range []string{"nobody", "bob"} {
		keys, list, begin := shape(name)
		assert.ElementsMatch(t, realKeys, keys, "same fields for %s", name)
		require.NotEmpty(t, list)
		assert.LessOrEqual(t, len(list), 2)
		id, err := base64.RawURLEncoding.DecodeString(list[0].ID)
		require.NoError(t, err)
		realID, _ := base64.RawURLEncoding.DecodeString(realList[0].ID)
		assert.Contains(t, []int{16, 20, 32, 64}, len(id), "fake credential ID has a realistic length")
		assert.NotEmpty(t, realID)
		assert.Equal(t, "public-key", list[0].Type)
		assert.NotEmpty(t, list[0].Transports)

		// Stable: asking again gives the same fake list.
		_, again, _ := shape(name)
		assert.Equal(t, list, again)

		// Finishing fails exactly like a wrong passkey for a real user.
		other := webauthntest.New(webauthntest.WithOrigin(testOrigin))
		rb, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "x" + name})
		require.NoError(t, err)
		rbody, err := other.Register(rb.Options)
		require.NoError(t, err)
		_, err = e.rp.FinishRegistration(ctx, rb.CeremonyID, rbody)
		require.NoError(t, err)
		body, err := other.Login(withoutAllowList(t, begin.Options))
		require.NoError(t, err)
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
	}
	// Different unknown names get different fake IDs.
	_, a, _ := shape("nobody1")
	_, b, _ := shape("nobody2")
	assert.NotEqual(t, a[0].ID, b[0].ID)
}

func TestCounterRegression(t *testing.T) {
	t.Run("rejected by default", func(t *testing.T) {
		e := newEnv(t)
		reg, device := e.signUp(t, "alice")
		_, err := e.login(t, device, "alice") // count 1
		require.NoError(t, err)
		clone := device.Clone()
		_, err = e.login(t, device, "alice") // count 2
		require.NoError(t, err)
		_, err = e.login(t, clone, "alice") // the clone also says 2
		require.ErrorIs(t, err, webauthnkit.ErrCounterRegression)
		assert.Contains(t, e.events.types(), webauthnkit.EventCounterRegression)
		stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
		require.NoError(t, err)
		assert.Equal(t, uint32(2), stored.SignCount, "the counter never moves back")
		assert.False(t, stored.CloneSuspected)
	})

	t.Run("flagged with CounterFlag", func(t *testing.T) {
		e := newEnv(t, func(c *webauthnkit.Config) { c.CounterPolicy = webauthnkit.CounterFlag })
		reg, device := e.signUp(t, "alice")
		_, err := e.login(t, device, "alice")
		require.NoError(t, err)
		clone := device.Clone()
		_, err = e.login(t, device, "alice")
		require.NoError(t, err)
		login, err := e.login(t, clone, "alice")
		require.NoError(t, err)
		assert.True(t, login.CloneSuspected)
		assert.True(t, login.Credential.CloneSuspected)
		assert.Contains(t, e.events.types(), webauthnkit.EventCounterRegression)
		stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
		require.NoError(t, err)
		assert.Equal(t, uint32(2), stored.SignCount)
		assert.True(t, stored.CloneSuspected, "the mark is stored")
		// The next honest login is not itself a regression, but the mark stays.
		login, err = e.login(t, device, "alice")
		require.NoError(t, err)
		assert.False(t, login.CloneSuspected)
		assert.True(t, login.Credential.CloneSuspected)
	})

	t.Run("a counter going to zero is a regression", func(t *testing.T) {
		e := newEnv(t)
		reg, device := e.signUp(t, "alice", webauthntest.WithCounter(10, 1))
		assert.Equal(t, uint32(10), reg.Credential.SignCount)
		require.True(t, device.SetSignCount(reg.Credential.ID, 0))
		_, err := e.login(t, device, "alice", webauthntest.WithoutUserVerification())
		// SetSignCount(0) then step 1 reports 1 < 10.
		require.ErrorIs(t, err, webauthnkit.ErrCounterRegression)
	})

	t.Run("synced passkeys always report zero", func(t *testing.T) {
		e := newEnv(t)
		reg, device := e.signUp(t, "alice", webauthntest.SyncedPasskey())
		assert.True(t, reg.Credential.BackupEligible)
		assert.True(t, reg.Credential.BackupState)
		for range 3 {
			login, err := e.login(t, device, "alice")
			require.NoError(t, err)
			assert.Equal(t, uint32(0), login.Credential.SignCount)
			assert.True(t, login.BackedUp)
		}
	})

	t.Run("concurrent logins with one credential lose no update", func(t *testing.T) {
		e := newEnv(t)
		reg, device := e.signUp(t, "alice")
		var wg sync.WaitGroup
		var ok, regressed atomic.Int32
		for range 8 {
			wg.Go(func() {
				_, err := e.login(t, device, "alice")
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, webauthnkit.ErrCounterRegression):
					// The device signed 5 then 6, but 6 was stored first.
					regressed.Add(1)
				default:
					t.Errorf("login: %v", err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(8), ok.Load()+regressed.Load())
		stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
		require.NoError(t, err)
		assert.Equal(t, uint32(8), stored.SignCount, "the highest counter wins")
	})
}

func TestBackupStateUpdated(t *testing.T) {
	e := newEnv(t)
	reg, device := e.signUp(t, "alice", webauthntest.WithBackup(true, false))
	assert.True(t, reg.Credential.BackupEligible)
	assert.False(t, reg.Credential.BackupState)
	synced := device.Clone(webauthntest.WithBackup(true, true))
	login, err := e.login(t, synced, "alice")
	require.NoError(t, err)
	assert.True(t, login.BackedUp)
	stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
	require.NoError(t, err)
	assert.True(t, stored.BackupState)

	// Backup eligibility never changes: a response claiming otherwise fails.
	notEligible := device.Clone(webauthntest.WithBackup(false, false))
	_, err = e.login(t, notEligible, "alice")
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
}

func TestAddPasskeyToExistingAccount(t *testing.T) {
	e := newEnv(t)
	reg, first := e.signUp(t, "alice")

	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle, CredentialName: "Backup key"})
	require.NoError(t, err)
	assert.Contains(t, string(begin.Options), base64.RawURLEncoding.EncodeToString(reg.Credential.ID), "excludeCredentials lists the existing passkey")
	_, err = first.Register(begin.Options)
	require.ErrorIs(t, err, webauthntest.ErrInvalidState, "the authenticator holding a passkey refuses a second one")

	second := webauthntest.New(webauthntest.WithOrigin(testOrigin), webauthntest.SecurityKey())
	body, err := second.Register(begin.Options)
	require.NoError(t, err)
	added, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	assert.False(t, added.NewUser)
	assert.Equal(t, "Backup key", added.Credential.Name)
	assert.Equal(t, reg.User.Handle, added.User.Handle)

	creds, err := e.rp.ListCredentials(ctx, reg.User.Handle)
	require.NoError(t, err)
	assert.Len(t, creds, 2)
	_, err = e.login(t, second, "alice")
	require.NoError(t, err)

	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: []byte("unknown-handle")})
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle, Username: "alice"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
}

func TestUsernameTaken(t *testing.T) {
	e := newEnv(t)
	e.signUp(t, "alice")
	_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: " ALICE "})
	require.ErrorIs(t, err, webauthnkit.ErrUsernameTaken)

	// Two sign-ups for the same free name: the second to finish loses.
	b1, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "carol"})
	require.NoError(t, err)
	b2, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "carol"})
	require.NoError(t, err)
	body1, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(b1.Options)
	require.NoError(t, err)
	body2, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(b2.Options)
	require.NoError(t, err)
	first, err := e.rp.FinishRegistration(ctx, b1.CeremonyID, body1)
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, b2.CeremonyID, body2)
	require.ErrorIs(t, err, webauthnkit.ErrUsernameTaken)
	creds, err := e.rp.ListCredentials(ctx, first.User.Handle)
	require.NoError(t, err)
	assert.Len(t, creds, 1, "the loser's passkey is not added to the winner's account")
}

func TestInvalidNames(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"", "   ", strings.Repeat("a", 65), "bad\x00name", "tab\tname", string([]byte{0xff, 0xfe})} {
		_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
		assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "%q", name)
	}
	_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "ok", DisplayName: strings.Repeat("d", 65)})
	assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	_, err = e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: strings.Repeat("a", 65)})
	assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)

	n, err := webauthnkit.NormalizeUsername("  Ｊöhn ")
	require.NoError(t, err)
	assert.Equal(t, "jöhn", n, "NFKC folds the full-width J; case is folded")
}

func TestGarbageResponses(t *testing.T) {
	e := newEnv(t)
	_, auth := e.signUp(t, "alice")
	bodies := map[string][]byte{
		"empty":          nil,
		"not json":       []byte("hello"),
		"array":          []byte("[]"),
		"null":           []byte("null"),
		"empty object":   []byte("{}"),
		"wrong types":    []byte(`{"id":1,"rawId":true,"type":[],"response":"x"}`),
		"bad base64":     []byte(`{"id":"!!!","rawId":"!!!","type":"public-key","response":{"clientDataJSON":"!!","authenticatorData":"!!","signature":"!!"}}`),
		"trailing data":  []byte(`{} {}`),
		"deep nesting":   []byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000)),
		"too large":      bytes.Repeat([]byte("a"), webauthnkit.MaxResponseSize+1),
		"huge number":    []byte(`{"id":1e999999}`),
		"unicode in ids": []byte(`{"id":"ü","rawId":"ü","type":"public-key","response":{}}`),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
			require.NoError(t, err)
			_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
			require.Error(t, err)
			code := webauthnkit.ErrorCode(err)
			assert.Contains(t, []webauthnkit.Code{webauthnkit.CodeInvalidResponse, webauthnkit.CodeInvalidRequest}, code)

			rb, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "newuser"})
			require.NoError(t, err)
			_, err = e.rp.FinishRegistration(ctx, rb.CeremonyID, body)
			require.Error(t, err)
			assert.Contains(t, []webauthnkit.Code{webauthnkit.CodeInvalidResponse, webauthnkit.CodeInvalidRequest}, webauthnkit.ErrorCode(err))
		})
	}
	// Still serving.
	_, err := e.login(t, auth, "alice")
	require.NoError(t, err)
	// Unknown ceremony IDs, including absurd ones.
	for _, id := range []string{"", "nope", strings.Repeat("x", 10000)} {
		_, err := e.rp.FinishLogin(ctx, id, []byte("{}"))
		assert.ErrorIs(t, err, webauthnkit.ErrCeremonyNotFound)
	}
}

func TestCredentialManagement(t *testing.T) {
	e := newEnv(t)
	alice, _ := e.signUp(t, "alice")
	bob, _ := e.signUp(t, "bob")

	require.NoError(t, e.rp.RenameCredential(ctx, alice.User.Handle, alice.Credential.ID, "  My phone  "))
	creds, err := e.rp.ListCredentials(ctx, alice.User.Handle)
	require.NoError(t, err)
	require.Len(t, creds, 1)
	assert.Equal(t, "My phone", creds[0].Name)
	assert.Equal(t, webauthnkit.EventCredentialRenamed, e.events.last().Type)

	// Bob cannot touch alice's passkey.
	err = e.rp.RenameCredential(ctx, bob.User.Handle, alice.Credential.ID, "pwned")
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	err = e.rp.RevokeCredential(ctx, bob.User.Handle, alice.Credential.ID, true)
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	creds, _ = e.rp.ListCredentials(ctx, alice.User.Handle)
	assert.Equal(t, "My phone", creds[0].Name)

	err = e.rp.RenameCredential(ctx, alice.User.Handle, alice.Credential.ID, strings.Repeat("n", 65))
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)

	// The last passkey is protected unless forced.
	err = e.rp.RevokeCredential(ctx, alice.User.Handle, alice.Credential.ID, false)
	require.ErrorIs(t, err, webauthnkit.ErrLastCredential)
	require.NoError(t, e.rp.RevokeCredential(ctx, alice.User.Handle, alice.Credential.ID, true))
	assert.Equal(t, webauthnkit.EventCredentialRevoked, e.events.last().Type)
	creds, err = e.rp.ListCredentials(ctx, alice.User.Handle)
	require.NoError(t, err)
	assert.Empty(t, creds)

	require.NoError(t, e.rp.DeleteUser(ctx, bob.User.Handle))
	_, err = e.rp.UserByHandle(ctx, bob.User.Handle)
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	_, err = e.store.GetCredential(ctx, bob.Credential.ID)
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
}

func TestRevokedCredentialCannotLogIn(t *testing.T) {
	e := newEnv(t)
	reg, auth := e.signUp(t, "alice")
	second := webauthntest.New(webauthntest.WithOrigin(testOrigin))
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle})
	require.NoError(t, err)
	body, err := second.Register(begin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)

	require.NoError(t, e.rp.RevokeCredential(ctx, reg.User.Handle, reg.Credential.ID, false))
	lb, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(t, err)
	lbody, err := auth.LoginWith(lb.Options, reg.Credential.ID)
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, lb.CeremonyID, lbody)
	require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
	var ke *webauthnkit.Error
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, reg.Credential.ID, ke.UnknownCredentialID, "an unregistered credential is named so the client can signal it")
}

// faultyStore wraps a real store and fails every call while down is set: a
// fault injector for outage tests, not a replacement for the store.
type faultyStore struct {
	*memstore.Store
	down atomic.Bool
}

func (f *faultyStore) fail() error {
	if f.down.Load() {
		return fmt.Errorf("faulty: %w: %w", webauthnkit.ErrStoreUnavailable, errors.New("connection refused"))
	}
	return nil
}

func (f *faultyStore) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.PutCeremony(ctx, id, data, exp)
}

func (f *faultyStore) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.TakeCeremony(ctx, id)
}

func (f *faultyStore) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	if err := f.fail(); err != nil {
		return webauthnkit.Credential{}, err
	}
	return f.Store.GetCredential(ctx, id)
}

func (f *faultyStore) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	if err := f.fail(); err != nil {
		return webauthnkit.User{}, err
	}
	return f.Store.GetUserByName(ctx, name)
}

func (f *faultyStore) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	if err := f.fail(); err != nil {
		return webauthnkit.Credential{}, webauthnkit.User{}, err
	}
	return f.Store.GetCredentialWithUser(ctx, id)
}

// Features: the login path's reads, GetCredentialWithUser included, go
// through the fault above.
func (f *faultyStore) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true}
}

func TestStoreOutage(t *testing.T) {
	store := &faultyStore{Store: newMemStore(t)}
	defer store.Close()
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	auth := webauthntest.New(webauthntest.WithOrigin(testOrigin))
	begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	require.NoError(t, err)
	body, err := auth.Register(begin.Options)
	require.NoError(t, err)
	_, err = rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)

	store.down.Store(true)
	_, err = rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, "the store's cause stays in the chain")
	_, err = rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)

	store.down.Store(false)
	lb, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	lbody, err := auth.Login(lb.Options)
	require.NoError(t, err)
	store.down.Store(true)
	_, err = rp.FinishLogin(ctx, lb.CeremonyID, lbody)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	store.down.Store(false)
	_, err = rp.FinishLogin(ctx, lb.CeremonyID, lbody)
	// The take failed, so the ceremony is still there: the retry succeeds.
	require.NoError(t, err)
}

func TestSecretsNeverLogged(t *testing.T) {
	e := newEnv(t)
	_, auth := e.signUp(t, "alice")
	var secrets []string
	for _, call := range []webauthntest.CallOption{webauthntest.WrongChallenge(), webauthntest.BadSignature(), webauthntest.WrongOrigin("https://evil.example"), webauthntest.WrongRPID("evil.example")} {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
		require.NoError(t, err)
		var opts struct{ Challenge string }
		require.NoError(t, json.Unmarshal(begin.Options, &opts))
		body, err := auth.Login(begin.Options, call)
		require.NoError(t, err)
		var resp struct {
			Response struct{ Signature, AuthenticatorData, ClientDataJSON string }
		}
		require.NoError(t, json.Unmarshal(body, &resp))
		secrets = append(secrets, opts.Challenge, resp.Response.Signature, resp.Response.ClientDataJSON, begin.CeremonyID)
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), opts.Challenge)
	}
	logs := e.logs.String()
	require.Contains(t, logs, "ceremony failed", "failures are logged")
	for _, s := range secrets {
		assert.NotContains(t, logs, s)
		// The challenge may also appear in go-webauthn's %#v form: check the raw bytes' prefix too.
		assert.NotContains(t, logs, s[:16])
	}
}

// countingStore records the store calls of the login path. It does not
// count memstore's GetCredentialWithUser, which it still has (promoted from
// the embedded store), so it declares CredentialWithUser false: the library
// must go by the declaration and not call the method (an uncounted call
// would show up in the tests as a GetCredential missing).
type countingStore struct {
	*memstore.Store
	mu    sync.Mutex
	calls []string
}

func (c *countingStore) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true}
}

// joiningStore is a countingStore that counts GetCredentialWithUser and
// declares it.
type joiningStore struct{ *countingStore }

func (c joiningStore) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	c.record("GetCredentialWithUser")
	return c.Store.GetCredentialWithUser(ctx, id)
}

func (c joiningStore) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true}
}

var (
	_ webauthnkit.CredentialUserGetter = joiningStore{}
	_ webauthnkit.CredentialUserGetter = (*countingStore)(nil) // it has the method, but does not declare it
)

func (c *countingStore) record(name string) {
	c.mu.Lock()
	c.calls = append(c.calls, name)
	c.mu.Unlock()
}

func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *countingStore) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	c.record("PutCeremony")
	return c.Store.PutCeremony(ctx, id, data, exp)
}

func (c *countingStore) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	c.record("TakeCeremony")
	return c.Store.TakeCeremony(ctx, id)
}

func (c *countingStore) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	c.record("GetCredential")
	return c.Store.GetCredential(ctx, id)
}

func (c *countingStore) ListCredentials(ctx context.Context, h []byte) ([]webauthnkit.Credential, error) {
	c.record("ListCredentials")
	return c.Store.ListCredentials(ctx, h)
}

func (c *countingStore) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	c.record("GetUserByName")
	return c.Store.GetUserByName(ctx, name)
}

func (c *countingStore) GetUserByHandle(ctx context.Context, h []byte) (webauthnkit.User, error) {
	c.record("GetUserByHandle")
	return c.Store.GetUserByHandle(ctx, h)
}

func (c *countingStore) UpdateCredentialUse(ctx context.Context, id []byte, expected uint32, use webauthnkit.CredentialUse) error {
	c.record("UpdateCredentialUse")
	return c.Store.UpdateCredentialUse(ctx, id, expected, use)
}

// Every store call is a round trip on a networked store: the login path
// makes no more than it needs.
func TestLoginStoreCalls(t *testing.T) {
	t.Run("store", func(t *testing.T) {
		store := &countingStore{Store: newMemStore(t)}
		defer store.Close()
		require.False(t, store.Features().CredentialWithUser)
		testLoginStoreCalls(t, store, store,
			[]string{"TakeCeremony", "GetCredential", "UpdateCredentialUse", "GetUserByHandle"})
	})
	t.Run("store_with_CredentialUserGetter", func(t *testing.T) {
		store := &countingStore{Store: newMemStore(t)}
		defer store.Close()
		testLoginStoreCalls(t, joiningStore{store}, store,
			[]string{"TakeCeremony", "GetCredentialWithUser", "UpdateCredentialUse"})
	})
}

// testLoginStoreCalls checks the calls of a login by name and of a
// discoverable one (wantDiscoverable for FinishLogin).
func testLoginStoreCalls(t *testing.T, creds webauthnkit.CredentialStore, store *countingStore, wantDiscoverable []string) {
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: creds, Ceremonies: store})
	require.NoError(t, err)
	device := webauthntest.New(webauthntest.WithOrigin(testOrigin))
	begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	require.NoError(t, err)
	body, err := device.Register(begin.Options)
	require.NoError(t, err)
	_, err = rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)

	for _, tc := range []struct {
		username          string
		wantBegin, wantFn []string
	}{
		{"alice",
			[]string{"GetUserByName", "ListCredentials", "PutCeremony"},
			[]string{"TakeCeremony", "GetCredential", "UpdateCredentialUse"}},
		{"", []string{"PutCeremony"}, wantDiscoverable},
	} {
		store.take()
		begin, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: tc.username})
		require.NoError(t, err)
		assert.Equal(t, tc.wantBegin, store.take(), "BeginLogin(%q)", tc.username)
		body, err := device.Login(begin.Options)
		require.NoError(t, err)
		login, err := rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.NoError(t, err)
		assert.Equal(t, "alice", login.User.Name)
		assert.Equal(t, tc.wantFn, store.take(), "FinishLogin after BeginLogin(%q)", tc.username)
	}
}

// The fake allow lists vary like real ones: one or two passkeys, several ID
// lengths and transport sets.
func TestFakeAllowListsVary(t *testing.T) {
	e := newEnv(t)
	counts, lengths, transports := map[int]bool{}, map[int]bool{}, map[string]bool{}
	for i := range 200 {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: fmt.Sprint("ghost", i)})
		require.NoError(t, err)
		var opts struct {
			AllowCredentials []struct {
				ID         string   `json:"id"`
				Transports []string `json:"transports"`
			} `json:"allowCredentials"`
		}
		require.NoError(t, json.Unmarshal(begin.Options, &opts))
		counts[len(opts.AllowCredentials)] = true
		for _, c := range opts.AllowCredentials {
			id, err := base64.RawURLEncoding.DecodeString(c.ID)
			require.NoError(t, err)
			lengths[len(id)] = true
			transports[strings.Join(c.Transports, ",")] = true
		}
	}
	assert.Equal(t, map[int]bool{1: true, 2: true}, counts)
	assert.Len(t, lengths, 4)
	assert.GreaterOrEqual(t, len(transports), 3)
}

// FinishLogin for an unknown name does what it does for a real one: the
// same store calls and the same error, so neither the answer nor its
// timing tells which names exist.
//
// Also with a store implementing webauthnkit.CredentialUserGetter, which a
// login by name (known or not) must not use.
func TestUnknownNameFinishLooksReal(t *testing.T) {
	for _, joining := range []bool{false, true} {
		t.Run(fmt.Sprint("CredentialUserGetter=", joining), func(t *testing.T) {
			store := &countingStore{Store: newMemStore(t)}
			defer store.Close()
			var creds webauthnkit.CredentialStore = store
			if joining {
				creds = joiningStore{store}
			}
			testUnknownNameFinishLooksReal(t, creds, store)
		})
	}
}

func testUnknownNameFinishLooksReal(t *testing.T, creds webauthnkit.CredentialStore, store *countingStore) {
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: creds, Ceremonies: store})
	require.NoError(t, err)
	register := func(name string) (*webauthnkit.Registration, *webauthntest.Authenticator) {
		device := webauthntest.New(webauthntest.WithOrigin(testOrigin))
		begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
		require.NoError(t, err)
		body, err := device.Register(begin.Options)
		require.NoError(t, err)
		reg, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
		require.NoError(t, err)
		return reg, device
	}
	register("alice")
	_, carol := register("carol") // another account's passkey
	bob, _ := register("bob")     // an account whose passkeys are all gone
	require.NoError(t, rp.RevokeCredential(ctx, bob.User.Handle, bob.Credential.ID, true))

	stranger := webauthntest.New(webauthntest.WithOrigin(testOrigin)) // a passkey nobody registered
	reg, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "unused"})
	require.NoError(t, err)
	_, err = stranger.Register(reg.Options)
	require.NoError(t, err)

	type outcome struct {
		code  webauthnkit.Code
		named bool
		calls []string
	}
	// Each probe answers the ceremony begun for a name, as an attacker who
	// controls the client can; allow holds the options' allowCredentials.
	probes := map[string]func(options []byte, allow [][]byte) []byte{
		"unregistered passkey": func(options []byte, _ [][]byte) []byte {
			body, err := stranger.Login(withoutAllowList(t, options))
			require.NoError(t, err)
			return body
		},
		"another account's passkey": func(options []byte, _ [][]byte) []byte {
			body, err := carol.Login(withoutAllowList(t, options))
			require.NoError(t, err)
			return body
		},
		// The trick of issue 11 (item 2): a response naming the ceremony's
		// own allowCredentials[0], signed by anything, without userHandle.
		"allowCredentials[0], no userHandle": func(options []byte, allow [][]byte) []byte {
			body, err := stranger.Login(withoutAllowList(t, options))
			require.NoError(t, err)
			return setCredentialID(t, body, allow[0], nil)
		},
		"allowCredentials[0], a userHandle": func(options []byte, allow [][]byte) []byte {
			body, err := stranger.Login(withoutAllowList(t, options))
			require.NoError(t, err)
			return setCredentialID(t, body, allow[0], bytes.Repeat([]byte{9}, 32))
		},
		"random ID": func(options []byte, _ [][]byte) []byte {
			body, err := stranger.Login(withoutAllowList(t, options))
			require.NoError(t, err)
			return setCredentialID(t, body, bytes.Repeat([]byte{7}, 20), nil)
		},
	}
	try := func(name string, probe func([]byte, [][]byte) []byte) outcome {
		begin, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: name})
		require.NoError(t, err)
		body := probe(begin.Options, allowedIDs(t, begin.Options))
		store.take()
		_, err = rp.FinishLogin(ctx, begin.CeremonyID, body)
		var ke *webauthnkit.Error
		require.ErrorAs(t, err, &ke)
		return outcome{ke.Code, ke.UnknownCredentialID != nil, store.take()}
	}
	want := map[string]webauthnkit.Code{
		"unregistered passkey":               webauthnkit.CodeUnknownCredential,
		"another account's passkey":          webauthnkit.CodeUnknownCredential,
		"allowCredentials[0], no userHandle": webauthnkit.CodeInvalidResponse,
		"allowCredentials[0], a userHandle":  webauthnkit.CodeUnknownCredential,
		"random ID":                          webauthnkit.CodeUnknownCredential,
	}
	for what, probe := range probes {
		alice := try("alice", probe)
		assert.Equal(t, want[what], alice.code, what)
		assert.Equal(t, []string{"TakeCeremony", "GetCredential"}, alice.calls, what)
		for _, name := range []string{"nobody", "bob"} {
			assert.Equal(t, alice, try(name, probe), "%s, %s", what, name)
		}
	}
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

func TestTransportsFiltered(t *testing.T) {
	e := newEnv(t)
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	require.NoError(t, err)
	body, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(begin.Options)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	junk := []any{"usb", "usb", "<img src=x onerror=a>", "internal", "hybrid"}
	for range 1000 {
		junk = append(junk, "x")
	}
	m["response"].(map[string]any)["transports"] = junk
	body, err = json.Marshal(m)
	require.NoError(t, err)
	reg, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	assert.Equal(t, []string{"usb", "internal", "hybrid"}, reg.Credential.Transports)
}

func TestOriginsCanonical(t *testing.T) {
	store := newMemStore(t)
	defer store.Close()
	_, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "example.com",
		Origins:     []string{"https://Example.com/", "https://example.com:443", "https://login.example.com:8443", "http://localhost:80"},
		Credentials: store, Ceremonies: store,
	})
	if err == nil {
		t.Fatal("http://localhost with RP ID example.com must be refused")
	}
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "example.com",
		Origins:     []string{"https://Example.com/", "https://example.com:443", "https://login.example.com:8443"},
		Credentials: store, Ceremonies: store,
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"https://example.com", "https://login.example.com:8443"}, rp.Config().Origins)
}

func TestInvisibleCharactersInNames(t *testing.T) {
	for _, name := range []string{"alice\u200b", "\u202eecila", "ad\u00admin", "a\u2028b", "\u2066x"} {
		_, err := webauthnkit.NormalizeUsername(name)
		assert.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "%q", name)
	}
	e := newEnv(t)
	// The default display name goes through the same checks as a given one.
	_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: strings.Repeat("e\u0301", 64)})
	require.NoError(t, err, "64 characters after NFKC")
	// Emoji sequences with a zero-width joiner stay allowed in display names.
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "family", DisplayName: "\U0001F468\u200D\U0001F469\u200D\U0001F467"})
	require.NoError(t, err)
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bidi", DisplayName: "\u202eevil"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
}
