package storetest

import (
	"bytes"
	"slices"
	"testing"

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
		run(t, "without_credential", testCreateUserWithoutCredential)
		run(t, "app_chosen_handles_1_and_64_bytes", testCreateUserAppChosenHandles)
		run(t, "name_254_characters", testCreateUserLongName)
	})
	t.Run("UpdateUser", func(t *testing.T) {
		run(t, "renames", testUpdateUserRenames)
		run(t, "old_name_free", testUpdateUserOldNameFree)
		run(t, "name_of_another_user", testUpdateUserNameOfAnother)
		run(t, "own_name", testUpdateUserOwnName)
		run(t, "not_found", testUpdateUserNotFound)
		run(t, "concurrent_same_free_name_one_winner", testUpdateUserConcurrentSameName)
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
		run(t, "removes_every_trace", testDeleteUserEveryTrace)
	})
	t.Run("ExportUser", func(t *testing.T) {
		run(t, "everything_stored", testExportUserEverything)
	})
	t.Run("ListUserHandles", func(t *testing.T) {
		probe := newStore(t)
		require.NotNil(t, probe, "newStore returned nil")
		if !probe.Features().ListUserHandles {
			t.Log("the store does not declare the optional Features().ListUserHandles")
			return
		}
		run(t, "pages_in_byte_order", testListUserHandlesPages)
		run(t, "deleted_user_absent", testListUserHandlesDeleted)
		run(t, "limit_1_to_MaxUserHandlePage", testListUserHandlesBadLimit)
		run(t, "returned_handles_owned_by_caller", testListUserHandlesOwned)
		run(t, "context_canceled", testListUserHandlesCanceled)
		run(t, "concurrent_walk_misses_nobody", testListUserHandlesConcurrent)
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
		run(t, "second_factor_only_roundtrip", testSecondFactorOnlyRoundtrip)
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
	t.Run("Email", func(t *testing.T) {
		run(t, "create_stores_email_and_verified_time", testEmailCreateStores)
		run(t, "create_unverified_stays_zero", testEmailCreateUnverified)
		run(t, "create_duplicate_email", testEmailCreateDuplicate)
		run(t, "empty_emails_never_collide", testEmailEmptyNeverCollides)
		run(t, "compared_byte_for_byte", testEmailByteForByte)
	})
	t.Run("GetUserByEmail", func(t *testing.T) {
		run(t, "not_found", testGetUserByEmailNotFound)
		run(t, "empty_string_not_found", testGetUserByEmailEmpty)
	})
	t.Run("SetEmail", func(t *testing.T) {
		run(t, "sets", testSetEmailSets)
		run(t, "changes_and_frees_old_address", testSetEmailChanges)
		run(t, "removes", testSetEmailRemoves)
		run(t, "verified_and_unverified", testSetEmailVerification)
		run(t, "address_of_another_user", testSetEmailOfAnother)
		run(t, "not_found", testSetEmailNotFound)
		run(t, "concurrent_same_free_address_one_winner", testSetEmailConcurrentSameAddress)
	})
	t.Run("RecoveryCodes", func(t *testing.T) {
		run(t, "set_use_count", testRecoveryCodesSetAndCount)
		run(t, "replace_invalidates_old_set", testRecoveryCodesReplace)
		run(t, "clear", testRecoveryCodesClear)
		run(t, "use_once", testRecoveryCodesUseOnce)
		run(t, "input_hashes_not_retained", testRecoveryCodesInputNotRetained)
		run(t, "unknown_code_or_user_not_found", testRecoveryCodesUnknown)
		run(t, "deleted_with_user", testRecoveryCodesDeletedWithUser)
		run(t, "at_most_32_hashes_of_32_bytes", testRecoveryCodesBounds)
		run(t, "concurrent_same_code_one_winner", testRecoveryCodesConcurrentSameCode)
		run(t, "concurrent_different_codes_all_succeed", testRecoveryCodesConcurrentDifferentCodes)
	})
	t.Run("ErrorTexts", func(t *testing.T) {
		run(t, "duplicate_CreateUser", testErrorTextsCreateUser)
		run(t, "duplicate_AddCredential", testErrorTextsAddCredential)
		run(t, "UpdateUser", testErrorTextsUpdateUser)
		run(t, "other_refusals", testErrorTextsOtherRefusals)
		run(t, "email", testErrorTextsEmail)
		run(t, "recovery_codes", testErrorTextsRecoveryCodes)
	})
	t.Run("Features", func(t *testing.T) {
		run(t, "stable", testCredentialFeaturesStable)
		run(t, "CredentialWithUser_implemented", testCredentialWithUserImplemented)
		run(t, "Audit_implemented", testAuditImplemented)
	})
	t.Run("Audit", func(t *testing.T) { auditClauses(t, newStore, run) })
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
	require.NoError(t, s.CreateUser(t.Context(), u, &c), "CreateUser")
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
	if want.Email != "" {
		requireEmailOf(t, s, want.Email, want)
	}
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
