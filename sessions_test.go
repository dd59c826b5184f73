package webauthnkit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// addPasskey registers one more passkey, on a new authenticator, to the
// account.
func (e *env) addPasskey(t testing.TB, handle []byte) (*webauthnkit.Registration, *webauthntest.Authenticator) {
	t.Helper()
	return register(t, e.rp, webauthnkit.RegistrationRequest{UserHandle: handle})
}

func (e *env) epoch(t testing.TB, handle []byte) uint64 {
	t.Helper()
	u, err := e.rp.UserByHandle(ctx, handle)
	require.NoError(t, err)
	return u.SessionEpoch
}

// roundTripStore is memstore with the latency of a networked store on
// ListCredentials, the read RevokeCredential makes before the delete: it
// opens the window in which two revokes both see two passkeys. Every other
// method, GetCredentialWithUser included, is memstore's own.
type roundTripStore struct{ *memstore.Store }

func (s roundTripStore) ListCredentials(ctx context.Context, h []byte) ([]webauthnkit.Credential, error) {
	creds, err := s.Store.ListCredentials(ctx, h)
	time.Sleep(2 * time.Millisecond)
	return creds, err
}

func (s roundTripStore) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true}
}

// Issue 11 item 5: two concurrent revokes of an account's last two passkeys
// must never leave it with none. The guard is the store's atomic
// DeleteCredential(allowLast=false), not the list read before it.
func TestConcurrentRevokeKeepsOnePasskey(t *testing.T) {
	const trials = 30
	store := newMemStore(t)
	t.Cleanup(func() { store.Close() })
	e := newEnv(t, func(c *webauthnkit.Config) {
		c.Credentials = roundTripStore{store}
		c.Ceremonies = store
	})
	zero := 0
	for trial := range trials {
		first, _ := e.signUp(t, fmt.Sprint("user", trial))
		second, _ := e.addPasskey(t, first.User.Handle)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		start := make(chan struct{})
		for _, id := range [][]byte{first.Credential.ID, second.Credential.ID} {
			wg.Go(func() {
				<-start
				err := e.rp.RevokeCredential(ctx, first.User.Handle, id, false)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		left, err := e.rp.ListCredentials(ctx, first.User.Handle)
		require.NoError(t, err)
		if len(left) == 0 {
			zero++
			continue
		}
		require.Len(t, left, 1, "trial %d", trial)
		ok, last := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, webauthnkit.ErrLastCredential):
				last++
			default:
				t.Errorf("trial %d: unexpected error %v", trial, err)
			}
		}
		assert.Equal(t, 1, ok, "trial %d: one revoke succeeds", trial)
		assert.Equal(t, 1, last, "trial %d: the other gets ErrLastCredential", trial)
	}
	require.Zero(t, zero, "concurrent revokes of the last two passkeys left the account with none in %d of %d trials", zero, trials)
}

// Issue 11 item 4: removing a passkey ends the account's sessions (a
// session opened with it must not outlive it), and only a removal that can
// happen ends them.
func TestRevokeEndsSessions(t *testing.T) {
	e := newEnv(t)
	alice, _ := e.signUp(t, "alice")
	bob, _ := e.signUp(t, "bob")
	second, _ := e.addPasskey(t, alice.User.Handle)
	start, bobStart := alice.User.SessionEpoch, bob.User.SessionEpoch
	require.Equal(t, start, e.epoch(t, alice.User.Handle))

	require.NoError(t, e.rp.RevokeCredential(ctx, alice.User.Handle, second.Credential.ID, false))
	assert.Equal(t, start+1, e.epoch(t, alice.User.Handle), "revoking a passkey ends the account's sessions")
	types := e.events.types()
	assert.Equal(t, []webauthnkit.EventType{webauthnkit.EventSessionsEnded, webauthnkit.EventCredentialRevoked}, types[len(types)-2:],
		"sessions are ended before the passkey is removed")
	assert.Equal(t, alice.User.Handle, e.events.last().UserHandle)

	// Refused revokes end nothing: the last passkey without force, another
	// account's passkey, an unknown one.
	err := e.rp.RevokeCredential(ctx, alice.User.Handle, alice.Credential.ID, false)
	require.ErrorIs(t, err, webauthnkit.ErrLastCredential)
	err = e.rp.RevokeCredential(ctx, alice.User.Handle, bob.Credential.ID, true)
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	err = e.rp.RevokeCredential(ctx, bob.User.Handle, second.Credential.ID, true)
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	assert.Equal(t, start+1, e.epoch(t, alice.User.Handle))
	assert.Equal(t, bobStart, e.epoch(t, bob.User.Handle))

	// Forced removal of the last passkey ends them too.
	require.NoError(t, e.rp.RevokeCredential(ctx, alice.User.Handle, alice.Credential.ID, true))
	assert.Equal(t, start+2, e.epoch(t, alice.User.Handle))
}

