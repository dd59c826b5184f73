package storetest

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// ---- CreateUser ----

func testCreateUserStores(t *testing.T, s credStore) {
	u := RandomUser()
	c := RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, &c))
	requireUser(t, s, u)
	requireCredential(t, s, c)
	requireList(t, s, u.Handle, c)
}

func testCreateUserDuplicateName(t *testing.T, s credStore) {
	u1, c1 := createUser(t, s)
	u2 := RandomUser()
	u2.Name = u1.Name
	c2 := RandomCredential(u2.Handle)
	err := s.CreateUser(t.Context(), u2, &c2)
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
	err := s.CreateUser(t.Context(), u2, &c2)
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
	err := s.CreateUser(t.Context(), u2, &c2)
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
	err := s.CreateUser(t.Context(), u2, &c2)
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
		require.NoError(t, s.CreateUser(t.Context(), users[i], &c), "CreateUser(%q) with %q already stored", name, names[0])
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
			errs[i] = s.CreateUser(t.Context(), users[i], &creds[i])
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
	require.NoError(t, s.CreateUser(t.Context(), u2, &n1), "CreateUser with the name and credential ID of a deleted user")
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
