package redisstore

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// Tests of UpdateUser's cross-slot rename and of users without credentials
// that only this backend needs: crashes between the steps, races between
// clients (separate connections), and what each leaves in Redis.

func TestRenameCrashRecovery(t *testing.T) { testRenameCrashRecovery(t, testClient(t)) }

func TestRenameRace(t *testing.T) { testRenameRace(t, testClient(t)) }

func TestUserWithoutCredentials(t *testing.T) { testUserWithoutCredentials(t, testClient(t)) }

// requireNamed checks what every reader sees of u: found by its handle and
// by name under want (with displayName), and not found under the other
// names.
func requireNamed(t *testing.T, s *Store, u webauthnkit.User, want, displayName string, notNames ...string) {
	t.Helper()
	ctx := t.Context()
	u.Name, u.DisplayName = want, displayName
	got, err := s.GetUserByHandle(ctx, u.Handle)
	require.NoError(t, err, "GetUserByHandle")
	storetest.AssertUserEqual(t, u, got, "GetUserByHandle")
	got, err = s.GetUserByName(ctx, want)
	require.NoError(t, err, "GetUserByName(current name)")
	storetest.AssertUserEqual(t, u, got, "GetUserByName")
	for _, n := range notNames {
		_, err = s.GetUserByName(ctx, n)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound, "GetUserByName(other name)")
	}
}

