package webauthnkit_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// pinlessKey is a security key without user verification (no PIN set).
func pinlessKey() []webauthntest.Option {
	return []webauthntest.Option{webauthntest.SecurityKey(), webauthntest.WithUserVerification(false)}
}

// authenticatorSelection returns the options' authenticatorSelection.
func authenticatorSelection(t *testing.T, options []byte) map[string]any {
	t.Helper()
	var o struct {
		Sel map[string]any `json:"authenticatorSelection"`
	}
	require.NoError(t, json.Unmarshal(options, &o))
	return o.Sel
}

func userVerificationOf(t *testing.T, options []byte) string {
	t.Helper()
	var o struct {
		UV string `json:"userVerification"`
	}
	require.NoError(t, json.Unmarshal(options, &o))
	return o.UV
}

// bound runs a login bound to handle with auth.
func (e *env) bound(t *testing.T, auth *webauthntest.Authenticator, handle []byte, call ...webauthntest.CallOption) (*webauthnkit.Login, error) {
	t.Helper()
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{UserHandle: handle})
	require.NoError(t, err)
	body, err := auth.Login(begin.Options, call...)
	require.NoError(t, err)
	return e.rp.FinishLogin(ctx, begin.CeremonyID, body)
}

// A PIN-less security key added as a second factor to an app's user: the
// bound login accepts it with one factor; usernameless and username-first
// logins refuse it.
func TestSecondFactorSecurityKey(t *testing.T) {
	e := newEnv(t)
	u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: []byte("app-7"), Name: "alice"})
	require.NoError(t, err)

	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: u.Handle, SecondFactorOnly: true})
	require.NoError(t, err)
	sel := authenticatorSelection(t, begin.Options)
	assert.Equal(t, "discouraged", sel["residentKey"])
	assert.NotEqual(t, true, sel["requireResidentKey"])
	assert.Equal(t, "discouraged", sel["userVerification"], "no PIN prompt for a second factor")
	// A key that keeps the handle anyway (resident), so that it can answer
	// a usernameless login below.
	key := webauthntest.New(append(pinlessKey(), webauthntest.WithOrigin(testOrigin))...)
	body, err := key.Register(begin.Options)
	require.NoError(t, err)
	reg, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	assert.True(t, reg.Credential.SecondFactorOnly)
	assert.False(t, reg.Credential.UserVerified)
	stored, err := e.rp.ListCredentials(ctx, u.Handle)
	require.NoError(t, err)
	require.Len(t, stored, 1)
	assert.True(t, stored[0].SecondFactorOnly, "stored")

	t.Run("bound login", func(t *testing.T) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{UserHandle: u.Handle})
		require.NoError(t, err)
		assert.Equal(t, [][]byte{reg.Credential.ID}, allowedIDs(t, begin.Options))
		body, err := key.Login(begin.Options)
		require.NoError(t, err)
		login, err := e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.NoError(t, err)
		assert.Equal(t, u.Handle, login.User.Handle)
		assert.False(t, login.UserVerified)
		assert.Equal(t, 1, login.Factors)
	})

	t.Run("usernameless login refused", func(t *testing.T) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
		require.NoError(t, err)
		body, err := key.Login(begin.Options)
		require.NoError(t, err)
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
		var ke *webauthnkit.Error
		require.ErrorAs(t, err, &ke)
		assert.Nil(t, ke.UnknownCredentialID, "a registered second factor must not be signalled as unknown")
		assert.Equal(t, webauthnkit.EventLoginFailed, e.events.last().Type)
	})

	t.Run("username-first login refused", func(t *testing.T) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
		require.NoError(t, err)
		assert.NotContains(t, allowedIDs(t, begin.Options), reg.Credential.ID, "not listed after a username")
		body, err := key.Login(withoutAllowList(t, begin.Options))
		require.NoError(t, err)
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
	})

	t.Run("only with UserHandle", func(t *testing.T) {
		_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "bob", SecondFactorOnly: true})
		require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	})
}

// A user-verifying platform passkey proves two factors; a PIN-less key one.
func TestLoginFactors(t *testing.T) {
	e := newEnv(t)
	_, synced := e.signUp(t, "alice", webauthntest.SyncedPasskey())
	login, err := e.login(t, synced, "alice")
	require.NoError(t, err)
	assert.True(t, login.UserVerified)
	assert.Equal(t, 2, login.Factors)

	_, key := e.signUp(t, "bob", pinlessKey()...)
	login, err = e.login(t, key, "bob")
	require.NoError(t, err)
	assert.False(t, login.UserVerified)
	assert.Equal(t, 1, login.Factors, "with the default preferred UV a PIN-less key is one factor")
}

// A login bound by handle lists every passkey of the account, whatever its
// attachment, and accepts only those.
func TestLoginByUserHandle(t *testing.T) {
	e := newEnv(t)
	alice, phone := e.signUp(t, "alice", webauthntest.SyncedPasskey())
	_, key := register(t, e.rp, webauthnkit.RegistrationRequest{UserHandle: alice.User.Handle, SecondFactorOnly: true}, pinlessKey()...)
	_, mallory := e.signUp(t, "mallory")

	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{UserHandle: alice.User.Handle})
	require.NoError(t, err)
	assert.Len(t, allowedIDs(t, begin.Options), 2, "the synced passkey and the second-factor key")
	for _, auth := range []*webauthntest.Authenticator{phone, key} {
		login, err := e.bound(t, auth, alice.User.Handle)
		require.NoError(t, err)
		assert.Equal(t, alice.User.Handle, login.User.Handle)
	}

	// Username-first, the account's own second-factor key is refused even
	// though the account has a passkey the username lists.
	begin, err = e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	assert.Len(t, allowedIDs(t, begin.Options), 1, "only the synced passkey after a username")
	body, err := key.Login(withoutAllowList(t, begin.Options))
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)

	// Another account's passkey is refused (not signalled as unknown).
	begin, err = e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{UserHandle: alice.User.Handle})
	require.NoError(t, err)
	body, err = mallory.Login(withoutAllowList(t, begin.Options))
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)

	_, err = e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice", UserHandle: alice.User.Handle})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "Username and UserHandle together")
	_, err = e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{UserHandle: make([]byte, webauthnkit.MaxUserHandleLength+1)})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "handle longer than 64 bytes")
}

