package webauthnkit_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// An application's existing user gets an account without a passkey, then a
// first passkey through BeginRegistration{UserHandle}, then signs in.
func TestCreateUserThenFirstPasskey(t *testing.T) {
	e := newEnv(t)
	u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "Alice@Example.com", DisplayName: "Alice"})
	require.NoError(t, err)
	assert.Len(t, u.Handle, 32, "default handle: 32 random bytes")
	assert.Equal(t, "alice@example.com", u.Name)
	assert.Equal(t, "Alice", u.DisplayName)
	assert.Equal(t, e.clock.Now().UTC(), u.CreatedAt)
	ev := e.events.last()
	assert.Equal(t, webauthnkit.EventUserCreated, ev.Type)
	assert.Equal(t, u.Handle, ev.UserHandle)

	stored, err := e.rp.UserByHandle(ctx, u.Handle)
	require.NoError(t, err)
	assert.Equal(t, u, stored)
	creds, err := e.rp.ListCredentials(ctx, u.Handle)
	require.NoError(t, err)
	assert.Empty(t, creds)

	reg, auth := register(t, e.rp, webauthnkit.RegistrationRequest{UserHandle: u.Handle})
	assert.False(t, reg.NewUser)
	assert.Equal(t, u.Handle, reg.User.Handle)
	assert.False(t, reg.Credential.SecondFactorOnly)

	login, err := e.login(t, auth, "alice@example.com")
	require.NoError(t, err)
	assert.Equal(t, u.Handle, login.User.Handle)
}

// A handle chosen by the application comes back in the options, the
// stored passkey and a usernameless login.
func TestCreateUserAppChosenHandle(t *testing.T) {
	e := newEnv(t)
	handle := []byte("app-user-000042")
	u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: handle, Name: "bob"})
	require.NoError(t, err)
	assert.Equal(t, handle, u.Handle)
	assert.Equal(t, "bob", u.DisplayName, "default display name: the name")

	reg, auth := register(t, e.rp, webauthnkit.RegistrationRequest{UserHandle: handle})
	assert.Equal(t, handle, reg.Credential.UserHandle)

	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(t, err)
	body, err := auth.Login(begin.Options)
	require.NoError(t, err)
	login, err := e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	assert.Equal(t, handle, login.User.Handle, "the app's own ID comes back from a usernameless login")

	for _, n := range []int{1, webauthnkit.MaxUserHandleLength} {
		h := bytes.Repeat([]byte{byte(n)}, n)
		_, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: h, Name: "len" + strconv.Itoa(n)})
		require.NoError(t, err, "%d-byte handle", n)
	}
	for _, h := range [][]byte{{}, bytes.Repeat([]byte{1}, webauthnkit.MaxUserHandleLength+1)} {
		_, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: h, Name: "carol"})
		require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "%d-byte handle", len(h))
	}
}

func TestCreateUserErrors(t *testing.T) {
	e := newEnv(t)
	first, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: []byte("id-1"), Name: "alice"})
	require.NoError(t, err)
	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "ALICE"})
	require.ErrorIs(t, err, webauthnkit.ErrUsernameTaken, "random handle, name taken")
	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: []byte("id-2"), Name: "alice"})
	require.ErrorIs(t, err, webauthnkit.ErrUsernameTaken, "free handle, name taken")
	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: []byte("id-1"), Name: "someone-else"})
	require.ErrorIs(t, err, webauthnkit.ErrUserExists, "handle taken")
	require.NotErrorIs(t, err, webauthnkit.ErrUsernameTaken)
	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "a\u0430"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "mixed scripts")
	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "dave", DisplayName: strings.Repeat("d", webauthnkit.MaxDisplayNameLength+1)})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "display name too long")
	_, err = e.rp.UserByHandle(ctx, []byte("id-2"))
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound, "nothing stored by a refused CreateUser")
	still, err := e.rp.UserByHandle(ctx, first.Handle)
	require.NoError(t, err)
	assert.Equal(t, first, still)
}

// Names of up to 254 characters (email addresses), by CreateUser and by a
// passkey sign-up; the default display name is cut to 64 characters.
func TestNamesOf254Characters(t *testing.T) {
	e := newEnv(t)
	local := strings.Repeat("a", webauthnkit.MaxNameLength-len("@example.com"))
	email := local + "@example.com"
	require.Len(t, email, 254)
	u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: email})
	require.NoError(t, err)
	assert.Equal(t, email, u.Name)
	assert.Equal(t, webauthnkit.MaxDisplayNameLength, utf8.RuneCountInString(u.DisplayName))
	_, auth := register(t, e.rp, webauthnkit.RegistrationRequest{UserHandle: u.Handle})
	login, err := e.login(t, auth, strings.ToUpper(email))
	require.NoError(t, err)
	assert.Equal(t, u.Handle, login.User.Handle)

	// A sign-up with a 254-character name of non-ASCII letters.
	long := strings.Repeat("ж", webauthnkit.MaxNameLength)
	reg, _ := e.signUp(t, long)
	assert.Equal(t, long, reg.User.Name)
	assert.Equal(t, strings.Repeat("ж", webauthnkit.MaxDisplayNameLength), reg.User.DisplayName)

	_, err = e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "b" + email})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "255 characters")
	_, err = e.rp.UpdateUser(ctx, u.Handle, webauthnkit.UserUpdate{Name: "b" + email})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest, "255 characters")
}

