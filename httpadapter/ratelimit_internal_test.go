package httpadapter

import (
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/memstore"
)

func TestClientAddr(t *testing.T) {
	trusted, err := newClientAddrs([]string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1"}, "")
	require.NoError(t, err)
	fwd, err := newClientAddrs([]string{"10.0.0.0/8"}, "forwarded")
	require.NoError(t, err)
	none, err := newClientAddrs(nil, "")
	require.NoError(t, err)
	unix, err := newClientAddrs([]string{TrustUnixSocket}, "")
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		ca     clientAddrs
		peer   string
		xff    []string
		fwd    string
		client string
	}{
		{"no proxies: peer, header ignored", none, "198.51.100.1:5555", []string{"1.2.3.4"}, "", "198.51.100.1"},
		{"untrusted peer: header ignored", trusted, "198.51.100.1:5555", []string{"1.2.3.4"}, "", "198.51.100.1"},
		{"trusted peer, one hop", trusted, "10.0.0.5:443", []string{"203.0.113.5"}, "", "203.0.113.5"},
		{"right-most untrusted", trusted, "10.0.0.5:443", []string{"6.6.6.6, 203.0.113.5, 10.9.9.9"}, "", "203.0.113.5"},
		{"single trusted IP entry", trusted, "192.0.2.1:1", []string{"203.0.113.5, 192.0.2.1"}, "", "203.0.113.5"},
		{"repeated header lines", trusted, "10.0.0.5:443", []string{"6.6.6.6", "203.0.113.6, 10.1.1.1"}, "", "203.0.113.6"},
		{"all trusted: left-most", trusted, "10.0.0.5:443", []string{"10.3.3.3, 10.2.2.2"}, "", "10.3.3.3"},
		{"no header: peer", trusted, "10.0.0.5:443", nil, "", "10.0.0.5"},
		{"garbage stops at last trusted hop", trusted, "10.0.0.5:443", []string{"203.0.113.5, bogus, 10.1.1.1"}, "", "10.1.1.1"},
		{"ipv6 proxy and client", trusted, "[2001:db8:ffff::1]:443", []string{"2001:db8:1::7"}, "", "2001:db8:1::7"},
		{"mapped v4", trusted, "[::ffff:10.0.0.5]:443", []string{"::ffff:203.0.113.5"}, "", "203.0.113.5"},
		{"port in entry", trusted, "10.0.0.5:443", []string{"203.0.113.5:1234"}, "", "203.0.113.5"},
		{"forwarded", fwd, "10.0.0.5:443", []string{"9.9.9.9"}, `for=6.6.6.6, for="[2001:db8::1]:80";proto=https, for=10.0.0.9`, "2001:db8::1"},
		{"forwarded unknown", fwd, "10.0.0.5:443", nil, `for=unknown, for=10.0.0.9`, "10.0.0.9"},
		{"unix socket peer", trusted, "@", []string{"203.0.113.5"}, "", "invalid IP"},
		// Behind a proxy on a Unix socket every client was "unknown",
		// one budget for the whole site.
		{"trusted unix socket peer", unix, "@", []string{"6.6.6.6, 203.0.113.5"}, "", "203.0.113.5"},
		{"trusted unix socket peer, empty address", unix, "", []string{"203.0.113.6"}, "", "203.0.113.6"},
		{"trusted unix socket, no header", unix, "@", nil, "", "invalid IP"},
		{"unix trusted, IP peer not", unix, "198.51.100.1:5555", []string{"203.0.113.5"}, "", "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tc.fwd != "" {
				r.Header.Set("Forwarded", tc.fwd)
			}
			require.Equal(t, tc.client, tc.ca.clientAddr(r).String())
		})
	}
}

