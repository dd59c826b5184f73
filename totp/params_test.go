package totp_test

import (
	"context"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/totp"
)

// The algorithm, digits and period are sealed with the secret: a value
// enrolled under SHA256, 8 digits, 60 s keeps working after the Config
// returns to the defaults, and a 6-digit code is refused for it.
func TestParametersTravelWithTheSecret(t *testing.T) {
	f := newFixture(t, func(c *totp.Config) {
		c.Algorithm = otp.AlgorithmSHA256
		c.Digits = otp.DigitsEight
		c.Period = 60 * time.Second
	})
	ctx := context.Background()
	user := userID(1)
	opts := pqtotp.ValidateOpts{Period: 60, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA256}
	codeAt := func(secret string) string {
		c, err := pqtotp.GenerateCodeCustom(secret, f.clock.Now(), opts)
		require.NoError(t, err)
		return c
	}
	e, err := f.totp.Begin(ctx, user, "alice")
	require.NoError(t, err)
	require.Contains(t, e.URI, "algorithm=SHA256")
	require.Contains(t, e.URI, "digits=8")
	require.Contains(t, e.URI, "period=60")
	require.Len(t, e.Secret, 52, "256-bit secret for SHA256")
	sealed, err := f.totp.Confirm(ctx, e.Sealed, user, codeAt(e.Secret))
	require.NoError(t, err)

	defaults := newFixtureOn(t, f.clock, f.store, nil)
	f.clock.Add(60 * time.Second)
	code := codeAt(e.Secret)
	require.ErrorIs(t, defaults.totp.Verify(ctx, sealed, user, code[:6]), totp.ErrInvalidCode)
	require.NoError(t, defaults.totp.Verify(ctx, sealed, user, code))
}
