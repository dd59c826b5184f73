package webauthnkit_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

func TestRegistrationOptions(t *testing.T) {
	e := newEnv(t)
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "  Alice@Example.com ", DisplayName: "Alice"})
	require.NoError(t, err)

	var opts struct {
		Challenge string `json:"challenge"`
		RP        struct{ ID, Name string }
		User      struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		}
		PubKeyCredParams []struct {
			Alg int `json:"alg"`
		} `json:"pubKeyCredParams"`
		Timeout                int `json:"timeout"`
		AuthenticatorSelection struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		Attestation string `json:"attestation"`
	}
	require.NoError(t, json.Unmarshal(begin.Options, &opts))
	challenge, err := base64.RawURLEncoding.DecodeString(opts.Challenge)
	require.NoError(t, err, "challenge must be unpadded base64url")
	assert.Len(t, challenge, 32)
	handle, err := base64.RawURLEncoding.DecodeString(opts.User.ID)
	require.NoError(t, err, "user.id must be unpadded base64url (parseCreationOptionsFromJSON)")
	assert.Len(t, handle, 32)
	assert.NotContains(t, string(handle), "alice", "the user handle must not be derived from the name")
	assert.Equal(t, "alice@example.com", opts.User.Name)
	assert.Equal(t, "Alice", opts.User.DisplayName)
	assert.Equal(t, "example.com", opts.RP.ID)
	assert.Equal(t, "Example", opts.RP.Name)
	assert.Equal(t, 300000, opts.Timeout)
	assert.Equal(t, "required", opts.AuthenticatorSelection.ResidentKey)
	assert.Equal(t, "preferred", opts.AuthenticatorSelection.UserVerification)
	assert.Equal(t, "none", opts.Attestation)
	assert.NotEmpty(t, opts.PubKeyCredParams)
	assert.Equal(t, e.clock.Now().Add(5*time.Minute), begin.ExpiresAt)
	assert.Len(t, begin.CeremonyID, 43)

	// Two ceremonies never share a challenge, ceremony ID or user handle.
	begin2, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bob"})
	require.NoError(t, err)
	assert.NotEqual(t, begin.CeremonyID, begin2.CeremonyID)
	assert.NotContains(t, string(begin2.Options), opts.Challenge)
	assert.NotContains(t, string(begin2.Options), opts.User.ID)

	// Nothing is stored before the ceremony finishes.
	_, err = e.store.GetUserByName(ctx, "alice@example.com")
	assert.ErrorIs(t, err, webauthnkit.ErrNotFound)
}

func TestAddPasskeyToExistingAccount(t *testing.T) {
	e := newEnv(t)
	reg, first := e.signUp(t, "alice")

	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle, CredentialName: "Backup key"})
	require.NoError(t, err)
	assert.Contains(t, string(begin.Options), base64.RawURLEncoding.EncodeToString(reg.Credential.ID), "excludeCredentials lists the existing passkey")
	_, err = first.Register(begin.Options)
	require.ErrorIs(t, err, webauthntest.ErrInvalidState, "the authenticator holding a passkey refuses a second one")

	second := webauthntest.New(webauthntest.WithOrigin(testOrigin), webauthntest.SecurityKey())
	body, err := second.Register(begin.Options)
	require.NoError(t, err)
	added, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	assert.False(t, added.NewUser)
	assert.Equal(t, "Backup key", added.Credential.Name)
	assert.Equal(t, reg.User.Handle, added.User.Handle)

	creds, err := e.rp.ListCredentials(ctx, reg.User.Handle)
	require.NoError(t, err)
	assert.Len(t, creds, 2)
	_, err = e.login(t, second, "alice")
	require.NoError(t, err)

	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: []byte("unknown-handle")})
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle, Username: "alice"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
}

func TestUsernameTaken(t *testing.T) {
	e := newEnv(t)
	e.signUp(t, "alice")
	_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: " ALICE "})
	require.ErrorIs(t, err, webauthnkit.ErrUsernameTaken)

	// Two sign-ups for the same free name: the second to finish loses.
	b1, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "carol"})
	require.NoError(t, err)
	b2, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "carol"})
	require.NoError(t, err)
	body1, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(b1.Options)
	require.NoError(t, err)
	body2, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(b2.Options)
	require.NoError(t, err)
	first, err := e.rp.FinishRegistration(ctx, b1.CeremonyID, body1)
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, b2.CeremonyID, body2)
	require.ErrorIs(t, err, webauthnkit.ErrUsernameTaken)
	creds, err := e.rp.ListCredentials(ctx, first.User.Handle)
	require.NoError(t, err)
	assert.Len(t, creds, 1, "the loser's passkey is not added to the winner's account")
}

func TestTransportsFiltered(t *testing.T) {
	e := newEnv(t)
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	require.NoError(t, err)
	body, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(begin.Options)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	junk := []any{"usb", "usb", "<img src=x onerror=a>", "internal", "hybrid"}
	for range 1000 {
		junk = append(junk, "x")
	}
	m["response"].(map[string]any)["transports"] = junk
	body, err = json.Marshal(m)
	require.NoError(t, err)
	reg, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	assert.Equal(t, []string{"usb", "internal", "hybrid"}, reg.Credential.Transports)
}