func testRenameCrashRecovery(t *testing.T, c redis.UniversalClient) {
	// A longer lease for the repairing stores' own writes, as in
	// testCrashRecovery: only the crashed write's lease needs to be short.
	newStore := func(t *testing.T) *Store {
		s := testStore(t, c)
		s.lease = 10 * testLease
		return s
	}
	// takeName creates another user with name and reports how long that
	// took (waiting for a claim in progress, or not).
	takeName := func(t *testing.T, s *Store, name string) (webauthnkit.User, time.Duration) {
		t.Helper()
		u := storetest.RandomUser()
		u.Name = name
		start := time.Now()
		require.NoError(t, s.CreateUser(t.Context(), u, nil), "CreateUser with the name")
		return u, time.Since(start)
	}

	t.Run("stops_after_begin", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u, _ := createTestUser(t, s)
		newName := storetest.RandomName()
		require.ErrorIs(t, crashStore(t, c, "UpdateUser:begun").UpdateUser(ctx, u.Handle, newName, "New"), errCrash)
		requireNamed(t, s, u, u.Name, u.DisplayName, newName)
		requireNoKeys(t, c, s.nameKey(newName))
		// Retrying succeeds at once: nothing was claimed.
		start := time.Now()
		require.NoError(t, s.UpdateUser(ctx, u.Handle, newName, "New"))
		assert.Less(t, time.Since(start), testLease/2)
		requireNamed(t, s, u, newName, "New", u.Name)
		requireNoKeys(t, c, s.nameKey(u.Name))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.nameKey(newName), s.userKey(tag(u.Handle)))
	})

	t.Run("stops_after_claim_then_another_user_takes_the_name", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u, _ := createTestUser(t, s)
		newName := storetest.RandomName()
		require.ErrorIs(t, crashStore(t, c, "UpdateUser:claimedName").UpdateUser(ctx, u.Handle, newName, "New"), errCrash)
		// The claim exists, but the user has not changed for any reader.
		n, err := c.Exists(ctx, s.nameKey(newName)).Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "the new name's claim")
		requireNamed(t, s, u, u.Name, u.DisplayName, newName)

		// Another user waits for the claim's lease, then takes the name.
		u2, took := takeName(t, s, newName)
		assert.Less(t, took, testLease+time.Second, "waited longer than the lease")
		requireNamed(t, s, u2, newName, u2.DisplayName)
		requireNamed(t, s, u, u.Name, u.DisplayName)
		// A retry of the rename now finds the name taken, and changes nothing.
		require.ErrorIs(t, s.UpdateUser(ctx, u.Handle, newName, "New"), webauthnkit.ErrUserExists)
		requireNamed(t, s, u, u.Name, u.DisplayName)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		require.NoError(t, s.DeleteUser(ctx, u2.Handle))
	})

	t.Run("stops_after_claim_then_retried", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u, _ := createTestUser(t, s)
		newName := storetest.RandomName()
		require.ErrorIs(t, crashStore(t, c, "UpdateUser:claimedName").UpdateUser(ctx, u.Handle, newName, "New"), errCrash)
		start := time.Now()
		require.NoError(t, s.UpdateUser(ctx, u.Handle, newName, "New"))
		assert.Less(t, time.Since(start), testLease+time.Second, "waited longer than the lease")
		requireNamed(t, s, u, newName, "New", u.Name)
		// The old name is free at once.
		u2, took := takeName(t, s, u.Name)
		assert.Less(t, took, testLease/2)
		requireNamed(t, s, u2, u.Name, u2.DisplayName)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		require.NoError(t, s.DeleteUser(ctx, u2.Handle))
		requireNoKeys(t, c, s.nameKey(newName), s.nameKey(u.Name))
	})

	t.Run("stops_after_commit", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u, _ := createTestUser(t, s)
		oldName, newName := u.Name, storetest.RandomName()
		require.ErrorIs(t, crashStore(t, c, "UpdateUser:committed").UpdateUser(ctx, u.Handle, newName, "New"), errCrash)
		// Renamed for every reader; the old claim is left behind, stale.
		requireNamed(t, s, u, newName, "New", oldName)
		n, err := c.Exists(ctx, s.nameKey(oldName)).Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "the old name's claim should have been left behind")
		// A retry is a no-op that succeeds.
		require.NoError(t, s.UpdateUser(ctx, u.Handle, newName, "New"))
		requireNamed(t, s, u, newName, "New", oldName)
		// The stale claim does not block the old name: taken over at once.
		u2, took := takeName(t, s, oldName)
		assert.Less(t, took, testLease/2)
		requireNamed(t, s, u2, oldName, u2.DisplayName)
		requireNamed(t, s, u, newName, "New")
		require.NoError(t, s.DeleteUser(ctx, u2.Handle))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.nameKey(newName), s.nameKey(oldName), s.userKey(tag(u.Handle)))
	})

	t.Run("stops_after_commit_then_renamed_back", func(t *testing.T) {
		// The user itself takes its stale old claim over.
		ctx := t.Context()
		s := newStore(t)
		u, _ := createTestUser(t, s)
		oldName, newName := u.Name, storetest.RandomName()
		require.ErrorIs(t, crashStore(t, c, "UpdateUser:committed").UpdateUser(ctx, u.Handle, newName, "New"), errCrash)
		start := time.Now()
		require.NoError(t, s.UpdateUser(ctx, u.Handle, oldName, "Old"))
		assert.Less(t, time.Since(start), testLease/2)
		requireNamed(t, s, u, oldName, "Old", newName)
		requireNoKeys(t, c, s.nameKey(newName))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.nameKey(oldName))
	})

	t.Run("rename_slower_than_lease_fails_cleanly", func(t *testing.T) {
		ctx := t.Context()
		s := testStore(t, c)
		s.lease = 100 * time.Millisecond
		s.failpoint = func(step string) error {
			if step == "UpdateUser:claimedName" {
				time.Sleep(250 * time.Millisecond)
			}
			return nil
		}
		u, _ := createTestUser(t, s)
		newName := storetest.RandomName()
		require.ErrorIs(t, s.UpdateUser(ctx, u.Handle, newName, "New"), webauthnkit.ErrStoreUnavailable)
		s.failpoint = nil
		requireNamed(t, s, u, u.Name, u.DisplayName, newName)
		requireNoKeys(t, c, s.nameKey(newName)) // released
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
	})

	t.Run("user_deleted_during_rename", func(t *testing.T) {
		// The commit finds the user gone: ErrNotFound, and the new claim
		// is released.
		ctx := t.Context()
		s := testStore(t, c)
		u, _ := createTestUser(t, s)
		s.failpoint = func(step string) error {
			if step == "UpdateUser:claimedName" {
				require.NoError(t, testStore(t, c).DeleteUser(ctx, u.Handle))
			}
			return nil
		}
		newName := storetest.RandomName()
		require.ErrorIs(t, s.UpdateUser(ctx, u.Handle, newName, "New"), webauthnkit.ErrNotFound)
		requireNoKeys(t, c, s.nameKey(newName), s.nameKey(u.Name), s.userKey(tag(u.Handle)))
	})

	t.Run("renamed_by_another_call_meanwhile", func(t *testing.T) {
		// A rename of the same user commits between this one's begin and
		// commit: this one starts over and wins last; the name the other
		// one set is free again.
		ctx := t.Context()
		s := testStore(t, c)
		u, _ := createTestUser(t, s)
		other, final := storetest.RandomName(), storetest.RandomName()
		once := sync.Once{}
		s.failpoint = func(step string) error {
			if step == "UpdateUser:claimedName" {
				once.Do(func() { require.NoError(t, testStore(t, c).UpdateUser(ctx, u.Handle, other, "Other")) })
			}
			return nil
		}
		require.NoError(t, s.UpdateUser(ctx, u.Handle, final, "Final"))
		requireNamed(t, s, u, final, "Final", u.Name, other)
		requireNoKeys(t, c, s.nameKey(u.Name), s.nameKey(other))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.nameKey(final))
	})

	t.Run("renamed_during_delete", func(t *testing.T) {
		// A rename commits after DeleteUser read the user: DeleteUser
		// starts over, so it releases the new name's claim, not only the
		// old one's (which the rename released).
		ctx := t.Context()
		s := testStore(t, c)
		u, _ := createTestUser(t, s)
		newName := storetest.RandomName()
		once := sync.Once{}
		s.failpoint = func(step string) error {
			if step == "DeleteUser:credentialsDeleted" {
				once.Do(func() { require.NoError(t, testStore(t, c).UpdateUser(ctx, u.Handle, newName, "New")) })
			}
			return nil
		}
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.nameKey(u.Name), s.nameKey(newName), s.userKey(tag(u.Handle)))
	})

	t.Run("deleted_after_rename_releases_the_current_name", func(t *testing.T) {
		// DeleteUser releases the claim of the name the user has now (the
		// rename's), not the one it was created with.
		ctx := t.Context()
		s := testStore(t, c)
		u, _ := createTestUser(t, s)
		n1, n2 := storetest.RandomName(), storetest.RandomName()
		require.NoError(t, s.UpdateUser(ctx, u.Handle, n1, "1"))
		require.NoError(t, s.UpdateUser(ctx, u.Handle, n2, "2"))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.nameKey(u.Name), s.nameKey(n1), s.nameKey(n2))
	})
}