// An unknown handle, and a user without passkeys, get a stable fake allow
// list after the same store calls as a real account; a fake ID fails as a
// real account's bad signature does.
func TestLoginByUserHandleNoEnumeration(t *testing.T) {
	store := newCountingStore(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Credentials, c.Ceremonies = store, store })
	real, auth := e.signUp(t, "alice")
	noPasskey, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: []byte("app-9"), Name: "bob"})
	require.NoError(t, err)

	begin := func(handle []byte) (*webauthnkit.Begin, []string) {
		store.TakeCalls()
		b, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{UserHandle: handle})
		require.NoError(t, err)
		return b, store.TakeCalls()
	}
	_, realCalls := begin(real.User.Handle)
	for _, handle := range [][]byte{[]byte("unknown-app-id"), noPasskey.Handle} {
		b1, calls := begin(handle)
		assert.Equal(t, realCalls, calls, "same store calls as a real account")
		fake := allowedIDs(t, b1.Options)
		require.NotEmpty(t, fake)
		b2, _ := begin(handle)
		assert.Equal(t, fake, allowedIDs(t, b2.Options), "stable for one handle")

		// The real passkey answering with a fake ID: invalid_response, as a
		// real account's passkey with a bad signature gets.
		body, err := auth.Login(withoutAllowList(t, b2.Options))
		require.NoError(t, err)
		body = setCredentialID(t, body, fake[0], nil)
		_, err = e.rp.FinishLogin(ctx, b2.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
	}
	b1, _ := begin([]byte("unknown-app-id"))
	b2, _ := begin([]byte("another-unknown"))
	assert.NotEqual(t, allowedIDs(t, b1.Options), allowedIDs(t, b2.Options), "keyed by the handle")
	b3, _ := begin([]byte("bob"))
	byName, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "bob"})
	require.NoError(t, err)
	assert.NotEqual(t, allowedIDs(t, b3.Options), allowedIDs(t, byName.Options), "a handle's fake list is not a name's")
}

// UserVerification per ceremony overrides the Config, both ways, and the
// check at finish follows the ceremony's value.
func TestPerCeremonyUserVerification(t *testing.T) {
	t.Run("login required over preferred", func(t *testing.T) {
		e := newEnv(t)
		_, auth := e.signUp(t, "alice")
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice", UserVerification: webauthnkit.UserVerificationRequired})
		require.NoError(t, err)
		assert.Equal(t, "required", userVerificationOf(t, begin.Options))
		body, err := auth.Login(begin.Options, webauthntest.WithoutUserVerification())
		require.NoError(t, err)
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUserVerificationRequired)

		// The same response shape passes under the Config's preferred.
		login, err := e.login(t, auth, "alice", webauthntest.WithoutUserVerification())
		require.NoError(t, err)
		assert.Equal(t, 1, login.Factors)
	})
	t.Run("login discouraged over required", func(t *testing.T) {
		e := newEnv(t, func(c *webauthnkit.Config) { c.UserVerification = webauthnkit.UserVerificationRequired })
		reg, _ := e.signUp(t, "alice")
		key := webauthntest.New(append(pinlessKey(), webauthntest.WithOrigin(testOrigin))...)
		begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{
			UserHandle: reg.User.Handle, SecondFactorOnly: true, UserVerification: webauthnkit.UserVerificationDiscouraged,
		})
		require.NoError(t, err)
		body, err := key.Register(begin.Options)
		require.NoError(t, err)
		_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
		require.NoError(t, err)

		_, err = e.bound(t, key, reg.User.Handle, webauthntest.WithoutUserVerification())
		require.ErrorIs(t, err, webauthnkit.ErrUserVerificationRequired, "the Config's required applies without an override")
		b, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{UserHandle: reg.User.Handle, UserVerification: webauthnkit.UserVerificationDiscouraged})
		require.NoError(t, err)
		body, err = key.Login(b.Options)
		require.NoError(t, err)
		login, err := e.rp.FinishLogin(ctx, b.CeremonyID, body)
		require.NoError(t, err)
		assert.Equal(t, 1, login.Factors)
	})
	t.Run("second factor keeps the Config's required", func(t *testing.T) {
		e := newEnv(t, func(c *webauthnkit.Config) { c.UserVerification = webauthnkit.UserVerificationRequired })
		reg, _ := e.signUp(t, "alice")
		begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: reg.User.Handle, SecondFactorOnly: true})
		require.NoError(t, err)
		assert.Equal(t, "required", authenticatorSelection(t, begin.Options)["userVerification"])
	})
	t.Run("registration required over preferred", func(t *testing.T) {
		e := newEnv(t)
		auth := webauthntest.New(webauthntest.WithOrigin(testOrigin))
		begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice", UserVerification: webauthnkit.UserVerificationRequired})
		require.NoError(t, err)
		assert.Equal(t, "required", authenticatorSelection(t, begin.Options)["userVerification"])
		body, err := auth.Register(begin.Options, webauthntest.WithoutUserVerification())
		require.NoError(t, err)
		_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUserVerificationRequired)
	})
	t.Run("unknown value", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{UserVerification: "always"})
		require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
		_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice", UserVerification: "Required"})
		require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	})
}
