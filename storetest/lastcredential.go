package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// The last-passkey guard: DeleteCredential with allowLast false deletes only
// if the user keeps at least one other credential, checked and deleted as
// one atomic step, else it returns webauthnkit.ErrLastCredential.

var errLastCredential = webauthnkit.ErrLastCredential

func testDeleteRefusesLast(t *testing.T, s credStore) {
	// Other users with several credentials: a store that counts the wrong
	// user's credentials (or all of them) lets the delete through.
	for range 2 {
		o, _ := createUser(t, s)
		addCredential(t, s, o)
		addCredential(t, s, o)
	}
	u, c := createUser(t, s)
	err := s.DeleteCredential(t.Context(), u.Handle, c.ID, false)
	require.ErrorIs(t, err, errLastCredential, "DeleteCredential(allowLast=false) of the user's only credential")
	require.NotErrorIs(t, err, errNotFound, "the refusal is not ErrNotFound")
	requireCredential(t, s, c)
	requireList(t, s, u.Handle, c)
	requireUser(t, s, u)
}

// testDeleteNotFoundBeforeLast: a credential that does not exist, or is
// another user's, gives ErrNotFound whatever allowLast says, even when the
// user has a single credential.
func testDeleteNotFoundBeforeLast(t *testing.T, s credStore) {
	u, c := createUser(t, s)
	other, oc := createUser(t, s)
	for _, id := range [][]byte{RandomBytes(32), oc.ID} {
		err := s.DeleteCredential(t.Context(), u.Handle, id, false)
		require.ErrorIs(t, err, errNotFound, "DeleteCredential(allowLast=false) of a credential the user does not own")
		require.NotErrorIs(t, err, errLastCredential)
	}
	requireList(t, s, u.Handle, c)
	requireList(t, s, other.Handle, oc)
}

func testDeleteWhenAnotherRemains(t *testing.T, s credStore) {
	u, c1 := createUser(t, s)
	c2 := RandomCredential(u.Handle)
	c2.CreatedAt = c1.CreatedAt.Add(time.Second)
	require.NoError(t, s.AddCredential(t.Context(), c2))

	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c1.ID, false), "DeleteCredential(allowLast=false) with another credential left")
	requireNoCredential(t, s, c1.ID)
	requireList(t, s, u.Handle, c2)
	// Now c2 is the last one.
	require.ErrorIs(t, s.DeleteCredential(t.Context(), u.Handle, c2.ID, false), errLastCredential,
		"DeleteCredential(allowLast=false) of what has become the only credential")
	requireList(t, s, u.Handle, c2)
	// A credential added afterwards makes c2 deletable again.
	c3 := RandomCredential(u.Handle)
	c3.CreatedAt = c2.CreatedAt.Add(time.Second)
	require.NoError(t, s.AddCredential(t.Context(), c3))
	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c2.ID, false))
	requireList(t, s, u.Handle, c3)
}

func testDeleteAllowLast(t *testing.T, s credStore) {
	u, c := createUser(t, s)
	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c.ID, true), "DeleteCredential(allowLast=true) of the only credential")
	requireNoCredential(t, s, c.ID)
	requireList(t, s, u.Handle)
	requireUser(t, s, u) // the user stays, without credentials
}

// testDeleteConcurrentLastTwo: of two concurrent deletes of a user's last
// two credentials with allowLast false, exactly one succeeds, in every
// trial. A check followed by a delete (count, then DELETE) lets both
// through.
func testDeleteConcurrentLastTwo(t *testing.T, s credStore) {
	const trials = 20
	for trial := range trials {
		u, c1 := createUser(t, s)
		c2 := addCredential(t, s, u)
		ok, last, others := deleteConcurrently(t, s, u, []cred{c1, c2})
		require.Empty(t, others, "trial %d: unexpected errors", trial)
		require.Equal(t, 1, ok, "trial %d: two concurrent DeleteCredential(allowLast=false) of a user's last two credentials: want exactly one to succeed", trial)
		require.Equal(t, 1, last, "trial %d: the other must get ErrLastCredential", trial)
		requireOneLeft(t, s, u, trial)
	}
}

// testDeleteConcurrentN: n concurrent deletes of a user's n credentials
// with allowLast false: n-1 succeed and one credential is left.
func testDeleteConcurrentN(t *testing.T, s credStore) {
	const (
		trials = 5
		n      = 8
	)
	for trial := range trials {
		u, c1 := createUser(t, s)
		cs := []cred{c1}
		for range n - 1 {
			cs = append(cs, addCredential(t, s, u))
		}
		ok, last, others := deleteConcurrently(t, s, u, cs)
		require.Empty(t, others, "trial %d: unexpected errors", trial)
		require.Equal(t, n-1, ok, "trial %d: %d concurrent DeleteCredential(allowLast=false) of a user's %d credentials: want %d to succeed", trial, n, n, n-1)
		require.Equal(t, 1, last, "trial %d: one must get ErrLastCredential", trial)
		requireOneLeft(t, s, u, trial)
	}
}

// deleteConcurrently deletes each of cs (u's) with allowLast false, all
// released at once, and counts the outcomes.
func deleteConcurrently(t *testing.T, s credStore, u user, cs []cred) (ok, last int, others []error) {
	t.Helper()
	const timeout = 30 * time.Second
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	ctx := t.Context()
	start := make(chan struct{})
	for _, c := range cs {
		wg.Go(func() {
			<-start
			err := s.DeleteCredential(ctx, u.Handle, c.ID, false)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, errLastCredential):
				last++
			default:
				others = append(others, err)
			}
		})
	}
	close(start)
	if !waitTimeout(&wg, timeout) {
		t.Fatalf("%d concurrent DeleteCredential calls did not return within %v", len(cs), timeout)
	}
	return ok, last, others
}

// requireOneLeft checks that u has exactly one credential, readable.
func requireOneLeft(t *testing.T, s credStore, u user, trial int) {
	t.Helper()
	list, err := s.ListCredentials(t.Context(), u.Handle)
	require.NoError(t, err, "ListCredentials")
	require.Len(t, list, 1, "trial %d: the user must keep exactly one credential", trial)
	requireCredential(t, s, list[0])
}
