package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// Aliases to keep the suite readable.
type (
	credStore = webauthnkit.CredentialStore
	user      = webauthnkit.User
	cred      = webauthnkit.Credential
)

var (
	errNotFound         = webauthnkit.ErrNotFound
	errDuplicate        = webauthnkit.ErrDuplicate
	errUserExists       = webauthnkit.ErrUserExists
	errCredentialExists = webauthnkit.ErrCredentialExists
	errConflict         = webauthnkit.ErrConflict
)

// TestCredentialStore runs the CredentialStore conformance suite: one named
// subtest per clause of the webauthnkit.CredentialStore contract, such as
// CreateUser/credential_id_owned_by_another_user or
// UpdateCredentialUse/concurrent_no_lost_update.
//
// newStore is called once per subtest and must return a working store; it
// should register any cleanup with t.Cleanup. The stores it returns may share
// their data (one database for all subtests and runs): the suite only uses
// random handles, names and IDs and never assumes the store is empty.
func TestCredentialStore(t *testing.T, newStore func(t *testing.T) webauthnkit.CredentialStore) {
	// run starts a subtest with its own store.
	run := func(t *testing.T, name string, f func(t *testing.T, s credStore)) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			f(t, s)
		})
	}

	t.Run("CreateUser", func(t *testing.T) {
		run(t, "stores_user_and_first_credential", testCreateUserStores)
		run(t, "duplicate_name", testCreateUserDuplicateName)
		run(t, "duplicate_handle", testCreateUserDuplicateHandle)
		run(t, "credential_id_owned_by_another_user", testCreateUserCredentialOwnedByAnother)
		run(t, "duplicate_name_and_credential_id", testCreateUserDuplicateNameAndCredential)
		run(t, "names_compared_byte_for_byte", testCreateUserNamesByteForByte)
		run(t, "concurrent_same_name_one_winner", testCreateUserConcurrentSameName)
	})
	t.Run("GetUserByHandle", func(t *testing.T) {
		run(t, "not_found", testGetUserByHandleNotFound)
	})
	t.Run("GetUserByName", func(t *testing.T) {
		run(t, "not_found", testGetUserByNameNotFound)
	})
	t.Run("DeleteUser", func(t *testing.T) {
		run(t, "removes_user_and_credentials", testDeleteUserRemoves)
		run(t, "frees_name_and_credential_ids", testDeleteUserFrees)
		run(t, "not_found", testDeleteUserNotFound)
	})
	t.Run("AddCredential", func(t *testing.T) {
		run(t, "adds", testAddCredentialAdds)
		run(t, "unknown_user", testAddCredentialUnknownUser)
		run(t, "duplicate_id_same_user", testAddCredentialDuplicateSameUser)
		run(t, "credential_id_owned_by_another_user", testAddCredentialOwnedByAnother)
		run(t, "concurrent_same_id_one_winner", testAddCredentialConcurrentSameID)
	})
	t.Run("GetCredential", func(t *testing.T) {
		run(t, "roundtrip_all_fields", testGetCredentialRoundtrip)
		run(t, "roundtrip_zero_values", testGetCredentialZeroValues)
		run(t, "not_found", testGetCredentialNotFound)
	})
	t.Run("GetCredentialWithUser", func(t *testing.T) {
		probe := newStore(t)
		require.NotNil(t, probe, "newStore returned nil")
		if !probe.Features().CredentialWithUser {
			t.Log("the store does not declare the optional Features().CredentialWithUser")
			return
		}
		run(t, "matches_GetCredential_and_GetUserByHandle", testGetCredentialWithUserMatches)
		run(t, "not_found", testGetCredentialWithUserNotFound)
	})
	t.Run("ListCredentials", func(t *testing.T) {
		run(t, "order", testListCredentialsOrder)
		run(t, "empty_for_unknown_user", testListCredentialsUnknownUser)
		run(t, "empty_for_user_without_credentials", testListCredentialsNoCredentials)
	})
	t.Run("UpdateCredentialUse", func(t *testing.T) {
		run(t, "applies", testUpdateUseApplies)
		run(t, "zero_counter_updates_repeatedly", testUpdateUseZeroCounter)
		run(t, "conflict_on_wrong_expected_count", testUpdateUseConflict)
		run(t, "not_found", testUpdateUseNotFound)
		run(t, "concurrent_no_lost_update", testUpdateUseConcurrent)
	})
	t.Run("RenameCredential", func(t *testing.T) {
		run(t, "ok", testRenameOK)
		run(t, "other_users_credential", testRenameOtherUser)
		run(t, "not_found", testRenameNotFound)
	})
	t.Run("DeleteCredential", func(t *testing.T) {
		run(t, "ok", testDeleteCredentialOK)
		run(t, "other_users_credential", testDeleteCredentialOtherUser)
		run(t, "not_found", testDeleteCredentialNotFound)
		run(t, "refuses_last_credential", testDeleteRefusesLast)
		run(t, "not_found_before_last_credential", testDeleteNotFoundBeforeLast)
		run(t, "deletes_when_another_remains", testDeleteWhenAnotherRemains)
		run(t, "allowLast_deletes_last_credential", testDeleteAllowLast)
		run(t, "concurrent_last_two_one_winner", testDeleteConcurrentLastTwo)
		run(t, "concurrent_n_deletes_n_minus_1", testDeleteConcurrentN)
	})
	t.Run("EndSessions", func(t *testing.T) {
		run(t, "starts_at_created_value", testEndSessionsStartsAtCreated)
		run(t, "increments_by_one", testEndSessionsIncrements)
		run(t, "not_found", testEndSessionsNotFound)
		run(t, "concurrent_no_lost_increment", testEndSessionsConcurrent)
	})
	t.Run("ErrorTexts", func(t *testing.T) {
		run(t, "duplicate_CreateUser", testErrorTextsCreateUser)
		run(t, "duplicate_AddCredential", testErrorTextsAddCredential)
		run(t, "other_refusals", testErrorTextsOtherRefusals)
	})
	t.Run("Features", func(t *testing.T) {
		run(t, "stable", testCredentialFeaturesStable)
		run(t, "CredentialWithUser_implemented", testCredentialWithUserImplemented)
	})
	t.Run("LargeAndUnicodeValues", func(t *testing.T) {
		run(t, "large_credential", testLargeCredential)
		run(t, "unicode_names", testUnicodeNames)
		run(t, "normalization_variants_are_distinct", testNormalizationDistinct)
		run(t, "ids_differing_by_trailing_zero_bytes", testIDsTrailingZeros)
	})
	run(t, "InputSlicesNotRetained", testInputSlicesNotRetained)
	run(t, "ReturnedValuesOwnedByCaller", testReturnedValuesOwned)
	run(t, "ContextCanceled", testCredentialContextCanceled)
	run(t, "ConcurrentUse", testCredentialConcurrentUse)
}

