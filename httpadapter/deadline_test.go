package httpadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// A store that hangs (here: every call waits an hour, honouring its
// context, as a store client with a context deadline does) is answered 503
// store_unavailable with Retry-After once Options.StoreTimeout has passed,
// on every endpoint that reaches the store; nothing is held longer.
func TestStoreTimeout(t *testing.T) {
	const deadline = 300 * time.Millisecond
	e := newEnv(t, func(c *envConfig) { c.opts.StoreTimeout = deadline })
	b := e.browser()
	b.mustSignUp("alice")
	resp := b.loginResponse(map[string]any{})

	e.store.SetDelay(time.Hour)
	check := func(name string, do func() *response) {
		t.Helper()
		start := time.Now()
		r := do()
		elapsed := time.Since(start)
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s: %s", name, r.String())
		require.Equal(t, "store_unavailable", r.code(), name)
		require.Equal(t, "5", r.header.Get("Retry-After"), name)
		require.GreaterOrEqual(t, elapsed, deadline, "%s answered before the deadline: the store was not waited for", name)
		// Generous but bounded: a loaded CI machine, never the hour.
		require.Less(t, elapsed, deadline+time.Second, "%s held past the deadline", name)
	}
	check("login/finish", func() *response { return b.post("/login/finish", resp) })
	check("login/begin usernameless", func() *response { return b.post("/login/begin", map[string]any{}) })
	check("login/begin username", func() *response { return b.post("/login/begin", map[string]string{"username": "alice"}) })
	check("registration/begin sign-up", func() *response { return b.post("/registration/begin", map[string]string{"username": "bob"}) })
	check("registration/begin signed in", func() *response { return b.post("/registration/begin", map[string]string{}) })
	check("session", func() *response { return b.call(http.MethodGet, "/session", nil) })
	check("credentials", func() *response { return b.call(http.MethodGet, "/credentials", nil) })
	check("rename", func() *response {
		return b.call(http.MethodPatch, "/credentials/AAAA", map[string]string{"name": "x"})
	})
	check("revoke", func() *response { return b.call(http.MethodDelete, "/credentials/AAAA", map[string]any{}) })
	check("RequireUser", func() *response { return b.raw(http.MethodGet, e.srv.URL+"/me", nil, nil) })
	// LoadUser degrades to anonymous, after the deadline, not the hour.
	start := time.Now()
	require.Equal(t, "anonymous", string(b.raw(http.MethodGet, e.srv.URL+"/maybe", nil, nil).body))
	require.Less(t, time.Since(start), deadline+time.Second)
	require.Contains(t, e.logs.String(), "deadline exceeded", "operators see the cause")

	// Sign-out too (it clears the cookie whatever happens).
	check("logout", func() *response { return b.post("/logout", map[string]any{}) })

	// The store answers again: so does every endpoint, no restart.
	e.store.SetDelay(0)
	require.Equal(t, http.StatusOK, b.login(map[string]any{}).status)
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/session", nil).status)
}

// A client that goes away while the store is slow is not an outage: 499
// canceled (logged at Debug), not 503, and no store-unavailable warning.
func TestStoreTimeoutClientCancel(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.opts.StoreTimeout = 10 * time.Second })
	e.store.SetDelay(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/login/begin", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", e.origin)
	rec := httptest.NewRecorder()
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	e.h.ServeHTTP(rec, req)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, httpadapter.StatusClientClosedRequest, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"canceled"`)
	require.NotContains(t, e.logs.String(), "store unavailable")
}

// The default deadline is DefaultStoreTimeout (2 s), and a negative
// StoreTimeout leaves only the request's own context.
func TestStoreTimeoutDefault(t *testing.T) {
	require.Equal(t, 2*time.Second, httpadapter.DefaultStoreTimeout)
	e := newEnv(t)
	e.store.SetDelay(time.Hour)
	b := e.browser()
	start := time.Now()
	r := b.post("/login/begin", map[string]any{})
	elapsed := time.Since(start)
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.String())
	require.GreaterOrEqual(t, elapsed, httpadapter.DefaultStoreTimeout)
	require.Less(t, elapsed, httpadapter.DefaultStoreTimeout+time.Second)

	none := newEnv(t, func(c *envConfig) { c.opts.StoreTimeout = -1 })
	none.store.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/login/begin", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", none.origin)
	rec := httptest.NewRecorder()
	start = time.Now()
	none.h.ServeHTTP(rec, req)
	// Held by the request's own deadline (2.5 s), past the default's 2 s.
	require.GreaterOrEqual(t, time.Since(start), 2500*time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
}

// Behind LoadUser (as an app mounts the adapter under its session
// middleware) the deadline counts from LoadUser's lookup: a request that
// waited for a hung store there does not get a second full StoreTimeout at
// the endpoint.
func TestStoreTimeoutBehindLoadUser(t *testing.T) {
	const deadline = time.Second
	e := newEnv(t, func(c *envConfig) {
		c.opts.StoreTimeout = deadline
		c.mount = func(mux *http.ServeMux, h *httpadapter.Handler) {
			mux.Handle("/passkeys/", h.LoadUser(http.StripPrefix("/passkeys", h)))
		}
	})
	b := e.browser()
	b.mustSignUp("alice") // signed in: LoadUser looks the user up
	e.store.SetDelay(time.Hour)
	start := time.Now()
	r := b.post("/login/begin", map[string]string{"username": "alice"})
	elapsed := time.Since(start)
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.String())
	require.GreaterOrEqual(t, elapsed, deadline)
	// Without the shared start it takes two deadlines (2 s).
	require.Less(t, elapsed, deadline+700*time.Millisecond, "LoadUser's wait and the endpoint's each got a full deadline")
}
