package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Session epochs: EndSessions increments User.SessionEpoch as one atomic
// step and returns the new value; CreateUser stores the value given; every
// read of the user returns the current one.

// bigEpoch is above 2^32, so that a 32-bit column or a float loses it, and
// below 2^53, so that stores keeping numbers as JSON doubles are not
// failed for a range no session counter reaches.
const bigEpoch = 1<<40 + 12345

// requireEpoch checks that every read of u (by handle, by name, and with
// each of the given credentials when the store declares
// CredentialWithUser) returns the epoch want.
func requireEpoch(t *testing.T, s credStore, u user, want uint64, creds ...cred) {
	t.Helper()
	got, err := s.GetUserByHandle(t.Context(), u.Handle)
	require.NoError(t, err, "GetUserByHandle")
	require.Equal(t, want, got.SessionEpoch, "GetUserByHandle: SessionEpoch")
	got, err = s.GetUserByName(t.Context(), u.Name)
	require.NoError(t, err, "GetUserByName")
	require.Equal(t, want, got.SessionEpoch, "GetUserByName: SessionEpoch")
	if !s.Features().CredentialWithUser {
		return
	}
	g := credentialUserGetter(t, s)
	for _, c := range creds {
		_, got, err := g.GetCredentialWithUser(t.Context(), c.ID)
		require.NoError(t, err, "GetCredentialWithUser")
		require.Equal(t, want, got.SessionEpoch, "GetCredentialWithUser: SessionEpoch")
	}
}

func testEndSessionsStartsAtCreated(t *testing.T, s credStore) {
	u, c := createUser(t, s) // SessionEpoch 0
	requireEpoch(t, s, u, 0, c)

	v := RandomUser()
	v.SessionEpoch = bigEpoch
	vc := RandomCredential(v.Handle)
	require.NoError(t, s.CreateUser(t.Context(), v, &vc), "CreateUser with SessionEpoch %d", uint64(bigEpoch))
	requireEpoch(t, s, v, bigEpoch, vc)
	requireUser(t, s, v)
}

func testEndSessionsIncrements(t *testing.T, s credStore) {
	u, c1 := createUser(t, s)
	c2 := addCredential(t, s, u)
	v := RandomUser()
	v.SessionEpoch = bigEpoch
	vc := RandomCredential(v.Handle)
	require.NoError(t, s.CreateUser(t.Context(), v, &vc))
	bystander, bc := createUser(t, s)

	for i := uint64(1); i <= 3; i++ {
		got, err := s.EndSessions(t.Context(), u.Handle)
		require.NoError(t, err, "EndSessions")
		require.Equal(t, i, got, "EndSessions returns the new epoch")
		requireEpoch(t, s, u, i, c1, c2)
	}
	got, err := s.EndSessions(t.Context(), v.Handle)
	require.NoError(t, err, "EndSessions")
	require.Equal(t, uint64(bigEpoch+1), got, "EndSessions after CreateUser with SessionEpoch %d", uint64(bigEpoch))
	requireEpoch(t, s, v, bigEpoch+1, vc)

	// Other users are untouched, and so is everything else about the user.
	requireEpoch(t, s, bystander, 0, bc)
	u.SessionEpoch = 3
	requireUser(t, s, u)
	requireList(t, s, u.Handle, sortedByCreation(c1, c2)...)

	// Credential changes leave the epoch alone (the library ends sessions
	// itself when a passkey is removed).
	c3 := addCredential(t, s, u)
	require.NoError(t, s.DeleteCredential(t.Context(), u.Handle, c1.ID, false))
	requireEpoch(t, s, u, 3, c2, c3)
}

func testEndSessionsNotFound(t *testing.T, s credStore) {
	_, err := s.EndSessions(t.Context(), RandomHandle())
	require.ErrorIs(t, err, errNotFound, "EndSessions of an unknown user")

	// A deleted user is unknown; one created again under the same handle
	// starts from the epoch it is given, not from the old one.
	u, c := createUser(t, s)
	_, err = s.EndSessions(t.Context(), u.Handle)
	require.NoError(t, err)
	require.NoError(t, s.DeleteUser(t.Context(), u.Handle))
	_, err = s.EndSessions(t.Context(), u.Handle)
	require.ErrorIs(t, err, errNotFound, "EndSessions of a deleted user")
	c.ID = RandomBytes(32)
	require.NoError(t, s.CreateUser(t.Context(), u, &c), "CreateUser again with the handle of a deleted user")
	requireEpoch(t, s, u, 0, c)
}

// testEndSessionsConcurrent: k concurrent EndSessions get k distinct
// values, start+1 to start+k, and the final epoch is start+k. A read
// followed by a write loses increments.
func testEndSessionsConcurrent(t *testing.T, s credStore) {
	const (
		trials  = 5
		k       = 16
		timeout = 30 * time.Second
	)
	for trial := range trials {
		u := RandomUser()
		u.SessionEpoch = uint64(trial) * 1000
		c := RandomCredential(u.Handle)
		require.NoError(t, s.CreateUser(t.Context(), u, &c))
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			epochs []uint64
			errs   []error
		)
		ctx := t.Context()
		start := make(chan struct{})
		for range k {
			wg.Go(func() {
				<-start
				e, err := s.EndSessions(ctx, u.Handle)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				epochs = append(epochs, e)
			})
		}
		close(start)
		if !waitTimeout(&wg, timeout) {
			t.Fatalf("trial %d: %d concurrent EndSessions calls did not return within %v", trial, k, timeout)
		}
		require.Empty(t, errs, "trial %d: EndSessions errors", trial)
		slices.Sort(epochs)
		want := make([]uint64, k)
		for i := range want {
			want[i] = u.SessionEpoch + uint64(i) + 1
		}
		assert.Equal(t, want, epochs, "trial %d: %d concurrent EndSessions must return %d distinct values, each one more than the last (none lost)", trial, k, k)
		requireEpoch(t, s, u, u.SessionEpoch+k, c)
	}
}
