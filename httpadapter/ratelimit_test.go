package httpadapter_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// limited builds an env with real rate limits; the test server's peer is
// 127.0.0.1, made a trusted proxy so that X-Forwarded-For names clients.
func limited(t *testing.T, rl httpadapter.RateLimit) *env {
	rl.TrustedProxies = append(rl.TrustedProxies, "127.0.0.1/32", "::1/128")
	return newEnv(t, func(ec *envConfig) {
		ec.realLimits = true
		ec.opts.RateLimit = rl
	})
}

// from makes b's requests come from client address ip (via the proxy).
func (b *browser) from(ip string) *browser {
	b.header.Set("X-Forwarded-For", ip)
	return b
}

func TestRateLimitBeginFloodFromOneAddress(t *testing.T) {
	e := limited(t, httpadapter.RateLimit{Begin: httpadapter.Rate{PerSecond: 1, Burst: 5}})
	attacker := e.browser().from("203.0.113.7")
	for i := range 5 {
		r := attacker.post("/login/begin", map[string]any{})
		require.Equal(t, http.StatusOK, r.status, "begin %d: %s", i, r)
	}
	r := attacker.post("/login/begin", map[string]any{})
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r)
	require.Equal(t, "rate_limited", r.code())
	require.Equal(t, "1", r.header.Get("Retry-After"))
	// Registration begins share the class.
	r = attacker.post("/registration/begin", map[string]any{"username": "mallory"})
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r)

	// Another address is not affected.
	alice := e.browser().from("198.51.100.1")
	alice.mustSignUp("alice")
	require.Equal(t, http.StatusOK, alice.login(map[string]any{"username": "alice"}).status)

	// The bucket refills at its rate.
	e.clock.Advance(1100 * time.Millisecond)
	r = attacker.post("/login/begin", map[string]any{})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	r = attacker.post("/login/begin", map[string]any{})
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r)
	wait, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	require.Equal(t, 1, wait)
}

// A flood of begins from many (spoofed) addresses hits the global begin
// ceiling and gets 429 before the store's cap is reached, and a ceremony
// begun before the flood still finishes: finishes have their own budget.
func TestRateLimitFinishDuringBeginFlood(t *testing.T) {
	const storeCap = 100
	e := newEnv(t, func(ec *envConfig) {
		ec.realLimits = true
		ec.opts.RateLimit = httpadapter.RateLimit{
			TrustedProxies:     []string{"127.0.0.0/8"},
			CeremoniesInFlight: storeCap * 8 / 10,
		}
		ec.storeOpts = []memstore.Option{memstore.WithMaxCeremonies(storeCap)}
	})

	alice := e.browser().from("198.51.100.1")
	alice.mustSignUp("alice")
	pk := alice.publicKey(alice.post("/login/begin", map[string]any{"username": "alice"}))
	assertion, err := alice.dev.Login(pk)
	require.NoError(t, err)

	var ok, limitedCount, other int
	flood := e.browser()
	for i := range 2000 {
		flood.from(fmt.Sprintf("10.%d.%d.1", i/250, i%250))
		switch r := flood.post("/login/begin", map[string]any{}); r.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limitedCount++
			require.NotEmpty(t, r.header.Get("Retry-After"))
		default:
			other++
			t.Logf("unexpected: %s", r)
		}
	}
	t.Logf("flood: %d ok, %d rate limited, %d other", ok, limitedCount, other)
	require.Zero(t, other, "no begin may reach the store's cap (503)")
	require.Less(t, ok, storeCap)
	require.Positive(t, limitedCount)

	r := alice.post("/login/finish", assertion)
	require.Equal(t, http.StatusOK, r.status, "a ceremony begun before the flood must finish: %s", r)
	require.Equal(t, http.StatusOK, alice.call(http.MethodGet, "/session", nil).status)
}

// Without trusted proxies, X-Forwarded-For is the client's word and is
// ignored: a flood cannot spread itself over invented addresses.
func TestRateLimitIgnoresForwardedHeadersFromUntrustedPeers(t *testing.T) {
	e := newEnv(t, func(ec *envConfig) {
		ec.realLimits = true
		ec.opts.RateLimit = httpadapter.RateLimit{Begin: httpadapter.Rate{PerSecond: 1, Burst: 3}}
	})
	b := e.browser()
	statuses := []int{}
	for i := range 5 {
		b.header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
		b.header.Set("Forwarded", fmt.Sprintf("for=192.0.2.%d", i))
		statuses = append(statuses, b.post("/login/begin", map[string]any{}).status)
	}
	require.Equal(t, []int{200, 200, 200, 429, 429}, statuses)
}

