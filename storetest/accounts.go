package storetest

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// Clauses for the accounts an application already has (issue 13): users
// without credentials, application-chosen handles, long names, UpdateUser
// and second-factor-only credentials.

// maxHandleLength and maxNameLength are the contract's bounds (User.Handle
// and User.Name in package webauthnkit).
const (
	maxHandleLength = 64
	maxNameLength   = 254
)

// ---- CreateUser without a credential ----

func testCreateUserWithoutCredential(t *testing.T, s credStore) {
	u := RandomUser()
	require.NoError(t, s.CreateUser(t.Context(), u, nil), "CreateUser with no first credential")
	requireUser(t, s, u)
	requireList(t, s, u.Handle)

	// The name and handle are taken like any user's.
	dup := RandomUser()
	dup.Name = u.Name
	require.ErrorIs(t, s.CreateUser(t.Context(), dup, nil), errUserExists, "CreateUser without credential, name in use")
	dup = RandomUser()
	dup.Handle = bytes.Clone(u.Handle)
	require.ErrorIs(t, s.CreateUser(t.Context(), dup, nil), errUserExists, "CreateUser without credential, handle in use")
	requireUser(t, s, u)

	// The first passkey comes later.
	c := addCredential(t, s, u)
	requireCredential(t, s, c)
	requireList(t, s, u.Handle, c)
}

// ---- handles chosen by the application ----

func testCreateUserAppChosenHandles(t *testing.T, s credStore) {
	// A 1-byte handle has only 256 values and the suite may share its
	// database with earlier runs and other processes: take a free one and
	// give it back at the end.
	var short user
	for attempt := 0; ; attempt++ {
		short = RandomUser()
		short.Handle = RandomBytes(1)
		err := s.CreateUser(t.Context(), short, nil)
		if err == nil {
			break
		}
		require.ErrorIs(t, err, errUserExists, "CreateUser with a 1-byte handle")
		require.Less(t, attempt, 32, "no free 1-byte handle found")
	}
	t.Cleanup(func() { _ = s.DeleteUser(t.Context(), short.Handle) })
	requireUser(t, s, short)
	sc := addCredential(t, s, short)
	requireCredential(t, s, sc)
	requireList(t, s, short.Handle, sc)

	long := RandomUser()
	long.Handle = RandomBytes(maxHandleLength)
	lc := RandomCredential(long.Handle)
	require.NoError(t, s.CreateUser(t.Context(), long, &lc), "CreateUser with a %d-byte handle", maxHandleLength)
	requireUser(t, s, long)
	requireCredential(t, s, lc)
	requireList(t, s, long.Handle, lc)

	// A handle is a byte string, not a prefix or a padded column: the
	// 32-byte prefix of the long handle names nobody.
	_, err := s.GetUserByHandle(t.Context(), long.Handle[:32])
	require.ErrorIs(t, err, errNotFound, "GetUserByHandle of a prefix of a stored handle")
	require.NoError(t, s.DeleteUser(t.Context(), short.Handle))
	requireNoUser(t, s, short)
	requireNoCredential(t, s, sc.ID)
}

// ---- names up to 254 characters ----

// longName returns a random name of n characters, each of four bytes in
// UTF-8 (CJK Extension B), so that a store measuring bytes, or UTF-16 units,
// or keeping three-byte UTF-8 only (MySQL utf8mb3), fails.
func longName(n int) string {
	var b strings.Builder
	raw := RandomBytes(2 * n)
	for i := range n {
		r := rune(0x20000 + (int(raw[2*i])<<8|int(raw[2*i+1]))%0xA6D0)
		b.WriteRune(r)
	}
	return b.String()
}

func testCreateUserLongName(t *testing.T, s credStore) {
	u := RandomUser()
	u.Name = longName(maxNameLength)
	u.DisplayName = longName(64)
	require.Equal(t, maxNameLength, utf8.RuneCountInString(u.Name))
	require.Len(t, u.Name, 4*maxNameLength)
	c := RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, &c), "CreateUser with a name of %d four-byte characters", maxNameLength)
	requireUser(t, s, u)

	// The name differs from another one in its last character only.
	other := RandomUser()
	last, size := utf8.DecodeLastRuneInString(u.Name)
	other.Name = u.Name[:len(u.Name)-size] + string(last+1)
	require.NoError(t, s.CreateUser(t.Context(), other, nil), "CreateUser with a long name differing in its last character")
	requireUser(t, s, u)
	requireUser(t, s, other)

	// UpdateUser takes long names too.
	renamed := longName(maxNameLength)
	require.NoError(t, s.UpdateUser(t.Context(), u.Handle, renamed, u.DisplayName), "UpdateUser to a name of %d four-byte characters", maxNameLength)
	u.Name = renamed
	requireUser(t, s, u)
}

