package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
