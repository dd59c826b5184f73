package storetest

import (
	"bytes"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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

	require.NoError(t, s.CreateUser(t.Context(), u, &c1))
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
	require.NoError(t, s.CreateUser(t.Context(), u, &c))
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
	require.NoError(t, s.CreateUser(t.Context(), u2, &c3), "CreateUser")

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
	require.NoError(t, s.CreateUser(t.Context(), other, &oc))

	// Stored in a scrambled order; the first is not the oldest.
	require.NoError(t, s.CreateUser(t.Context(), u, &last))
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
