package httpadapter

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The session cookie carries the last user-verified authentication (v3);
// a cookie of the previous format (v2) stays valid, with no time on record.
func TestSessionAuthTime(t *testing.T) {
	h := testHandler(t, bytes.Repeat([]byte{1}, 32))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	handle := bytes.Repeat([]byte{9}, 64)

	s := session{handle: handle, builtin: true, signedIn: now, refreshed: now, epoch: 3, authAt: now.Add(-time.Minute)}
	got, ok := h.parseSession(h.sessionValue(s), now)
	require.True(t, ok)
	require.True(t, got.authAt.Equal(s.authAt))
	s.authAt = time.Time{}
	got, ok = h.parseSession(h.sessionValue(s), now)
	require.True(t, ok)
	require.True(t, got.authAt.IsZero(), "no user-verified authentication")

	// v2: signedIn || refreshed || epoch || handle || mac(label v2).
	for _, n := range []int{1, 32, 64} {
		payload := make([]byte, 24, 24+n)
		binary.BigEndian.PutUint64(payload[0:], uint64(now.Unix()))
		binary.BigEndian.PutUint64(payload[8:], uint64(now.Unix()))
		binary.BigEndian.PutUint64(payload[16:], 3)
		payload = append(payload, handle[:n]...)
		v2 := base64.RawURLEncoding.EncodeToString(append(payload, h.sessionMACLabel(sessionLabelV2, payload)...))
		got, ok = h.parseSession(v2, now)
		require.True(t, ok, n)
		require.Equal(t, handle[:n], got.handle)
		require.Equal(t, uint64(3), got.epoch)
		require.True(t, got.authAt.IsZero(), "a v2 session is never fresh")
		// Under another secret: refused.
		other := testHandler(t, bytes.Repeat([]byte{2}, 32))
		_, ok = other.parseSession(v2, now)
		require.False(t, ok)
	}
}
