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

// Tests of SetEmail's cross-slot switch and of CreateUser's email claim
// that only this backend needs: crashes between the steps, races between
// clients (separate connections), and what each leaves in Redis.

func TestSetEmailCrashRecovery(t *testing.T) { testSetEmailCrashRecovery(t, testClient(t)) }

func TestSetEmailRace(t *testing.T) { testSetEmailRace(t, testClient(t)) }

func randomEmail() string { return storetest.RandomName() + "@example.com" }

// requireEmail checks what every reader sees of u: found by its handle and
// by email under want (verified at verifiedAt), and not found under the
// other addresses.
func requireEmail(t *testing.T, s *Store, u webauthnkit.User, want string, verifiedAt time.Time, notEmails ...string) {
	t.Helper()
	ctx := t.Context()
	u.Email, u.EmailVerifiedAt = want, verifiedAt
	got, err := s.GetUserByHandle(ctx, u.Handle)
	require.NoError(t, err, "GetUserByHandle")
	storetest.AssertUserEqual(t, u, got, "GetUserByHandle")
	if want != "" {
		got, err = s.GetUserByEmail(ctx, want)
		require.NoError(t, err, "GetUserByEmail(current email)")
		storetest.AssertUserEqual(t, u, got, "GetUserByEmail")
	}
	for _, e := range notEmails {
		_, err = s.GetUserByEmail(ctx, e)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound, "GetUserByEmail(other email %s)", e)
	}
}

// createEmailUser creates a user without credentials with a fresh email,
// verified now.
func createEmailUser(t *testing.T, s *Store) webauthnkit.User {
	t.Helper()
	u := storetest.RandomUser()
	u.Email, u.EmailVerifiedAt = randomEmail(), time.Now().UTC().Truncate(time.Microsecond)
	require.NoError(t, s.CreateUser(t.Context(), u, nil))
	return u
}

