package webauthnkit_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// TestSignIn is the README's "Testing your app without a browser" snippet,
// kept here so it compiles and passes.
func TestSignIn(t *testing.T) {
	ctx := context.Background()
	store, _ := memstore.New()
	rp, _ := webauthnkit.New(webauthnkit.Config{RPID: "example.com",
		Origins: []string{"https://example.com"}, Credentials: store, Ceremonies: store})
	device := webauthntest.New() // ES256 platform passkey, origin https://example.com

	begin, _ := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	body, _ := device.Register(begin.Options)
	_, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)

	login, _ := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	body, _ = device.Login(login.Options, webauthntest.BadSignature()) // or WrongOrigin, WrongChallenge, ...
	_, err = rp.FinishLogin(ctx, login.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
}