// After UpdateUser the new name signs in, the old one answers like an
// unknown name and is free for others.
func TestUpdateUserRename(t *testing.T) {
	e := newEnv(t)
	reg, auth := e.signUp(t, "alice@old.example")
	epoch, err := e.rp.EndSessions(ctx, reg.User.Handle)
	require.NoError(t, err)

	u, err := e.rp.UpdateUser(ctx, reg.User.Handle, webauthnkit.UserUpdate{Name: "Alice@New.example"})
	require.NoError(t, err)
	assert.Equal(t, "alice@new.example", u.Name)
	assert.Equal(t, reg.User.DisplayName, u.DisplayName, "an empty DisplayName is left unchanged")
	assert.Equal(t, reg.User.Handle, u.Handle)
	assert.Equal(t, epoch, u.SessionEpoch, "sessions are kept")
	ev := e.events.last()
	assert.Equal(t, webauthnkit.EventUserUpdated, ev.Type)
	assert.Equal(t, u.Handle, ev.UserHandle)
	assert.Equal(t, "alice@new.example", ev.Username)
	stored, err := e.rp.UserByHandle(ctx, u.Handle)
	require.NoError(t, err)
	assert.Equal(t, u, stored, "UpdateUser returns the account as stored")

	login, err := e.login(t, auth, "alice@new.example")
	require.NoError(t, err)
	assert.Equal(t, "alice@new.example", login.User.Name)

	// The old name: a fake allow list, and the real passkey is refused.
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice@old.example"})
	require.NoError(t, err)
	assert.NotContains(t, allowedIDs(t, begin.Options), reg.Credential.ID)
	body, err := auth.Login(withoutAllowList(t, begin.Options))
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)

	other, _ := e.signUp(t, "alice@old.example")
	assert.NotEqual(t, reg.User.Handle, other.User.Handle, "the old name is free for a new account")
}

func TestUpdateUserRefusals(t *testing.T) {
	e := newEnv(t)
	alice, _ := e.signUp(t, "alice")
	bob, _ := e.signUp(t, "bob")
	before := len(e.events.types())

	_, err := e.rp.UpdateUser(ctx, bob.User.Handle, webauthnkit.UserUpdate{Name: "Alice", DisplayName: "Bob B."})
	require.ErrorIs(t, err, webauthnkit.ErrUsernameTaken)
	got, err := e.rp.UserByHandle(ctx, bob.User.Handle)
	require.NoError(t, err)
	assert.Equal(t, bob.User, got, "a refused update changes nothing, the display name included")

	_, err = e.rp.UpdateUser(ctx, []byte("nobody"), webauthnkit.UserUpdate{Name: "carol"})
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	_, err = e.rp.UpdateUser(ctx, alice.User.Handle, webauthnkit.UserUpdate{Name: "a\u0430"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	_, err = e.rp.UpdateUser(ctx, alice.User.Handle, webauthnkit.UserUpdate{DisplayName: "\u202eevil"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	assert.Len(t, e.events.types(), before, "no event for a refused update")

	// The own name with a new display name; then nothing to change.
	u, err := e.rp.UpdateUser(ctx, alice.User.Handle, webauthnkit.UserUpdate{Name: "alice", DisplayName: "Alice A."})
	require.NoError(t, err)
	assert.Equal(t, "Alice A.", u.DisplayName)
	assert.Equal(t, webauthnkit.EventUserUpdated, e.events.last().Type)
	n := len(e.events.types())
	same, err := e.rp.UpdateUser(ctx, alice.User.Handle, webauthnkit.UserUpdate{})
	require.NoError(t, err)
	assert.Equal(t, u, same)
	assert.Len(t, e.events.types(), n, "no event when nothing changed")
}

// A passkey registered after CreateUser with an app-chosen handle signs in
// by handle (second factor) and by name; the handle is what the
// authenticator stores.
func TestAppHandleStoredByAuthenticator(t *testing.T) {
	e := newEnv(t)
	handle := []byte{0x01}
	_, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: handle, Name: "one-byte"})
	require.NoError(t, err)
	_, auth := register(t, e.rp, webauthnkit.RegistrationRequest{UserHandle: handle}, webauthntest.SyncedPasskey())
	infos := auth.Credentials()
	require.Len(t, infos, 1)
	assert.Equal(t, handle, infos[0].UserHandle)
}
