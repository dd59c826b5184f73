package sqlstore_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// TestCredentialNameHoldsSealedRecord: after 006 a credential name of
// 90,000 bytes (a sealed record with a maximal attestation object is about
// 66 KB) is stored and read back on every dialect (MySQL's TEXT held 65,535).
func TestCredentialNameHoldsSealedRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		u := storetest.RandomUser()
		c := storetest.RandomCredential(u.Handle)
		c.Name = string(bytes.Repeat([]byte("A"), 90_000))
		require.NoError(t, s.CreateUser(t.Context(), u, &c))
		got, err := s.GetCredential(t.Context(), c.ID)
		require.NoError(t, err)
		require.Equal(t, c.Name, got.Name)
		// 006 down refuses while such a row exists (documented): remove it
		// before the tables are dropped.
		require.NoError(t, s.DeleteUser(t.Context(), u.Handle))
	})
}

var _ webauthnkit.CredentialStore = (*sqlstore.Store)(nil)
