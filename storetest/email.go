package storetest

import (
	"bytes"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Email on the account (issue 14): User.Email is unique among the users
// that have one and compared byte for byte (the library normalises it
// before it reaches a store); EmailVerifiedAt is a time like the others.

// RandomEmail returns a random, normalised address such as
// "user-3f9a0c4e5b6d7a8f@example.com".
func RandomEmail() string { return "user-" + hex.EncodeToString(RandomBytes(8)) + "@example.com" }

// userWithEmail returns a random user with a random address verified at a
// random time.
func userWithEmail() user {
	u := RandomUser()
	u.Email = RandomEmail()
	u.EmailVerifiedAt = randomTime()
	return u
}

// createUserWithEmail stores userWithEmail with a first credential.
func createUserWithEmail(t *testing.T, s credStore) (user, cred) {
	t.Helper()
	u := userWithEmail()
	c := RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, &c), "CreateUser with an email")
	return u, c
}

// requireEmailOf checks that GetUserByEmail(email) returns want.
func requireEmailOf(t *testing.T, s credStore, email string, want user) {
	t.Helper()
	got, err := s.GetUserByEmail(t.Context(), email)
	require.NoError(t, err, "GetUserByEmail(%q)", email)
	AssertUserEqual(t, want, got, "GetUserByEmail(%q)", email)
}

// requireNoEmail checks that GetUserByEmail(email) finds nobody.
func requireNoEmail(t *testing.T, s credStore, email string, msgAndArgs ...any) {
	t.Helper()
	_, err := s.GetUserByEmail(t.Context(), email)
	require.ErrorIs(t, err, errNotFound, msgAndArgs...)
}

// ---- CreateUser ----

// testEmailCreateStores: Email and EmailVerifiedAt round-trip (an address
// of 254 characters too), the time in UTC to the microsecond.
func testEmailCreateStores(t *testing.T, s credStore) {
	u, c := createUserWithEmail(t, s)
	requireUser(t, s, u)
	requireEmailOf(t, s, u.Email, u)
	requireCredential(t, s, c)

	long := RandomUser()
	local := "long-" + hex.EncodeToString(RandomBytes(8))
	long.Email = local + strings.Repeat("a", 254-len(local)-len("@example.com")) + "@example.com"
	require.Len(t, long.Email, 254)
	long.EmailVerifiedAt = randomTime()
	require.NoError(t, s.CreateUser(t.Context(), long, nil), "CreateUser with an email of 254 characters")
	requireUser(t, s, long)
	requireEmailOf(t, s, long.Email, long)
}

func testEmailCreateUnverified(t *testing.T, s credStore) {
	u := userWithEmail()
	u.EmailVerifiedAt = time.Time{}
	require.NoError(t, s.CreateUser(t.Context(), u, nil))
	requireUser(t, s, u)
	got := requireEmailLookup(t, s, u.Email)
	require.True(t, got.EmailVerifiedAt.IsZero(), "a zero EmailVerifiedAt comes back zero, got %v", got.EmailVerifiedAt)
}

func requireEmailLookup(t *testing.T, s credStore, email string) user {
	t.Helper()
	got, err := s.GetUserByEmail(t.Context(), email)
	require.NoError(t, err, "GetUserByEmail(%q)", email)
	return got
}

func testEmailCreateDuplicate(t *testing.T, s credStore) {
	u1, c1 := createUserWithEmail(t, s)
	u2 := userWithEmail()
	u2.Email = u1.Email
	c2 := RandomCredential(u2.Handle)
	err := s.CreateUser(t.Context(), u2, &c2)
	require.ErrorIs(t, err, errUserExists, "CreateUser with an email in use")
	require.ErrorIs(t, err, errDuplicate)
	require.NotErrorIs(t, err, errCredentialExists)

	requireNoUser(t, s, u2)
	requireNoCredential(t, s, c2.ID)
	requireUser(t, s, u1)
	requireEmailOf(t, s, u1.Email, u1)
	requireCredential(t, s, c1)
}