// ---- helpers ----

// createUser stores a random user with a random first credential.
func createUser(t *testing.T, s credStore) (user, cred) {
	t.Helper()
	u := RandomUser()
	c := RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, c), "CreateUser")
	return u, c
}

// addCredential stores one more random credential for u.
func addCredential(t *testing.T, s credStore, u user) cred {
	t.Helper()
	c := RandomCredential(u.Handle)
	require.NoError(t, s.AddCredential(t.Context(), c), "AddCredential")
	return c
}

func requireUser(t *testing.T, s credStore, want user) {
	t.Helper()
	got, err := s.GetUserByHandle(t.Context(), want.Handle)
	require.NoError(t, err, "GetUserByHandle")
	AssertUserEqual(t, want, got, "GetUserByHandle")
	got, err = s.GetUserByName(t.Context(), want.Name)
	require.NoError(t, err, "GetUserByName(%q)", want.Name)
	AssertUserEqual(t, want, got, "GetUserByName(%q)", want.Name)
}

func requireNoUser(t *testing.T, s credStore, u user) {
	t.Helper()
	_, err := s.GetUserByHandle(t.Context(), u.Handle)
	require.ErrorIs(t, err, errNotFound, "GetUserByHandle of a user that must not be stored")
	_, err = s.GetUserByName(t.Context(), u.Name)
	require.ErrorIs(t, err, errNotFound, "GetUserByName(%q) of a user that must not be stored", u.Name)
}

func requireCredential(t *testing.T, s credStore, want cred) {
	t.Helper()
	got, err := s.GetCredential(t.Context(), want.ID)
	require.NoError(t, err, "GetCredential")
	AssertCredentialEqual(t, want, got, "GetCredential")
}

func requireNoCredential(t *testing.T, s credStore, id []byte) {
	t.Helper()
	_, err := s.GetCredential(t.Context(), id)
	require.ErrorIs(t, err, errNotFound, "GetCredential of a credential that must not be stored")
}

// requireList checks that ListCredentials returns exactly want, in order.
func requireList(t *testing.T, s credStore, handle []byte, want ...cred) {
	t.Helper()
	got, err := s.ListCredentials(t.Context(), handle)
	require.NoError(t, err, "ListCredentials")
	require.Equal(t, ids(want), ids(got), "ListCredentials: IDs (hex) in order")
	for i := range want {
		AssertCredentialEqual(t, want[i], got[i], "ListCredentials[%d]", i)
	}
}

// ids returns the credential IDs in hex, for readable failures.
func ids(cs []cred) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = shortHex(c.ID)
	}
	return out
}

func shortHex(b []byte) string {
	const limit = 20
	s := make([]byte, 0, 2*limit+8)
	for i, x := range b {
		if i == limit {
			s = append(s, "..."...)
			break
		}
		s = append(s, "0123456789abcdef"[x>>4], "0123456789abcdef"[x&15])
	}
	return string(s)
}

// cloneCred returns a deep copy of c.
func cloneCred(c cred) cred {
	c.ID = bytes.Clone(c.ID)
	c.UserHandle = bytes.Clone(c.UserHandle)
	c.PublicKey = bytes.Clone(c.PublicKey)
	c.AAGUID = bytes.Clone(c.AAGUID)
	c.Transports = slices.Clone(c.Transports)
	return c
}

func cloneUser(u user) user {
	u.Handle = bytes.Clone(u.Handle)
	return u
}

// scribble overwrites every byte of b.
func scribble(b []byte) {
	for i := range b {
		b[i] ^= 0xA5
	}
}

func scribbleCred(c cred) {
	scribble(c.ID)
	scribble(c.UserHandle)
	scribble(c.PublicKey)
	scribble(c.AAGUID)
	for i := range c.Transports {
		c.Transports[i] = "scribbled"
	}
}

// ---- CreateUser ----

func testCreateUserStores(t *testing.T, s credStore) {
	u := RandomUser()
	c := RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, c))
	requireUser(t, s, u)
	requireCredential(t, s, c)
	requireList(t, s, u.Handle, c)
}

func testCreateUserDuplicateName(t *testing.T, s credStore) {
	u1, c1 := createUser(t, s)
	u2 := RandomUser()
	u2.Name = u1.Name
	c2 := RandomCredential(u2.Handle)
	err := s.CreateUser(t.Context(), u2, c2)
	require.ErrorIs(t, err, errUserExists)
	require.ErrorIs(t, err, errDuplicate)
	require.NotErrorIs(t, err, errCredentialExists)

	_, err = s.GetUserByHandle(t.Context(), u2.Handle)
	require.ErrorIs(t, err, errNotFound, "the rejected user must not be stored")
	requireNoCredential(t, s, c2.ID)
	requireUser(t, s, u1)
	requireList(t, s, u1.Handle, c1)
}

func testCreateUserDuplicateHandle(t *testing.T, s credStore) {
	u1, c1 := createUser(t, s)
	u2 := RandomUser()
	u2.Handle = bytes.Clone(u1.Handle)
	c2 := RandomCredential(u2.Handle)
	err := s.CreateUser(t.Context(), u2, c2)
	require.ErrorIs(t, err, errUserExists)
	require.ErrorIs(t, err, errDuplicate)
	require.NotErrorIs(t, err, errCredentialExists)

	_, err = s.GetUserByName(t.Context(), u2.Name)
	require.ErrorIs(t, err, errNotFound, "the rejected user's name must not be stored")
	requireNoCredential(t, s, c2.ID)
	requireUser(t, s, u1)
	requireList(t, s, u1.Handle, c1)
}

