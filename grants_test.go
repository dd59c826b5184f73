package webauthnkit_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// A recovery grant adds exactly one passkey to an existing account,
// without a session, and is gone afterwards.
func TestRegistrationGrantAddsOnePasskeyToAnExistingAccount(t *testing.T) {
	e := newEnv(t)
	first, _ := e.signUp(t, "alice")
	grant, err := e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{UserHandle: first.User.Handle, Purpose: "recovery"})
	require.NoError(t, err)
	require.Len(t, grant, 43)

	reg, _ := register(t, e.rp, webauthnkit.RegistrationRequest{Grant: grant})
	require.Equal(t, first.User.Handle, reg.User.Handle)
	require.False(t, reg.NewUser)
	require.Equal(t, "recovery", reg.GrantPurpose)
	creds, err := e.rp.ListCredentials(ctx, first.User.Handle)
	require.NoError(t, err)
	require.Len(t, creds, 2)

	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: grant})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidGrant, "a grant is single use")
}

// A sign-up grant creates the account with its verified email.
func TestRegistrationGrantCreatesAccountWithVerifiedEmail(t *testing.T) {
	e := newEnv(t)
	grant, err := e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{Username: "bob", Email: "bob@example.com", EmailVerified: true, Purpose: "sign_up"})
	require.NoError(t, err)
	reg, _ := register(t, e.rp, webauthnkit.RegistrationRequest{Grant: grant})
	require.True(t, reg.NewUser)
	u, err := e.rp.UserByHandle(ctx, reg.User.Handle)
	require.NoError(t, err)
	require.Equal(t, "bob", u.Name)
	require.Equal(t, "bob@example.com", u.Email)
	require.Equal(t, e.clock.Now().UTC(), u.EmailVerifiedAt.UTC())
}

func TestRegistrationGrantExpiresAndRefusesOtherRecords(t *testing.T) {
	e := newEnv(t)
	first, _ := e.signUp(t, "alice")
	grant, err := e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{UserHandle: first.User.Handle, TTL: time.Minute})
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: grant})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidGrant)

	// A ceremony ID is no grant, nor is garbage.
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(t, err)
	for _, g := range []string{begin.CeremonyID, "x", string(make([]byte, 4096))} {
		_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: g})
		require.ErrorIs(t, err, webauthnkit.ErrInvalidGrant)
	}

	// A request naming an account besides the grant is refused before
	// the grant is taken: it still works afterwards.
	grant, err = e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{UserHandle: first.User.Handle})
	require.NoError(t, err)
	_, err = e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: grant, Username: "mallory"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	register(t, e.rp, webauthnkit.RegistrationRequest{Grant: grant})

	_, err = e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{UserHandle: first.User.Handle, Username: "x"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	_, err = e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{Username: "alice"})
	require.ErrorIs(t, err, webauthnkit.ErrUsernameTaken)
	_, err = e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{UserHandle: []byte("nobody")})
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	_, err = e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{UserHandle: first.User.Handle, TTL: 2 * time.Hour})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
}

// Of concurrent ceremonies begun with one grant exactly one starts.
func TestRegistrationGrantConcurrentBeginsOneWins(t *testing.T) {
	e := newEnv(t)
	first, _ := e.signUp(t, "alice")
	grant, err := e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{UserHandle: first.User.Handle})
	require.NoError(t, err)
	var wins, refused atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: grant})
			switch {
			case err == nil:
				wins.Add(1)
			case webauthnkit.ErrorCode(err) == webauthnkit.CodeInvalidGrant:
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int32(1), wins.Load())
	require.Equal(t, int32(19), refused.Load())
}

// A grant's address is normalised, and one that an account has is refused
// at issue; if taken between issue and finish, ErrEmailTaken.
func TestRegistrationGrantEmail(t *testing.T) {
	e := newEnv(t)
	grant, err := e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{Username: "carol", Email: " Carol@EXAMPLE.com", EmailVerified: true})
	require.NoError(t, err)
	_, err = e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{Username: "carol2", Email: "carol@example.com"})
	require.NoError(t, err, "not taken yet")
	reg, _ := register(t, e.rp, webauthnkit.RegistrationRequest{Grant: grant})
	require.Equal(t, "carol@example.com", reg.User.Email)
	_, err = e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{Username: "carol3", Email: "CAROL@example.com"})
	require.ErrorIs(t, err, webauthnkit.ErrEmailTaken)
	_, err = e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{Username: "dave", Email: "not an address"})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)

	late, err := e.rp.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{Username: "erin", Email: "erin@example.com", EmailVerified: true})
	require.NoError(t, err)
	other, _ := e.signUp(t, "other")
	_, err = e.rp.SetEmail(ctx, other.User.Handle, "erin@example.com", false)
	require.NoError(t, err)
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: late})
	require.NoError(t, err)
	body, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(begin.Options)
	require.NoError(t, err)
	_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrEmailTaken)
}