// A megabyte of forwarding entries costs no more than the few right-most
// ones, and a chain of trusted hops longer than any real one stops the walk.
func TestClientAddrHugeHeader(t *testing.T) {
	ca, err := newClientAddrs([]string{"10.0.0.0/8"}, "")
	require.NoError(t, err)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", strings.Repeat("6.6.6.6, ", 100_000)+"203.0.113.5, 10.0.0.2")
	allocs := testing.AllocsPerRun(10, func() { ca.clientAddr(r) })
	require.Equal(t, "203.0.113.5", ca.clientAddr(r).String())
	require.Less(t, allocs, 10.0)
	r.Header.Set("X-Forwarded-For", "203.0.113.5"+strings.Repeat(", 10.1.1.1", 100))
	require.Equal(t, "10.1.1.1", ca.clientAddr(r).String(), "the walk stops within the trusted chain")
}

func TestAddrKeyGroupsIPv6By64(t *testing.T) {
	require.Equal(t, addrKey(parseHostAddr("2001:db8:1:2::1")), addrKey(parseHostAddr("2001:db8:1:2:ffff::9")))
	require.NotEqual(t, addrKey(parseHostAddr("2001:db8:1:2::1")), addrKey(parseHostAddr("2001:db8:1:3::1")))
	require.Equal(t, "203.0.113.5", addrKey(parseHostAddr("203.0.113.5")))
}

// A flood of distinct addresses must not grow the limiter beyond MaxClients.
func TestRateLimiterMemoryBound(t *testing.T) {
	const maxClients = 4096
	l, err := newRateLimiter(RateLimit{MaxClients: maxClients, TrustedProxies: []string{"127.0.0.1"}}, 5*time.Minute, time.Now)
	require.NoError(t, err)
	table := l.perClient[classBegin]

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := httptest.NewRequest("POST", "/login/begin", nil)
	r.RemoteAddr = "127.0.0.1:1"
	for i := range 200_000 {
		r.Header.Set("X-Forwarded-For", fmt.Sprintf("%d.%d.%d.%d", 1+i>>24&0x7f, i>>16&0xff, i>>8&0xff, i&0xff))
		l.allow(r, classBegin)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.LessOrEqual(t, table.len(), maxClients)
	require.GreaterOrEqual(t, table.len(), maxClients*9/10, "shards fill evenly")
	perClient := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(table.len())
	t.Logf("%d clients tracked, about %.0f bytes each", table.len(), perClient)
	require.Less(t, perClient, 300.0, "the documented 210 bytes per client (plus noise)")
	runtime.KeepAlive(l)
}

// The least recently seen client is evicted, not the active one.
func TestLimiterTableEvictsLeastRecentlySeen(t *testing.T) {
	table := newLimiterTable(Rate{PerSecond: 1, Burst: 1}, 2*limiterShards) // two per shard
	now := time.Now()
	_, ok := table.allow("active", now, 1)
	require.True(t, ok)
	for i := range 1000 {
		table.allow(fmt.Sprint("other", i), now, 1)
		_, ok := table.allow("active", now, 1) // seen again: stays tracked, stays empty
		require.False(t, ok, "round %d: the active client's bucket was evicted", i)
	}
}

// The default global begin ceiling keeps ceremonies in flight below
// memstore's default cap, whatever the burst timing.
func TestDefaultCeremoniesInFlightFitsMemstore(t *testing.T) {
	require.Less(t, DefaultCeremoniesInFlight, memstore.DefaultMaxCeremonies)
	for _, ttl := range []time.Duration{10 * time.Second, 5 * time.Minute, time.Hour} {
		l, err := newRateLimiter(RateLimit{}, ttl, time.Now)
		require.NoError(t, err)
		g := l.globalBegin
		admitted := float64(g.Burst()) + float64(g.Limit())*(ttl+time.Second).Seconds()
		require.LessOrEqual(t, admitted, float64(DefaultCeremoniesInFlight), "TTL %v", ttl)
	}
}

// BenchmarkRateLimiterAllow is the limiter's cost per request: client
// address from the peer, one bucket lookup (and for begins the global one).
func BenchmarkRateLimiterAllow(b *testing.B) {
	l, err := newRateLimiter(RateLimit{Begin: Rate{PerSecond: 1e9, Burst: 1 << 30}, CeremoniesInFlight: 1 << 40}, 5*time.Minute, time.Now)
	require.NoError(b, err)
	r := httptest.NewRequest("POST", "/login/begin", nil)
	r.RemoteAddr = "198.51.100.7:4321"
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := l.allow(r, classBegin); !ok {
			b.Fatal("limited")
		}
	}
}