func testCreateUserCredentialOwnedByAnother(t *testing.T, s credStore) {
	u1, c1 := createUser(t, s)
	u2 := RandomUser()
	c2 := RandomCredential(u2.Handle)
	c2.ID = bytes.Clone(c1.ID)
	err := s.CreateUser(t.Context(), u2, c2)
	require.ErrorIs(t, err, errCredentialExists)
	require.ErrorIs(t, err, errDuplicate)
	require.NotErrorIs(t, err, errUserExists)

	requireNoUser(t, s, u2) // atomicity: no user without its first credential
	requireList(t, s, u2.Handle)
	requireCredential(t, s, c1) // still u1's, unchanged
	requireUser(t, s, u1)
}

func testCreateUserDuplicateNameAndCredential(t *testing.T, s credStore) {
	u1, c1 := createUser(t, s)
	u2 := RandomUser()
	u2.Name = u1.Name
	c2 := RandomCredential(u2.Handle)
	c2.ID = bytes.Clone(c1.ID)
	err := s.CreateUser(t.Context(), u2, c2)
	// Either precise error is acceptable when both keys are taken.
	require.ErrorIs(t, err, errDuplicate)
	_, err = s.GetUserByHandle(t.Context(), u2.Handle)
	require.ErrorIs(t, err, errNotFound)
	requireUser(t, s, u1)
	requireCredential(t, s, c1)
}

// testCreateUserNamesByteForByte: names are compared byte for byte, so names
// that a database collation might fold together (case, accents, trailing
// spaces) are distinct users.
func testCreateUserNamesByteForByte(t *testing.T, s credStore) {
	base := RandomName()
	names := []string{
		base + "-e",
		strings.ToUpper(base) + "-E",
		base + "-E",
		base + "-é",
		base + "-e ",
		" " + base + "-e",
		base + "-e\t",
	}
	users := make([]user, len(names))
	for i, name := range names {
		users[i] = RandomUser()
		users[i].Name = name
		c := RandomCredential(users[i].Handle)
		require.NoError(t, s.CreateUser(t.Context(), users[i], c), "CreateUser(%q) with %q already stored", name, names[0])
	}
	for _, u := range users {
		requireUser(t, s, u)
	}
	_, err := s.GetUserByName(t.Context(), base)
	require.ErrorIs(t, err, errNotFound, "GetUserByName of a prefix of stored names")
	_, err = s.GetUserByName(t.Context(), base+"-%")
	require.ErrorIs(t, err, errNotFound, "GetUserByName with a LIKE wildcard")
}

func testCreateUserConcurrentSameName(t *testing.T, s credStore) {
	const n = 10
	name := RandomName()
	users := make([]user, n)
	creds := make([]cred, n)
	errs := make([]error, n)
	for i := range users {
		users[i] = RandomUser()
		users[i].Name = name
		creds[i] = RandomCredential(users[i].Handle)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateUser(t.Context(), users[i], creds[i])
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two concurrent CreateUser calls with the same name both succeeded")
			winner = i
			continue
		}
		require.ErrorIs(t, err, errUserExists, "losing concurrent CreateUser")
	}
	require.NotEqual(t, -1, winner, "no concurrent CreateUser succeeded")
	requireUser(t, s, users[winner])
	for i := range n {
		if i != winner {
			_, err := s.GetUserByHandle(t.Context(), users[i].Handle)
			require.ErrorIs(t, err, errNotFound)
			requireNoCredential(t, s, creds[i].ID)
		}
	}
}

// ---- GetUserBy* ----

func testGetUserByHandleNotFound(t *testing.T, s credStore) {
	_, err := s.GetUserByHandle(t.Context(), RandomHandle())
	require.ErrorIs(t, err, errNotFound)
}

func testGetUserByNameNotFound(t *testing.T, s credStore) {
	_, err := s.GetUserByName(t.Context(), RandomName())
	require.ErrorIs(t, err, errNotFound)
}

// ---- DeleteUser ----

func testDeleteUserRemoves(t *testing.T, s credStore) {
	u, c1 := createUser(t, s)
	c2 := addCredential(t, s, u)
	other, oc1 := createUser(t, s)
	oc2 := addCredential(t, s, other)

	require.NoError(t, s.DeleteUser(t.Context(), u.Handle))
	requireNoUser(t, s, u)
	requireNoCredential(t, s, c1.ID)
	requireNoCredential(t, s, c2.ID)
	requireList(t, s, u.Handle)

	// Other users are untouched.
	requireUser(t, s, other)
	requireCredential(t, s, oc1)
	requireCredential(t, s, oc2)
}

func testDeleteUserFrees(t *testing.T, s credStore) {
	u, c1 := createUser(t, s)
	c2 := addCredential(t, s, u)
	require.NoError(t, s.DeleteUser(t.Context(), u.Handle))

	// The name and both credential IDs can be used again.
	u2 := RandomUser()
	u2.Name = u.Name
	n1 := RandomCredential(u2.Handle)
	n1.ID = bytes.Clone(c1.ID)
	require.NoError(t, s.CreateUser(t.Context(), u2, n1), "CreateUser with the name and credential ID of a deleted user")
	n2 := RandomCredential(u2.Handle)
	n2.ID = bytes.Clone(c2.ID)
	require.NoError(t, s.AddCredential(t.Context(), n2), "AddCredential with the ID of a deleted user's credential")
	requireUser(t, s, u2)
	requireCredential(t, s, n1)
	requireCredential(t, s, n2)
}

func testDeleteUserNotFound(t *testing.T, s credStore) {
	require.ErrorIs(t, s.DeleteUser(t.Context(), RandomHandle()), errNotFound)

	u, _ := createUser(t, s)
	require.NoError(t, s.DeleteUser(t.Context(), u.Handle))
	require.ErrorIs(t, s.DeleteUser(t.Context(), u.Handle), errNotFound, "second DeleteUser")
}

// ---- AddCredential ----

func testAddCredentialAdds(t *testing.T, s credStore) {
	u, c1 := createUser(t, s)
	c2 := RandomCredential(u.Handle)
	c2.CreatedAt = c1.CreatedAt.Add(time.Second)
	require.NoError(t, s.AddCredential(t.Context(), c2))
	requireCredential(t, s, c2)
	requireList(t, s, u.Handle, c1, c2)
}

func testAddCredentialUnknownUser(t *testing.T, s credStore) {
	c := RandomCredential(RandomHandle())
	require.ErrorIs(t, s.AddCredential(t.Context(), c), errNotFound)
	requireNoCredential(t, s, c.ID)
}

