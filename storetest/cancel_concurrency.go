package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// ---- context ----

func testCredentialContextCanceled(t *testing.T, s credStore) {
	u, c := createUser(t, s)
	codes := randomCodeHashes(2)
	require.NoError(t, s.SetRecoveryCodes(t.Context(), u.Handle, codes))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	nu := RandomUser()
	nc := RandomCredential(nu.Handle)
	ac := RandomCredential(u.Handle)
	use := webauthnkit.CredentialUse{SignCount: c.SignCount + 1, LastUsedAt: time.Now()}
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateUser", func() error { return s.CreateUser(ctx, nu, &nc) }},
		{"CreateUser without credential", func() error { return s.CreateUser(ctx, nu, nil) }},
		{"UpdateUser", func() error { return s.UpdateUser(ctx, u.Handle, nu.Name, "canceled") }},
		{"GetUserByHandle", func() error { _, err := s.GetUserByHandle(ctx, u.Handle); return err }},
		{"GetUserByName", func() error { _, err := s.GetUserByName(ctx, u.Name); return err }},
		{"AddCredential", func() error { return s.AddCredential(ctx, ac) }},
		{"GetCredential", func() error { _, err := s.GetCredential(ctx, c.ID); return err }},
		{"ListCredentials", func() error { _, err := s.ListCredentials(ctx, u.Handle); return err }},
		{"UpdateCredentialUse", func() error { return s.UpdateCredentialUse(ctx, c.ID, c.SignCount, use) }},
		{"RenameCredential", func() error { return s.RenameCredential(ctx, u.Handle, c.ID, "canceled") }},
		{"DeleteCredential", func() error { return s.DeleteCredential(ctx, u.Handle, c.ID, true) }},
		{"EndSessions", func() error { _, err := s.EndSessions(ctx, u.Handle); return err }},
		{"GetUserByEmail", func() error { _, err := s.GetUserByEmail(ctx, "x@example.com"); return err }},
		{"SetEmail", func() error { return s.SetEmail(ctx, u.Handle, RandomEmail(), time.Now()) }},
		{"SetRecoveryCodes", func() error { return s.SetRecoveryCodes(ctx, u.Handle, randomCodeHashes(1)) }},
		{"UseRecoveryCode", func() error { return s.UseRecoveryCode(ctx, u.Handle, codes[0]) }},
		{"RecoveryCodesLeft", func() error { _, err := s.RecoveryCodesLeft(ctx, u.Handle); return err }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, u.Handle) }},
	}
	for _, cl := range calls {
		assert.Error(t, cl.call(), "%s with a canceled context", cl.name)
	}

	// Nothing was written, and the store still works.
	requireUser(t, s, u) // no email set
	requireCredential(t, s, c)
	requireList(t, s, u.Handle, c)
	requireCodesLeft(t, s, u.Handle, 2, "no recovery code consumed or replaced")
	requireNoUser(t, s, nu)
	requireNoCredential(t, s, ac.ID)
	require.NoError(t, s.RenameCredential(t.Context(), u.Handle, c.ID, "after cancel"))
	c.Name = "after cancel"
	requireCredential(t, s, c)
	createUser(t, s)
}

// ---- concurrency ----

// testCredentialConcurrentUse: the store is safe for concurrent use. Each
// goroutine runs the life of one account while the others run theirs.
func testCredentialConcurrentUse(t *testing.T, s credStore) {
	const workers = 8
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			ctx := t.Context()
			u := RandomUser()
			c1 := RandomCredential(u.Handle)
			if !assert.NoError(t, s.CreateUser(ctx, u, &c1)) {
				return
			}
			c2 := RandomCredential(u.Handle)
			c2.CreatedAt = c1.CreatedAt.Add(time.Second)
			assert.NoError(t, s.AddCredential(ctx, c2))
			gu, err := s.GetUserByName(ctx, u.Name)
			if assert.NoError(t, err) {
				AssertUserEqual(t, u, gu)
			}
			use := webauthnkit.CredentialUse{SignCount: c1.SignCount + 5, UserVerified: true, LastUsedAt: time.Now()}
			assert.NoError(t, s.UpdateCredentialUse(ctx, c1.ID, c1.SignCount, use))
			assert.NoError(t, s.RenameCredential(ctx, u.Handle, c2.ID, "concurrent"))
			c1, c2.Name = withUse(c1, use), "concurrent"
			list, err := s.ListCredentials(ctx, u.Handle)
			if assert.NoError(t, err) && assert.Len(t, list, 2) {
				AssertCredentialEqual(t, c1, list[0])
				AssertCredentialEqual(t, c2, list[1])
			}
			assert.NoError(t, s.DeleteCredential(ctx, u.Handle, c1.ID, false))
			assert.NoError(t, s.DeleteUser(ctx, u.Handle))
			_, err = s.GetCredential(ctx, c2.ID)
			assert.ErrorIs(t, err, errNotFound)
		})
	}
	wg.Wait()
}
