package otc_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/otc"
)

// TestCodesOnEveryStore runs the core guarantees on each ChallengeStore
// backend: one store and clock per backend, one account per subtest.
func TestCodesOnEveryStore(t *testing.T) {
	for _, b := range storeBackends {
		t.Run(b.name, func(t *testing.T) {
			c := newClock()
			store := b.open(t, c)
			codes := newCodes(t, c, store)
			ctx := context.Background()
			recover := otc.PurposeRecoverAccount

			t.Run("issue and verify", func(t *testing.T) {
				acct := []byte("acct-issue")
				code, err := codes.Issue(ctx, recover, acct)
				require.NoError(t, err)
				require.Len(t, code.Code, otc.DefaultDigits)
				require.Equal(t, c.Now().Add(otc.DefaultTTL), code.ExpiresAt)
				require.NoError(t, codes.Verify(ctx, recover, acct, " "+code.Code+" "))
			})

			t.Run("reuse refused", func(t *testing.T) {
				acct := []byte("acct-reuse")
				code, err := codes.Issue(ctx, recover, acct)
				require.NoError(t, err)
				require.NoError(t, codes.Verify(ctx, recover, acct, code.Code))
				require.ErrorIs(t, codes.Verify(ctx, recover, acct, code.Code), otc.ErrInvalidCode)
				_, err = codes.VerifyLink(ctx, recover, code.LinkToken)
				require.ErrorIs(t, err, otc.ErrInvalidCode, "using the code also consumes the link")
			})

			t.Run("wrong code MaxAttemptsPerCode times kills the code", func(t *testing.T) {
				acct := []byte("acct-kill")
				code, err := codes.Issue(ctx, recover, acct)
				require.NoError(t, err)
				for range otc.DefaultMaxAttemptsPerCode {
					require.ErrorIs(t, codes.Verify(ctx, recover, acct, wrongCode(code.Code)), otc.ErrInvalidCode)
				}
				require.ErrorIs(t, codes.Verify(ctx, recover, acct, code.Code), otc.ErrInvalidCode)
			})

			t.Run("wrong codes below the limit leave the code live", func(t *testing.T) {
				acct := []byte("acct-below")
				code, err := codes.Issue(ctx, recover, acct)
				require.NoError(t, err)
				for range otc.DefaultMaxAttemptsPerCode - 1 {
					require.ErrorIs(t, codes.Verify(ctx, recover, acct, wrongCode(code.Code)), otc.ErrInvalidCode)
				}
				require.NoError(t, codes.Verify(ctx, recover, acct, code.Code))
			})

			t.Run("per-account throttle with retry-after, per purpose, lifted after the window", func(t *testing.T) {
				acct := []byte("acct-throttle")
				// Two codes killed: 10 wrong attempts, the account budget.
				for range 2 {
					code, err := codes.Issue(ctx, recover, acct)
					require.NoError(t, err)
					for range otc.DefaultMaxAttemptsPerCode {
						require.ErrorIs(t, codes.Verify(ctx, recover, acct, wrongCode(code.Code)), otc.ErrInvalidCode)
					}
				}
				code, err := codes.Issue(ctx, recover, acct)
				require.NoError(t, err)
				err = codes.Verify(ctx, recover, acct, code.Code)
				require.ErrorIs(t, err, otc.ErrTooManyAttempts, "a new Issue does not reset the account budget")
				var e *otc.Error
				require.ErrorAs(t, err, &e)
				require.Greater(t, e.RetryAfter, time.Duration(0))
				require.LessOrEqual(t, e.RetryAfter, otc.DefaultAccountWindow)

				// Another purpose of the same account is not throttled.
				other, err := codes.Issue(ctx, otc.PurposeVerifyEmail, acct)
				require.NoError(t, err)
				require.NoError(t, codes.Verify(ctx, otc.PurposeVerifyEmail, acct, other.Code))

				c.Add(e.RetryAfter)
				code, err = codes.Issue(ctx, recover, acct)
				require.NoError(t, err)
				require.NoError(t, codes.Verify(ctx, recover, acct, code.Code))
			})

			t.Run("expiry", func(t *testing.T) {
				acct := []byte("acct-expiry")
				code, err := codes.Issue(ctx, recover, acct)
				require.NoError(t, err)
				c.Add(otc.DefaultTTL)
				require.ErrorIs(t, codes.Verify(ctx, recover, acct, code.Code), otc.ErrInvalidCode)
				code, err = codes.Issue(ctx, recover, acct)
				require.NoError(t, err)
				c.Add(otc.DefaultTTL)
				_, err = codes.VerifyLink(ctx, recover, code.LinkToken)
				require.ErrorIs(t, err, otc.ErrInvalidCode)
			})

			t.Run("a new Issue invalidates the old code and link", func(t *testing.T) {
				acct := []byte("acct-replace")
				old, err := codes.Issue(ctx, recover, acct)
				require.NoError(t, err)
				fresh, err := codes.Issue(ctx, recover, acct)
				require.NoError(t, err)
				if old.Code != fresh.Code { // 1 in 10^6 they are equal
					require.ErrorIs(t, codes.Verify(ctx, recover, acct, old.Code), otc.ErrInvalidCode)
				}
				_, err = codes.VerifyLink(ctx, recover, old.LinkToken)
				require.ErrorIs(t, err, otc.ErrInvalidCode)
				require.NoError(t, codes.Verify(ctx, recover, acct, fresh.Code), "the old link did not consume the new code")
			})

			t.Run("link token returns the account", func(t *testing.T) {
				acct := []byte("acct-link")
				code, err := codes.Issue(ctx, otc.PurposeVerifyEmail, acct)
				require.NoError(t, err)
				require.Len(t, code.LinkToken, 43)
				_, err = codes.VerifyLink(ctx, recover, code.LinkToken)
				require.ErrorIs(t, err, otc.ErrInvalidCode, "another purpose")
				got, err := codes.VerifyLink(ctx, otc.PurposeVerifyEmail, code.LinkToken)
				require.NoError(t, err, "a try for another purpose does not consume the link")
				require.Equal(t, acct, got)
				_, err = codes.VerifyLink(ctx, otc.PurposeVerifyEmail, code.LinkToken)
				require.ErrorIs(t, err, otc.ErrInvalidCode, "a link works once")
				require.ErrorIs(t, codes.Verify(ctx, otc.PurposeVerifyEmail, acct, code.Code), otc.ErrInvalidCode, "the link consumed the code")
			})

			t.Run("code for another account or purpose fails", func(t *testing.T) {
				alice, bob := []byte("acct-alice"), []byte("acct-bob")
				a, err := codes.Issue(ctx, recover, alice)
				require.NoError(t, err)
				b, err := codes.Issue(ctx, recover, bob)
				require.NoError(t, err)
				if a.Code != b.Code {
					require.ErrorIs(t, codes.Verify(ctx, recover, bob, a.Code), otc.ErrInvalidCode)
				}
				require.ErrorIs(t, codes.Verify(ctx, otc.PurposeVerifyEmail, alice, a.Code), otc.ErrInvalidCode)
				require.NoError(t, codes.Verify(ctx, recover, alice, a.Code))
				require.NoError(t, codes.Verify(ctx, recover, bob, b.Code))
			})

			t.Run("concurrent correct verifications: exactly one succeeds", func(t *testing.T) {
				roomy := newCodes(t, c, store, func(cfg *otc.Config) { cfg.MaxAttemptsPerAccount = 100 })
				for round := range 3 {
					acct := []byte{'r', byte(round)}
					code, err := roomy.Issue(ctx, recover, acct)
					require.NoError(t, err)
					errs := make([]error, 20)
					var wg sync.WaitGroup
					for i := range errs {
						wg.Go(func() { errs[i] = roomy.Verify(ctx, recover, acct, code.Code) })
					}
					wg.Wait()
					ok := 0
					for _, err := range errs {
						if err == nil {
							ok++
						} else {
							require.ErrorIs(t, err, otc.ErrInvalidCode)
						}
					}
					require.Equal(t, 1, ok)
				}
			})

			t.Run("account budget holds across two instances under concurrency", func(t *testing.T) {
				edit := func(cfg *otc.Config) { cfg.MaxAttemptsPerCode = 20 }
				one, two := newCodes(t, c, store, edit), newCodes(t, c, store, edit)
				acct := []byte("acct-shared-budget")
				code, err := one.Issue(ctx, recover, acct)
				require.NoError(t, err)
				errs := make([]error, 30)
				var wg sync.WaitGroup
				for i := range errs {
					inst := one
					if i%2 == 1 {
						inst = two
					}
					wg.Go(func() { errs[i] = inst.Verify(ctx, recover, acct, wrongCode(code.Code)) })
				}
				wg.Wait()
				invalid, throttled := 0, 0
				for _, err := range errs {
					switch {
					case errors.Is(err, otc.ErrInvalidCode):
						invalid++
					case errors.Is(err, otc.ErrTooManyAttempts):
						throttled++
					default:
						t.Fatalf("unexpected %v", err)
					}
				}
				require.Equal(t, otc.DefaultMaxAttemptsPerAccount, invalid, "attempts that reached the code")
				require.Equal(t, len(errs)-otc.DefaultMaxAttemptsPerAccount, throttled)
			})

			t.Run("concurrent Issue: exactly one code stays live", func(t *testing.T) {
				roomy := newCodes(t, c, store, func(cfg *otc.Config) {
					cfg.MaxAttemptsPerAccount = 100
					cfg.MaxAttemptsPerCode = 20
				})
				acct := []byte("acct-concurrent-issue")
				issued := make([]*otc.Code, 10)
				errs := make([]error, len(issued))
				var wg sync.WaitGroup
				for i := range issued {
					wg.Go(func() { issued[i], errs[i] = roomy.Issue(ctx, recover, acct) })
				}
				wg.Wait()
				live := 0
				for i, code := range issued {
					if errs[i] != nil {
						require.ErrorIs(t, errs[i], otc.ErrBusy)
						continue
					}
					if roomy.Verify(ctx, recover, acct, code.Code) == nil {
						live++
					}
				}
				assert.Equal(t, 1, live)
			})
		})
	}
}