func testAddCredentialDuplicateSameUser(t *testing.T, s credStore) {
	u, c1 := createUser(t, s)
	c2 := RandomCredential(u.Handle)
	c2.ID = bytes.Clone(c1.ID)
	err := s.AddCredential(t.Context(), c2)
	require.ErrorIs(t, err, errCredentialExists)
	require.ErrorIs(t, err, errDuplicate)
	requireCredential(t, s, c1) // not overwritten
	requireList(t, s, u.Handle, c1)
}

func testAddCredentialOwnedByAnother(t *testing.T, s credStore) {
	u1, c1 := createUser(t, s)
	u2, c2 := createUser(t, s)
	c3 := RandomCredential(u2.Handle)
	c3.ID = bytes.Clone(c1.ID)
	err := s.AddCredential(t.Context(), c3)
	require.ErrorIs(t, err, errCredentialExists)
	require.ErrorIs(t, err, errDuplicate)
	requireCredential(t, s, c1) // still u1's, unchanged
	requireList(t, s, u1.Handle, c1)
	requireList(t, s, u2.Handle, c2)
}

func testAddCredentialConcurrentSameID(t *testing.T, s credStore) {
	const n = 8
	users := make([]user, n)
	for i := range users {
		users[i], _ = createUser(t, s)
	}
	id := RandomBytes(32)
	creds := make([]cred, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		creds[i] = RandomCredential(users[i].Handle)
		creds[i].ID = bytes.Clone(id)
		wg.Go(func() {
			<-start
			errs[i] = s.AddCredential(t.Context(), creds[i])
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two concurrent AddCredential calls with the same ID both succeeded")
			winner = i
			continue
		}
		require.ErrorIs(t, err, errCredentialExists, "losing concurrent AddCredential")
	}
	require.NotEqual(t, -1, winner, "no concurrent AddCredential succeeded")
	requireCredential(t, s, creds[winner])
}

// ---- GetCredential ----

func testGetCredentialRoundtrip(t *testing.T, s credStore) {
	u := RandomUser()
	// Two credentials with complementary values, so that swapped or
	// constant columns show up.
	c1 := RandomCredential(u.Handle)
	c1.SignCount = math.MaxUint32 // WebAuthn counters are uint32: not an int32 column
	c1.AttestationFormat = "packed"
	c1.Transports = []string{"usb", "nfc", "ble"}
	c1.UserPresent, c1.UserVerified, c1.BackupEligible, c1.BackupState, c1.CloneSuspected = true, false, true, false, true
	c1.Attachment = "cross-platform"
	c1.Name = "YubiKey 5 NFC"

	c2 := RandomCredential(u.Handle)
	c2.SignCount = 1 << 31
	c2.AttestationFormat = "tpm"
	c2.Transports = []string{"internal", "hybrid"}
	c2.UserPresent, c2.UserVerified, c2.BackupEligible, c2.BackupState, c2.CloneSuspected = false, true, false, true, false
	c2.Attachment = "platform"
	c2.Name = "Work laptop"
	c2.CreatedAt = c1.CreatedAt.Add(time.Hour)
	c2.LastUsedAt = c2.CreatedAt.Add(time.Minute)

	// Never used: LastUsedAt must come back zero (not NULL turned into 1970
	// or 0001-01-01 in another zone).
	c3 := RandomCredential(u.Handle)
	c3.CreatedAt = c2.CreatedAt.Add(time.Hour)
	c3.LastUsedAt = time.Time{}

	require.NoError(t, s.CreateUser(t.Context(), u, c1))
	require.NoError(t, s.AddCredential(t.Context(), c2))
	require.NoError(t, s.AddCredential(t.Context(), c3))
	requireCredential(t, s, c1)
	requireCredential(t, s, c2)
	requireCredential(t, s, c3)
	requireList(t, s, u.Handle, c1, c2, c3)
	requireUser(t, s, u)
}

func testGetCredentialZeroValues(t *testing.T, s credStore) {
	u := RandomUser()
	u.DisplayName = ""
	c := cred{
		ID:         RandomBytes(16),
		UserHandle: bytes.Clone(u.Handle),
		PublicKey:  RandomBytes(77),
		AAGUID:     make([]byte, 16), // attestation "none"
		CreatedAt:  randomTime(),
		// Everything else zero: SignCount 0, no transports, all flags
		// false, no attachment, no name, never used.
	}
	require.NoError(t, s.CreateUser(t.Context(), u, c))
	got, err := s.GetCredential(t.Context(), c.ID)
	require.NoError(t, err)
	AssertCredentialEqual(t, c, got)
	require.True(t, got.LastUsedAt.IsZero(), "LastUsedAt of a never used credential must come back zero, got %v", got.LastUsedAt)
	requireUser(t, s, u)
}

func testGetCredentialNotFound(t *testing.T, s credStore) {
	requireNoCredential(t, s, RandomBytes(32))
}

// ---- GetCredentialWithUser (optional) ----

func testGetCredentialWithUserMatches(t *testing.T, s credStore) {
	g := credentialUserGetter(t, s)
	// Two users, so that a join on the wrong column or a swapped owner shows
	// up; one credential never used (LastUsedAt zero), one with an empty
	// display name for its owner.
	u1, c1 := createUser(t, s)
	c2 := RandomCredential(u1.Handle)
	c2.LastUsedAt = time.Time{}
	require.NoError(t, s.AddCredential(t.Context(), c2), "AddCredential")
	u2 := RandomUser()
	u2.DisplayName = ""
	c3 := RandomCredential(u2.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u2, c3), "CreateUser")

	for _, tc := range []struct {
		owner user
		c     cred
	}{{u1, c1}, {u1, c2}, {u2, c3}} {
		gotCred, gotUser, err := g.GetCredentialWithUser(t.Context(), tc.c.ID)
		require.NoError(t, err, "GetCredentialWithUser")
		AssertCredentialEqual(t, tc.c, gotCred, "GetCredentialWithUser credential")
		AssertUserEqual(t, tc.owner, gotUser, "GetCredentialWithUser user")

		wantCred, err := s.GetCredential(t.Context(), tc.c.ID)
		require.NoError(t, err, "GetCredential")
		wantUser, err := s.GetUserByHandle(t.Context(), wantCred.UserHandle)
		require.NoError(t, err, "GetUserByHandle")
		AssertCredentialEqual(t, wantCred, gotCred, "GetCredentialWithUser credential, compared with GetCredential's")
		AssertUserEqual(t, wantUser, gotUser, "GetCredentialWithUser user, compared with GetUserByHandle's")
	}
}

