package sealstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/sealstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// TestRotationUnderConcurrentLogins: with logins running on every
// account all along, the new key becomes primary, Rekey re-seals
// everything in the background, and the old key is retired. No login
// fails, no value is lost, and at the end nothing is sealed with the old
// key (a store without it opens everything). Run with -race.
func TestRotationUnderConcurrentLogins(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backendtest.Backend) {
		index := sealstore.RandomSecret()
		k1, k2 := sealstore.NewKey("k1"), sealstore.NewKey("k2")
		s, inner := sealed(t, be, testKeyring(t, index, k1), nil)
		st := newSite(t, s, inner, nil)
		const accounts = 6
		accs := make([]*account, accounts)
		for i := range accs {
			accs[i] = st.register(t)
		}
		// Some values beyond the registration: an email, a second passkey
		// name, recovery codes.
		ctx := t.Context()
		_, err := st.rp.SetEmail(ctx, accs[0].reg.User.Handle, "first@example.org", true)
		require.NoError(t, err)
		require.NoError(t, s.SetRecoveryCodes(ctx, accs[1].reg.User.Handle, [][]byte{storetest.RandomBytes(32)}))

		var (
			stop   atomic.Bool
			logins atomic.Int64
			wg     sync.WaitGroup
			errs   = make(chan error, accounts)
		)
		for i, a := range accs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; !stop.Load() || n < 3; n++ {
					if _, err := st.login(a, (i+n)%2 == 0); err != nil {
						errs <- err
						return
					}
					logins.Add(1)
				}
			}()
		}

		// 1. The new key, primary; the old one kept for reading.
		require.NoError(t, s.SetKeyring(testKeyring(t, index, k2, k1)))
		// 2. Re-seal everything in the background, in small pages.
		var reports []sealstore.RekeyProgress
		done, err := s.Rekey(ctx, sealstore.RekeyOptions{PageSize: 2, Progress: func(p sealstore.RekeyProgress) {
			reports = append(reports, p)
		}})
		require.NoError(t, err)
		require.True(t, done.Done)
		require.GreaterOrEqual(t, done.Users, accounts)
		require.GreaterOrEqual(t, done.Resealed, 2*accounts, "every user and credential re-sealed")
		require.GreaterOrEqual(t, len(reports), accounts/2)
		check, err := s.Rekey(ctx, sealstore.RekeyOptions{CheckOnly: true})
		require.NoError(t, err)
		require.Zero(t, check.Pending, "values still sealed with the old key")
		// 3. Retire the old key while the logins go on.
		require.NoError(t, s.SetKeyring(testKeyring(t, index, k2)))
		// Logins go on after the old key is retired (waited for, not
		// slept for: a loaded machine may be slow to run them).
		target := logins.Load() + accounts
		for deadline := time.Now().Add(10 * time.Second); logins.Load() < target && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		stop.Store(true)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("a login failed during the rotation: %v", err)
		}
		require.GreaterOrEqual(t, logins.Load(), target, "logins after the old key was retired")

		// Nothing lost: a store with only the new key reads every value.
		fresh, err := sealstore.New(inner, sealstore.Config{Keyring: testKeyring(t, index, k2)})
		require.NoError(t, err)
		for i, a := range accs {
			u, err := fresh.GetUserByName(ctx, a.name)
			require.NoError(t, err)
			require.Equal(t, a.reg.User.DisplayName, u.DisplayName)
			if i == 0 {
				require.Equal(t, "first@example.org", u.Email)
			}
			creds, err := fresh.ListCredentials(ctx, u.Handle)
			require.NoError(t, err)
			require.Len(t, creds, 1)
			require.Equal(t, a.reg.Credential.Name, creds[0].Name)
			require.Equal(t, a.reg.Credential.PublicKey, creds[0].PublicKey)
			require.Positive(t, creds[0].SignCount, "the logins' counter updates were kept")
		}
		n, err := fresh.RecoveryCodesLeft(ctx, accs[1].reg.User.Handle)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}

// TestRekeyResumes: a run canceled midway reports a cursor; a second run
// from it finishes the job, and a missing-key value is counted, reported
// and returned as an error (not skipped silently).
func TestRekeyResumes(t *testing.T) {
	be, _ := backendtest.Named("sqlite")
	index := sealstore.RandomSecret()
	k1, k2 := sealstore.NewKey("k1"), sealstore.NewKey("k2")
	s, _ := sealed(t, be, testKeyring(t, index, k1), nil)
	ctx := t.Context()
	for range 10 {
		u := storetest.RandomUser()
		c := storetest.RandomCredential(u.Handle)
		require.NoError(t, s.CreateUser(ctx, u, &c))
	}
	require.NoError(t, s.SetKeyring(testKeyring(t, index, k2, k1)))

	stopCtx, cancel := context.WithCancel(ctx)
	var last sealstore.RekeyProgress
	_, err := s.Rekey(stopCtx, sealstore.RekeyOptions{PageSize: 3, Progress: func(p sealstore.RekeyProgress) {
		last = p
		cancel() // stop after the first page
	}})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 3, last.Users)
	require.Equal(t, 6, last.Resealed)
	require.NotNil(t, last.Cursor)

	pending, err := s.Rekey(ctx, sealstore.RekeyOptions{CheckOnly: true})
	require.NoError(t, err)
	require.Equal(t, 14, pending.Pending, "7 users and 7 credentials left")

	rest, err := s.Rekey(ctx, sealstore.RekeyOptions{After: last.Cursor, PageSize: 3})
	require.NoError(t, err)
	require.Equal(t, 7, rest.Users)
	require.Equal(t, 14, rest.Resealed)
	pending, err = s.Rekey(ctx, sealstore.RekeyOptions{CheckOnly: true})
	require.NoError(t, err)
	require.Zero(t, pending.Pending)

	// A ring without the key of some value: Rekey reports and fails.
	require.NoError(t, s.SetKeyring(testKeyring(t, index, sealstore.NewKey("k3"))))
	res, err := s.Rekey(ctx, sealstore.RekeyOptions{})
	require.ErrorIs(t, err, sealstore.ErrKeyMissing)
	require.Equal(t, 20, res.Failed)
	require.Zero(t, res.Resealed)
	var km *sealstore.KeyMissingError
	require.True(t, errors.As(err, &km))
	require.Equal(t, "k2", km.KeyID)
}

// TestRekeyNeedsLister: a wrapped store without ListUserHandles cannot be
// walked, and Rekey says so instead of doing nothing.
func TestRekeyNeedsLister(t *testing.T) {
	be, _ := backendtest.Named("memstore")
	inner := be.Open(t, time.Now)
	s, err := sealstore.New(hideLister{inner}, sealstore.Config{Keyring: testKeyring(t, nil)})
	require.NoError(t, err)
	require.False(t, s.Features().ListUserHandles)
	_, err = s.Rekey(t.Context(), sealstore.RekeyOptions{})
	require.ErrorContains(t, err, "ListUserHandles")
}

// hideLister is a store that declares no optional feature.
type hideLister struct{ webauthnkit.CredentialStore }

func (hideLister) Features() webauthnkit.Features { return webauthnkit.Features{ProcessLocal: true} }
