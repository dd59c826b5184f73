package webauthnkit_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

const relatedOrigin = "https://example.co.uk"

func TestRelatedOriginsConfig(t *testing.T) {
	store := newMemStore(t)
	defer store.Close()
	base := func() webauthnkit.Config {
		return webauthnkit.Config{RPID: "example.com", Origins: []string{"https://example.com"}, Credentials: store, Ceremonies: store}
	}
	for _, tc := range []struct {
		name    string
		related []string
		why     string // part of the error
	}{
		{"http", []string{"http://example.org"}, "https"},
		{"http localhost", []string{"http://localhost:8080"}, "https"},
		{"localhost", []string{"https://localhost"}, "registrable domain"},
		{"IP address", []string{"https://192.0.2.1"}, "IP address"},
		{"public suffix", []string{"https://co.uk"}, "registrable domain"},
		{"private public suffix", []string{"https://github.io"}, "registrable domain"},
		{"the RP ID itself", []string{"https://example.com"}, "list it in Origins"},
		{"a subdomain of the RP ID", []string{"https://login.example.com"}, "list it in Origins"},
		{"path", []string{"https://example.org/login"}, "origin only"},
		{"credentials", []string{"https://u:p@example.org"}, "origin only"},
		{"not a URL", []string{"example.org"}, "not an origin"},
		{"unicode host", []string{"https://exämple.org"}, "punycode"},
		{"native app", []string{"android:apk-key-hash:abc"}, "not an origin"},
		{"wildcard host", []string{"https://*.example.org"}, "host name"},
		{"numeric host (an IPv4 address to browsers)", []string{"https://0x7f.1"}, "IP address"},
		{"dotted decimal with a leading zero", []string{"https://example.010"}, "IP address"},
		{"bad label", []string{"https://-example.org"}, "host name"},
		{"port out of range", []string{"https://example.org:99999"}, "port"},
		{"empty port", []string{"https://example.org:"}, "port"},
		{"six labels", []string{"https://a.org", "https://b.org", "https://c.org", "https://d.org", "https://e.org", "https://f.org"}, "6 distinct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			cfg.RelatedOrigins = tc.related
			_, err := webauthnkit.New(cfg)
			var ce *webauthnkit.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "RelatedOrigins", ce.Field)
			assert.Contains(t, err.Error(), tc.why)
		})
	}

	t.Run("accepted", func(t *testing.T) {
		cfg := base()
		// Five labels (example, a, b, c, d), the most browsers read: the
		// same label under other suffixes costs nothing.
		cfg.RelatedOrigins = []string{
			"https://Example.co.uk:443/", "https://example.de", "https://login.example.com.au:8443",
			"https://a.org", "https://b.org", "https://c.org", "https://www.d.org", "https://d.org", "https://example.de",
			"https://alice.github.io", // a private suffix: alice is the label
		}
		_, err := webauthnkit.New(cfg)
		require.Error(t, err, "six labels with alice")
		cfg.RelatedOrigins = cfg.RelatedOrigins[:len(cfg.RelatedOrigins)-1]
		rp, err := webauthnkit.New(cfg)
		require.NoError(t, err)
		want := []string{"https://example.co.uk", "https://example.de", "https://login.example.com.au:8443", "https://a.org", "https://b.org", "https://c.org", "https://www.d.org", "https://d.org"}
		assert.Equal(t, want, rp.RelatedOrigins())
		assert.Equal(t, append([]string{"https://example.com"}, want...), rp.Origins(), "Origins, then RelatedOrigins")
		got := rp.RelatedOrigins()
		got[0] = "https://evil.example"
		assert.Equal(t, "https://example.co.uk", rp.RelatedOrigins()[0], "a copy")
	})

	t.Run("native app, web and five related labels", func(t *testing.T) {
		// The RP ID's own label does not count (the document lists only
		// the related origins), nor does a native app origin.
		cfg := base()
		cfg.Origins = []string{"https://example.com", "android:apk-key-hash:AbCdEf"}
		cfg.RelatedOrigins = []string{"https://a.co.uk", "https://b.org", "https://c.org", "https://d.org", "https://e.org"}
		rp, err := webauthnkit.New(cfg)
		require.NoError(t, err)
		assert.Len(t, rp.Origins(), 7)
	})

	t.Run("native app origins only", func(t *testing.T) {
		for _, o := range []string{
			"android:apk-key-hash:AbCdEf_-12", "android:apk-key-hash-sha256:xyz", "ios:bundle-id:com.example.app",
			"chrome-extension://abcdefghijklmnop", "moz-extension://1234-5678", "ms-appx://Example.App",
		} {
			cfg := base()
			cfg.Origins = []string{o}
			rp, err := webauthnkit.New(cfg)
			require.NoError(t, err, o)
			assert.Equal(t, []string{o}, rp.Origins(), "kept byte for byte")
		}
		for _, o := range []string{"android:apk-key-hash:a b", "android:apk-key-hash:" + strings.Repeat("a", 600), "ios:bundle-id:", "file:///etc/passwd"} {
			cfg := base()
			cfg.Origins = []string{o}
			_, err := webauthnkit.New(cfg)
			assert.Error(t, err, o)
		}
	})
}