func testSetEmailCrashRecovery(t *testing.T, c redis.UniversalClient) {
	// A longer lease for the repairing stores' own writes, as in
	// testRenameCrashRecovery: only the crashed write's lease is short.
	newStore := func(t *testing.T) *Store {
		s := testStore(t, c)
		s.lease = 10 * testLease
		return s
	}
	verified := time.Date(2026, 12, 6, 8, 0, 0, 123456000, time.UTC)
	// takeEmail gives another (new) user email and reports how long that
	// took (waiting for a claim in progress, or not).
	takeEmail := func(t *testing.T, s *Store, email string) (webauthnkit.User, time.Duration) {
		t.Helper()
		u, _ := createTestUser(t, s)
		start := time.Now()
		require.NoError(t, s.SetEmail(t.Context(), u.Handle, email, verified), "SetEmail of another user")
		u.Email, u.EmailVerifiedAt = email, verified
		return u, time.Since(start)
	}

	t.Run("stops_after_begin", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u := createEmailUser(t, s)
		newEmail := randomEmail()
		require.ErrorIs(t, crashStore(t, c, "SetEmail:begun").SetEmail(ctx, u.Handle, newEmail, verified), errCrash)
		requireEmail(t, s, u, u.Email, u.EmailVerifiedAt, newEmail)
		requireNoKeys(t, c, s.emailKey(newEmail))
		// Retrying succeeds at once: nothing was claimed.
		start := time.Now()
		require.NoError(t, s.SetEmail(ctx, u.Handle, newEmail, verified))
		assert.Less(t, time.Since(start), testLease/2)
		requireEmail(t, s, u, newEmail, verified, u.Email)
		requireNoKeys(t, c, s.emailKey(u.Email))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.emailKey(newEmail), s.userKey(tag(u.Handle)))
	})

	t.Run("stops_after_claim_then_another_user_takes_the_email", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u := createEmailUser(t, s)
		newEmail := randomEmail()
		require.ErrorIs(t, crashStore(t, c, "SetEmail:claimedEmail").SetEmail(ctx, u.Handle, newEmail, verified), errCrash)
		// The claim exists, but the user has not changed for any reader.
		n, err := c.Exists(ctx, s.emailKey(newEmail)).Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "the new email's claim")
		requireEmail(t, s, u, u.Email, u.EmailVerifiedAt, newEmail)

		// Another user waits for the claim's lease, then takes the address.
		u2, took := takeEmail(t, s, newEmail)
		assert.Less(t, took, testLease+time.Second, "waited longer than the lease")
		requireEmail(t, s, u2, newEmail, verified)
		requireEmail(t, s, u, u.Email, u.EmailVerifiedAt)
		// A retry now finds the address taken, and changes nothing.
		require.ErrorIs(t, s.SetEmail(ctx, u.Handle, newEmail, verified), webauthnkit.ErrUserExists)
		requireEmail(t, s, u, u.Email, u.EmailVerifiedAt)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		require.NoError(t, s.DeleteUser(ctx, u2.Handle))
		requireNoKeys(t, c, s.emailKey(newEmail), s.emailKey(u.Email))
	})

	t.Run("stops_after_claim_then_retried", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u := createEmailUser(t, s)
		newEmail := randomEmail()
		require.ErrorIs(t, crashStore(t, c, "SetEmail:claimedEmail").SetEmail(ctx, u.Handle, newEmail, verified), errCrash)
		start := time.Now()
		require.NoError(t, s.SetEmail(ctx, u.Handle, newEmail, verified))
		assert.Less(t, time.Since(start), testLease+time.Second, "waited longer than the lease")
		requireEmail(t, s, u, newEmail, verified, u.Email)
		// The old address is free at once.
		u2, took := takeEmail(t, s, u.Email)
		assert.Less(t, took, testLease/2)
		requireEmail(t, s, u2, u.Email, verified)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		require.NoError(t, s.DeleteUser(ctx, u2.Handle))
		requireNoKeys(t, c, s.emailKey(newEmail), s.emailKey(u.Email))
	})

	t.Run("stops_after_commit", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u := createEmailUser(t, s)
		oldEmail, newEmail := u.Email, randomEmail()
		require.ErrorIs(t, crashStore(t, c, "SetEmail:committed").SetEmail(ctx, u.Handle, newEmail, verified), errCrash)
		// Switched for every reader; the old claim is left behind, stale.
		requireEmail(t, s, u, newEmail, verified, oldEmail)
		n, err := c.Exists(ctx, s.emailKey(oldEmail)).Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "the old email's claim should have been left behind")
		// A retry is a no-op that succeeds.
		require.NoError(t, s.SetEmail(ctx, u.Handle, newEmail, verified))
		requireEmail(t, s, u, newEmail, verified, oldEmail)
		// The stale claim does not block the old address, neither for
		// SetEmail nor for CreateUser: taken over at once.
		u2, took := takeEmail(t, s, oldEmail)
		assert.Less(t, took, testLease/2)
		requireEmail(t, s, u2, oldEmail, verified)
		requireEmail(t, s, u, newEmail, verified)
		require.NoError(t, s.DeleteUser(ctx, u2.Handle))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.emailKey(newEmail), s.emailKey(oldEmail), s.userKey(tag(u.Handle)))
	})

	t.Run("stops_after_commit_then_created_with_the_old_email", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u := createEmailUser(t, s)
		oldEmail, newEmail := u.Email, randomEmail()
		require.ErrorIs(t, crashStore(t, c, "SetEmail:committed").SetEmail(ctx, u.Handle, newEmail, verified), errCrash)
		u2 := storetest.RandomUser()
		u2.Email = oldEmail
		start := time.Now()
		require.NoError(t, s.CreateUser(ctx, u2, nil))
		assert.Less(t, time.Since(start), testLease/2)
		requireEmail(t, s, u2, oldEmail, time.Time{})
		require.NoError(t, s.DeleteUser(ctx, u2.Handle))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.emailKey(newEmail), s.emailKey(oldEmail))
	})

	t.Run("removal_stops_after_commit", func(t *testing.T) {
		// Removing the address claims nothing; a crash before the release
		// leaves the old claim stale.
		ctx := t.Context()
		s := newStore(t)
		u := createEmailUser(t, s)
		require.ErrorIs(t, crashStore(t, c, "SetEmail:committed").SetEmail(ctx, u.Handle, "", time.Time{}), errCrash)
		requireEmail(t, s, u, "", time.Time{}, u.Email)
		u2, took := takeEmail(t, s, u.Email)
		assert.Less(t, took, testLease/2)
		requireEmail(t, s, u2, u.Email, verified)
		require.NoError(t, s.DeleteUser(ctx, u2.Handle))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.emailKey(u.Email))
	})

	t.Run("removal_releases_the_claim", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u := createEmailUser(t, s)
		require.NoError(t, s.SetEmail(ctx, u.Handle, "", time.Time{}))
		requireEmail(t, s, u, "", time.Time{}, u.Email)
		requireNoKeys(t, c, s.emailKey(u.Email))
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
	})

	for _, step := range []string{"CreateUser:claimedName", "CreateUser:claimedEmail"} {
		t.Run("create_stops_after_"+step[len("CreateUser:"):], func(t *testing.T) {
			// The user does not exist for any reader; its claims block the
			// name and the email for the lease at most, then are taken over.
			ctx := t.Context()
			s := newStore(t)
			u := storetest.RandomUser()
			u.Email = randomEmail()
			require.ErrorIs(t, crashStore(t, c, step).CreateUser(ctx, u, nil), errCrash)
			_, err := s.GetUserByHandle(ctx, u.Handle)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound)
			_, err = s.GetUserByEmail(ctx, u.Email)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound)
			_, err = s.GetUserByName(ctx, u.Name)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound)
			if step == "CreateUser:claimedEmail" {
				n, err := c.Exists(ctx, s.emailKey(u.Email)).Result()
				require.NoError(t, err)
				require.EqualValues(t, 1, n, "the email's claim")
			} else {
				requireNoKeys(t, c, s.emailKey(u.Email))
			}
			u2, took := takeEmail(t, s, u.Email)
			assert.Less(t, took, testLease+time.Second, "waited longer than the lease")
			requireEmail(t, s, u2, u.Email, verified)
			// The crashed user's retry finds the address taken and stores
			// nothing: not even its name.
			require.ErrorIs(t, s.CreateUser(ctx, u, nil), webauthnkit.ErrUserExists)
			_, err = s.GetUserByHandle(ctx, u.Handle)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound)
			requireNoKeys(t, c, s.nameKey(u.Name))
			require.NoError(t, s.DeleteUser(ctx, u2.Handle))
			requireNoKeys(t, c, s.emailKey(u.Email))
		})
	}

	t.Run("create_with_taken_email_stores_nothing", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		u := createEmailUser(t, s)
		u2 := storetest.RandomUser()
		u2.Email = u.Email
		cr := storetest.RandomCredential(u2.Handle)
		require.ErrorIs(t, s.CreateUser(ctx, u2, &cr), webauthnkit.ErrUserExists)
		requireNoKeys(t, c, s.nameKey(u2.Name), s.credKey(cr.ID), s.userKey(tag(u2.Handle)))
		requireEmail(t, s, u, u.Email, u.EmailVerifiedAt)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.emailKey(u.Email), s.nameKey(u.Name))
	})

	t.Run("user_deleted_during_set_email", func(t *testing.T) {
		// The commit finds the user gone: ErrNotFound, and the new claim
		// is released.
		ctx := t.Context()
		s := testStore(t, c)
		u := createEmailUser(t, s)
		s.failpoint = func(step string) error {
			if step == "SetEmail:claimedEmail" {
				require.NoError(t, testStore(t, c).DeleteUser(ctx, u.Handle))
			}
			return nil
		}
		newEmail := randomEmail()
		require.ErrorIs(t, s.SetEmail(ctx, u.Handle, newEmail, verified), webauthnkit.ErrNotFound)
		requireNoKeys(t, c, s.emailKey(newEmail), s.emailKey(u.Email), s.userKey(tag(u.Handle)))
	})

	t.Run("email_changed_during_delete", func(t *testing.T) {
		// A SetEmail commits after DeleteUser read the user: DeleteUser
		// starts over, so it releases the new address's claim too.
		ctx := t.Context()
		s := testStore(t, c)
		u := createEmailUser(t, s)
		newEmail := randomEmail()
		once := sync.Once{}
		s.failpoint = func(step string) error {
			if step == "DeleteUser:credentialsDeleted" {
				once.Do(func() { require.NoError(t, testStore(t, c).SetEmail(ctx, u.Handle, newEmail, verified)) })
			}
			return nil
		}
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.emailKey(u.Email), s.emailKey(newEmail), s.userKey(tag(u.Handle)))
	})

	t.Run("rename_does_not_touch_the_email", func(t *testing.T) {
		ctx := t.Context()
		s := testStore(t, c)
		u := createEmailUser(t, s)
		newName := storetest.RandomName()
		require.NoError(t, s.UpdateUser(ctx, u.Handle, newName, "New"))
		u.Name, u.DisplayName = newName, "New"
		requireEmail(t, s, u, u.Email, u.EmailVerifiedAt)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		requireNoKeys(t, c, s.emailKey(u.Email), s.nameKey(newName))
	})
}

