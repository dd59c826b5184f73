package httpadapter_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// withoutAllowList drops allowCredentials from request options, as a
// client that ignores them would.
func withoutAllowList(t *testing.T, options []byte) []byte {
	var m map[string]any
	require.NoError(t, json.Unmarshal(options, &m))
	delete(m, "allowCredentials")
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// reauth runs reauth/begin and reauth/finish with b's authenticator.
func (b *browser) reauth(opts ...webauthntest.CallOption) *response {
	b.t.Helper()
	body, err := b.dev.Login(b.publicKey(b.post("/reauth/begin", map[string]any{})), opts...)
	require.NoError(b.t, err)
	return b.post("/reauth/finish", body)
}

// addPasskey adds a passkey from another authenticator to b's account.
func (b *browser) addPasskey() (*response, *webauthntest.Authenticator) {
	b.t.Helper()
	r := b.post("/registration/begin", map[string]any{})
	if r.status != http.StatusOK {
		return r, nil
	}
	other := webauthntest.New(webauthntest.WithOrigin(b.e.origin))
	body, err := other.Register(b.publicKey(r))
	require.NoError(b.t, err)
	return b.post("/registration/finish", body), other
}

func TestStepUpRemoveAndAddPasskey(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")

	// Within the window of the sign-up (user verified): no step-up.
	r, _ := b.addPasskey()
	require.Equal(t, http.StatusOK, r.status, r.String())
	secondID := field(r.json, "credential", "id").(string)

	// Later: removing needs a fresh re-authentication.
	e.clock.Advance(httpadapter.DefaultFreshAuthMaxAge + time.Second)
	r = b.call(http.MethodDelete, "/credentials/"+secondID, map[string]any{})
	require.Equal(t, http.StatusForbidden, r.status, r.String())
	require.Equal(t, "reauth_required", r.code())
	r, _ = b.addPasskey()
	require.Equal(t, http.StatusForbidden, r.status, r.String())
	require.Equal(t, "reauth_required", r.code())
	require.Len(t, credentialIDs(b.call(http.MethodGet, "/credentials", nil)), 2, "nothing removed")

	r = b.reauth()
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, "alice", field(r.json, "user", "name"))
	at, err := time.Parse(time.RFC3339, r.json["authenticatedAt"].(string))
	require.NoError(t, err)
	require.True(t, at.Equal(e.clock.Now()))
	require.Contains(t, setCookies(r.header), httpadapter.SessionCookieInsecure, "the session records the time")

	r = b.call(http.MethodDelete, "/credentials/"+secondID, map[string]any{})
	require.Equal(t, http.StatusOK, r.status, r.String())
	// Removal re-issues the session under the new epoch; it stays fresh.
	r, _ = b.addPasskey()
	require.Equal(t, http.StatusOK, r.status, r.String())

	// A login with user verification is fresh too.
	e.clock.Advance(time.Hour)
	r = b.login(map[string]any{})
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Equal(t, false, r.json["crossDevice"])
	r, _ = b.addPasskey()
	require.Equal(t, http.StatusOK, r.status, r.String())
}

func TestStepUpLoginWithoutUserVerificationIsNotFresh(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")
	r, _ := b.addPasskey()
	require.Equal(t, http.StatusOK, r.status, r.String())
	secondID := field(r.json, "credential", "id").(string)

	// Config.UserVerification is "preferred": a login without UV succeeds,
	// but records no user-verified authentication.
	nouv := e.browser(webauthntest.WithUserVerification(false))
	nouv.dev = b.dev
	r = nouv.login(map[string]any{}, webauthntest.WithoutUserVerification())
	require.Equal(t, http.StatusOK, r.status, r.String())
	r = nouv.call(http.MethodDelete, "/credentials/"+secondID, map[string]any{})
	require.Equal(t, http.StatusForbidden, r.status, r.String())
	require.Equal(t, "reauth_required", r.code())
	// A re-authentication without user verification does not count.
	r = nouv.reauth(webauthntest.WithoutUserVerification())
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "user_verification_required", r.code())
}

