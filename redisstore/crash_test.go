package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// The crash tests stop multi-step writes between two steps, as a crash of
// the process would (no clean-up runs), then check that readers see a
// consistent state and that later writers repair or take over what was left.

var errCrash = errors.New("simulated crash")

const testLease = 300 * time.Millisecond

// crashStore returns a store with a short lease whose writes stop at step.
func crashStore(t *testing.T, c redis.UniversalClient, step string) *Store {
	s := testStore(t, c)
	s.lease = testLease
	s.failpoint = func(got string) error {
		if got == step {
			return errCrash
		}
		return nil
	}
	return s
}

func TestCrashRecovery(t *testing.T) {
	testCrashRecovery(t, testClient(t))
}

func testCrashRecovery(t *testing.T, c redis.UniversalClient) {
	// The stores that find and repair what a crash left use a longer lease
	// for their own writes: the crashed write's claims expire after its
	// short lease (testLease, kept in Redis), but a repairing write that
	// waits for them and then runs on a loaded machine must not run out
	// of its own lease (a flake seen under CI load on the Cluster).
	newStore := func(t *testing.T) *Store {
		s := testStore(t, c)
		s.lease = 10 * testLease
		return s
	}
	notFound := func(t *testing.T, s *Store, u webauthnkit.User, cr webauthnkit.Credential) {
		t.Helper()
		_, err := s.GetUserByHandle(t.Context(), u.Handle)
		assert.ErrorIs(t, err, webauthnkit.ErrNotFound, "GetUserByHandle")
		_, err = s.GetUserByName(t.Context(), u.Name)
		assert.ErrorIs(t, err, webauthnkit.ErrNotFound, "GetUserByName")
		_, err = s.GetCredential(t.Context(), cr.ID)
		assert.ErrorIs(t, err, webauthnkit.ErrNotFound, "GetCredential")
		list, err := s.ListCredentials(t.Context(), u.Handle)
		assert.NoError(t, err)
		assert.Empty(t, list, "ListCredentials")
	}

	for _, step := range []string{"CreateUser:begun", "CreateUser:claimedName", "CreateUser:claimedCredential"} {
		t.Run("CreateUser_stops_after_"+step[len("CreateUser:"):], func(t *testing.T) {
			ctx := t.Context()
			u := storetest.RandomUser()
			cr := storetest.RandomCredential(u.Handle)
			err := crashStore(t, c, step).CreateUser(ctx, u, &cr)
			require.ErrorIs(t, err, errCrash)
			s := newStore(t)
			notFound(t, s, u, cr) // nothing visible

			// Another user takes the same name and credential ID: the
			// claims are waited for while their lease lives, then taken
			// over.
			u2 := storetest.RandomUser()
			u2.Name = u.Name
			cr2 := storetest.RandomCredential(u2.Handle)
			cr2.ID = cr.ID
			start := time.Now()
			require.NoError(t, s.CreateUser(ctx, u2, &cr2))
			assert.Less(t, time.Since(start), testLease+time.Second, "waited longer than the lease")
			got, err := s.GetUserByName(ctx, u.Name)
			require.NoError(t, err)
			storetest.AssertUserEqual(t, u2, got)
			gc, err := s.GetCredential(ctx, cr.ID)
			require.NoError(t, err)
			storetest.AssertCredentialEqual(t, cr2, gc)
			_, err = s.GetUserByHandle(ctx, u.Handle)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound)
			// The crashed user's handle is usable again.
			u.Name = storetest.RandomName()
			require.NoError(t, s.CreateUser(ctx, u, new(storetest.RandomCredential(u.Handle))))
		})
	}

	t.Run("CreateUser_stops_after_commit", func(t *testing.T) {
		// The commit happened but the credential record was never marked
		// committed (and the caller saw an error, as when a reply is lost).
		ctx := t.Context()
		u := storetest.RandomUser()
		cr := storetest.RandomCredential(u.Handle)
		require.ErrorIs(t, crashStore(t, c, "CreateUser:committed").CreateUser(ctx, u, &cr), errCrash)
		s := newStore(t)
		state, err := c.HGet(ctx, s.credKey(cr.ID), fState).Result()
		require.NoError(t, err)
		require.Equal(t, statePending, state)

		// Creating the same name or credential again fails: they exist.
		u2 := storetest.RandomUser()
		u2.Name = u.Name
		require.ErrorIs(t, s.CreateUser(ctx, u2, new(storetest.RandomCredential(u2.Handle))), webauthnkit.ErrUserExists)
		u3 := storetest.RandomUser()
		cr3 := storetest.RandomCredential(u3.Handle)
		cr3.ID = cr.ID
		require.ErrorIs(t, s.CreateUser(ctx, u3, &cr3), webauthnkit.ErrCredentialExists)

		got, err := s.GetUserByName(ctx, u.Name)
		require.NoError(t, err)
		storetest.AssertUserEqual(t, u, got)
		gc, err := s.GetCredential(ctx, cr.ID)
		require.NoError(t, err)
		storetest.AssertCredentialEqual(t, cr, gc)
		state, err = c.HGet(ctx, s.credKey(cr.ID), fState).Result()
		require.NoError(t, err)
		require.Equal(t, stateCommitted, state, "GetCredential did not finish the commit")
	})

	t.Run("CreateUser_pending_record_usable_by_updates", func(t *testing.T) {
		ctx := t.Context()
		u := storetest.RandomUser()
		cr := storetest.RandomCredential(u.Handle)
		require.ErrorIs(t, crashStore(t, c, "CreateUser:committed").CreateUser(ctx, u, &cr), errCrash)
		s := newStore(t)
		use := webauthnkit.CredentialUse{SignCount: cr.SignCount + 1, LastUsedAt: time.Now()}
		require.NoError(t, s.UpdateCredentialUse(ctx, cr.ID, cr.SignCount, use))
		require.NoError(t, s.RenameCredential(ctx, u.Handle, cr.ID, "renamed"))
		list, err := s.ListCredentials(ctx, u.Handle)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "renamed", list[0].Name)
		require.Equal(t, use.SignCount, list[0].SignCount)
	})

	t.Run("AddCredential_stops_before_commit", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u := storetest.RandomUser()
		first := storetest.RandomCredential(u.Handle)
		require.NoError(t, s.CreateUser(ctx, u, &first))
		cr := storetest.RandomCredential(u.Handle)
		require.ErrorIs(t, crashStore(t, c, "AddCredential:claimedCredential").AddCredential(ctx, cr), errCrash)
		_, err := s.GetCredential(ctx, cr.ID)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound)
		list, err := s.ListCredentials(ctx, u.Handle)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.ErrorIs(t, s.UpdateCredentialUse(ctx, cr.ID, cr.SignCount, webauthnkit.CredentialUse{}), webauthnkit.ErrNotFound)
		require.ErrorIs(t, s.RenameCredential(ctx, u.Handle, cr.ID, "x"), webauthnkit.ErrNotFound)
		require.ErrorIs(t, s.DeleteCredential(ctx, u.Handle, cr.ID, true), webauthnkit.ErrNotFound)

		// Once the lease is over the ID is free again (here for another user).
		u2, _ := createTestUser(t, s)
		cr2 := storetest.RandomCredential(u2.Handle)
		cr2.ID = cr.ID
		require.NoError(t, s.AddCredential(ctx, cr2))
		gc, err := s.GetCredential(ctx, cr.ID)
		require.NoError(t, err)
		storetest.AssertCredentialEqual(t, cr2, gc)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		require.NoError(t, s.DeleteUser(ctx, u2.Handle))
	})

	t.Run("DeleteUser_stops_after_credentials", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u, cr := createTestUser(t, s)
		cr2 := storetest.RandomCredential(u.Handle)
		require.NoError(t, s.AddCredential(ctx, cr2))
		require.ErrorIs(t, crashStore(t, c, "DeleteUser:credentialsDeleted").DeleteUser(ctx, u.Handle), errCrash)
		// A user without credentials: a valid state.
		got, err := s.GetUserByName(ctx, u.Name)
		require.NoError(t, err)
		storetest.AssertUserEqual(t, u, got)
		for _, id := range [][]byte{cr.ID, cr2.ID} {
			_, err = s.GetCredential(ctx, id)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound)
		}
		list, err := s.ListCredentials(ctx, u.Handle)
		require.NoError(t, err)
		require.Empty(t, list)
		// Deleting again finishes the job.
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		notFound(t, s, u, cr)
		requireNoKeys(t, c, s.userKey(tag(u.Handle)), s.userCredsKey(tag(u.Handle)), s.nameKey(u.Name), s.credKey(cr.ID), s.credKey(cr2.ID))
	})

	t.Run("DeleteUser_stops_after_user", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u, cr := createTestUser(t, s)
		require.ErrorIs(t, crashStore(t, c, "DeleteUser:userDeleted").DeleteUser(ctx, u.Handle), errCrash)
		notFound(t, s, u, cr)
		n, err := c.Exists(ctx, s.nameKey(u.Name)).Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "the name claim should have been left behind")
		require.ErrorIs(t, s.DeleteUser(ctx, u.Handle), webauthnkit.ErrNotFound)
		// The stale claim is taken over at once (no lease to wait for).
		u2 := storetest.RandomUser()
		u2.Name = u.Name
		start := time.Now()
		require.NoError(t, s.CreateUser(ctx, u2, new(storetest.RandomCredential(u2.Handle))))
		assert.Less(t, time.Since(start), testLease/2)
		got, err := s.GetUserByName(ctx, u.Name)
		require.NoError(t, err)
		storetest.AssertUserEqual(t, u2, got)
	})

	t.Run("DeleteCredential_stops_after_mark", func(t *testing.T) {
		// The credential is marked but the removal never committed: it is
		// live, usable and counted by the last-passkey guard; once the
		// deletion's lease is over a reader removes the mark.
		ctx := t.Context()
		s := newStore(t)
		u, first := createTestUser(t, s)
		cr := storetest.RandomCredential(u.Handle)
		require.NoError(t, s.AddCredential(ctx, cr))
		require.ErrorIs(t, crashStore(t, c, "DeleteCredential:marked").DeleteCredential(ctx, u.Handle, cr.ID, false), errCrash)
		requireState(t, c, s, cr.ID, stateDeleting)

		// While the lease lives (the deletion might still commit).
		gc, err := s.GetCredential(ctx, cr.ID)
		require.NoError(t, err)
		storetest.AssertCredentialEqual(t, cr, gc)
		requireState(t, c, s, cr.ID, stateDeleting)
		use := webauthnkit.CredentialUse{SignCount: cr.SignCount + 1, LastUsedAt: time.Now()}
		require.NoError(t, s.UpdateCredentialUse(ctx, cr.ID, cr.SignCount, use))
		require.NoError(t, s.RenameCredential(ctx, u.Handle, cr.ID, "renamed"))
		list, err := s.ListCredentials(ctx, u.Handle)
		require.NoError(t, err)
		require.Len(t, list, 2)

		// After it: the next reader unmarks the record.
		time.Sleep(testLease + 50*time.Millisecond)
		gc, err = s.GetCredential(ctx, cr.ID)
		require.NoError(t, err)
		require.Equal(t, "renamed", gc.Name)
		require.Equal(t, use.SignCount, gc.SignCount)
		requireState(t, c, s, cr.ID, stateCommitted)

		// The guard counted it all along: deleting the other one works,
		// deleting it then is refused.
		require.NoError(t, s.DeleteCredential(ctx, u.Handle, first.ID, false))
		require.ErrorIs(t, s.DeleteCredential(ctx, u.Handle, cr.ID, false), webauthnkit.ErrLastCredential)
		requireState(t, c, s, cr.ID, stateCommitted) // the refused delete removed its mark
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
	})

	t.Run("DeleteCredential_stops_after_commit", func(t *testing.T) {
		// The index entry is gone, the marked record is left: the
		// credential is deleted for every reader and writer, and the
		// record is garbage that the first one removes.
		ctx := t.Context()
		s := newStore(t)
		u, first := createTestUser(t, s)
		cr := storetest.RandomCredential(u.Handle)
		require.NoError(t, s.AddCredential(ctx, cr))
		require.ErrorIs(t, crashStore(t, c, "DeleteCredential:committed").DeleteCredential(ctx, u.Handle, cr.ID, false), errCrash)
		requireState(t, c, s, cr.ID, stateDeleting)
		list, err := s.ListCredentials(ctx, u.Handle)
		require.NoError(t, err)
		require.Len(t, list, 1)
		storetest.AssertCredentialEqual(t, first, list[0])
		require.ErrorIs(t, s.UpdateCredentialUse(ctx, cr.ID, cr.SignCount, webauthnkit.CredentialUse{SignCount: cr.SignCount + 1}), webauthnkit.ErrNotFound)
		require.ErrorIs(t, s.RenameCredential(ctx, u.Handle, cr.ID, "x"), webauthnkit.ErrNotFound)
		require.ErrorIs(t, s.DeleteCredential(ctx, u.Handle, cr.ID, true), webauthnkit.ErrNotFound)
		require.ErrorIs(t, s.DeleteCredential(ctx, u.Handle, first.ID, false), webauthnkit.ErrLastCredential)
		requireNoKeys(t, c, s.credKey(cr.ID)) // removed by the readers

		// Left unread, the record does not block the ID: another user
		// registers it.
		cr2 := storetest.RandomCredential(u.Handle)
		require.NoError(t, s.AddCredential(ctx, cr2))
		require.ErrorIs(t, crashStore(t, c, "DeleteCredential:committed").DeleteCredential(ctx, u.Handle, cr2.ID, true), errCrash)
		u3, _ := createTestUser(t, s)
		cr3 := storetest.RandomCredential(u3.Handle)
		cr3.ID = cr2.ID
		require.NoError(t, s.AddCredential(ctx, cr3))
		gc, err := s.GetCredential(ctx, cr2.ID)
		require.NoError(t, err)
		storetest.AssertCredentialEqual(t, cr3, gc)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		require.NoError(t, s.DeleteUser(ctx, u3.Handle))
	})

	t.Run("DeleteCredential_stale_index_entries_do_not_count", func(t *testing.T) {
		// DeleteUser stopped after deleting the credential records leaves
		// index entries without records; a passkey added afterwards is the
		// user's only one, and the guard must see that.
		ctx := t.Context()
		s := newStore(t)
		u, _ := createTestUser(t, s)
		require.NoError(t, s.AddCredential(ctx, storetest.RandomCredential(u.Handle)))
		require.ErrorIs(t, crashStore(t, c, "DeleteUser:credentialsDeleted").DeleteUser(ctx, u.Handle), errCrash)
		cr := storetest.RandomCredential(u.Handle)
		require.NoError(t, s.AddCredential(ctx, cr))
		n, err := c.HLen(ctx, s.userCredsKey(tag(u.Handle))).Result()
		require.NoError(t, err)
		require.EqualValues(t, 3, n, "index entries before")

		require.ErrorIs(t, s.DeleteCredential(ctx, u.Handle, cr.ID, false), webauthnkit.ErrLastCredential)
		list, err := s.ListCredentials(ctx, u.Handle)
		require.NoError(t, err)
		require.Len(t, list, 1)
		n, err = c.HLen(ctx, s.userCredsKey(tag(u.Handle))).Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "the stale entries were not removed")
		require.NoError(t, s.DeleteCredential(ctx, u.Handle, cr.ID, true))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
	})

	t.Run("claim_in_progress_is_waited_for", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		// A CreateUser that pauses after claiming the name, then fails
		// because its credential ID is taken: a concurrent CreateUser with
		// the same name must wait for it, then succeed.
		_, taken := createTestUser(t, s)
		slow := testStore(t, c)
		slow.lease = 5 * time.Second
		claimed := make(chan struct{})
		slow.failpoint = func(step string) error {
			if step == "CreateUser:claimedName" {
				close(claimed)
				time.Sleep(100 * time.Millisecond)
			}
			return nil
		}
		u1 := storetest.RandomUser()
		c1 := storetest.RandomCredential(u1.Handle)
		c1.ID = taken.ID
		done := make(chan error)
		go func() { done <- slow.CreateUser(ctx, u1, &c1) }()
		<-claimed
		u2 := storetest.RandomUser()
		u2.Name = u1.Name
		require.NoError(t, s.CreateUser(ctx, u2, new(storetest.RandomCredential(u2.Handle))))
		require.ErrorIs(t, <-done, webauthnkit.ErrCredentialExists)

		// Same, but the slow one succeeds: the waiter gets ErrUserExists.
		claimed = make(chan struct{})
		u3 := storetest.RandomUser()
		go func() { done <- slow.CreateUser(ctx, u3, new(storetest.RandomCredential(u3.Handle))) }()
		<-claimed
		u4 := storetest.RandomUser()
		u4.Name = u3.Name
		require.ErrorIs(t, s.CreateUser(ctx, u4, new(storetest.RandomCredential(u4.Handle))), webauthnkit.ErrUserExists)
		require.NoError(t, <-done)
	})

	t.Run("write_slower_than_lease_fails_cleanly", func(t *testing.T) {
		ctx := t.Context()
		s := testStore(t, c)
		s.lease = 100 * time.Millisecond
		s.failpoint = func(step string) error {
			if step == "CreateUser:claimedCredential" {
				time.Sleep(250 * time.Millisecond)
			}
			return nil
		}
		u := storetest.RandomUser()
		cr := storetest.RandomCredential(u.Handle)
		err := s.CreateUser(ctx, u, &cr)
		require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
		s.failpoint = nil
		notFound(t, s, u, cr)
		requireNoKeys(t, c, s.nameKey(u.Name), s.credKey(cr.ID)) // released
		require.NoError(t, s.CreateUser(ctx, u, &cr))
	})
}

func createTestUser(t *testing.T, s *Store) (webauthnkit.User, webauthnkit.Credential) {
	t.Helper()
	u := storetest.RandomUser()
	cr := storetest.RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, &cr))
	return u, cr
}

// requireState checks the state field of a credential record.
func requireState(t *testing.T, c redis.UniversalClient, s *Store, id []byte, want string) {
	t.Helper()
	got, err := c.HGet(t.Context(), s.credKey(id), fState).Result()
	require.NoError(t, err)
	require.Equal(t, want, got, "credential record state")
}

func requireNoKeys(t *testing.T, c redis.UniversalClient, keys ...string) {
	t.Helper()
	for _, k := range keys {
		n, err := c.Exists(t.Context(), k).Result()
		require.NoError(t, err)
		require.Zero(t, n, "key %s still exists", k)
	}
}
