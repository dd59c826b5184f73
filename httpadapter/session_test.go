package httpadapter_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
)

// copySession gives a new browser a copy of b's session cookie, as an
// attacker who read it (DevTools, malware, a shared computer) would hold.
func (b *browser) copySession() *browser {
	b.t.Helper()
	c := b.cookie(httpadapter.SessionCookieInsecure)
	require.NotNil(b.t, c, "no session cookie to copy")
	thief := b.e.browser()
	thief.setCookie(httpadapter.SessionCookieInsecure, c.Value, "/")
	return thief
}

func (b *browser) sessionStatus() int {
	b.t.Helper()
	return b.call(http.MethodGet, "/session", nil).status
}

func TestSessionCopiedCookieFailsAfterLogout(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")
	thief := b.copySession()
	require.Equal(t, http.StatusOK, thief.sessionStatus(), "the copy works while the session lives")

	require.Equal(t, http.StatusNoContent, b.post("/logout", nil).status)
	require.Equal(t, http.StatusUnauthorized, thief.sessionStatus())
	require.Equal(t, http.StatusUnauthorized, thief.raw(http.MethodGet, e.srv.URL+"/me", nil, nil).status)
	require.Equal(t, "anonymous", string(thief.raw(http.MethodGet, e.srv.URL+"/maybe", nil, nil).body))
	require.Equal(t, http.StatusUnauthorized, thief.call(http.MethodGet, "/credentials", nil).status)

	// Signing in again works, and the dead copy cannot sign the new session
	// out (it is not a session any more).
	require.Equal(t, http.StatusOK, b.login(map[string]any{}).status)
	require.Equal(t, http.StatusNoContent, thief.post("/logout", map[string]any{"everywhere": true}).status)
	require.Equal(t, http.StatusOK, b.sessionStatus())
}

func TestSessionEndsWhenItsPasskeyIsRemoved(t *testing.T) {
	e := newEnv(t)
	laptop := e.browser()
	laptop.mustSignUp("alice")
	// A second passkey, on a phone, added from the laptop's session.
	phone := e.browser()
	withPhone := *laptop
	withPhone.dev = phone.dev
	r := withPhone.post("/registration/finish", withPhone.registerResponse(map[string]any{"name": "phone"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	phoneID := field(r.json, "credential", "id").(string)

	// The phone signs in with its passkey; someone copies its cookie.
	require.Equal(t, http.StatusOK, phone.login(map[string]any{}).status)
	thief := phone.copySession()
	oldLaptop := laptop.copySession()

	// The phone is lost: alice removes its passkey from the laptop.
	r = laptop.call(http.MethodDelete, "/credentials/"+phoneID, map[string]any{})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Contains(t, setCookies(r.header), httpadapter.SessionCookieInsecure, "the remover's cookie is re-issued")
	require.Equal(t, http.StatusOK, laptop.sessionStatus(), "the remover stays signed in")
	require.Equal(t, http.StatusUnauthorized, phone.sessionStatus())
	require.Equal(t, http.StatusUnauthorized, thief.sessionStatus())
	require.Equal(t, http.StatusUnauthorized, oldLaptop.sessionStatus(), "copies of the remover's old cookie end too")
}

func TestSessionIdleTimeout(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")

	// Activity within a quarter of the idle timeout: no new cookie.
	e.clock.Advance(10 * time.Minute)
	r := b.call(http.MethodGet, "/session", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.NotContains(t, setCookies(r.header), httpadapter.SessionCookieInsecure)
	// Later: re-issued, which moves the idle deadline.
	e.clock.Advance(40 * time.Minute)
	r = b.call(http.MethodGet, "/session", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, setCookies(r.header), httpadapter.SessionCookieInsecure)
	thief := b.copySession()
	// The app's own pages behind RequireUser keep the session alive too.
	e.clock.Advance(50 * time.Minute)
	r = b.raw(http.MethodGet, e.srv.URL+"/me", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, setCookies(r.header), httpadapter.SessionCookieInsecure)
	require.Equal(t, http.StatusOK, b.sessionStatus())

	// An hour without a request: over, whoever holds the cookie.
	e.clock.Advance(time.Hour)
	require.Equal(t, http.StatusUnauthorized, thief.sessionStatus())
	require.Equal(t, http.StatusUnauthorized, b.sessionStatus())
}

func TestSessionAbsoluteLifetime(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")
	for range 23 { // 11.5 h of activity every 30 minutes
		e.clock.Advance(30 * time.Minute)
		require.Equal(t, http.StatusOK, b.sessionStatus())
	}
	e.clock.Advance(30 * time.Minute)
	require.Equal(t, http.StatusUnauthorized, b.sessionStatus(), "12 h after sign-in, however active")
}

func TestSessionSignOutEverywhere(t *testing.T) {
	e := newEnv(t)
	laptop := e.browser()
	laptop.mustSignUp("alice")
	phone := e.browser()
	phone.dev = laptop.dev
	require.Equal(t, http.StatusOK, phone.login(map[string]any{}).status)

	r := laptop.post("/logout", map[string]any{"everywhere": true})
	require.Equal(t, http.StatusNoContent, r.status, "%s", r)
	require.Equal(t, http.StatusUnauthorized, laptop.sessionStatus())
	require.Equal(t, http.StatusUnauthorized, phone.sessionStatus())

	// An unknown field is refused rather than ignored.
	require.Equal(t, http.StatusBadRequest, laptop.post("/logout", map[string]any{"everywhre": true}).status)
	// A plain form post still works (the body is not JSON: ignored).
	r = laptop.raw(http.MethodPost, laptop.base+"/logout", []byte("x=1"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	require.Equal(t, http.StatusNoContent, r.status)
}

// When the store is down, logout clears the cookie but says that the
// sessions may not have ended.
func TestSessionLogoutStoreDown(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")
	thief := b.copySession()
	e.store.Fail(storewrap.ErrDown)
	r := b.post("/logout", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r)
	require.Equal(t, -1, setCookies(r.header)[httpadapter.SessionCookieInsecure].MaxAge)
	e.store.Fail(nil)
	require.Equal(t, http.StatusOK, thief.sessionStatus(), "nothing ended: the client was told so")
}

// With the app's own session, logout does nothing to sessions, and
// {"everywhere": true} ends the account's epoch for apps that check it.
func TestSessionEverywhereWithCurrentUser(t *testing.T) {
	e := newEnv(t, func(ec *envConfig) {
		ec.noSession = true
		ec.opts.CurrentUser = func(r *http.Request) ([]byte, bool) {
			h, err := base64.RawURLEncoding.DecodeString(r.Header.Get("X-App-User"))
			return h, err == nil && len(h) > 0
		}
	})
	b := e.browser()
	handle := field(b.mustSignUp("alice").json, "user", "handle").(string)
	b.header.Set("X-App-User", handle)
	start := epochOf(t, e, unb64(t, handle))
	require.Equal(t, http.StatusNoContent, b.post("/logout", nil).status)
	require.Equal(t, start, epochOf(t, e, unb64(t, handle)))
	require.Equal(t, http.StatusNoContent, b.post("/logout", map[string]any{"everywhere": true}).status)
	require.Equal(t, start+1, epochOf(t, e, unb64(t, handle)))
	require.Equal(t, http.StatusOK, b.sessionStatus(), "the app's session is the app's to end")
}

func epochOf(t *testing.T, e *env, handle []byte) uint64 {
	t.Helper()
	u, err := e.rp.UserByHandle(context.Background(), handle)
	require.NoError(t, err)
	return u.SessionEpoch
}