func TestStepUpReauthErrors(t *testing.T) {
	e := newEnv(t)
	alice := e.browser()
	alice.mustSignUp("alice")
	bob := e.browser()
	bob.mustSignUp("bob")

	// Not signed in.
	anon := e.browser()
	r := anon.post("/reauth/begin", map[string]any{})
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "not_signed_in", r.code())

	// Alice's session, Bob's passkey (the allow list ignored).
	opts := alice.publicKey(alice.post("/reauth/begin", map[string]any{}))
	body, err := bob.dev.Login(withoutAllowList(t, opts))
	require.NoError(t, err)
	r = alice.post("/reauth/finish", body)
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
	require.Equal(t, "wrong_user", r.code())

	// A body other than {} is refused.
	r = alice.post("/reauth/begin", map[string]any{"username": "bob"})
	require.Equal(t, http.StatusBadRequest, r.status, r.String())
	// Replaying a finished re-authentication fails.
	body, err = alice.dev.Login(alice.publicKey(alice.post("/reauth/begin", map[string]any{})))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, alice.post("/reauth/finish", body).status)
	r = alice.post("/reauth/finish", body)
	require.Equal(t, http.StatusUnauthorized, r.status, r.String())
}

func TestRequireFreshAuth(t *testing.T) {
	e := newEnv(t, func(ec *envConfig) {
		ec.mount = func(mux *http.ServeMux, h *httpadapter.Handler) {
			mux.Handle("/passkeys/", http.StripPrefix("/passkeys", h))
			mux.Handle("/sensitive", h.RequireFreshAuth(time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				u, _ := httpadapter.UserFromContext(r.Context())
				_, _ = w.Write([]byte("ok " + u.Name))
			})))
		}
	})
	b := e.browser()
	get := func() *response { return b.raw(http.MethodGet, e.srv.URL+"/sensitive", nil, nil) }
	r := get()
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "not_signed_in", r.code())

	b.mustSignUp("alice")
	r = get()
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "ok alice", string(r.body))
	e.clock.Advance(time.Minute + time.Second)
	r = get()
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "reauth_required", r.code())
	require.Equal(t, http.StatusOK, b.reauth().status)
	require.Equal(t, http.StatusOK, get().status)
}

func TestStepUpDisabled(t *testing.T) {
	e := newEnv(t, func(ec *envConfig) { ec.opts.FreshAuthMaxAge = -1 })
	b := e.browser()
	b.mustSignUp("alice")
	e.clock.Advance(30 * time.Minute) // within the idle timeout
	r, _ := b.addPasskey()
	require.Equal(t, http.StatusOK, r.status, r.String())
	r = b.call(http.MethodDelete, "/credentials/"+field(r.json, "credential", "id").(string), map[string]any{})
	require.Equal(t, http.StatusOK, r.status, r.String())
}

// With the application's own session: the adapter asks it for the time
// (Options.AuthenticatedAt) and tells it the new one (Options.OnReauth).
func TestStepUpWithCurrentUser(t *testing.T) {
	var (
		handle []byte
		authAt time.Time
	)
	e := newEnv(t, func(ec *envConfig) {
		ec.noSession = true
		ec.opts.CurrentUser = func(*http.Request) ([]byte, bool) { return handle, handle != nil }
		ec.opts.AuthenticatedAt = func(*http.Request) time.Time { return authAt }
		ec.opts.OnReauth = func(_ http.ResponseWriter, _ *http.Request, login *webauthnkit.Login) error {
			authAt = login.AuthenticatedAt
			return nil
		}
	})
	b := e.browser()
	r := b.signUp("alice") // sign-up creates the account; the app signs in
	require.Equal(t, http.StatusOK, r.status, r.String())
	handle = unb64(t, field(r.json, "user", "handle").(string))

	r, _ = b.addPasskey()
	require.Equal(t, http.StatusForbidden, r.status, "no authentication on record: %s", r)
	require.Equal(t, "reauth_required", r.code())
	r = b.reauth()
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.Empty(t, setCookies(r.header)[httpadapter.SessionCookieInsecure], "no built-in session")
	require.True(t, authAt.Equal(e.clock.Now()), "OnReauth got the time")
	r, _ = b.addPasskey()
	require.Equal(t, http.StatusOK, r.status, r.String())
}

// Replacing the recovery codes is a sensitive action too.
func TestStepUpRecoveryCodes(t *testing.T) {
	ae := newAccountEnv(t)
	b := ae.browser()
	b.mustSignUp("carol")
	ae.clock.Advance(httpadapter.DefaultFreshAuthMaxAge + time.Second)
	r := b.post("/recovery/codes", map[string]any{})
	require.Equal(t, http.StatusForbidden, r.status, r.String())
	require.Equal(t, "reauth_required", r.code())
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/recovery/codes", nil).status, "reading the count needs no step-up")
	require.Equal(t, http.StatusOK, b.reauth().status)
	r = b.post("/recovery/codes", map[string]any{})
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.NotEmpty(t, r.json["codes"])
}