// Behind a trusted proxy the client is the right-most untrusted address:
// what the client wrote left of it does not matter.
func TestRateLimitTrustedProxyTakesRightMostUntrusted(t *testing.T) {
	e := limited(t, httpadapter.RateLimit{
		Begin:          httpadapter.Rate{PerSecond: 1, Burst: 2},
		TrustedProxies: []string{"10.0.0.0/8"},
	})
	b := e.browser()
	for i := range 2 {
		// The client forged a left part; the proxies 10.1.1.1 (trusted) and
		// the peer added the real address 203.0.113.9.
		b.header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d, 203.0.113.9, 10.1.1.1", i))
		require.Equal(t, http.StatusOK, b.post("/login/begin", map[string]any{}).status)
	}
	b.header.Set("X-Forwarded-For", "192.0.2.99, 203.0.113.9, 10.1.1.1")
	require.Equal(t, http.StatusTooManyRequests, b.post("/login/begin", map[string]any{}).status)
	b.header.Set("X-Forwarded-For", "203.0.113.10, 10.1.1.1")
	require.Equal(t, http.StatusOK, b.post("/login/begin", map[string]any{}).status)
}

func TestRateLimitForwardedHeader(t *testing.T) {
	e := limited(t, httpadapter.RateLimit{
		Begin:          httpadapter.Rate{PerSecond: 1, Burst: 1},
		ClientIPHeader: "Forwarded",
	})
	b := e.browser()
	b.header.Set("Forwarded", `for="[2001:db8:1:2::1]:4711";proto=https`)
	require.Equal(t, http.StatusOK, b.post("/login/begin", map[string]any{}).status)
	// Same /64: same client.
	b.header.Set("Forwarded", `for="[2001:db8:1:2::ffff]"`)
	require.Equal(t, http.StatusTooManyRequests, b.post("/login/begin", map[string]any{}).status)
	// X-Forwarded-For is not the configured header: ignored.
	b.header.Set("X-Forwarded-For", "198.51.100.3")
	require.Equal(t, http.StatusTooManyRequests, b.post("/login/begin", map[string]any{}).status)
	b.header.Set("Forwarded", `for=192.0.2.60;proto=http, for="[2001:db8:1:3::1]"`)
	require.Equal(t, http.StatusOK, b.post("/login/begin", map[string]any{}).status)
}

func TestRateLimitKeyHook(t *testing.T) {
	e := limited(t, httpadapter.RateLimit{
		Manage: httpadapter.Rate{PerSecond: 1, Burst: 2},
		Key:    func(r *http.Request) string { return r.Header.Get("X-Tenant") },
	})
	b := e.browser()
	b.header.Set("X-Tenant", "acme")
	for range 2 {
		require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/session", nil).status)
	}
	require.Equal(t, http.StatusTooManyRequests, b.call(http.MethodGet, "/session", nil).status)
	b.header.Set("X-Tenant", "globex")
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/session", nil).status)
	// Management of single passkeys counts in the same class.
	b.header.Set("X-Tenant", "acme")
	require.Equal(t, http.StatusTooManyRequests, b.call(http.MethodDelete, "/credentials/AAAA", nil).status)
}

func TestRateLimitClassesAreSeparate(t *testing.T) {
	e := limited(t, httpadapter.RateLimit{
		Begin:  httpadapter.Rate{PerSecond: 1, Burst: 1},
		Finish: httpadapter.Rate{PerSecond: 1, Burst: 1},
	})
	b := e.browser().from("198.51.100.20")
	b.mustSignUp("bob") // one begin, one finish
	require.Equal(t, http.StatusTooManyRequests, b.post("/login/begin", map[string]any{}).status)
	require.Equal(t, http.StatusTooManyRequests, b.post("/login/finish", map[string]any{}).status)
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/session", nil).status)
	// client.js is never limited.
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/client.js", nil).status)
}

func TestRateLimitDisabled(t *testing.T) {
	e := limited(t, httpadapter.RateLimit{Disabled: true, Begin: httpadapter.Rate{PerSecond: 1, Burst: 1}})
	b := e.browser()
	for range 5 {
		require.Equal(t, http.StatusOK, b.post("/login/begin", map[string]any{}).status)
	}
}

func TestRateLimitOptionsValidated(t *testing.T) {
	e := newEnv(t)
	for name, rl := range map[string]httpadapter.RateLimit{
		"bad CIDR":      {TrustedProxies: []string{"10.0.0.0/33"}},
		"not an IP":     {TrustedProxies: []string{"proxy.internal"}},
		"bad header":    {ClientIPHeader: "X-Real-IP"},
		"negative rate": {Begin: httpadapter.Rate{PerSecond: -1}},
		"negative cap":  {MaxClients: -1},
	} {
		_, err := httpadapter.New(e.rp, httpadapter.Options{SessionSecret: testSecret, RateLimit: rl})
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "httpadapter: Options.RateLimit", name)
	}
}
