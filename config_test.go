package webauthnkit_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

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
		{"wildcard origin", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"https://*.example.com"} }},
		{"origin with a bad label", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"https://-a.example.com"} }},
		{"origin port out of range", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"https://example.com:70000"} }},
		{"origin empty port", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"https://example.com:"} }},
		{"app origin without hash", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"android:apk-key-hash:"} }},
		{"file origin", "Origins", func(c *webauthnkit.Config) { c.Origins = []string{"file://"} }},
		{"related origin over http", "RelatedOrigins", func(c *webauthnkit.Config) { c.RelatedOrigins = []string{"http://example.org"} }},
		{"ttl too short", "ChallengeTTL", func(c *webauthnkit.Config) { c.ChallengeTTL = time.Second }},
		{"ttl too long", "ChallengeTTL", func(c *webauthnkit.Config) { c.ChallengeTTL = 2 * time.Hour }},
		{"browser timeout over ttl", "BrowserTimeout", func(c *webauthnkit.Config) { c.BrowserTimeout = 10 * time.Minute }},
		{"bad uv", "UserVerification", func(c *webauthnkit.Config) { c.UserVerification = "always" }},
		{"bad resident key", "ResidentKey", func(c *webauthnkit.Config) { c.ResidentKey = "yes" }},
		{"bad attestation mode", "Attestation", func(c *webauthnkit.Config) { c.Attestation.Mode = "full" }},
		{"attestation off with direct conveyance", "Attestation", func(c *webauthnkit.Config) { c.Attestation.Conveyance = webauthnkit.ConveyanceDirect }},
		{"attestation monitor with none conveyance", "Attestation", func(c *webauthnkit.Config) {
			c.Attestation = webauthnkit.AttestationPolicy{Mode: webauthnkit.AttestationMonitor, Conveyance: webauthnkit.ConveyanceNone}
		}},
		{"attestation enforce without metadata", "Attestation", func(c *webauthnkit.Config) { c.Attestation.Mode = webauthnkit.AttestationEnforce }},
		{"attestation off with a deny list", "Attestation", func(c *webauthnkit.Config) {
			c.Attestation.DenyAAGUIDs = []string{"cb69481e-8ff7-4039-93ec-0a2729a154a8"}
		}},
		{"attestation monitor with require", "Attestation", func(c *webauthnkit.Config) {
			c.Attestation = webauthnkit.AttestationPolicy{Mode: webauthnkit.AttestationMonitor, RequireAttestation: true}
		}},
		{"attestation bad AAGUID", "Attestation", func(c *webauthnkit.Config) {
			c.Attestation = webauthnkit.AttestationPolicy{Mode: webauthnkit.AttestationMonitor, DenyAAGUIDs: []string{"cb69481e8ff7403993ec0a2729a154a8"}}
		}},
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
		cfg := webauthnkit.EffectiveConfig(rp)
		assert.Equal(t, 5*time.Minute, cfg.ChallengeTTL)
		assert.Equal(t, 5*time.Minute, cfg.BrowserTimeout)
		assert.Equal(t, webauthnkit.UserVerificationPreferred, cfg.UserVerification)
		assert.Equal(t, webauthnkit.ResidentKeyRequired, cfg.ResidentKey)
		assert.Equal(t, webauthnkit.AttestationOff, cfg.Attestation.Mode)
		assert.Equal(t, webauthnkit.ConveyanceNone, cfg.Attestation.Conveyance)
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
	assert.Equal(t, []string{"https://example.com", "https://login.example.com:8443"}, webauthnkit.EffectiveConfig(rp).Origins)
}

// The RelyingParty hands out what an HTTP layer needs, never the Secret or
// the stores (issue 12): no exported method returns the Config, a store or
// raw bytes.
func TestRelyingPartyAccessors(t *testing.T) {
	store := newMemStore(t)
	t.Cleanup(func() { store.Close() })
	clock := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID: "Example.COM", Origins: []string{"https://EXAMPLE.com:443/", "https://login.example.com:8443"},
		Credentials: store, Ceremonies: store, Now: clock.Now,
	})
	require.NoError(t, err)
	assert.Equal(t, "example.com", rp.RPID())
	assert.Equal(t, 5*time.Minute, rp.ChallengeTTL())
	assert.Equal(t, clock.Now(), rp.Now())
	clock.Advance(time.Minute)
	assert.Equal(t, clock.Now(), rp.Now(), "the configured clock, not a copy of its time")
	origins := rp.Origins()
	assert.Equal(t, []string{"https://example.com", "https://login.example.com:8443"}, origins)
	origins[0] = "https://evil.example"
	assert.Equal(t, "https://example.com", rp.Origins()[0], "Origins returns a copy")

	rpType := reflect.TypeFor[*webauthnkit.RelyingParty]()
	forbidden := []reflect.Type{
		reflect.TypeFor[webauthnkit.Config](), reflect.TypeFor[*webauthnkit.Config](),
		reflect.TypeFor[webauthnkit.CredentialStore](), reflect.TypeFor[webauthnkit.ChallengeStore](),
		reflect.TypeFor[[]byte](),
	}
	for i := range rpType.NumMethod() {
		m := rpType.Method(i)
		for j := range m.Type.NumOut() {
			assert.NotContains(t, forbidden, m.Type.Out(j), "RelyingParty.%s hands out %v", m.Name, m.Type.Out(j))
		}
	}
}

// New keeps its own copy of Config.Secret: an application that wipes its
// copy after New (good hygiene) must not turn the fake allow lists into
// HMACs under a key everyone knows (all zeros), which would tell unknown
// names from real ones to anyone who computes them.
func TestNewCopiesSecret(t *testing.T) {
	store := newMemStore(t)
	t.Cleanup(func() { store.Close() })
	secret := bytes.Repeat([]byte{0x5a}, 32)
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store, Secret: secret})
	require.NoError(t, err)
	fake := func() [][]byte {
		b, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "nobody"})
		require.NoError(t, err)
		return allowedIDs(t, b.Options)
	}
	before := fake()
	clear(secret)
	require.Equal(t, before, fake(), "the fake allow list changed with the caller's buffer")
}
