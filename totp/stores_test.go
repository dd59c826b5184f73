package totp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/totp"
)

// storeBackends are the ChallengeStore backends the store-backed tests run
// on (internal/backendtest: servers skip when absent, fail under CI=true).
var storeBackends = func() []storeBackend {
	var out []storeBackend
	for _, b := range backendtest.All() {
		out = append(out, storeBackend{b.Name, func(t *testing.T, c *clock) webauthnkit.ChallengeStore { return b.Open(t, c.Now) }})
	}
	return out
}()

type storeBackend struct {
	name string
	open func(t *testing.T, c *clock) webauthnkit.ChallengeStore
}

// TestReplayAcrossStores runs the concurrent replay and attempt clauses on
// every ChallengeStore backend, through two TOTP instances sharing it.
func TestReplayAcrossStores(t *testing.T) {
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			c := newClock()
			store := b.open(t, c)
			t.Run("same code concurrently", func(t *testing.T) {
				edit := func(cfg *totp.Config) { cfg.MaxAttempts = 50 }
				raceSameCode(t, newFixtureOn(t, c, store, edit), newFixtureOn(t, c, store, edit))
			})
			t.Run("wrong codes concurrently", func(t *testing.T) {
				raceWrongCodes(t, newFixtureOn(t, c, store, nil), newFixtureOn(t, c, store, nil))
			})
			t.Run("next window", func(t *testing.T) {
				f := newFixtureOn(t, c, store, func(cfg *totp.Config) { cfg.MaxAttempts = 1 })
				sealed, secret := f.enrol(userID(3))
				require.ErrorIs(t, f.totp.Verify(context.Background(), sealed, userID(3), f.wrongCode(secret)), totp.ErrInvalidCode)
				err := f.totp.Verify(context.Background(), sealed, userID(3), f.code(secret, 0))
				var te *totp.Error
				require.ErrorAs(t, err, &te)
				require.Equal(t, totp.CodeTooManyAttempts, te.Code)
				c.Add(te.RetryAfter)
				require.NoError(t, f.totp.Verify(context.Background(), sealed, userID(3), f.code(secret, 0)))
			})
		})
	}
}
