package redisstore

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRateLimiter(t *testing.T) {
	c := testClient(t)
	l, err := NewRateLimiter(c, WithKeyPrefix(runPrefix))
	require.NoError(t, err)
	_, err = NewRateLimiter(c, WithKeyPrefix("a{b}"))
	require.Error(t, err)
	_, err = NewRateLimiter(nil)
	require.Error(t, err)

	key := "begin/" + randomHex(8)
	for i := range 4 {
		_, ok, err := l.AllowN(t.Context(), key, 0.5, 4, 1)
		require.NoError(t, err)
		require.True(t, ok, "request %d within the burst", i)
	}
	wait, ok, err := l.AllowN(t.Context(), key, 0.5, 4, 1)
	require.NoError(t, err)
	require.False(t, ok)
	require.Greater(t, wait.Seconds(), 1.0, "0.5/s refills a token in about 2 s")
	require.LessOrEqual(t, wait.Seconds(), 2.1)

	// A cost larger than what is left takes nothing.
	other := "begin/" + randomHex(8)
	_, ok, err = l.AllowN(t.Context(), other, 1, 5, 3)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = l.AllowN(t.Context(), other, 1, 5, 3)
	require.NoError(t, err)
	require.False(t, ok)
	_, ok, err = l.AllowN(t.Context(), other, 1, 5, 2)
	require.NoError(t, err)
	require.True(t, ok, "the refused request of 3 took no tokens")

	for _, bad := range []struct {
		rate     float64
		burst, n int
	}{{0, 1, 1}, {-1, 1, 1}, {math.NaN(), 1, 1}, {math.Inf(1), 1, 1}, {1, 0, 1}, {1, 1, 0}} {
		_, _, err := l.AllowN(t.Context(), key, bad.rate, bad.burst, bad.n)
		require.Error(t, err, "%+v", bad)
	}
}