// failingDeleteStore fails DeleteCredential as an unreachable backend
// would, after EndSessions succeeded.
type failingDeleteStore struct{ *memstore.Store }

func (s failingDeleteStore) DeleteCredential(context.Context, []byte, []byte, bool) error {
	return webauthnkit.ErrStoreUnavailable
}

func (s failingDeleteStore) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true}
}

// A failure between ending the sessions and removing the passkey leaves the
// sessions ended: the removed passkey's sessions can never stay alive.
func TestRevokeEndsSessionsBeforeDelete(t *testing.T) {
	store := newMemStore(t)
	t.Cleanup(func() { store.Close() })
	e := newEnv(t, func(c *webauthnkit.Config) {
		c.Credentials = failingDeleteStore{store}
		c.Ceremonies = store
	})
	alice, _ := e.signUp(t, "alice")
	err := e.rp.RevokeCredential(ctx, alice.User.Handle, alice.Credential.ID, true)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	assert.Equal(t, alice.User.SessionEpoch+1, e.epoch(t, alice.User.Handle), "sessions ended although the delete failed")
	_, err = store.GetCredential(ctx, alice.Credential.ID)
	require.NoError(t, err, "the passkey is still there")
}

// "Sign out everywhere": EndSessions increments the account's epoch, which
// later logins report.
func TestEndSessions(t *testing.T) {
	e := newEnv(t)
	alice, auth := e.signUp(t, "alice")
	bob, _ := e.signUp(t, "bob")
	start := alice.User.SessionEpoch
	assert.NotZero(t, start, "a new account's epoch is random, not 0")
	assert.NotEqual(t, start, bob.User.SessionEpoch)

	for want := start + 1; want <= start+2; want++ {
		got, err := e.rp.EndSessions(ctx, alice.User.Handle)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		ev := e.events.last()
		assert.Equal(t, webauthnkit.EventSessionsEnded, ev.Type)
		assert.Equal(t, alice.User.Handle, ev.UserHandle)
	}
	assert.Equal(t, start+2, e.epoch(t, alice.User.Handle))
	assert.Equal(t, bob.User.SessionEpoch, e.epoch(t, bob.User.Handle), "other accounts keep their sessions")

	// A login reports the current epoch, by username and discoverable
	// (where the owner comes from GetCredentialWithUser).
	login, err := e.login(t, auth, "alice")
	require.NoError(t, err)
	assert.Equal(t, start+2, login.User.SessionEpoch)
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(t, err)
	body, err := auth.Login(begin.Options)
	require.NoError(t, err)
	login, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	assert.Equal(t, start+2, login.User.SessionEpoch)

	n := len(e.events.types())
	_, err = e.rp.EndSessions(ctx, []byte("no such user"))
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound)
	assert.Len(t, e.events.types(), n, "no event for an unknown user")
}

// Ending the account's sessions also ends the "add a passkey" ceremonies
// begun under them: whoever held a copied cookie and began one before the
// user signed out everywhere must not finish it afterwards, within the
// ceremony's lifetime, and keep a passkey on the account.
func TestEndSessionsEndsAddPasskeyCeremonies(t *testing.T) {
	e := newEnv(t)
	alice, _ := e.signUp(t, "alice")
	thief := webauthntest.New(webauthntest.WithOrigin(testOrigin))
	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{UserHandle: alice.User.Handle})
	require.NoError(t, err)
	body, err := thief.Register(begin.Options)
	require.NoError(t, err)

	_, err = e.rp.EndSessions(ctx, alice.User.Handle)
	require.NoError(t, err)

	_, err = e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrCeremonyNotFound)
	creds, err := e.rp.ListCredentials(ctx, alice.User.Handle)
	require.NoError(t, err)
	require.Len(t, creds, 1, "a passkey was added after the sessions ended")

	// Without an EndSessions in between, adding a passkey still works.
	register(t, e.rp, webauthnkit.RegistrationRequest{UserHandle: alice.User.Handle})
}

// An account deleted and created again under the same (application-chosen)
// handle starts from a fresh random epoch, so the old account's sessions
// do not match it and stay ended.
func TestRecreatedAccountDoesNotReviveSessions(t *testing.T) {
	e := newEnv(t)
	handle := []byte("app-user-42")
	seen := map[uint64]bool{}
	for range 20 {
		u, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: handle, Name: "carol"})
		require.NoError(t, err)
		require.False(t, seen[u.SessionEpoch], "epoch %d came back for a re-created account", u.SessionEpoch)
		seen[u.SessionEpoch] = true
		require.Equal(t, u.SessionEpoch, e.epoch(t, handle), "the store keeps the epoch given")
		require.NoError(t, e.rp.DeleteUser(ctx, handle))
	}
}
