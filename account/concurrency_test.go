package account_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
)

// Of concurrent confirmations of one right code, or uses of one recovery
// code, exactly one gets a grant.
func TestConcurrentConfirmationsOneGrant(t *testing.T) {
	e := newEnv(t)
	reg, _ := e.signUp(t, "sam@example.com", "sam")
	require.NoError(t, e.acc.StartRecovery(ctx, "sam"))
	code, _ := codeFrom(t, e.inbox(t, "sam@example.com"))
	rcodes, err := e.acc.GenerateRecoveryCodes(ctx, reg.User.Handle)
	require.NoError(t, err)

	for name, try := range map[string]func() error{
		"email code":    func() error { _, _, err := e.acc.ConfirmRecovery(ctx, "sam", code); return err },
		"recovery code": func() error { _, _, err := e.acc.RecoverWithCode(ctx, "sam", rcodes[0]); return err },
	} {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := try(); err == nil {
					wins.Add(1)
				} else if !errors.Is(err, account.ErrInvalidCode) {
					// 16 racers claim more than the 10 attempts of a window.
					require.ErrorIs(t, err, account.ErrTooManyAttempts)
				}
			}()
		}
		wg.Wait()
		require.Equal(t, int32(1), wins.Load(), name)
	}
}

// A recovery grant expires after Config.GrantTTL.
func TestRecoveryGrantExpires(t *testing.T) {
	e := newEnv(t, func(c *account.Config) { c.GrantTTL = 5 * time.Minute })
	e.signUp(t, "tia@example.com", "tia")
	require.NoError(t, e.acc.StartRecovery(ctx, "tia"))
	code, _ := codeFrom(t, e.inbox(t, "tia@example.com"))
	grant, _, err := e.acc.ConfirmRecovery(ctx, "tia", code)
	require.NoError(t, err)
	e.clock.Add(5 * time.Minute)
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: grant})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidGrant)
}
