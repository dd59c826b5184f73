package httpadapter_test

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/redisstore"
)

func randomTestHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Two instances sharing a redisstore.RateLimiter give a client one budget;
// a shared limiter that fails leaves each instance counting on its own.
func TestRateLimitSharedAcrossInstances(t *testing.T) {
	addr := testenv.RequireRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	shared, err := redisstore.NewRateLimiter(rdb, redisstore.WithKeyPrefix("webauthnkit-test:"+randomTestHex(6)+":"))
	require.NoError(t, err)
	rl := httpadapter.RateLimit{Begin: httpadapter.Rate{PerSecond: 0.01, Burst: 3}, Shared: shared}
	a, b := limited(t, rl), limited(t, rl)

	client := "203.0.113." + randomTestHex(1)[:1] + "7"
	onA, onB := a.browser().from(client), b.browser().from(client)
	for i, br := range []*browser{onA, onB, onA} {
		r := br.post("/login/begin", map[string]any{})
		require.Equal(t, http.StatusOK, r.status, "begin %d: %s", i, r)
	}
	r := onB.post("/login/begin", map[string]any{})
	require.Equal(t, http.StatusTooManyRequests, r.status, "the budget spent on instance A still counts on B: %s", r)
	require.Equal(t, "rate_limited", r.code())
	require.NotEmpty(t, r.header.Get("Retry-After"))
	// Another client is not affected; other classes are separate.
	require.Equal(t, http.StatusOK, b.browser().from("198.51.100.9").post("/login/begin", map[string]any{}).status)

	// Client addresses are not stored in clear.
	keys, err := rdb.Keys(t.Context(), "rate:webauthnkit-test:*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, k := range keys {
		require.NotContains(t, k, client)
	}
	for _, k := range keys {
		rdb.Del(t.Context(), k)
	}

	// A shared limiter that cannot be reached: each instance counts alone,
	// and the outage is logged (once, not per request).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	l.Close()
	down := redis.NewClient(&redis.Options{Addr: closed, MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { down.Close() })
	deadShared, err := redisstore.NewRateLimiter(down)
	require.NoError(t, err)
	c := limited(t, httpadapter.RateLimit{Begin: httpadapter.Rate{PerSecond: 0.01, Burst: 3}, Shared: deadShared})
	onC := c.browser().from(client)
	for i := range 3 {
		start := time.Now()
		r := onC.post("/login/begin", map[string]any{})
		require.Equal(t, http.StatusOK, r.status, "begin %d with the shared limiter down: %s", i, r)
		require.Less(t, time.Since(start), 2*time.Second)
	}
	require.Equal(t, http.StatusTooManyRequests, onC.post("/login/begin", map[string]any{}).status, "the process-local budget applies while the shared one is down")
	require.Equal(t, 1, strings.Count(c.logs.String(), "shared rate limiter failed"), c.logs.String())
}
