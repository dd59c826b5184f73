// Package storetest is the conformance suite for webauthnkit stores. Every
// store shipped with webauthnkit (memstore, sqlstore, redisstore) runs it, and
// a third-party store should too: the clauses of the CredentialStore and
// ChallengeStore contracts in package webauthnkit are each checked by a named
// subtest, so a failure names the clause that is broken.
//
// A store runs the whole suite with one call per interface from an ordinary
// test. newStore is called once per subtest and should register its own
// cleanup with t.Cleanup:
//
//	package mystore_test
//
//	import (
//		"os"
//		"testing"
//
//		"example.com/mystore"
//		"github.com/webauthnkit/webauthnkit"
//		"github.com/webauthnkit/webauthnkit/storetest"
//	)
//
//	// newTestStore opens a store on the test database. The data the suite
//	// leaves behind does not need to be removed.
//	func newTestStore(t *testing.T) *mystore.Store {
//		s, err := mystore.Open(os.Getenv("MYSTORE_DSN"))
//		if err != nil {
//			t.Fatal(err)
//		}
//		t.Cleanup(func() { s.Close() })
//		return s
//	}
//
//	func TestConformance(t *testing.T) {
//		storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore {
//			return newTestStore(t)
//		})
//		storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore {
//			return newTestStore(t)
//		})
//	}
//
// Run a single clause with the usual -run syntax, for example
// go test -run 'TestCredentialStore/UpdateCredentialUse/concurrent_no_lost_update'.
//
// The suite never assumes the store is empty: it uses random user handles,
// names, credential IDs and ceremony IDs everywhere and never counts
// everything, so the stores built by newStore may share one database
// across subtests, test runs and packages, and nothing needs to be truncated
// between them. It does not clean up the rows it creates. Only the Audit
// scan clauses list everything (they look for their own credentials among
// what ScanCredentials returns), so their cost grows with the store.
//
// The suite is sized to run in a few seconds against a local server on a
// small machine. It runs its subtests one after the other (a few of them
// start concurrent goroutines against a single store).
//
// Where the contract leaves room, the suite checks this reading of it:
//
//   - Times come back as the same instant to within a microsecond (truncated
//     or rounded), in UTC (Location() == time.UTC); a zero time comes back
//     zero. SignCount uses the whole uint32 range.
//   - Names are compared byte for byte: "alice", "Alice", "alice " and the
//     NFC and NFD spellings of "Zoë" are five different users, so a
//     case-insensitive, accent-insensitive or space-padding collation fails.
//   - ListCredentials orders by the CreatedAt instant (at microsecond
//     precision), then by ID compared as unsigned bytes, a prefix first (as
//     bytes.Compare).
//   - A call made with an already canceled context returns an error and
//     neither writes nor consumes anything.
//   - PutCeremony with an expiresAt already past may return nil or an error;
//     either way TakeCeremony returns ErrNotFound and the ID stays free.
//   - When CreateUser finds both the name and the credential ID taken, either
//     ErrUserExists or ErrCredentialExists is accepted.
//   - DeleteCredential of a credential the user does not own gives
//     ErrNotFound whatever allowLast says, even for a user with a single
//     credential (ErrNotFound is checked before the last-credential guard).
//     The guard counts only that user's credentials. Its concurrency
//     subtests release all deletes at once: two deletes of a user's last
//     two credentials (20 trials), and 8 deletes of a user's 8 credentials
//     (5 trials); exactly one credential must be left each time.
//   - SessionEpoch values above 2^32 (the suite uses 2^40+12345) are kept
//     exactly; a user deleted and created again under the same handle
//     starts from the epoch given to CreateUser. 16 concurrent EndSessions
//     must return 16 distinct, consecutive values.
//   - "Error texts never contain stored values" is checked on the errors of
//     duplicate CreateUser and AddCredential calls and of the not-found and
//     last-credential answers: their Error() must not contain the user name,
//     the user handle or the credential ID, verbatim, in hex (either case,
//     plain or \x-escaped) or in base64 (either alphabet), nor a prefix of
//     these long enough not to match by chance. Credential IDs are tried
//     both printable (drivers quote them verbatim) and binary.
//   - Users without credentials, handles and names: CreateUser with a nil
//     first credential stores a user that later gets one by AddCredential;
//     handles of 1 and 64 bytes and names of 254 characters of four bytes
//     each in UTF-8 (1016 bytes; CJK Extension B, so a three-byte-only
//     charset such as MySQL's utf8mb3 fails), with display names of 64
//     such characters, come back exactly. The 1-byte handle is taken among
//     the free ones and deleted at the end, since only 256 exist.
//   - UpdateUser keeps Handle, CreatedAt, SessionEpoch and the credentials;
//     a refused rename changes nothing (the display name included). Its
//     concurrency subtest renames two users to one free name at once, 10
//     times: exactly one rename wins, the other gets ErrUserExists and the
//     name then maps to the winner.
//   - SecondFactorOnly comes back as stored (true and false) from every read
//     and survives UpdateCredentialUse and RenameCredential.
//   - Features is a declaration: it answers the same on every call. The
//     GetCredentialWithUser clauses run when the store declares
//     Features().CredentialWithUser (as the library decides), and a store
//     declaring it must implement webauthnkit.CredentialUserGetter. A store
//     that has the method without declaring it is only told so in the log.
//   - Audit (webauthnkit.CredentialAuditor, run when the store declares
//     Features().Audit, which then must implement it): attestation objects
//     of MaxAttestationObjectSize bytes and audit texts of
//     MaxAuditTextLength bytes come back exactly, and one byte more of
//     text is refused. Scans with pages of 4 and 5 must return every
//     credential stored before them (as GetCredential would), none deleted
//     before them, at most limit per page, with a cursor that moves; one
//     scan runs while three writers add and delete other credentials of
//     the same user. Limits 0, -1 and MaxScanPageSize+1 and three
//     malformed cursors are refused. SetCredentialAudit on an unknown,
//     deleted or deleted user's credential is ErrNotFound and creates
//     nothing (the ID stays free). Its concurrency subtest runs four
//     SetCredentialAudit calls, an UpdateCredentialUse and a
//     RenameCredential on one credential at once, 5 times: the use and
//     the name are kept and the audit fields are one call's, whole.
//   - Emails (User.Email) are compared byte for byte like names (the library
//     normalises them first); "" is no address: any number of users have
//     none, and GetUserByEmail("") is ErrNotFound. Addresses of 254
//     characters come back exactly; EmailVerifiedAt follows the time rule
//     above. The SetEmail concurrency subtest sets one free address on two
//     users at once, 10 times: exactly one wins.
//   - Recovery codes: SetRecoveryCodes accepts up to
//     webauthnkit.MaxRecoveryCodes hashes of RecoveryCodeHashSize bytes and
//     refuses more, or a longer hash, with any error, changing nothing. A
//     hash in both the old and the new set is usable once. 16 concurrent
//     uses of one code give exactly one success; 16 concurrent uses of
//     different codes all succeed and none is lost.
//   - ListUserHandles (run when the store declares Features().ListUserHandles):
//     the suite's users share a random 24-byte handle prefix and every walk
//     starts at that prefix, so the store may hold any number of other
//     users. Walks with limits 1, 2, 3, 7 and 100 return the same handles
//     in byte order; a deleted user is absent; limits 0, -1 and
//     MaxUserHandlePage+1 are refused; returned slices are the caller's;
//     three walks run while other users are created and deleted, and must
//     each return every stable user exactly once.
//   - DeleteUser/removes_every_trace: after DeleteUser of a user with an
//     email, two credentials, recovery codes and an ended session, no read
//     finds it (by handle, name or email), its credentials, codes or epoch,
//     and a new user may take its handle, name, email and credential IDs
//     and starts empty. ExportUser/everything_stored: webauthnkit.ExportUser
//     over the store returns every stored field of the user and of its
//     credentials, and nothing of another user.
//
// Two contract clauses cannot be checked against a healthy store and are left
// to each store's own tests:
//
//   - "Errors reaching the backend wrap ErrStoreUnavailable": call
//     TestCredentialStoreUnavailable and TestChallengeStoreUnavailable with a
//     store whose server cannot be reached (for example one configured with
//     the address 127.0.0.1:1).
//   - "Expired ceremonies do not accumulate": it depends on how the store
//     expires entries (native TTL, janitor or cleanup method), so the store
//     must test it itself, as memstore does.
//
// The helpers RandomBytes, RandomHandle, RandomName, RandomEmail, RandomUser,
// RandomCredential, RandomCeremonyID, AssertUserEqual and
// AssertCredentialEqual are exported for stores that want to write further
// tests in the same style.
package storetest