// testRenameRace: of concurrent renames of two users to one free name, and
// a CreateUser of a third with it, each through its own client, exactly one
// succeeds and the others change nothing. Concurrent renames of one user to
// two names both succeed, one after the other.
func testRenameRace(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	const trials = 30
	t.Run("two_users_one_name", func(t *testing.T) {
		stores := []*Store{testStore(t, newClientLike(t, c)), testStore(t, newClientLike(t, c)), testStore(t, newClientLike(t, c))}
		var wins [3]int
		defer func() { t.Logf("wins (rename 1, rename 2, CreateUser): %v", wins) }()
		for trial := range trials {
			u1, _ := createTestUser(t, stores[0])
			u2, _ := createTestUser(t, stores[0])
			u3 := storetest.RandomUser()
			name := storetest.RandomName()
			u3.Name = name
			errs := make([]error, 3)
			var start, done sync.WaitGroup
			start.Add(1)
			done.Go(func() { start.Wait(); errs[0] = stores[0].UpdateUser(ctx, u1.Handle, name, "one") })
			done.Go(func() { start.Wait(); errs[1] = stores[1].UpdateUser(ctx, u2.Handle, name, "two") })
			done.Go(func() { start.Wait(); errs[2] = stores[2].CreateUser(ctx, u3, nil) })
			start.Done()
			done.Wait()
			winners := 0
			for i, err := range errs {
				if err == nil {
					winners++
				} else {
					require.ErrorIs(t, err, webauthnkit.ErrUserExists, "trial %d, contender %d", trial, i)
				}
			}
			require.Equal(t, 1, winners, "trial %d: %v", trial, errs)
			for i, err := range errs {
				if err == nil {
					wins[i]++
				}
			}
			got, err := stores[1].GetUserByName(ctx, name)
			require.NoError(t, err, "trial %d", trial)
			switch {
			case errs[0] == nil:
				require.Equal(t, u1.Handle, got.Handle, "trial %d", trial)
				requireNamed(t, stores[1], u1, name, "one", u1.Name)
				requireNamed(t, stores[1], u2, u2.Name, u2.DisplayName)
			case errs[1] == nil:
				require.Equal(t, u2.Handle, got.Handle, "trial %d", trial)
				requireNamed(t, stores[1], u2, name, "two", u2.Name)
				requireNamed(t, stores[1], u1, u1.Name, u1.DisplayName)
			default:
				require.Equal(t, u3.Handle, got.Handle, "trial %d", trial)
				requireNamed(t, stores[1], u1, u1.Name, u1.DisplayName)
				requireNamed(t, stores[1], u2, u2.Name, u2.DisplayName)
			}
			if errs[2] != nil {
				_, err := stores[0].GetUserByHandle(ctx, u3.Handle)
				require.ErrorIs(t, err, webauthnkit.ErrNotFound, "trial %d: the losing CreateUser stored its user", trial)
			}
			for _, u := range []webauthnkit.User{u1, u2} {
				require.NoError(t, stores[0].DeleteUser(ctx, u.Handle))
			}
			if errs[2] == nil {
				require.NoError(t, stores[0].DeleteUser(ctx, u3.Handle))
			}
			requireNoKeys(t, c, nameKeys(stores[0], name, u1.Name, u2.Name)...)
		}
	})

	t.Run("one_user_two_names", func(t *testing.T) {
		s1, s2 := testStore(t, newClientLike(t, c)), testStore(t, newClientLike(t, c))
		for trial := range trials {
			u, _ := createTestUser(t, s1)
			a, b := storetest.RandomName(), storetest.RandomName()
			var ea, eb error
			var wg sync.WaitGroup
			wg.Go(func() { ea = s1.UpdateUser(ctx, u.Handle, a, "A") })
			wg.Go(func() { eb = s2.UpdateUser(ctx, u.Handle, b, "B") })
			wg.Wait()
			require.NoError(t, ea, "trial %d", trial)
			require.NoError(t, eb, "trial %d", trial)
			got, err := s1.GetUserByHandle(ctx, u.Handle)
			require.NoError(t, err)
			final, other := a, b
			if got.Name == b {
				final, other = b, a
			}
			require.Equal(t, final, got.Name, "trial %d", trial)
			requireNamed(t, s1, u, final, got.DisplayName, u.Name, other)
			require.Equal(t, map[string]string{a: "A", b: "B"}[final], got.DisplayName, "trial %d: name and display name from different calls", trial)
			// Only the final name is held.
			requireNoKeys(t, c, s1.nameKey(u.Name), s1.nameKey(other))
			require.NoError(t, s1.DeleteUser(ctx, u.Handle))
			requireNoKeys(t, c, s1.nameKey(final))
		}
	})

	t.Run("rename_and_delete", func(t *testing.T) {
		// Whatever the order, once both returned neither the old nor the
		// new name is held by a live claim: both are free at once.
		s1, s2 := testStore(t, newClientLike(t, c)), testStore(t, newClientLike(t, c))
		for trial := range trials {
			u, _ := createTestUser(t, s1)
			newName := storetest.RandomName()
			var er, ed error
			var wg sync.WaitGroup
			wg.Go(func() { er = s1.UpdateUser(ctx, u.Handle, newName, "New") })
			wg.Go(func() { ed = s2.DeleteUser(ctx, u.Handle) })
			wg.Wait()
			require.NoError(t, ed, "trial %d", trial)
			if er != nil {
				require.ErrorIs(t, er, webauthnkit.ErrNotFound, "trial %d", trial)
			}
			_, err := s1.GetUserByHandle(ctx, u.Handle)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound, "trial %d", trial)
			for _, n := range []string{u.Name, newName} {
				_, err := s1.GetUserByName(ctx, n)
				require.ErrorIs(t, err, webauthnkit.ErrNotFound, "trial %d", trial)
				u2 := storetest.RandomUser()
				u2.Name = n
				start := time.Now()
				require.NoError(t, s1.CreateUser(ctx, u2, nil), "trial %d", trial)
				require.Less(t, time.Since(start), time.Second, "trial %d: waited for a claim", trial)
				require.NoError(t, s1.DeleteUser(ctx, u2.Handle))
			}
		}
	})
}

