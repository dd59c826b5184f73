package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// unavailableTimeout bounds each call of the Unavailable suites. A store that
// gives up on its own (connection refused, dial timeout) answers sooner; one
// that is still waiting when the context expires must report that as
// ErrStoreUnavailable too.
const unavailableTimeout = 10 * time.Second

// TestCredentialStoreUnavailable checks the clause "errors reaching the
// backend wrap ErrStoreUnavailable": every CredentialStore method, called on a
// store whose backend cannot be reached, returns an error matching
// webauthnkit.ErrStoreUnavailable (and not ErrNotFound or another sentinel that
// would be mistaken for an answer).
//
// newStore is called once per subtest and must return a store configured
// for a server that is down or an address where nothing listens, such as
// 127.0.0.1:1. Each call gets a context that expires after 10 seconds; a
// store still waiting then must return ErrStoreUnavailable as well.
func TestCredentialStoreUnavailable(t *testing.T, newStore func(t *testing.T) webauthnkit.CredentialStore) {
	u := RandomUser()
	c := RandomCredential(u.Handle)
	use := webauthnkit.CredentialUse{SignCount: c.SignCount + 1, LastUsedAt: time.Now()}
	calls := []struct {
		name string
		call func(ctx context.Context, s webauthnkit.CredentialStore) error
	}{
		{"CreateUser", func(ctx context.Context, s credStore) error { return s.CreateUser(ctx, u, &c) }},
		{"CreateUser without credential", func(ctx context.Context, s credStore) error { return s.CreateUser(ctx, u, nil) }},
		{"UpdateUser", func(ctx context.Context, s credStore) error {
			return s.UpdateUser(ctx, u.Handle, u.Name, u.DisplayName)
		}},
		{"GetUserByHandle", func(ctx context.Context, s credStore) error { _, err := s.GetUserByHandle(ctx, u.Handle); return err }},
		{"GetUserByName", func(ctx context.Context, s credStore) error { _, err := s.GetUserByName(ctx, u.Name); return err }},
		{"DeleteUser", func(ctx context.Context, s credStore) error { return s.DeleteUser(ctx, u.Handle) }},
		{"AddCredential", func(ctx context.Context, s credStore) error { return s.AddCredential(ctx, c) }},
		{"GetCredential", func(ctx context.Context, s credStore) error { _, err := s.GetCredential(ctx, c.ID); return err }},
		{"ListCredentials", func(ctx context.Context, s credStore) error { _, err := s.ListCredentials(ctx, u.Handle); return err }},
		{"UpdateCredentialUse", func(ctx context.Context, s credStore) error {
			return s.UpdateCredentialUse(ctx, c.ID, c.SignCount, use)
		}},
		{"RenameCredential", func(ctx context.Context, s credStore) error { return s.RenameCredential(ctx, u.Handle, c.ID, "x") }},
		{"DeleteCredential", func(ctx context.Context, s credStore) error { return s.DeleteCredential(ctx, u.Handle, c.ID, false) }},
		{"EndSessions", func(ctx context.Context, s credStore) error { _, err := s.EndSessions(ctx, u.Handle); return err }},
		{"GetUserByEmail", func(ctx context.Context, s credStore) error {
			_, err := s.GetUserByEmail(ctx, "x@example.com")
			return err
		}},
		{"SetEmail", func(ctx context.Context, s credStore) error {
			return s.SetEmail(ctx, u.Handle, "x@example.com", time.Time{})
		}},
		{"SetRecoveryCodes", func(ctx context.Context, s credStore) error {
			return s.SetRecoveryCodes(ctx, u.Handle, randomCodeHashes(1))
		}},
		{"UseRecoveryCode", func(ctx context.Context, s credStore) error {
			return s.UseRecoveryCode(ctx, u.Handle, randomCodeHashes(1)[0])
		}},
		{"RecoveryCodesLeft", func(ctx context.Context, s credStore) error { _, err := s.RecoveryCodesLeft(ctx, u.Handle); return err }},
		// CredentialAuditor, when the store declares Features().Audit.
		{"ScanCredentials", func(ctx context.Context, s credStore) error {
			_, _, err := s.(webauthnkit.CredentialAuditor).ScanCredentials(ctx, "", 10)
			return err
		}},
		{"SetCredentialAudit", func(ctx context.Context, s credStore) error {
			return s.(webauthnkit.CredentialAuditor).SetCredentialAudit(ctx, c.ID, webauthnkit.CredentialAudit{Trust: "trusted", CheckedAt: time.Now()})
		}},
	}
	for _, cl := range calls {
		t.Run(cl.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			if cl.name == "ScanCredentials" || cl.name == "SetCredentialAudit" {
				if !s.Features().Audit {
					t.Log("the store does not declare the optional Features().Audit")
					return
				}
				auditor(t, s)
			}
			ctx, cancel := context.WithTimeout(t.Context(), unavailableTimeout)
			defer cancel()
			assertUnavailable(t, cl.call(ctx, s), cl.name)
		})
	}
}

// TestChallengeStoreUnavailable is TestCredentialStoreUnavailable for a
// ChallengeStore: PutCeremony and TakeCeremony on a store whose backend
// cannot be reached return an error matching webauthnkit.ErrStoreUnavailable.
func TestChallengeStoreUnavailable(t *testing.T, newStore func(t *testing.T) webauthnkit.ChallengeStore) {
	id := RandomCeremonyID()
	calls := []struct {
		name string
		call func(ctx context.Context, s challengeStore) error
	}{
		{"PutCeremony", func(ctx context.Context, s challengeStore) error {
			return s.PutCeremony(ctx, id, []byte("data"), time.Now().Add(ceremonyTTL))
		}},
		{"TakeCeremony", func(ctx context.Context, s challengeStore) error { _, err := s.TakeCeremony(ctx, id); return err }},
	}
	for _, cl := range calls {
		t.Run(cl.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			ctx, cancel := context.WithTimeout(t.Context(), unavailableTimeout)
			defer cancel()
			assertUnavailable(t, cl.call(ctx, s), cl.name)
		})
	}
}

func assertUnavailable(t *testing.T, err error, call string) {
	t.Helper()
	if assert.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, "%s with the backend unreachable", call) {
		for _, other := range []error{errNotFound, errDuplicate, errConflict, webauthnkit.ErrLastCredential} {
			assert.NotErrorIs(t, err, other, "%s with the backend unreachable", call)
		}
	}
}