func testGetCredentialWithUserNotFound(t *testing.T, s credStore) {
	g := credentialUserGetter(t, s)
	_, _, err := g.GetCredentialWithUser(t.Context(), RandomBytes(32))
	require.ErrorIs(t, err, errNotFound, "GetCredentialWithUser of an unknown ID")

	// Found, then gone with DeleteCredential, and with DeleteUser.
	u, c1 := createUser(t, s)
	c2 := addCredential(t, s, u)
	for _, c := range []cred{c1, c2} {
		_, _, err = g.GetCredentialWithUser(t.Context(), c.ID)
		require.NoError(t, err, "GetCredentialWithUser before the delete")
	}
	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c2.ID, false), "DeleteCredential")
	_, _, err = g.GetCredentialWithUser(t.Context(), c2.ID)
	require.ErrorIs(t, err, errNotFound, "GetCredentialWithUser of a deleted credential")
	require.NoError(t, s.DeleteUser(t.Context(), u.Handle), "DeleteUser")
	_, _, err = g.GetCredentialWithUser(t.Context(), c1.ID)
	require.ErrorIs(t, err, errNotFound, "GetCredentialWithUser of a deleted user's credential")
}

// ---- ListCredentials ----

func testListCredentialsOrder(t *testing.T, s credStore) {
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	at := func(d time.Duration, zone int) time.Time { return t0.Add(d).In(zones[zone]) }
	u := RandomUser()
	r := RandomBytes(16)
	mk := func(id []byte, created time.Time) cred {
		c := RandomCredential(u.Handle)
		c.ID = id
		c.CreatedAt = created
		return c
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	// In the order ListCredentials must return them.
	early := mk(cat([]byte{0xff}, RandomBytes(16)), at(0, 0))
	second := mk(cat([]byte{0xfe}, RandomBytes(16)), at(time.Second, 1))
	// Four credentials created at the same instant, given in different zones:
	// ordered by ID bytes (unsigned, a prefix first).
	tieA := mk(cat([]byte{0x01}, r), at(2*time.Second, 0))
	tieB := mk(cat([]byte{0x01}, r, []byte{0x00}), at(2*time.Second, 1))
	tieC := mk(cat([]byte{0x80}, r), at(2*time.Second, 2))
	tieD := mk(cat([]byte{0xff}, r), at(2*time.Second, 1))
	// One microsecond later: must not be folded into the tie above.
	micro := mk(cat([]byte{0x00}, RandomBytes(16)), at(2*time.Second+time.Microsecond, 0))
	last := mk(cat([]byte{0x00}, RandomBytes(16)), at(3*time.Second, 2))

	// Another user's credentials, interleaved in time, must not show up.
	other := RandomUser()
	oc := RandomCredential(other.Handle)
	oc.CreatedAt = at(2*time.Second, 0)
	require.NoError(t, s.CreateUser(t.Context(), other, oc))

	// Stored in a scrambled order; the first is not the oldest.
	require.NoError(t, s.CreateUser(t.Context(), u, last))
	for _, c := range []cred{tieC, early, micro, tieD, tieA, second, tieB} {
		require.NoError(t, s.AddCredential(t.Context(), c))
	}
	oc2 := RandomCredential(other.Handle)
	oc2.CreatedAt = at(time.Second, 0)
	require.NoError(t, s.AddCredential(t.Context(), oc2))

	requireList(t, s, u.Handle, early, second, tieA, tieB, tieC, tieD, micro, last)
	requireList(t, s, other.Handle, oc2, oc)
}

func testListCredentialsUnknownUser(t *testing.T, s credStore) {
	got, err := s.ListCredentials(t.Context(), RandomHandle())
	require.NoError(t, err)
	require.Empty(t, got)
}

func testListCredentialsNoCredentials(t *testing.T, s credStore) {
	u, c := createUser(t, s)
	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c.ID, true))
	got, err := s.ListCredentials(t.Context(), u.Handle)
	require.NoError(t, err)
	require.Empty(t, got)
}

// ---- UpdateCredentialUse ----

func testUpdateUseApplies(t *testing.T, s credStore) {
	u := RandomUser()
	c := RandomCredential(u.Handle)
	c.SignCount = math.MaxUint32 - 7
	c.BackupEligible, c.BackupState, c.UserVerified, c.CloneSuspected = true, true, false, false
	c.LastUsedAt = time.Time{}
	require.NoError(t, s.CreateUser(t.Context(), u, c))
	sibling := addCredential(t, s, u)

	// Every field changes.
	use := webauthnkit.CredentialUse{
		SignCount:      math.MaxUint32,
		BackupState:    false,
		UserVerified:   true,
		LastUsedAt:     time.Now().In(zones[0]),
		CloneSuspected: true,
	}
	require.NoError(t, s.UpdateCredentialUse(t.Context(), c.ID, c.SignCount, use))
	want := withUse(c, use)
	requireCredential(t, s, want)

	// And back: flags can be cleared, not only set.
	use2 := webauthnkit.CredentialUse{
		SignCount:      math.MaxUint32,
		BackupState:    true,
		UserVerified:   false,
		LastUsedAt:     use.LastUsedAt.Add(time.Minute).In(zones[1]),
		CloneSuspected: false,
	}
	require.NoError(t, s.UpdateCredentialUse(t.Context(), c.ID, math.MaxUint32, use2))
	requireCredential(t, s, withUse(c, use2))
	requireCredential(t, s, sibling) // other credentials untouched
}

// withUse returns c after a successful UpdateCredentialUse(use).
func withUse(c cred, use webauthnkit.CredentialUse) cred {
	c.SignCount = use.SignCount
	c.BackupState = use.BackupState
	c.UserVerified = use.UserVerified
	c.LastUsedAt = use.LastUsedAt
	c.CloneSuspected = use.CloneSuspected
	return c
}