func nameKeys(s *Store, names ...string) []string {
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = s.nameKey(n)
	}
	return keys
}

// testUserWithoutCredentials: CreateUser with a nil first credential stores
// the user alone, atomically, and such a user works everywhere.
func testUserWithoutCredentials(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	s := testStore(t, c)

	t.Run("stored_alone", func(t *testing.T) {
		u := storetest.RandomUser()
		require.NoError(t, s.CreateUser(ctx, u, nil))
		requireNamed(t, s, u, u.Name, u.DisplayName)
		list, err := s.ListCredentials(ctx, u.Handle)
		require.NoError(t, err)
		require.Empty(t, list)
		requireNoKeys(t, c, s.userCredsKey(tag(u.Handle)))
		require.ErrorIs(t, s.CreateUser(ctx, u, nil), webauthnkit.ErrUserExists)
		// The first passkey comes later; the last-passkey guard counts it.
		cr := storetest.RandomCredential(u.Handle)
		require.NoError(t, s.AddCredential(ctx, cr))
		gc, err := s.GetCredential(ctx, cr.ID)
		require.NoError(t, err)
		storetest.AssertCredentialEqual(t, cr, gc)
		require.ErrorIs(t, s.DeleteCredential(ctx, u.Handle, cr.ID, false), webauthnkit.ErrLastCredential)
		require.NoError(t, s.DeleteCredential(ctx, u.Handle, cr.ID, true))
		_, err = s.EndSessions(ctx, u.Handle)
		require.NoError(t, err)
		require.NoError(t, s.UpdateUser(ctx, u.Handle, storetest.RandomName(), "renamed"))
		got, err := s.GetUserByHandle(ctx, u.Handle)
		require.NoError(t, err)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.userKey(tag(u.Handle)), s.userCredsKey(tag(u.Handle)), s.nameKey(u.Name), s.nameKey(got.Name), s.credKey(cr.ID))
	})

	t.Run("atomic_when_refused", func(t *testing.T) {
		// Name taken: the user record is not written.
		owner, _ := createTestUser(t, s)
		u := storetest.RandomUser()
		u.Name = owner.Name
		require.ErrorIs(t, s.CreateUser(ctx, u, nil), webauthnkit.ErrUserExists)
		requireNoKeys(t, c, s.userKey(tag(u.Handle)))
		// Handle taken: the name is not claimed.
		u2 := storetest.RandomUser()
		u2.Handle = owner.Handle
		require.ErrorIs(t, s.CreateUser(ctx, u2, nil), webauthnkit.ErrUserExists)
		requireNoKeys(t, c, s.nameKey(u2.Name))
		requireNamed(t, s, owner, owner.Name, owner.DisplayName)
		list, err := s.ListCredentials(ctx, owner.Handle)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.NoError(t, s.DeleteUser(ctx, owner.Handle))
	})

	t.Run("crash_before_commit_leaves_nothing", func(t *testing.T) {
		var steps []string
		rec := testStore(t, c)
		rec.failpoint = func(step string) error { steps = append(steps, step); return nil }
		u := storetest.RandomUser()
		require.NoError(t, rec.CreateUser(ctx, u, nil))
		require.Equal(t, []string{"CreateUser:begun", "CreateUser:claimedName", "CreateUser:committed"}, steps)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))

		for _, step := range []string{"CreateUser:begun", "CreateUser:claimedName"} {
			u := storetest.RandomUser()
			require.ErrorIs(t, crashStore(t, c, step).CreateUser(ctx, u, nil), errCrash, step)
			_, err := s.GetUserByHandle(ctx, u.Handle)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound, step)
			_, err = s.GetUserByName(ctx, u.Name)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound, step)
			// Another user takes the name once the lease is over.
			s := testStore(t, c)
			u2 := storetest.RandomUser()
			u2.Name = u.Name
			start := time.Now()
			require.NoError(t, s.CreateUser(ctx, u2, nil), step)
			assert.Less(t, time.Since(start), testLease+time.Second, step)
			requireNamed(t, s, u2, u.Name, u2.DisplayName)
			require.NoError(t, s.DeleteUser(ctx, u2.Handle))
		}
	})
}

