package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/webauthntest"
)

const origin = "http://localhost:8082"

// client is a browser in-process: it keeps cookies and sends Origin.
type client struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
}

func (c *client) do(method, path, contentType, body string) *httptest.ResponseRecorder {
	c.t.Helper()
	req := httptest.NewRequest(method, origin+path, strings.NewReader(body))
	req.Header.Set("Origin", origin)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, req)
	for _, ck := range w.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return w
}

func (c *client) json(path, body string) *httptest.ResponseRecorder {
	return c.do(http.MethodPost, path, "application/json", body)
}

// TestOwnSessions runs the README's "Adding passkeys to an existing app":
// a password user adds a passkey (the app links its user ID to the new
// handle), then signs in with it in another browser and gets the app's own
// session for its own user ID.
func TestOwnSessions(t *testing.T) {
	h, err := newApp(origin, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	device := webauthntest.New(webauthntest.WithOrigin(origin))

	// Not signed in to the app: no passkey can be added, and no sign-up
	// with a name of the client's choice.
	stranger := &client{t: t, h: h, cookies: map[string]*http.Cookie{}}
	w := stranger.json("/passkeys/registration/begin", `{"username": "mallory"}`)
	require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
	require.JSONEq(t, `{"error":"not_signed_in","message":"sign in first"}`, w.Body.String())
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))

	laptop := &client{t: t, h: h, cookies: map[string]*http.Cookie{}}
	w = laptop.do(http.MethodPost, "/password-login", "application/x-www-form-urlencoded",
		url.Values{"email": {"alice@example.com"}, "password": {"password"}}.Encode())
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())

	// First passkey: the client's body is ignored, the webauthnkit user is
	// named after the account.
	w = laptop.json("/passkeys/registration/begin", `{"username": "someone-else"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `"alice@example.com"`)
	cred, err := device.Register(w.Body.Bytes())
	require.NoError(t, err)
	w = laptop.json("/passkeys/registration/finish", string(cred))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `"newUser":true`)

	// Second passkey: added to the same webauthnkit user (CurrentUser).
	phone := webauthntest.New(webauthntest.WithOrigin(origin))
	w = laptop.json("/passkeys/registration/begin", `{}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	cred, err = phone.Register(w.Body.Bytes())
	require.NoError(t, err)
	w = laptop.json("/passkeys/registration/finish", string(cred))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `"newUser":false`)
	w = laptop.do(http.MethodGet, "/passkeys/credentials", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, 2, strings.Count(w.Body.String(), `"createdAt"`))

	// Another browser, usernameless sign-in: OnLogin starts the app's session.
	other := &client{t: t, h: h, cookies: map[string]*http.Cookie{}}
	require.Equal(t, http.StatusUnauthorized, other.do(http.MethodGet, "/me", "", "").Code)
	w = other.json("/passkeys/login/begin", `{}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assertion, err := device.Login(w.Body.Bytes())
	require.NoError(t, err)
	w = other.json("/passkeys/login/finish", string(assertion))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.NotNil(t, other.cookies["app_session"], "the app's own session cookie")
	require.Nil(t, other.cookies["webauthnkit_session"], "the adapter's session is off")

	w = other.do(http.MethodGet, "/me", "", "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "signed in as alice@example.com (user 42)", w.Body.String())
}