// Concurrent requests of one client share its bucket exactly: no more than
// the burst gets through, however they interleave.
func TestLimiterTableConcurrent(t *testing.T) {
	table := newLimiterTable(Rate{PerSecond: 1e-9, Burst: 50}, 100_000) // no eviction here
	now := time.Now()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				if _, ok := table.allow("same", now, 1); ok {
					allowed.Add(1)
				}
				table.allow(fmt.Sprint("other", g, i), now, 1) // churn other shards
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(50), allowed.Load())
}

// A begin flood from a few dozen addresses, each within its own budget
// (10/s), together above the global begin rate (about 257/s by default):
// the global budget must not be drained for everyone. Before, 26 addresses
// (or one IPv6 /56) at 10 begins a second kept it empty, and every other
// client got 429 for as long as the flood lasted.
func TestRateLimitFewAddressesCannotDrainGlobalBegins(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l, err := newRateLimiter(RateLimit{TrustedProxies: []string{"127.0.0.1"}}, 5*time.Minute, func() time.Time { return now })
	require.NoError(t, err)
	begin := func(addr string) bool {
		r := httptest.NewRequest("POST", "/login/begin", nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set("X-Forwarded-For", addr)
		_, ok := l.allow(r, classBegin)
		return ok
	}
	const attackers = 40
	flooded := 0
	for step := range 1200 { // 120 s, every 100 ms one begin per address: 10/s each
		now = now.Add(100 * time.Millisecond)
		for a := range attackers {
			if begin(fmt.Sprintf("198.51.100.%d", a)) {
				flooded++
			}
		}
		if step%100 == 99 { // a real user now and then
			require.True(t, begin(fmt.Sprintf("203.0.113.%d", step/100)), "a new client at %d s is refused", step/10)
		}
	}
	t.Logf("%d of %d flood begins admitted", flooded, attackers*1200)
	// A client that has been quiet can still sign in a few times over.
	for i := range 3 {
		require.True(t, begin("192.0.2.200"), "begin %d of a quiet client", i)
	}
}

// One IPv6 /48 (a tunnel broker gives one away) holds 65,536 /64 client
// keys, more than MaxClients: cycling through them, each comes back with a
// full bucket, and before they drained the global begin budget for
// everyone. Under pressure a begin is also charged to its /48.
func TestRateLimitOneIPv6Slash48CannotDrainGlobalBegins(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l, err := newRateLimiter(RateLimit{TrustedProxies: []string{"127.0.0.1"}}, 5*time.Minute, func() time.Time { return now })
	require.NoError(t, err)
	begin := func(addr string) bool {
		r := httptest.NewRequest("POST", "/login/begin", nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set("X-Forwarded-For", addr)
		_, ok := l.allow(r, classBegin)
		return ok
	}
	next := 0
	for step := range 600 { // 60 s, 400 begins every 100 ms from fresh /64s
		now = now.Add(100 * time.Millisecond)
		for range 400 {
			next++
			begin(fmt.Sprintf("2001:db8:77:%x::1", next%65536))
		}
		if step%100 == 99 {
			require.True(t, begin(fmt.Sprintf("2001:db8:%x::1", step)), "a new client at %d s is refused", step/10)
			require.True(t, begin(fmt.Sprintf("198.51.100.%d", step/100)), "a new IPv4 client at %d s is refused", step/10)
		}
	}
}