// testSetEmailRace: of concurrent SetEmail calls of two users with one free
// address, and a CreateUser of a third with it, each through its own
// client, exactly one succeeds and the others change nothing.
func testSetEmailRace(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	const trials = 30
	verified := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	stores := []*Store{testStore(t, newClientLike(t, c)), testStore(t, newClientLike(t, c)), testStore(t, newClientLike(t, c))}
	var wins [3]int
	defer func() { t.Logf("wins (SetEmail 1, SetEmail 2, CreateUser): %v", wins) }()
	for trial := range trials {
		u1 := createEmailUser(t, stores[0])
		u2 := createEmailUser(t, stores[0])
		u3 := storetest.RandomUser()
		email := randomEmail()
		u3.Email = email
		errs := make([]error, 3)
		var start, done sync.WaitGroup
		start.Add(1)
		done.Go(func() { start.Wait(); errs[0] = stores[0].SetEmail(ctx, u1.Handle, email, verified) })
		done.Go(func() { start.Wait(); errs[1] = stores[1].SetEmail(ctx, u2.Handle, email, verified) })
		done.Go(func() { start.Wait(); errs[2] = stores[2].CreateUser(ctx, u3, nil) })
		start.Done()
		done.Wait()
		winners := 0
		for i, err := range errs {
			if err == nil {
				winners++
				wins[i]++
			} else {
				require.ErrorIs(t, err, webauthnkit.ErrUserExists, "trial %d, contender %d", trial, i)
			}
		}
		require.Equal(t, 1, winners, "trial %d: %v", trial, errs)
		switch {
		case errs[0] == nil:
			requireEmail(t, stores[1], u1, email, verified, u1.Email)
			requireEmail(t, stores[1], u2, u2.Email, u2.EmailVerifiedAt)
		case errs[1] == nil:
			requireEmail(t, stores[1], u2, email, verified, u2.Email)
			requireEmail(t, stores[1], u1, u1.Email, u1.EmailVerifiedAt)
		default:
			requireEmail(t, stores[1], u3, email, time.Time{})
			requireEmail(t, stores[1], u1, u1.Email, u1.EmailVerifiedAt)
			requireEmail(t, stores[1], u2, u2.Email, u2.EmailVerifiedAt)
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
		requireNoKeys(t, c, stores[0].emailKey(email), stores[0].emailKey(u1.Email), stores[0].emailKey(u2.Email),
			stores[0].nameKey(u3.Name))
	}
}