// ---- UpdateUser ----

func testUpdateUserRenames(t *testing.T, s credStore) {
	u, c := createUser(t, s)
	c2 := addCredential(t, s, u)
	epoch, err := s.EndSessions(t.Context(), u.Handle)
	require.NoError(t, err, "EndSessions")
	u.SessionEpoch = epoch
	oldName := u.Name

	newName := RandomName()
	require.NoError(t, s.UpdateUser(t.Context(), u.Handle, newName, "New Display"))
	u.Name, u.DisplayName = newName, "New Display"
	// Handle, CreatedAt and SessionEpoch unchanged; credentials kept.
	requireUser(t, s, u)
	requireList(t, s, u.Handle, sortedByCreation(c, c2)...)
	_, err = s.GetUserByName(t.Context(), oldName)
	require.ErrorIs(t, err, errNotFound, "GetUserByName of the old name after UpdateUser")
	got, err := s.EndSessions(t.Context(), u.Handle)
	require.NoError(t, err, "EndSessions after UpdateUser")
	require.Equal(t, epoch+1, got, "EndSessions after UpdateUser continues from the epoch before it")
}

func testUpdateUserOldNameFree(t *testing.T, s credStore) {
	u, _ := createUser(t, s)
	oldName := u.Name
	require.NoError(t, s.UpdateUser(t.Context(), u.Handle, RandomName(), u.DisplayName))

	other := RandomUser()
	other.Name = oldName
	require.NoError(t, s.CreateUser(t.Context(), other, nil), "CreateUser with a name given up by UpdateUser")
	requireUser(t, s, other)

	// And renaming to a name given up by another rename works too.
	third, _ := createUser(t, s)
	freed := other.Name
	require.NoError(t, s.UpdateUser(t.Context(), other.Handle, RandomName(), other.DisplayName))
	require.NoError(t, s.UpdateUser(t.Context(), third.Handle, freed, third.DisplayName), "UpdateUser to a name just given up")
	third.Name = freed
	requireUser(t, s, third)
}

func testUpdateUserNameOfAnother(t *testing.T, s credStore) {
	u1, c1 := createUser(t, s)
	u2, c2 := createUser(t, s)
	err := s.UpdateUser(t.Context(), u2.Handle, u1.Name, "Changed")
	require.ErrorIs(t, err, errUserExists, "UpdateUser to another user's name")
	require.ErrorIs(t, err, errDuplicate)
	// Nothing changed, the display name included.
	requireUser(t, s, u1)
	requireUser(t, s, u2)
	requireList(t, s, u1.Handle, c1)
	requireList(t, s, u2.Handle, c2)
}

func testUpdateUserOwnName(t *testing.T, s credStore) {
	u, _ := createUser(t, s)
	require.NoError(t, s.UpdateUser(t.Context(), u.Handle, u.Name, "Only The Display Name"), "UpdateUser keeping the user's own name")
	u.DisplayName = "Only The Display Name"
	requireUser(t, s, u)
	require.NoError(t, s.UpdateUser(t.Context(), u.Handle, u.Name, u.DisplayName), "UpdateUser changing nothing")
	requireUser(t, s, u)
}

func testUpdateUserNotFound(t *testing.T, s credStore) {
	name := RandomName()
	require.ErrorIs(t, s.UpdateUser(t.Context(), RandomHandle(), name, "x"), errNotFound)
	_, err := s.GetUserByName(t.Context(), name)
	require.ErrorIs(t, err, errNotFound, "UpdateUser of an unknown user must store nothing")

	u, _ := createUser(t, s)
	require.NoError(t, s.DeleteUser(t.Context(), u.Handle))
	require.ErrorIs(t, s.UpdateUser(t.Context(), u.Handle, name, "x"), errNotFound, "UpdateUser of a deleted user")
	requireNoUser(t, s, u)
}

