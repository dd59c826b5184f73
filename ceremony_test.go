package webauthnkit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

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

func TestStoreOutage(t *testing.T) {
	mem := newMemStore(t)
	store := storewrap.New(mem, mem)
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	_, auth := register(t, rp, webauthnkit.RegistrationRequest{Username: "alice"})

	store.Fail(storewrap.ErrDown)
	_, err = rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, "the store's cause stays in the chain")
	_, err = rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)

	store.Fail(nil)
	lb, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	lbody, err := auth.Login(lb.Options)
	require.NoError(t, err)
	store.Fail(storewrap.ErrDown)
	_, err = rp.FinishLogin(ctx, lb.CeremonyID, lbody)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	store.Fail(nil)
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
