package webauthnkit_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

func TestCredentialOfAnotherUser(t *testing.T) {
	e := newEnv(t)
	alice, aliceAuth := e.signUp(t, "alice")
	bob, _ := e.signUp(t, "bob")

	t.Run("username login with someone else's passkey", func(t *testing.T) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "bob"})
		require.NoError(t, err)
		// Alice's authenticator answers bob's challenge with alice's credential
		// (an attacker controlling the client can do this).
		body, err := aliceAuth.Login(withoutAllowList(t, begin.Options))
		require.NoError(t, err)
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
		var ke *webauthnkit.Error
		require.ErrorAs(t, err, &ke)
		assert.Nil(t, ke.UnknownCredentialID, "another account's passkey must not be signalled as unknown")
	})

	t.Run("discoverable login claiming another user handle", func(t *testing.T) {
		begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
		require.NoError(t, err)
		body, err := aliceAuth.Login(begin.Options)
		require.NoError(t, err)
		// userHandle is not signed: swap in bob's.
		body = setJSONField(t, body, "userHandle", base64.RawURLEncoding.EncodeToString(bob.User.Handle))
		_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrUnknownCredential)
	})

	t.Run("registering a credential ID owned by another user", func(t *testing.T) {
		// A fixed challenge lets one registration response be replayed into
		// another account's ceremony.
		fixed := bytes.Repeat([]byte{7}, 32)
		e := newEnv(t, func(c *webauthnkit.Config) {
			c.NewChallenge = func() ([]byte, error) { return fixed, nil }
		})
		auth := webauthntest.New(webauthntest.WithOrigin(testOrigin))
		b1, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
		require.NoError(t, err)
		body, err := auth.Register(b1.Options)
		require.NoError(t, err)
		_, err = e.rp.FinishRegistration(ctx, b1.CeremonyID, body)
		require.NoError(t, err)

		b2, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "mallory"})
		require.NoError(t, err)
		_, err = e.rp.FinishRegistration(ctx, b2.CeremonyID, body)
		require.ErrorIs(t, err, webauthnkit.ErrCredentialExists)
		_, err = e.store.GetUserByName(ctx, "mallory")
		assert.ErrorIs(t, err, webauthnkit.ErrNotFound, "the account is not created either")
	})
	_ = alice
}

