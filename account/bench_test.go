package account_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/account"
)

// StartRecovery for an account (code issued and mailed over loopback SMTP)
// against an unknown name (dummy code, nothing sent): the gap is the SMTP
// round trip docs/recovery.md talks about. The clock moves an hour per
// call so no budget is spent.
func BenchmarkStartRecovery(b *testing.B) {
	e := newEnv(b)
	e.signUp(b, "bench@example.com", "bench")
	for _, id := range []string{"bench", "unknown"} {
		b.Run(id, func(b *testing.B) {
			for b.Loop() {
				e.clock.Add(time.Hour)
				require.NoError(b, e.acc.StartRecovery(ctx, id))
			}
		})
	}
}

// With MinStartDuration, a real account's StartRecovery (code mailed) and
// an unknown name's take the same time to within the timer's precision.
func TestStartRecoveryTimingFloor(t *testing.T) {
	const floor = 50 * time.Millisecond
	e := newEnv(t, func(c *account.Config) { c.MinStartDuration = floor })
	e.signUp(t, "uma@example.com", "uma")
	for _, id := range []string{"uma", "nobody"} {
		began := time.Now()
		require.NoError(t, e.acc.StartRecovery(ctx, id))
		took := time.Since(began)
		require.GreaterOrEqual(t, took, floor, id)
		require.Less(t, took, floor+40*time.Millisecond, id)
	}
}