// A registration and a login from a related origin verify; the same
// authenticator on an origin listed nowhere is refused with
// ErrOriginMismatch; a native app origin verifies without any web origin.
func TestRelatedOriginCeremonies(t *testing.T) {
	e := newEnv(t, func(c *webauthnkit.Config) { c.RelatedOrigins = []string{relatedOrigin} })
	// webauthntest builds clientDataJSON with the configured origin and the
	// options' RP ID, as a browser on the related origin does after
	// reading /.well-known/webauthn.
	reg, auth := register(t, e.rp, webauthnkit.RegistrationRequest{Username: "alice"}, webauthntest.WithOrigin(relatedOrigin))
	require.Equal(t, "alice", reg.User.Name)
	login, err := e.login(t, auth, "alice")
	require.NoError(t, err)
	assert.Equal(t, reg.Credential.ID, login.Credential.ID)

	_, err = e.login(t, auth, "alice", webauthntest.WrongOrigin("https://example.org"))
	require.ErrorIs(t, err, webauthnkit.ErrOriginMismatch)
	_, err = e.login(t, auth, "alice", webauthntest.WrongOrigin("http://example.co.uk"))
	require.ErrorIs(t, err, webauthnkit.ErrOriginMismatch, "the scheme counts")

	// Without RelatedOrigins the same response is refused.
	plain := newEnv(t)
	begin, err := plain.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bob"})
	require.NoError(t, err)
	body, err := webauthntest.New(webauthntest.WithOrigin(relatedOrigin)).Register(begin.Options)
	require.NoError(t, err)
	_, err = plain.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrOriginMismatch)

	// A native app beside web and related origins.
	const app = "android:apk-key-hash:AbCdEfGhIjKlMnOpQrStUvWxYz0"
	mixed := newEnv(t, func(c *webauthnkit.Config) {
		c.Origins = append(c.Origins, app)
		c.RelatedOrigins = []string{relatedOrigin}
	})
	_, auth = register(t, mixed.rp, webauthnkit.RegistrationRequest{Username: "dave"}, webauthntest.WithOrigin(app))
	_, err = mixed.login(t, auth, "dave")
	require.NoError(t, err)
	_, err = mixed.login(t, auth, "dave", webauthntest.WrongOrigin(relatedOrigin))
	require.NoError(t, err, "the same passkey from the related origin")
	_, err = mixed.login(t, auth, "dave", webauthntest.WrongOrigin("android:apk-key-hash:other"))
	require.ErrorIs(t, err, webauthnkit.ErrOriginMismatch)

	native := newEnv(t, func(c *webauthnkit.Config) { c.Origins = []string{app} })
	_, auth = register(t, native.rp, webauthnkit.RegistrationRequest{Username: "carol"}, webauthntest.WithOrigin(app))
	_, err = native.login(t, auth, "carol")
	require.NoError(t, err)
	_, err = native.login(t, auth, "carol", webauthntest.WrongOrigin(testOrigin))
	require.ErrorIs(t, err, webauthnkit.ErrOriginMismatch, "no web origin is allowed")
	_, err = native.login(t, auth, "carol", webauthntest.WrongOrigin(strings.ToUpper(app)))
	require.ErrorIs(t, err, webauthnkit.ErrOriginMismatch, "native origins are compared byte for byte")
}
