package webauthnkit_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// reauth runs a whole re-authentication of handle with auth and returns
// FinishReauth's result.
func (e *env) reauth(t testing.TB, handle []byte, auth *webauthntest.Authenticator, call ...webauthntest.CallOption) (*webauthnkit.Login, error) {
	t.Helper()
	begin, err := e.rp.BeginReauth(ctx, handle)
	require.NoError(t, err)
	body, err := auth.Login(begin.Options, call...)
	require.NoError(t, err)
	return e.rp.FinishReauth(ctx, handle, begin.CeremonyID, body)
}

func TestReauth(t *testing.T) {
	e := newEnv(t)
	alice, authA := e.signUp(t, "alice")
	e.clock.Advance(time.Hour)

	begin, err := e.rp.BeginReauth(ctx, alice.User.Handle)
	require.NoError(t, err)
	var opts struct {
		UserVerification string `json:"userVerification"`
	}
	require.NoError(t, json.Unmarshal(begin.Options, &opts))
	require.Equal(t, "required", opts.UserVerification, "user verification is required whatever the Config says")
	require.Equal(t, [][]byte{alice.Credential.ID}, allowedIDs(t, begin.Options))

	body, err := authA.Login(begin.Options)
	require.NoError(t, err)
	login, err := e.rp.FinishReauth(ctx, alice.User.Handle, begin.CeremonyID, body)
	require.NoError(t, err)
	require.Equal(t, alice.User.Handle, login.User.Handle)
	require.True(t, login.UserVerified)
	require.True(t, login.AuthenticatedAt.Equal(e.clock.Now()), "AuthenticatedAt comes from Config.Now")
	require.True(t, e.rp.FreshAuth(login.AuthenticatedAt, 0))
	require.Equal(t, webauthnkit.EventReauthSucceeded, e.events.last().Type)
	require.Equal(t, alice.User.Handle, e.events.last().UserHandle)

	// Single use, like every ceremony.
	_, err = e.rp.FinishReauth(ctx, alice.User.Handle, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrCeremonyNotFound)
}

func TestReauthWithAnotherAccountsPasskey(t *testing.T) {
	e := newEnv(t)
	alice, _ := e.signUp(t, "alice")
	_, authB := e.signUp(t, "bob")

	begin, err := e.rp.BeginReauth(ctx, alice.User.Handle)
	require.NoError(t, err)
	// Bob's authenticator answers with Bob's passkey (a client that ignores
	// the allow list).
	body, err := authB.Login(withoutAllowList(t, begin.Options))
	require.NoError(t, err)
	login, err := e.rp.FinishReauth(ctx, alice.User.Handle, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrWrongUser)
	require.Nil(t, login)
	ev := e.events.last()
	require.Equal(t, webauthnkit.EventReauthFailed, ev.Type)
	require.Equal(t, webauthnkit.CodeWrongUser, ev.Code)
}

func TestReauthCeremonyOfAnotherAccount(t *testing.T) {
	e := newEnv(t)
	alice, authA := e.signUp(t, "alice")
	bob, _ := e.signUp(t, "bob")

	// Begun for Alice, finished in Bob's session (with Alice's passkey).
	begin, err := e.rp.BeginReauth(ctx, alice.User.Handle)
	require.NoError(t, err)
	body, err := authA.Login(begin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishReauth(ctx, bob.User.Handle, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrWrongUser)
}

func TestReauthWithoutUserVerification(t *testing.T) {
	e := newEnv(t)
	alice, authA := e.signUp(t, "alice")
	_, err := e.reauth(t, alice.User.Handle, authA, webauthntest.WithoutUserVerification())
	require.ErrorIs(t, err, webauthnkit.ErrUserVerificationRequired)
	require.Equal(t, webauthnkit.EventReauthFailed, e.events.last().Type)
}

func TestReauthIsItsOwnCeremony(t *testing.T) {
	e := newEnv(t)
	alice, authA := e.signUp(t, "alice")

	begin, err := e.rp.BeginReauth(ctx, alice.User.Handle)
	require.NoError(t, err)
	body, err := authA.Login(begin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrWrongCeremony, "a re-authentication is not a sign-in")

	lb, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	body, err = authA.Login(lb.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishReauth(ctx, alice.User.Handle, lb.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrWrongCeremony, "a sign-in is not a re-authentication")
}

func TestBeginReauthErrors(t *testing.T) {
	e := newEnv(t)
	_, err := e.rp.BeginReauth(ctx, nil)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	_, err = e.rp.BeginReauth(ctx, make([]byte, 65))
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	_, err = e.rp.BeginReauth(ctx, []byte("nobody"))
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	// An application's user without a passkey re-authenticates the
	// application's way.
	u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Name: "carol"})
	require.NoError(t, err)
	_, err = e.rp.BeginReauth(ctx, u.Handle)
	require.ErrorIs(t, err, webauthnkit.ErrNoPasskey)
}

func TestLoginAuthenticatedAtAndCrossDevice(t *testing.T) {
	e := newEnv(t)
	_, platform := e.signUp(t, "alice")
	_, roaming := e.signUp(t, "bob", webauthntest.WithAttachment(webauthntest.CrossPlatform))
	e.clock.Advance(time.Minute)

	login, err := e.login(t, platform, "alice")
	require.NoError(t, err)
	require.False(t, login.CrossDevice)
	require.True(t, login.AuthenticatedAt.Equal(e.clock.Now()))

	login, err = e.login(t, roaming, "bob")
	require.NoError(t, err)
	require.True(t, login.CrossDevice, "authenticatorAttachment cross-platform: offer a passkey on this device")

	// A browser that does not report the attachment: not cross-device.
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "bob"})
	require.NoError(t, err)
	body, err := roaming.Login(begin.Options)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	delete(m, "authenticatorAttachment")
	body, err = json.Marshal(m)
	require.NoError(t, err)
	login, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	require.False(t, login.CrossDevice)
}

func TestFreshAuth(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	require.False(t, e.rp.FreshAuth(time.Time{}, 0), "zero is never fresh")
	require.True(t, e.rp.FreshAuth(now, 0))
	require.True(t, e.rp.FreshAuth(now.Add(-webauthnkit.DefaultReauthMaxAge), 0), "at the limit")
	require.False(t, e.rp.FreshAuth(now.Add(-webauthnkit.DefaultReauthMaxAge-time.Second), 0))
	require.True(t, e.rp.FreshAuth(now.Add(-9*time.Minute), 10*time.Minute))
	require.False(t, e.rp.FreshAuth(now, -1), "negative max age")
	require.True(t, e.rp.FreshAuth(now.Add(30*time.Second), 0), "small clock skew")
	require.False(t, e.rp.FreshAuth(now.Add(time.Hour), 0), "a time far in the future")
}
