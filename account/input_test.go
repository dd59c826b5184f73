package account_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
)

// Hostile sizes and shapes get typed errors (or the unknown-account
// answer) without touching the credential store, and send no mail.
func TestHostileInputs(t *testing.T) {
	var wrapped *storewrap.Store
	e := newEnv(t, func(c *account.Config) {
		wrapped = storewrap.New(c.Users, c.Challenges)
		c.Users, c.Challenges = wrapped, wrapped
	})
	huge := strings.Repeat("a", 1<<20)
	hugeMail := huge + "@example.com"
	lookups := func() int64 {
		return wrapped.Count(storewrap.GetUserByName) + wrapped.Count(storewrap.GetUserByEmail)
	}

	require.ErrorIs(t, e.acc.StartSignUp(ctx, hugeMail, "x"), account.ErrInvalidArgument)
	require.ErrorIs(t, e.acc.StartSignUp(ctx, "a@b.example\r\nBcc: x@evil.example", "x"), account.ErrInvalidArgument)
	require.ErrorIs(t, e.acc.StartSignUp(ctx, "ok@example.com", huge), webauthnkit.ErrInvalidRequest)
	_, err := e.acc.ConfirmSignUp(ctx, hugeMail, "123456")
	require.ErrorIs(t, err, account.ErrInvalidCode)
	_, err = e.acc.ConfirmSignUp(ctx, "ok@example.com", huge)
	require.ErrorIs(t, err, account.ErrInvalidCode)
	require.NoError(t, e.acc.StartRecovery(ctx, huge))
	_, _, err = e.acc.ConfirmRecovery(ctx, huge, "123456")
	require.ErrorIs(t, err, account.ErrInvalidCode)
	_, _, err = e.acc.RecoverWithCode(ctx, huge, "0000-0000-0000-0000")
	require.ErrorIs(t, err, account.ErrInvalidCode)
	_, _, err = e.acc.ConfirmRecoveryLink(ctx, huge)
	require.ErrorIs(t, err, account.ErrInvalidCode)
	_, err = e.acc.ConfirmSignUpLink(ctx, huge)
	require.ErrorIs(t, err, account.ErrInvalidCode)
	require.Zero(t, lookups())
	require.Empty(t, e.smtp.Messages())
}