// testUpdateUseZeroCounter: authenticators without a counter (synced
// passkeys) always report 0; each login is a CAS from 0 to 0.
func testUpdateUseZeroCounter(t *testing.T, s credStore) {
	u := RandomUser()
	c := RandomCredential(u.Handle)
	c.SignCount = 0
	require.NoError(t, s.CreateUser(t.Context(), u, c))
	last := time.Now().Add(-time.Minute)
	for i := range 3 {
		use := webauthnkit.CredentialUse{SignCount: 0, BackupState: true, UserVerified: true, LastUsedAt: last.Add(time.Duration(i) * time.Second)}
		require.NoError(t, s.UpdateCredentialUse(t.Context(), c.ID, 0, use), "update %d", i)
		requireCredential(t, s, withUse(c, use))
	}
}

func testUpdateUseConflict(t *testing.T, s credStore) {
	u := RandomUser()
	c := RandomCredential(u.Handle)
	c.SignCount = 10
	require.NoError(t, s.CreateUser(t.Context(), u, c))
	use := webauthnkit.CredentialUse{SignCount: 12, BackupState: !c.BackupState, UserVerified: !c.UserVerified, LastUsedAt: time.Now(), CloneSuspected: !c.CloneSuspected}
	for _, expected := range []uint32{9, 11, 0, 12, 10 + 1<<16} {
		err := s.UpdateCredentialUse(t.Context(), c.ID, expected, use)
		require.ErrorIs(t, err, errConflict, "stored SignCount is 10, expected %d", expected)
		require.NotErrorIs(t, err, errNotFound)
	}
	requireCredential(t, s, c) // nothing changed
}

func testUpdateUseNotFound(t *testing.T, s credStore) {
	use := webauthnkit.CredentialUse{SignCount: 1, LastUsedAt: time.Now()}
	err := s.UpdateCredentialUse(t.Context(), RandomBytes(32), 0, use)
	require.ErrorIs(t, err, errNotFound)
	require.NotErrorIs(t, err, errConflict)
}

// testUpdateUseConcurrent: goroutines each perform increments as a login
// does (read, then CAS from the value read, retry on ErrConflict). Every
// increment must land exactly once and no goroutine may see the count go
// down.
func testUpdateUseConcurrent(t *testing.T, s credStore) {
	const (
		workers    = 20
		increments = 5
		start      = 1000
		maxTries   = 2000 // per increment; far more than any fair store needs
	)
	u := RandomUser()
	c := RandomCredential(u.Handle)
	c.SignCount = start
	require.NoError(t, s.CreateUser(t.Context(), u, c))

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		problems []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	ctx := t.Context()
	stop := make(chan struct{})
	// An observer that only reads.
	observerDone := make(chan struct{})
	go func() {
		defer close(observerDone)
		var seen uint32
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := s.GetCredential(ctx, c.ID)
			if err != nil {
				fail("observer: GetCredential: %v", err)
				return
			}
			if got.SignCount < seen {
				fail("observer saw SignCount go from %d back to %d", seen, got.SignCount)
			}
			seen = got.SignCount
			time.Sleep(time.Millisecond)
		}
	}()
	for w := range workers {
		wg.Go(func() {
			var seen uint32
			for i := range increments {
				for try := 0; ; try++ {
					if try == maxTries {
						fail("worker %d: increment %d still conflicting after %d tries", w, i, maxTries)
						return
					}
					got, err := s.GetCredential(ctx, c.ID)
					if err != nil {
						fail("worker %d: GetCredential: %v", w, err)
						return
					}
					if got.SignCount < seen {
						fail("worker %d saw SignCount go from %d back to %d", w, seen, got.SignCount)
					}
					seen = got.SignCount
					// A login verifies the assertion between the read and
					// the write: let other goroutines run in between.
					runtime.Gosched()
					use := webauthnkit.CredentialUse{
						SignCount:    got.SignCount + 1,
						BackupState:  true,
						UserVerified: true,
						LastUsedAt:   time.Now(),
					}
					err = s.UpdateCredentialUse(ctx, c.ID, got.SignCount, use)
					if errors.Is(err, errConflict) {
						continue
					}
					if err != nil {
						fail("worker %d: UpdateCredentialUse: %v", w, err)
						return
					}
					seen = use.SignCount
					break
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-observerDone
	require.Empty(t, problems)

	got, err := s.GetCredential(t.Context(), c.ID)
	require.NoError(t, err)
	require.Equal(t, uint32(start+workers*increments), got.SignCount,
		"%d successful compare-and-set increments from %d: updates were lost", workers*increments, start)
}

// ---- RenameCredential ----

func testRenameOK(t *testing.T, s credStore) {
	u, c := createUser(t, s)
	sibling := addCredential(t, s, u)
	for _, name := range []string{"Phone 📱 de Zoë", "", "Work laptop"} {
		require.NoError(t, s.RenameCredential(t.Context(), u.Handle, c.ID, name), "rename to %q", name)
		c.Name = name
		requireCredential(t, s, c) // only the name changed
	}
	requireCredential(t, s, sibling)
}

func testRenameOtherUser(t *testing.T, s credStore) {
	_, c1 := createUser(t, s)
	u2, _ := createUser(t, s)
	for _, handle := range [][]byte{u2.Handle, RandomHandle(), nil} {
		err := s.RenameCredential(t.Context(), handle, c1.ID, "stolen")
		require.ErrorIs(t, err, errNotFound, "renaming another user's credential")
	}
	requireCredential(t, s, c1) // unchanged
}

func testRenameNotFound(t *testing.T, s credStore) {
	u, c := createUser(t, s)
	require.ErrorIs(t, s.RenameCredential(t.Context(), u.Handle, RandomBytes(32), "x"), errNotFound)
	requireCredential(t, s, c)
}

// ---- DeleteCredential ----

func testDeleteCredentialOK(t *testing.T, s credStore) {
	u, c1 := createUser(t, s)
	c2 := RandomCredential(u.Handle)
	c2.CreatedAt = c1.CreatedAt.Add(time.Second)
	require.NoError(t, s.AddCredential(t.Context(), c2))

	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c1.ID, false))
	requireNoCredential(t, s, c1.ID)
	requireList(t, s, u.Handle, c2)
	requireUser(t, s, u) // the user stays
	for _, allowLast := range []bool{false, true} {
		require.ErrorIs(t, s.DeleteCredential(t.Context(), u.Handle, c1.ID, allowLast), errNotFound, "second DeleteCredential, allowLast=%v", allowLast)
	}

	// The ID is free again.
	c3 := RandomCredential(u.Handle)
	c3.ID = bytes.Clone(c1.ID)
	c3.CreatedAt = c2.CreatedAt.Add(time.Second)
	require.NoError(t, s.AddCredential(t.Context(), c3), "AddCredential with the ID of a deleted credential")
	requireList(t, s, u.Handle, c2, c3)
}

func testDeleteCredentialOtherUser(t *testing.T, s credStore) {
	u1, c1 := createUser(t, s)
	u2, _ := createUser(t, s)
	for _, handle := range [][]byte{u2.Handle, RandomHandle(), nil} {
		for _, allowLast := range []bool{false, true} {
			err := s.DeleteCredential(t.Context(), handle, c1.ID, allowLast)
			require.ErrorIs(t, err, errNotFound, "deleting another user's credential, allowLast=%v", allowLast)
		}
	}
	requireCredential(t, s, c1)
	requireList(t, s, u1.Handle, c1)
}

func testDeleteCredentialNotFound(t *testing.T, s credStore) {
	u, c := createUser(t, s)
	for _, allowLast := range []bool{false, true} {
		require.ErrorIs(t, s.DeleteCredential(t.Context(), u.Handle, RandomBytes(32), allowLast), errNotFound, "allowLast=%v", allowLast)
	}
	requireList(t, s, u.Handle, c)
}

// ---- LargeAndUnicodeValues ----

var allTransports = []string{"internal", "hybrid", "usb", "nfc", "ble"}

func testLargeCredential(t *testing.T, s credStore) {
	u := RandomUser()
	c1 := RandomCredential(u.Handle)
	c1.ID = RandomBytes(1023) // the WebAuthn maximum
	c1.PublicKey = RandomBytes(2048)
	c1.Transports = slices.Clone(allTransports)
	c1.AttestationFormat = "android-safetynet"
	c1.SignCount = math.MaxUint32 - 1
	require.NoError(t, s.CreateUser(t.Context(), u, c1))

	c2 := RandomCredential(u.Handle)
	c2.ID = RandomBytes(1023)
	copy(c2.ID, c1.ID[:1000]) // shares a long prefix with c1
	c2.PublicKey = RandomBytes(2048)
	c2.Transports = slices.Clone(allTransports)
	c2.CreatedAt = c1.CreatedAt.Add(time.Second)
	require.NoError(t, s.AddCredential(t.Context(), c2))

	requireCredential(t, s, c1)
	requireCredential(t, s, c2)
	requireList(t, s, u.Handle, c1, c2)

	use := webauthnkit.CredentialUse{SignCount: math.MaxUint32, UserVerified: true, LastUsedAt: time.Now()}
	require.NoError(t, s.UpdateCredentialUse(t.Context(), c1.ID, c1.SignCount, use))
	c1 = withUse(c1, use)
	require.NoError(t, s.RenameCredential(t.Context(), u.Handle, c1.ID, "renamed"))
	c1.Name = "renamed"
	requireCredential(t, s, c1)
	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c2.ID, false))
	requireList(t, s, u.Handle, c1)
}

