package webauthnkit_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Conditional create (automatic passkey upgrade): user presence is not
// required, for that ceremony only.
func TestConditionalRegistrationRelaxesUserPresenceOnly(t *testing.T) {
	e := newEnv(t)
	u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "alice"})
	require.NoError(t, err)
	device := webauthntest.New(webauthntest.WithOrigin(testOrigin))

	plain, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: u.Handle})
	require.NoError(t, err)
	require.Empty(t, plain.Mediation)
	body, err := device.Register(plain.Options, webauthntest.WithoutUserPresence())
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, plain.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse, "UP=false outside a conditional ceremony")

	cond, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: u.Handle, Conditional: true})
	require.NoError(t, err)
	require.Equal(t, "conditional", cond.Mediation)
	body, err = device.Register(cond.Options, webauthntest.WithoutUserPresence(), webauthntest.WithoutUserVerification())
	require.NoError(t, err)
	reg, err := e.rp.FinishRegistration(ctx, cond.CeremonyID, body)
	require.NoError(t, err)
	require.False(t, reg.Credential.UserPresent)

	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bob", Conditional: true})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "a sign-up is never conditional")
}
