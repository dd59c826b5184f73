package httpadapter

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
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
	store, err := memstore.New()
	require.NoError(t, err)
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
	sess := func(handle []byte, signedIn, refreshed time.Time) session {
		return session{handle: handle, builtin: true, signedIn: signedIn, refreshed: refreshed, epoch: 7}
	}

	v := h.sessionValue(sess(handle, now, now))
	got, ok := h.parseSession(v, now)
	require.True(t, ok)
	require.Equal(t, handle, got.handle)
	require.Equal(t, uint64(7), got.epoch)
	require.True(t, got.signedIn.Equal(now))

	_, ok = other.parseSession(v, now)
	require.False(t, ok, "another secret")
	_, ok = h.parseSession(v, now.Add(DefaultSessionIdleTimeout))
	require.False(t, ok, "idle timeout, at the instant")
	_, ok = h.parseSession(v, now.Add(DefaultSessionIdleTimeout-time.Second))
	require.True(t, ok)
	refreshed := h.sessionValue(sess(handle, now, now.Add(DefaultSessionTTL-time.Minute)))
	_, ok = h.parseSession(refreshed, now.Add(DefaultSessionTTL-time.Second))
	require.True(t, ok, "refreshed, within the absolute lifetime")
	_, ok = h.parseSession(refreshed, now.Add(DefaultSessionTTL))
	require.False(t, ok, "absolute lifetime, at the instant, however recent the refresh")

	// Handles from 1 to 64 bytes round-trip; the cookie stays small.
	for _, n := range []int{1, 16, 64} {
		v := h.sessionValue(sess(bytes.Repeat([]byte{3}, n), now, now))
		require.LessOrEqual(t, len(v), maxSessionCookie)
		got, ok := h.parseSession(v, now)
		require.True(t, ok, n)
		require.Len(t, got.handle, n)
	}
	_, ok = h.parseSession(h.sessionValue(sess(nil, now, now)), now)
	require.False(t, ok, "empty handle")
	_, ok = h.parseSession(h.sessionValue(sess(bytes.Repeat([]byte{3}, 65), now, now)), now)
	require.False(t, ok, "oversized handle")
	_, ok = h.parseSession(h.sessionValue(sess(handle, time.Unix(-5, 0), now)), now)
	require.False(t, ok, "negative sign-in time")
	_, ok = h.parseSession(h.sessionValue(sess(handle, now, now.Add(-time.Second))), now)
	require.False(t, ok, "refreshed before signed in")
}

// A cookie of the first format (expiry || handle || mac, label v1), signed
// with the right secret and unexpired, is refused.
func TestSessionOldFormatRefused(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	h := testHandler(t, secret)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, handle := range [][]byte{bytes.Repeat([]byte{9}, 16), bytes.Repeat([]byte{9}, 40)} {
		payload := binary.BigEndian.AppendUint64(nil, uint64(now.Add(time.Hour).Unix()))
		payload = append(payload, handle...)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("webauthnkit session v1\x00"))
		m.Write(payload)
		v1 := base64.RawURLEncoding.EncodeToString(append(payload, m.Sum(nil)...))
		_, ok := h.parseSession(v1, now)
		require.False(t, ok, "handle of %d bytes", len(handle))
	}
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
		webauthnkit.CodeEmailTaken:               409,
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

	store, err := memstore.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: "localhost", Origins: []string{"http://localhost:8080"}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	dev, err := New(rp, Options{SessionSecret: bytes.Repeat([]byte{1}, 32)})
	require.NoError(t, err)
	require.True(t, dev.insecure(r))
	require.Equal(t, SessionCookieInsecure, dev.sessionCookieName(r))
}