// fourByteRunes returns n random runes that each take 4 bytes in UTF-8,
// from the emoji and CJK Extension B blocks.
func fourByteRunes(n int) string {
	var b strings.Builder
	rnd := RandomBytes(2 * n)
	for i := range n {
		v := rune(rnd[2*i])<<8 | rune(rnd[2*i+1])
		if i%2 == 0 {
			b.WriteRune(0x1F300 + v%0x250) // emoji and pictographs
		} else {
			b.WriteRune(0x20000 + v%0xA6E0) // CJK Unified Ideographs Extension B
		}
	}
	return b.String()
}

// mixedRunes returns n runes mixing ASCII, Latin, Greek, Cyrillic, Arabic,
// Hebrew, Devanagari, CJK, Hangul, emoji (with modifiers and ZWJ) and
// combining marks, starting with a random part so that it is unique.
func mixedRunes(n int) string {
	alphabet := []rune("aZ09 -_.'éÅßøΩλЖщعבनि中文日本語한국어😀👍🏽\u200d🚀\u0301\u0308ﬁ")
	var out []rune
	out = append(out, []rune(fourByteRunes(8))...)
	rnd := RandomBytes(n)
	for i := 0; len(out) < n; i++ {
		out = append(out, alphabet[int(rnd[i])%len(alphabet)])
	}
	return string(out)
}

func testUnicodeNames(t *testing.T, s credStore) {
	u := RandomUser()
	u.Name = fourByteRunes(webauthnkit.MaxNameLength) // 256 bytes
	u.DisplayName = mixedRunes(255)
	require.Equal(t, 4*webauthnkit.MaxNameLength, len(u.Name))
	c := RandomCredential(u.Handle)
	c.Name = fourByteRunes(64)
	c.Transports = slices.Clone(allTransports)
	require.NoError(t, s.CreateUser(t.Context(), u, c))
	requireUser(t, s, u)
	requireCredential(t, s, c)

	newName := mixedRunes(64)
	require.NoError(t, s.RenameCredential(t.Context(), u.Handle, c.ID, newName))
	c.Name = newName
	requireCredential(t, s, c)
}

// testNormalizationDistinct: names are compared byte for byte, so the NFC
// and NFD spellings of the same text are two different users, and a name is
// returned exactly as stored, not normalised.
func testNormalizationDistinct(t *testing.T, s credStore) {
	base := RandomName()
	nfc := base + "-Zo\u00eb-caf\u00e9-\uac00"         // precomposed ë, é and Hangul syllable
	nfd := base + "-Zoe\u0308-cafe\u0301-\u1100\u1161" // decomposed
	require.NotEqual(t, nfc, nfd)

	u1 := RandomUser()
	u1.Name = nfc
	u1.DisplayName = nfd
	c1 := RandomCredential(u1.Handle)
	c1.Name = nfd
	require.NoError(t, s.CreateUser(t.Context(), u1, c1))

	u2 := RandomUser()
	u2.Name = nfd
	u2.DisplayName = nfc
	c2 := RandomCredential(u2.Handle)
	c2.Name = nfc
	require.NoError(t, s.CreateUser(t.Context(), u2, c2), "CreateUser with the NFD spelling of a stored NFC name")

	requireUser(t, s, u1)
	requireUser(t, s, u2)
	requireCredential(t, s, c1)
	requireCredential(t, s, c2)
}