// testUpdateUserConcurrentSameName renames two users to the same free name
// at once, 10 times: exactly one rename wins each time.
func testUpdateUserConcurrentSameName(t *testing.T, s credStore) {
	const trials = 10
	for range trials {
		users := [2]user{}
		for i := range users {
			users[i], _ = createUser(t, s)
		}
		name := RandomName()
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range users {
			wg.Go(func() {
				<-start
				errs[i] = s.UpdateUser(t.Context(), users[i].Handle, name, "Renamed")
			})
		}
		close(start)
		wg.Wait()

		switch {
		case errs[0] == nil && errs[1] == nil:
			require.Fail(t, "two concurrent renames to the same name both succeeded")
		case errs[0] != nil && errs[1] != nil:
			require.Fail(t, "no concurrent rename succeeded", "errors: %v; %v", errs[0], errs[1])
		}
		winner := 0
		if errs[0] != nil {
			winner = 1
		}
		loser := 1 - winner
		require.ErrorIs(t, errs[loser], errUserExists, "losing concurrent rename")
		got, err := s.GetUserByName(t.Context(), name)
		require.NoError(t, err)
		require.Equal(t, users[winner].Handle, got.Handle, "the name maps to the rename that succeeded")
		users[winner].Name, users[winner].DisplayName = name, "Renamed"
		requireUser(t, s, users[winner])
		requireUser(t, s, users[loser]) // unchanged
	}
}

// ---- second-factor-only credentials ----

func testSecondFactorOnlyRoundtrip(t *testing.T, s credStore) {
	u := RandomUser()
	first := RandomCredential(u.Handle)
	first.SecondFactorOnly = true
	require.NoError(t, s.CreateUser(t.Context(), u, &first))
	plain := RandomCredential(u.Handle)
	plain.SecondFactorOnly = false
	require.NoError(t, s.AddCredential(t.Context(), plain))
	second := RandomCredential(u.Handle)
	second.SecondFactorOnly = true
	require.NoError(t, s.AddCredential(t.Context(), second))

	for _, c := range []cred{first, plain, second} {
		requireCredential(t, s, c)
	}
	requireList(t, s, u.Handle, sortedByCreation(first, plain, second)...)
	if s.Features().CredentialWithUser {
		g := credentialUserGetter(t, s)
		got, _, err := g.GetCredentialWithUser(t.Context(), second.ID)
		require.NoError(t, err)
		assert.True(t, got.SecondFactorOnly, "GetCredentialWithUser: SecondFactorOnly")
	}

	// A login's write-back and a rename leave it alone.
	for _, c := range []*cred{&first, &plain} {
		use := useFor(*c)
		require.NoError(t, s.UpdateCredentialUse(t.Context(), c.ID, c.SignCount, use))
		*c = withUse(*c, use)
		require.NoError(t, s.RenameCredential(t.Context(), u.Handle, c.ID, "renamed"))
		c.Name = "renamed"
		requireCredential(t, s, *c)
	}
}

// useFor returns a plausible login write-back for c.
func useFor(c cred) webauthnkit.CredentialUse {
	return webauthnkit.CredentialUse{SignCount: c.SignCount + 1, BackupState: !c.BackupState, UserVerified: true, LastUsedAt: c.LastUsedAt.Add(time.Hour)}
}

// ---- error texts ----

func testErrorTextsUpdateUser(t *testing.T, s credStore) {
	u1, _ := createUser(t, s)
	u2, _ := createUser(t, s)
	values := userValues(u1)
	for k, v := range userValues(u2) {
		values["other "+k] = v
	}
	err := s.UpdateUser(t.Context(), u2.Handle, u1.Name, u2.DisplayName)
	require.ErrorIs(t, err, errUserExists, "UpdateUser to a name in use")
	assertNoValues(t, "UpdateUser to a name in use", err, values)

	unknown := RandomUser()
	err = s.UpdateUser(t.Context(), unknown.Handle, unknown.Name, unknown.DisplayName)
	require.True(t, errors.Is(err, errNotFound), "UpdateUser of an unknown user: %v", err)
	assertNoValues(t, "UpdateUser of an unknown user", err, userValues(unknown))
}
