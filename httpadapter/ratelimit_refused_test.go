package httpadapter_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// refusals collects what RateLimit.OnRefused reports.
type refusals struct {
	mu  sync.Mutex
	got []httpadapter.Refusal
}

func (f *refusals) record(_ *http.Request, r httpadapter.Refusal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, r)
}

func (f *refusals) list() []httpadapter.Refusal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]httpadapter.Refusal(nil), f.got...)
}

// OnRefused hears every 429 and nothing else, with the class, the client
// address as the limiter saw it and whether the global budget refused.
func TestRateLimitOnRefused(t *testing.T) {
	var seen refusals
	e := limited(t, httpadapter.RateLimit{
		Finish:    httpadapter.Rate{PerSecond: 1, Burst: 2},
		Manage:    httpadapter.Rate{PerSecond: 1, Burst: 1},
		OnRefused: seen.record,
	})
	b := e.browser().from("203.0.113.7")
	for range 2 {
		require.NotEqual(t, http.StatusTooManyRequests, b.post("/login/finish", map[string]any{}).status)
	}
	require.Empty(t, seen.list(), "requests within the budget are not refusals")
	r := b.post("/login/finish", map[string]any{})
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r)
	require.NotEqual(t, http.StatusTooManyRequests, b.call(http.MethodGet, "/session", nil).status)
	require.Equal(t, http.StatusTooManyRequests, b.call(http.MethodGet, "/session", nil).status)

	got := seen.list()
	require.Len(t, got, 2)
	require.Equal(t, "finish", got[0].Class)
	require.Equal(t, netip.MustParseAddr("203.0.113.7"), got[0].Client)
	require.False(t, got[0].Global)
	require.Positive(t, got[0].RetryAfter)
	require.Equal(t, "manage", got[1].Class)
}

// A flood from many addresses exhausts the global begin budget: the
// refusals say so (Global), which is what an alert on floods looks for.
func TestRateLimitOnRefusedGlobal(t *testing.T) {
	var seen refusals
	e := limited(t, httpadapter.RateLimit{CeremoniesInFlight: 40, OnRefused: seen.record})
	flood := e.browser()
	limitedCount := 0
	for i := range 300 {
		flood.from(fmt.Sprintf("10.1.%d.%d", i/250, i%250+1))
		if flood.post("/login/begin", map[string]any{}).status == http.StatusTooManyRequests {
			limitedCount++
		}
	}
	got := seen.list()
	require.Positive(t, limitedCount)
	require.Len(t, got, limitedCount, "one report per 429")
	global := 0
	for _, r := range got {
		require.Equal(t, "begin", r.Class)
		require.True(t, r.Client.IsValid())
		if r.Global {
			global++
		}
	}
	require.Positive(t, global, "distinct addresses are refused by the global budget")
}