// testEmailEmptyNeverCollides: users without an address are not one user
// with the address "" (a UNIQUE column holding "" instead of NULL fails).
func testEmailEmptyNeverCollides(t *testing.T, s credStore) {
	var users []user
	for range 3 {
		u := RandomUser() // no email
		require.NoError(t, s.CreateUser(t.Context(), u, nil), "CreateUser of a second user without an email")
		users = append(users, u)
	}
	// An address set and removed again leaves "" behind as well.
	u, _ := createUserWithEmail(t, s)
	require.NoError(t, s.SetEmail(t.Context(), u.Handle, "", time.Time{}))
	u.Email, u.EmailVerifiedAt = "", time.Time{}
	users = append(users, u)
	for _, x := range users[:2] {
		require.NoError(t, s.SetEmail(t.Context(), x.Handle, "", time.Time{}), "SetEmail(\"\") of two users")
	}
	for _, x := range users {
		requireUser(t, s, x)
	}
	requireNoEmail(t, s, "", "GetUserByEmail(\"\") with users without an email stored")
}

// testEmailByteForByte: addresses differing in case, a trailing space or by
// a LIKE wildcard are different addresses to the store.
func testEmailByteForByte(t *testing.T, s credStore) {
	u, _ := createUserWithEmail(t, s)
	requireNoEmail(t, s, strings.ToUpper(u.Email), "GetUserByEmail in upper case")
	requireNoEmail(t, s, u.Email+" ", "GetUserByEmail with a trailing space")
	requireNoEmail(t, s, u.Email[:len(u.Email)-3]+"%", "GetUserByEmail with a LIKE wildcard")
	other := userWithEmail()
	other.Email = strings.ToUpper(u.Email)
	require.NoError(t, s.CreateUser(t.Context(), other, nil), "CreateUser with the upper-case spelling of an address in use")
	requireEmailOf(t, s, u.Email, u)
	requireEmailOf(t, s, other.Email, other)
}

// ---- GetUserByEmail ----

func testGetUserByEmailNotFound(t *testing.T, s credStore) {
	createUserWithEmail(t, s)
	requireNoEmail(t, s, RandomEmail())
}

func testGetUserByEmailEmpty(t *testing.T, s credStore) {
	require.NoError(t, s.CreateUser(t.Context(), RandomUser(), nil))
	requireNoEmail(t, s, "", "GetUserByEmail(\"\")")
}

// ---- SetEmail ----

func testSetEmailSets(t *testing.T, s credStore) {
	u, c := createUser(t, s)
	u.Email, u.EmailVerifiedAt = RandomEmail(), randomTime()
	require.NoError(t, s.SetEmail(t.Context(), u.Handle, u.Email, u.EmailVerifiedAt))
	requireUser(t, s, u) // Name, DisplayName, CreatedAt, SessionEpoch unchanged
	requireEmailOf(t, s, u.Email, u)
	requireList(t, s, u.Handle, c)
}

func testSetEmailChanges(t *testing.T, s credStore) {
	u, _ := createUserWithEmail(t, s)
	old := u.Email
	u.Email, u.EmailVerifiedAt = RandomEmail(), time.Time{}
	require.NoError(t, s.SetEmail(t.Context(), u.Handle, u.Email, u.EmailVerifiedAt))
	requireUser(t, s, u)
	requireEmailOf(t, s, u.Email, u)
	requireNoEmail(t, s, old, "GetUserByEmail of the old address")

	// The old address is free for another user, by CreateUser and SetEmail.
	other := RandomUser()
	other.Email = old
	require.NoError(t, s.CreateUser(t.Context(), other, nil), "CreateUser with an address given up")
	requireEmailOf(t, s, old, other)
	third, _ := createUser(t, s)
	third.Email = u.Email
	require.ErrorIs(t, s.SetEmail(t.Context(), third.Handle, third.Email, time.Time{}), errUserExists)
	require.NoError(t, s.SetEmail(t.Context(), u.Handle, RandomEmail(), time.Time{}))
	require.NoError(t, s.SetEmail(t.Context(), third.Handle, third.Email, time.Time{}), "SetEmail with an address given up")
	requireEmailOf(t, s, third.Email, third)
}

func testSetEmailRemoves(t *testing.T, s credStore) {
	u, _ := createUserWithEmail(t, s)
	old := u.Email
	require.NoError(t, s.SetEmail(t.Context(), u.Handle, "", time.Time{}))
	u.Email, u.EmailVerifiedAt = "", time.Time{}
	requireUser(t, s, u)
	requireNoEmail(t, s, old, "GetUserByEmail of a removed address")
	requireNoEmail(t, s, "", "GetUserByEmail(\"\") after a removal")
}