// TestSecondFactorOnlyOldRecords: a credential record written before the
// field existed reads as false; both values round-trip.
func TestSecondFactorOnlyOldRecords(t *testing.T) {
	c := testClient(t)
	s := testStore(t, c)
	ctx := t.Context()
	u, cr := createTestUser(t, s)
	require.True(t, cr.SecondFactorOnly)
	got, err := s.GetCredential(ctx, cr.ID)
	require.NoError(t, err)
	require.True(t, got.SecondFactorOnly)
	v, err := c.HGet(ctx, s.credKey(cr.ID), fSecondOnly).Result()
	require.NoError(t, err)
	require.Equal(t, "1", v)

	cr2 := storetest.RandomCredential(u.Handle)
	cr2.SecondFactorOnly = false
	require.NoError(t, s.AddCredential(ctx, cr2))
	got, err = s.GetCredential(ctx, cr2.ID)
	require.NoError(t, err)
	require.False(t, got.SecondFactorOnly)

	require.NoError(t, c.HDel(ctx, s.credKey(cr.ID), fSecondOnly).Err())
	got, err = s.GetCredential(ctx, cr.ID)
	require.NoError(t, err)
	require.False(t, got.SecondFactorOnly, "a record without the field")
	list, err := s.ListCredentials(ctx, u.Handle)
	require.NoError(t, err)
	require.Len(t, list, 2)
	for _, l := range list {
		require.False(t, l.SecondFactorOnly)
	}
	require.NoError(t, s.DeleteUser(ctx, u.Handle))
}