func TestCounterRegression(t *testing.T) {
	t.Run("rejected by default", func(t *testing.T) {
		e := newEnv(t)
		reg, device := e.signUp(t, "alice")
		_, err := e.login(t, device, "alice") // count 1
		require.NoError(t, err)
		clone := device.Clone()
		_, err = e.login(t, device, "alice") // count 2
		require.NoError(t, err)
		_, err = e.login(t, clone, "alice") // the clone also says 2
		require.ErrorIs(t, err, webauthnkit.ErrCounterRegression)
		assert.Contains(t, e.events.types(), webauthnkit.EventCounterRegression)
		stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
		require.NoError(t, err)
		assert.Equal(t, uint32(2), stored.SignCount, "the counter never moves back")
		assert.False(t, stored.CloneSuspected)
	})

	t.Run("flagged with CounterFlag", func(t *testing.T) {
		e := newEnv(t, func(c *webauthnkit.Config) { c.CounterPolicy = webauthnkit.CounterFlag })
		reg, device := e.signUp(t, "alice")
		_, err := e.login(t, device, "alice")
		require.NoError(t, err)
		clone := device.Clone()
		_, err = e.login(t, device, "alice")
		require.NoError(t, err)
		login, err := e.login(t, clone, "alice")
		require.NoError(t, err)
		assert.True(t, login.CloneSuspected)
		assert.True(t, login.Credential.CloneSuspected)
		assert.Contains(t, e.events.types(), webauthnkit.EventCounterRegression)
		stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
		require.NoError(t, err)
		assert.Equal(t, uint32(2), stored.SignCount)
		assert.True(t, stored.CloneSuspected, "the mark is stored")
		// The next honest login is not itself a regression, but the mark stays.
		login, err = e.login(t, device, "alice")
		require.NoError(t, err)
		assert.False(t, login.CloneSuspected)
		assert.True(t, login.Credential.CloneSuspected)
	})

	t.Run("a counter going to zero is a regression", func(t *testing.T) {
		e := newEnv(t)
		reg, device := e.signUp(t, "alice", webauthntest.WithCounter(10, 1))
		assert.Equal(t, uint32(10), reg.Credential.SignCount)
		require.True(t, device.SetSignCount(reg.Credential.ID, 0))
		_, err := e.login(t, device, "alice", webauthntest.WithoutUserVerification())
		// SetSignCount(0) then step 1 reports 1 < 10.
		require.ErrorIs(t, err, webauthnkit.ErrCounterRegression)
	})

	t.Run("synced passkeys always report zero", func(t *testing.T) {
		e := newEnv(t)
		reg, device := e.signUp(t, "alice", webauthntest.SyncedPasskey())
		assert.True(t, reg.Credential.BackupEligible)
		assert.True(t, reg.Credential.BackupState)
		for range 3 {
			login, err := e.login(t, device, "alice")
			require.NoError(t, err)
			assert.Equal(t, uint32(0), login.Credential.SignCount)
			assert.True(t, login.BackedUp)
		}
	})

	t.Run("concurrent logins with one credential lose no update", func(t *testing.T) {
		e := newEnv(t)
		reg, device := e.signUp(t, "alice")
		var wg sync.WaitGroup
		var ok, regressed atomic.Int32
		for range 8 {
			wg.Go(func() {
				_, err := e.login(t, device, "alice")
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, webauthnkit.ErrCounterRegression):
					// The device signed 5 then 6, but 6 was stored first.
					regressed.Add(1)
				default:
					t.Errorf("login: %v", err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(8), ok.Load()+regressed.Load())
		stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
		require.NoError(t, err)
		assert.Equal(t, uint32(8), stored.SignCount, "the highest counter wins")
	})
}

func TestBackupStateUpdated(t *testing.T) {
	e := newEnv(t)
	reg, device := e.signUp(t, "alice", webauthntest.WithBackup(true, false))
	assert.True(t, reg.Credential.BackupEligible)
	assert.False(t, reg.Credential.BackupState)
	synced := device.Clone(webauthntest.WithBackup(true, true))
	login, err := e.login(t, synced, "alice")
	require.NoError(t, err)
	assert.True(t, login.BackedUp)
	stored, err := e.store.GetCredential(ctx, reg.Credential.ID)
	require.NoError(t, err)
	assert.True(t, stored.BackupState)

	// Backup eligibility never changes: a response claiming otherwise fails.
	notEligible := device.Clone(webauthntest.WithBackup(false, false))
	_, err = e.login(t, notEligible, "alice")
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
}

// Every store call is a round trip on a networked store: the login path
// makes no more than it needs.
func TestLoginStoreCalls(t *testing.T) {
	t.Run("store", func(t *testing.T) {
		// memstore has GetCredentialWithUser; the wrapper hides it, and the
		// library must go by the declaration (the method is still there: a
		// call would show up in the log).
		store := newCountingStore(t, storewrap.WithoutCredentialWithUser())
		require.False(t, store.Features().CredentialWithUser)
		testLoginStoreCalls(t, store,
			[]string{"TakeCeremony", "GetCredential", "UpdateCredentialUse", "GetUserByHandle"})
	})
	t.Run("store_with_CredentialUserGetter", func(t *testing.T) {
		store := newCountingStore(t)
		require.True(t, store.Features().CredentialWithUser)
		testLoginStoreCalls(t, store,
			[]string{"TakeCeremony", "GetCredentialWithUser", "UpdateCredentialUse"})
	})
}

// testLoginStoreCalls checks the calls of a login by name and of a
// discoverable one (wantDiscoverable for FinishLogin).
func testLoginStoreCalls(t *testing.T, store *storewrap.Store, wantDiscoverable []string) {
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	_, device := register(t, rp, webauthnkit.RegistrationRequest{Username: "alice"})

	for _, tc := range []struct {
		username          string
		wantBegin, wantFn []string
	}{
		{"alice",
			[]string{"GetUserByName", "ListCredentials", "PutCeremony"},
			[]string{"TakeCeremony", "GetCredential", "UpdateCredentialUse"}},
		{"", []string{"PutCeremony"}, wantDiscoverable},
	} {
		store.TakeCalls()
		begin, err := rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: tc.username})
		require.NoError(t, err)
		assert.Equal(t, tc.wantBegin, store.TakeCalls(), "BeginLogin(%q)", tc.username)
		body, err := device.Login(begin.Options)
		require.NoError(t, err)
		login, err := rp.FinishLogin(ctx, begin.CeremonyID, body)
		require.NoError(t, err)
		assert.Equal(t, "alice", login.User.Name)
		assert.Equal(t, tc.wantFn, store.TakeCalls(), "FinishLogin after BeginLogin(%q)", tc.username)
	}
}