func testSetEmailVerification(t *testing.T, s credStore) {
	u := userWithEmail()
	u.EmailVerifiedAt = time.Time{}
	require.NoError(t, s.CreateUser(t.Context(), u, nil))
	// Verified: the same address, now with a time.
	u.EmailVerifiedAt = randomTime()
	require.NoError(t, s.SetEmail(t.Context(), u.Handle, u.Email, u.EmailVerifiedAt), "SetEmail of the user's own address")
	requireUser(t, s, u)
	requireEmailOf(t, s, u.Email, u)
	// Unverified again.
	u.EmailVerifiedAt = time.Time{}
	require.NoError(t, s.SetEmail(t.Context(), u.Handle, u.Email, time.Time{}))
	requireUser(t, s, u)
	requireEmailOf(t, s, u.Email, u)
}

func testSetEmailOfAnother(t *testing.T, s credStore) {
	u1, _ := createUserWithEmail(t, s)
	u2, _ := createUserWithEmail(t, s)
	err := s.SetEmail(t.Context(), u2.Handle, u1.Email, randomTime())
	require.ErrorIs(t, err, errUserExists, "SetEmail with another user's address")
	require.ErrorIs(t, err, errDuplicate)
	requireUser(t, s, u1)
	requireUser(t, s, u2) // its address and verified time unchanged
	requireEmailOf(t, s, u1.Email, u1)
	requireEmailOf(t, s, u2.Email, u2)
}

func testSetEmailNotFound(t *testing.T, s credStore) {
	email := RandomEmail()
	require.ErrorIs(t, s.SetEmail(t.Context(), RandomHandle(), email, time.Now()), errNotFound)
	requireNoEmail(t, s, email, "the address of a refused SetEmail")
}

// testSetEmailConcurrentSameAddress sets one free address on two users at
// once, 10 times: exactly one wins, and the address maps to it.
func testSetEmailConcurrentSameAddress(t *testing.T, s credStore) {
	const trials = 10
	for range trials {
		var users [2]user
		for i := range users {
			users[i], _ = createUserWithEmail(t, s)
		}
		email := RandomEmail()
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range users {
			wg.Go(func() {
				<-start
				errs[i] = s.SetEmail(t.Context(), users[i].Handle, email, time.Time{})
			})
		}
		close(start)
		wg.Wait()

		switch {
		case errs[0] == nil && errs[1] == nil:
			require.Fail(t, "two concurrent SetEmail calls with the same address both succeeded")
		case errs[0] != nil && errs[1] != nil:
			require.Fail(t, "no concurrent SetEmail succeeded", "errors: %v; %v", errs[0], errs[1])
		}
		winner := 0
		if errs[0] != nil {
			winner = 1
		}
		loser := 1 - winner
		require.ErrorIs(t, errs[loser], errUserExists, "losing concurrent SetEmail")
		got, err := s.GetUserByEmail(t.Context(), email)
		require.NoError(t, err)
		require.True(t, bytes.Equal(users[winner].Handle, got.Handle), "the address maps to the SetEmail that succeeded")
		users[winner].Email, users[winner].EmailVerifiedAt = email, time.Time{}
		requireUser(t, s, users[winner])
		requireUser(t, s, users[loser]) // unchanged
		requireEmailOf(t, s, users[loser].Email, users[loser])
	}
}

// ---- error texts ----

// testErrorTextsEmail: refusals about an address do not echo it (it is
// personal data, and a driver's duplicate-key message quotes it).
func testErrorTextsEmail(t *testing.T, s credStore) {
	ctx := t.Context()
	u, _ := createUserWithEmail(t, s)
	other, _ := createUserWithEmail(t, s)
	values := userValues(u)
	values["email"] = []byte(u.Email)
	values["random part of email"] = []byte(u.Email[len("user-") : len("user-")+16])
	values["other user handle"] = other.Handle
	ghost := RandomEmail()
	values["unknown email"] = []byte(ghost)

	dup := userWithEmail()
	dup.Email = u.Email
	err := s.CreateUser(ctx, dup, nil)
	require.ErrorIs(t, err, errUserExists, "CreateUser with an email in use")
	assertNoValues(t, "CreateUser with an email in use", err, values)

	err = s.SetEmail(ctx, other.Handle, u.Email, time.Time{})
	require.ErrorIs(t, err, errUserExists, "SetEmail with an email in use")
	assertNoValues(t, "SetEmail with an email in use", err, values)

	_, err = s.GetUserByEmail(ctx, ghost)
	assertNoValues(t, "GetUserByEmail of an unknown address", err, values)
	err = s.SetEmail(ctx, RandomHandle(), ghost, time.Time{})
	assertNoValues(t, "SetEmail of an unknown user", err, values)
}
