package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// Features: a store declares its optional capabilities, and the library
// goes by the declaration. The suite does the same: the
// GetCredentialWithUser clauses run when the store declares
// CredentialWithUser, whatever methods its type happens to have.

// testCredentialFeaturesStable: Features is a declaration, not a state: it
// answers the same on every call.
func testCredentialFeaturesStable(t *testing.T, s credStore) {
	f := s.Features()
	t.Logf("CredentialStore %T declares %+v", s, f)
	require.Equal(t, f, s.Features(), "Features must answer the same on every call")
}

// testCredentialWithUserImplemented: a store declaring CredentialWithUser
// implements webauthnkit.CredentialUserGetter (webauthnkit.New refuses it
// otherwise).
func testCredentialWithUserImplemented(t *testing.T, s credStore) {
	_, implemented := s.(webauthnkit.CredentialUserGetter)
	if !s.Features().CredentialWithUser {
		if implemented {
			t.Logf("%T has GetCredentialWithUser but does not declare CredentialWithUser: the library will not use it", s)
		}
		return
	}
	require.True(t, implemented, "%T declares Features().CredentialWithUser but does not implement webauthnkit.CredentialUserGetter", s)
}

// credentialUserGetter returns s as a CredentialUserGetter, failing the test
// (rather than panicking) when a store declares CredentialWithUser without
// implementing it.
func credentialUserGetter(t *testing.T, s credStore) webauthnkit.CredentialUserGetter {
	t.Helper()
	g, ok := s.(webauthnkit.CredentialUserGetter)
	require.True(t, ok, "%T declares Features().CredentialWithUser but does not implement webauthnkit.CredentialUserGetter", s)
	return g
}

// testChallengeFeaturesStable is testCredentialFeaturesStable for a
// ChallengeStore.
func testChallengeFeaturesStable(t *testing.T, s challengeStore) {
	f := s.Features()
	t.Logf("ChallengeStore %T declares %+v", s, f)
	require.Equal(t, f, s.Features(), "Features must answer the same on every call")
}
