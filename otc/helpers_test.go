package otc_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/otc"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable fake clock shared by the Codes and its store (stores
// also expire records by their own clock).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: start} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testSecret = bytes.Repeat([]byte{0x5a}, 32)

// newMemStore returns a memstore.Store closed when the test ends.
func newMemStore(tb testing.TB, opts ...memstore.Option) *memstore.Store {
	tb.Helper()
	s, err := memstore.New(opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { s.Close() })
	return s
}

// newCodes returns Codes on store with the clock c; edit may change the
// Config before New.
func newCodes(tb testing.TB, c *clock, store webauthnkit.ChallengeStore, edit ...func(*otc.Config)) *otc.Codes {
	tb.Helper()
	cfg := otc.Config{Store: store, Secret: testSecret, Links: true, Now: c.Now}
	for _, e := range edit {
		e(&cfg)
	}
	codes, err := otc.New(cfg)
	require.NoError(tb, err)
	return codes
}

// wrongCode returns a well-formed code that differs from code.
func wrongCode(code string) string {
	b := []byte(code)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}
