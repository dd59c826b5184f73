package webauthnkit_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

func TestCredentialManagement(t *testing.T) {
	e := newEnv(t)
	alice, _ := e.signUp(t, "alice")
	bob, _ := e.signUp(t, "bob")

	require.NoError(t, e.rp.RenameCredential(ctx, alice.User.Handle, alice.Credential.ID, "  My phone  "))
	creds, err := e.rp.ListCredentials(ctx, alice.User.Handle)
	require.NoError(t, err)
	require.Len(t, creds, 1)
	assert.Equal(t, "My phone", creds[0].Name)
	assert.Equal(t, webauthnkit.EventCredentialRenamed, e.events.last().Type)

	// Bob cannot touch alice's passkey.
	err = e.rp.RenameCredential(ctx, bob.User.Handle, alice.Credential.ID, "pwned")
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	err = e.rp.RevokeCredential(ctx, bob.User.Handle, alice.Credential.ID, true)
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	creds, _ = e.rp.ListCredentials(ctx, alice.User.Handle)
	assert.Equal(t, "My phone", creds[0].Name)

	err = e.rp.RenameCredential(ctx, alice.User.Handle, alice.Credential.ID, strings.Repeat("n", 65))
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)

	// The last passkey is protected unless forced.
	err = e.rp.RevokeCredential(ctx, alice.User.Handle, alice.Credential.ID, false)
	require.ErrorIs(t, err, webauthnkit.ErrLastCredential)
	require.NoError(t, e.rp.RevokeCredential(ctx, alice.User.Handle, alice.Credential.ID, true))
	assert.Equal(t, webauthnkit.EventCredentialRevoked, e.events.last().Type)
	creds, err = e.rp.ListCredentials(ctx, alice.User.Handle)
	require.NoError(t, err)
	assert.Empty(t, creds)

	require.NoError(t, e.rp.DeleteUser(ctx, bob.User.Handle))
	_, err = e.rp.UserByHandle(ctx, bob.User.Handle)
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	_, err = e.store.GetCredential(ctx, bob.Credential.ID)
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
}

func TestRevokedCredentialCannotLogIn(t *testing.T) {
	e := newEnv(t)
	reg, auth := e.signUp(t, "alice")
	second := webauthntest.New(webauthntest.WithOrigin(testOrigin))
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle})
	require.NoError(t, err)
	body, err := second.Register(begin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)

	require.NoError(t, e.rp.RevokeCredential(ctx, reg.User.Handle, reg.Credential.ID, false))
	lb, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(t, err)
	lbody, err := auth.LoginWith(lb.Options, reg.Credential.ID)
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, lb.CeremonyID, lbody)
	require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
	var ke *webauthnkit.Error
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, reg.Credential.ID, ke.UnknownCredentialID, "an unregistered credential is named so the client can signal it")
}