// testIDsTrailingZeros: IDs are byte strings, not C strings or padded
// columns: r, r+00 and r+00 00 are three credentials.
func testIDsTrailingZeros(t *testing.T, s credStore) {
	u := RandomUser()
	r := RandomBytes(24)
	c1 := RandomCredential(u.Handle)
	c1.ID = bytes.Clone(r)
	require.NoError(t, s.CreateUser(t.Context(), u, c1))
	c2 := RandomCredential(u.Handle)
	c2.ID = append(bytes.Clone(r), 0)
	c2.CreatedAt = c1.CreatedAt
	require.NoError(t, s.AddCredential(t.Context(), c2))
	c3 := RandomCredential(u.Handle)
	c3.ID = append(bytes.Clone(r), 0, 0)
	c3.CreatedAt = c1.CreatedAt
	require.NoError(t, s.AddCredential(t.Context(), c3))
	c4 := RandomCredential(u.Handle)
	c4.ID = append([]byte{0}, r...)
	c4.CreatedAt = c1.CreatedAt
	require.NoError(t, s.AddCredential(t.Context(), c4))

	for _, c := range []cred{c1, c2, c3, c4} {
		requireCredential(t, s, c)
	}
	requireList(t, s, u.Handle, c4, c1, c2, c3)
	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c2.ID, false))
	requireList(t, s, u.Handle, c4, c1, c3)
}

// ---- slices ----

func testInputSlicesNotRetained(t *testing.T, s credStore) {
	ctx := t.Context()
	u := RandomUser()
	c1 := RandomCredential(u.Handle)
	c1.Transports = slices.Clone(allTransports)
	wantU, want1 := cloneUser(u), cloneCred(c1)
	require.NoError(t, s.CreateUser(ctx, u, c1))
	scribble(u.Handle)
	scribbleCred(c1)

	c2 := RandomCredential(wantU.Handle)
	want2 := cloneCred(c2)
	require.NoError(t, s.AddCredential(ctx, c2))
	scribbleCred(c2)

	requireUser(t, s, wantU)
	requireCredential(t, s, want1)
	requireCredential(t, s, want2)

	// Slices passed only as keys may be reused too.
	id := bytes.Clone(want1.ID)
	handle := bytes.Clone(wantU.Handle)
	use := webauthnkit.CredentialUse{SignCount: want1.SignCount + 1, LastUsedAt: time.Now()}
	require.NoError(t, s.UpdateCredentialUse(ctx, id, want1.SignCount, use))
	want1 = withUse(want1, use)
	scribble(id)
	copy(id, want1.ID)
	require.NoError(t, s.RenameCredential(ctx, handle, id, "renamed"))
	want1.Name = "renamed"
	scribble(id)
	scribble(handle)

	requireUser(t, s, wantU)
	requireCredential(t, s, want1)
	requireList(t, s, wantU.Handle, sortedByCreation(want1, want2)...)
}

func sortedByCreation(cs ...cred) []cred {
	slices.SortFunc(cs, func(a, b cred) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID, b.ID)
	})
	return cs
}

func testReturnedValuesOwned(t *testing.T, s credStore) {
	ctx := t.Context()
	u := RandomUser()
	c1 := RandomCredential(u.Handle)
	c1.Transports = slices.Clone(allTransports)
	require.NoError(t, s.CreateUser(ctx, u, c1))
	c2 := addCredential(t, s, u)

	got, err := s.GetCredential(ctx, c1.ID)
	require.NoError(t, err)
	// Appending to one returned slice must not overwrite another.
	handle := bytes.Clone(got.UserHandle)
	_ = append(got.ID, bytes.Repeat([]byte{0xEE}, 64)...)
	_ = append(got.UserHandle, bytes.Repeat([]byte{0xEE}, 64)...)
	_ = append(got.PublicKey, bytes.Repeat([]byte{0xEE}, 64)...)
	require.Equal(t, handle, got.UserHandle, "appending to a returned ID overwrote the returned UserHandle")
	AssertCredentialEqual(t, c1, got, "after appending to the returned slices")
	scribbleCred(got)

	list, err := s.ListCredentials(ctx, u.Handle)
	require.NoError(t, err)
	for _, c := range list {
		scribbleCred(c)
	}
	gu, err := s.GetUserByHandle(ctx, u.Handle)
	require.NoError(t, err)
	scribble(gu.Handle)
	gu, err = s.GetUserByName(ctx, u.Name)
	require.NoError(t, err)
	scribble(gu.Handle)

	requireUser(t, s, u)
	requireCredential(t, s, c1)
	requireCredential(t, s, c2)
	requireList(t, s, u.Handle, sortedByCreation(c1, c2)...)
}

// ---- context ----

func testCredentialContextCanceled(t *testing.T, s credStore) {
	u, c := createUser(t, s)
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
		{"CreateUser", func() error { return s.CreateUser(ctx, nu, nc) }},
		{"GetUserByHandle", func() error { _, err := s.GetUserByHandle(ctx, u.Handle); return err }},
		{"GetUserByName", func() error { _, err := s.GetUserByName(ctx, u.Name); return err }},
		{"AddCredential", func() error { return s.AddCredential(ctx, ac) }},
		{"GetCredential", func() error { _, err := s.GetCredential(ctx, c.ID); return err }},
		{"ListCredentials", func() error { _, err := s.ListCredentials(ctx, u.Handle); return err }},
		{"UpdateCredentialUse", func() error { return s.UpdateCredentialUse(ctx, c.ID, c.SignCount, use) }},
		{"RenameCredential", func() error { return s.RenameCredential(ctx, u.Handle, c.ID, "canceled") }},
		{"DeleteCredential", func() error { return s.DeleteCredential(ctx, u.Handle, c.ID, true) }},
		{"EndSessions", func() error { _, err := s.EndSessions(ctx, u.Handle); return err }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, u.Handle) }},
	}
	for _, cl := range calls {
		assert.Error(t, cl.call(), "%s with a canceled context", cl.name)
	}

	// Nothing was written, and the store still works.
	requireUser(t, s, u)
	requireCredential(t, s, c)
	requireList(t, s, u.Handle, c)
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
			if !assert.NoError(t, s.CreateUser(ctx, u, c1)) {
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
