package sealstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/sealstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// TestCopy: accounts stored in clear are copied, sealed, into another
// store; a canceled copy resumes; a re-run skips what is there; every
// field comes back the same through the sealed store; users with recovery
// codes are counted (codes cannot be copied).
func TestCopy(t *testing.T) {
	be, _ := backendtest.Named("sqlite")
	from := be.Open(t, time.Now)
	ctx := t.Context()
	var users []webauthnkit.User
	var creds []webauthnkit.Credential
	for i := range 7 {
		u := storetest.RandomUser()
		if i%2 == 0 {
			u.Email = storetest.RandomEmail()
			u.EmailVerifiedAt = u.CreatedAt
		}
		u.SessionEpoch = uint64(i)
		c := storetest.RandomCredential(u.Handle)
		require.NoError(t, from.CreateUser(ctx, u, &c))
		c2 := storetest.RandomCredential(u.Handle)
		require.NoError(t, from.AddCredential(ctx, c2))
		users, creds = append(users, u), append(creds, c, c2)
	}
	require.NoError(t, from.SetRecoveryCodes(ctx, users[0].Handle, [][]byte{storetest.RandomBytes(32)}))

	to, _ := sealed(t, be, testKeyring(t, nil), nil)
	stopCtx, cancel := context.WithCancel(ctx)
	var last sealstore.CopyProgress
	_, err := sealstore.Copy(stopCtx, from, to, sealstore.CopyOptions{PageSize: 3, Progress: func(p sealstore.CopyProgress) {
		last = p
		cancel()
	}})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 3, last.Users)
	done, err := sealstore.Copy(ctx, from, to, sealstore.CopyOptions{After: last.Cursor})
	require.NoError(t, err)
	require.True(t, done.Done)
	require.Equal(t, 4, done.Users)
	again, err := sealstore.Copy(ctx, from, to, sealstore.CopyOptions{})
	require.NoError(t, err)
	require.Equal(t, 7, again.Skipped)
	require.Zero(t, again.Users)

	lost := last.RecoveryCodesLost + done.RecoveryCodesLost
	require.Equal(t, 1, lost)
	for _, u := range users {
		got, err := to.GetUserByName(ctx, u.Name)
		require.NoError(t, err)
		storetest.AssertUserEqual(t, u, got)
	}
	for _, c := range creds {
		got, err := to.GetCredential(ctx, c.ID)
		require.NoError(t, err)
		storetest.AssertCredentialEqual(t, c, got)
	}
}

// TestCopyRotatesIndexKey: the index key cannot rotate in place, but Copy
// from the sealed store (old keyring) into a sealed store over new tables
// (new keyring, new index key) does it.
func TestCopyRotatesIndexKey(t *testing.T) {
	be, _ := backendtest.Named("sqlite")
	old, _ := sealed(t, be, testKeyring(t, nil), nil)
	ctx := t.Context()
	u := storetest.RandomUser()
	u.Email = storetest.RandomEmail()
	c := storetest.RandomCredential(u.Handle)
	require.NoError(t, old.CreateUser(ctx, u, &c))

	fresh, inner := sealed(t, be, testKeyring(t, nil, sealstore.NewKey("new")), nil)
	p, err := sealstore.Copy(ctx, old, fresh, sealstore.CopyOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, p.Users)
	got, err := fresh.GetUserByEmail(ctx, u.Email)
	require.NoError(t, err)
	storetest.AssertUserEqual(t, u, got)
	row, err := inner.GetUserByHandle(ctx, u.Handle)
	require.NoError(t, err)
	oldRow, err := old.Unwrap().GetUserByHandle(ctx, u.Handle)
	require.NoError(t, err)
	require.NotEqual(t, oldRow.Name, row.Name, "the name's blind index changed with the index key")
}
