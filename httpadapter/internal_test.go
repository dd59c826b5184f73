package httpadapter

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
)

func testHandler(t *testing.T, secret []byte) *Handler {
	store := memstore.New()
	t.Cleanup(func() { _ = store.Close() })
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: "example.com", Origins: []string{"https://example.com"}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	h, err := New(rp, Options{SessionSecret: secret})
	require.NoError(t, err)
	return h
}

func TestSessionValue(t *testing.T) {
	h := testHandler(t, bytes.Repeat([]byte{1}, 32))
	other := testHandler(t, bytes.Repeat([]byte{2}, 32))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	handle := bytes.Repeat([]byte{9}, 32)

	v := h.sessionValue(handle, now.Add(time.Hour))
	got, ok := h.parseSession(v, now)
	require.True(t, ok)
	require.Equal(t, handle, got)

	_, ok = other.parseSession(v, now)
	require.False(t, ok, "another secret")
	_, ok = h.parseSession(v, now.Add(time.Hour))
	require.False(t, ok, "expired at the instant")
	_, ok = h.parseSession(v, now.Add(time.Hour-time.Second))
	require.True(t, ok)

	// Handles from 1 to 64 bytes round-trip; the cookie stays small.
	for _, n := range []int{1, 16, 64} {
		v := h.sessionValue(bytes.Repeat([]byte{3}, n), now.Add(time.Minute))
		require.LessOrEqual(t, len(v), maxSessionCookie)
		got, ok := h.parseSession(v, now)
		require.True(t, ok, n)
		require.Len(t, got, n)
	}
	_, ok = h.parseSession(h.sessionValue(nil, now.Add(time.Minute)), now)
	require.False(t, ok, "empty handle")
	_, ok = h.parseSession(h.sessionValue(bytes.Repeat([]byte{3}, 65), now.Add(time.Minute)), now)
	require.False(t, ok, "oversized handle")
	_, ok = h.parseSession(h.sessionValue(handle, time.Unix(-5, 0)), now)
	require.False(t, ok, "negative expiry")
}

func TestMountPath(t *testing.T) {
	cases := []struct{ uri, endpoint, want string }{
		{"/passkeys/registration/begin", "registration/begin", "/passkeys"},
		{"/passkeys/login/finish?x=1", "login/finish", "/passkeys"},
		{"/a/b/login/begin", "login/begin", "/a/b"},
		{"/login/begin", "login/begin", "/"},
		{"/custom/signup", "registration/begin", "/"},
		{"/p%3Bx/login/begin", "login/begin", "/p%3Bx"},
		{"/p;x/login/begin", "login/begin", "/"},
		{"/p\"x/login/begin", "login/begin", "/p%22x"}, // as the browser sends it
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodPost, "http://example.com/", nil)
		r.RequestURI = c.uri
		assert.Equal(t, c.want, mountPath(r, c.endpoint), c.uri)
	}
	// Without RequestURI (handler called directly), the URL path is used.
	r := httptest.NewRequest(http.MethodPost, "http://example.com/x/login/begin", nil)
	r.RequestURI = ""
	assert.Equal(t, "/x", mountPath(r, "login/begin"))
}

func TestInsecureDev(t *testing.T) {
	cases := []struct {
		origin, host string
		tls          bool
		want         bool
	}{
		{"http://localhost:8080", "localhost:8080", false, true},
		{"http://127.0.0.1:3000", "127.0.0.1:3000", false, true},
		{"http://[::1]:3000", "[::1]:3000", false, true},
		{"https://localhost:8443", "localhost:8443", true, false},
		{"https://example.com", "example.com", false, false},
		{"http://example.com", "example.com", false, false},
		{"null", "localhost", false, true}, // falls back to Host
		{"", "localhost:8080", false, true},
		{"", "localhost:8080", true, false},
		{"", "example.com", false, false}, // behind a TLS-terminating proxy
		{"http://localhost.evil.com", "localhost", false, false},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "http://"+c.host+"/", nil)
		r.Host = c.host
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		} else {
			r.TLS = nil
		}
		assert.Equal(t, c.want, insecureDev(r), "%+v", c)
	}
}

func TestETagMatches(t *testing.T) {
	assert.True(t, etagMatches(`"a"`, `"a"`))
	assert.True(t, etagMatches(`W/"a"`, `"a"`))
	assert.True(t, etagMatches(`"b", "a"`, `"a"`))
	assert.True(t, etagMatches(`*`, `"a"`))
	assert.False(t, etagMatches(``, `"a"`))
	assert.False(t, etagMatches(`"b"`, `"a"`))
	assert.False(t, etagMatches(`a`, `"a"`))
}

func TestStatusMapping(t *testing.T) {
	for code, status := range map[webauthnkit.Code]int{
		webauthnkit.CodeInvalidRequest:           400,
		webauthnkit.CodeInvalidResponse:          401,
		webauthnkit.CodeCeremonyNotFound:         401,
		webauthnkit.CodeChallengeExpired:         401,
		webauthnkit.CodeWrongCeremony:            401,
		webauthnkit.CodeChallengeMismatch:        401,
		webauthnkit.CodeOriginMismatch:           401,
		webauthnkit.CodeRPIDMismatch:             401,
		webauthnkit.CodeUserVerificationRequired: 401,
		webauthnkit.CodeUnknownCredential:        401,
		webauthnkit.CodeCounterRegression:        401,
		webauthnkit.CodeUserNotFound:             401,
		webauthnkit.CodeNotFound:                 404,
		webauthnkit.CodeCredentialExists:         409,
		webauthnkit.CodeUsernameTaken:            409,
		webauthnkit.CodeLastCredential:           409,
		webauthnkit.CodeStoreUnavailable:         503,
		webauthnkit.CodeInternal:                 500,
		webauthnkit.Code("future_code"):          500,
	} {
		assert.Equal(t, status, statusOf(code), code)
	}
}

func TestInsecureOnlyWithDevOrigins(t *testing.T) {
	// A production RP (https origins only) always sets Secure cookies, even
	// behind a proxy that rewrites Host to localhost.
	prod := testHandler(t, bytes.Repeat([]byte{1}, 32))
	r := httptest.NewRequest(http.MethodGet, "http://localhost:8080/passkeys/session", nil)
	r.TLS = nil
	require.True(t, insecureDev(r))
	require.False(t, prod.insecure(r))
	require.Equal(t, SessionCookieSecure, prod.sessionCookieName(r))

	store := memstore.New()
	t.Cleanup(func() { _ = store.Close() })
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: "localhost", Origins: []string{"http://localhost:8080"}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	dev, err := New(rp, Options{SessionSecret: bytes.Repeat([]byte{1}, 32)})
	require.NoError(t, err)
	require.True(t, dev.insecure(r))
	require.Equal(t, SessionCookieInsecure, dev.sessionCookieName(r))
}
