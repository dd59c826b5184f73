package totp_test

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/totp"
)

// start is a fixed instant at the beginning of a 30 s step and of a 15 min
// window, so tests know where the boundaries are.
var start = time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)

// clock is a settable fake clock shared by the TOTP and its store.
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

// countingStore is a real ChallengeStore whose calls are counted, to
// assert that some inputs are refused before the store is touched.
type countingStore struct {
	webauthnkit.ChallengeStore
	calls atomic.Int64
}

func (s *countingStore) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	s.calls.Add(1)
	return s.ChallengeStore.PutCeremony(ctx, id, data, exp)
}

func (s *countingStore) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	s.calls.Add(1)
	return s.ChallengeStore.TakeCeremony(ctx, id)
}

func testKey(id byte) totp.Key {
	k := make([]byte, 32)
	for i := range k {
		k[i] = id + byte(i)
	}
	return totp.Key{ID: id, Secret: k}
}

// fixture is a TOTP on a memstore sharing a fake clock.
type fixture struct {
	t     testing.TB
	clock *clock
	store webauthnkit.ChallengeStore
	cfg   totp.Config
	totp  *totp.TOTP
}

func newFixture(t testing.TB, edit func(*totp.Config)) *fixture {
	t.Helper()
	c := newClock()
	ms := newMemStore(t, memstore.WithClock(c.Now))
	t.Cleanup(func() { ms.Close() })
	return newFixtureOn(t, c, ms, edit)
}

func newFixtureOn(t testing.TB, c *clock, store webauthnkit.ChallengeStore, edit func(*totp.Config)) *fixture {
	t.Helper()
	cfg := totp.Config{
		Issuer: "Example",
		Keys:   []totp.Key{testKey(1)},
		Replay: store,
		Now:    c.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	tp, err := totp.New(cfg)
	require.NoError(t, err)
	return &fixture{t: t, clock: c, store: store, cfg: cfg, totp: tp}
}

// code is what the user's authenticator app shows at offset from now for
// the base32 secret.
func (f *fixture) code(secret string, offset time.Duration) string {
	f.t.Helper()
	c, err := pqtotp.GenerateCodeCustom(secret, f.clock.Now().Add(offset), pqtotp.ValidateOpts{
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	require.NoError(f.t, err)
	return c
}

// enrol runs Begin and Confirm for userID as a user would (the code is
// computed from the displayed secret) and returns the stored value and the
// base32 secret. It leaves the clock one step later, past the code used.
func (f *fixture) enrol(userID []byte) (sealed []byte, secret string) {
	f.t.Helper()
	ctx := context.Background()
	e, err := f.totp.Begin(ctx, userID, "alice@example.com")
	require.NoError(f.t, err)
	sealed, err = f.totp.Confirm(ctx, e.Sealed, userID, f.code(e.Secret, 0))
	require.NoError(f.t, err)
	f.clock.Add(30 * time.Second)
	return sealed, e.Secret
}

func userID(n int) []byte { return binary.BigEndian.AppendUint64([]byte("user-"), uint64(n)) }

// wrongCode returns a 6-digit code that differs from every code valid now.
func (f *fixture) wrongCode(secret string) string {
	f.t.Helper()
	valid := map[string]bool{}
	for d := -2; d <= 2; d++ {
		valid[f.code(secret, time.Duration(d)*30*time.Second)] = true
	}
	// A code of a far step looks like any code (not "000000", which a
	// log's timestamp could contain by chance).
	for i := 10; ; i++ {
		if c := f.code(secret, time.Duration(i)*30*time.Second); !valid[c] {
			return c
		}
	}
}

func (f *fixture) totpMaxAttempts() int {
	if f.cfg.MaxAttempts == 0 {
		return totp.DefaultMaxAttempts
	}
	return f.cfg.MaxAttempts
}
