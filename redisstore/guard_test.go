package redisstore

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// Tests of issue 11's store items on Redis: the atomic last-passkey guard,
// session epochs, value-free error texts. TestCluster runs the same on a
// Cluster, where the user and each credential are in different slots.

func TestLastCredentialRace(t *testing.T) { testLastCredentialRace(t, testClient(t)) }

func TestEndSessions(t *testing.T) { testEndSessions(t, testClient(t)) }

// testLastCredentialRace: concurrent guarded deletes of a user's last
// credentials, each through its own client (separate connections), never
// leave zero.
func testLastCredentialRace(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	for _, n := range []int{2, 3} {
		t.Run(strconv.Itoa(n)+"_credentials", func(t *testing.T) {
			stores := make([]*Store, n)
			for i := range stores {
				stores[i] = testStore(t, newClientLike(t, c))
			}
			for trial := range 30 {
				u, first := createTestUser(t, stores[0])
				ids := [][]byte{first.ID}
				for range n - 1 {
					cr := storetest.RandomCredential(u.Handle)
					require.NoError(t, stores[0].AddCredential(ctx, cr))
					ids = append(ids, cr.ID)
				}
				errs := make([]error, n)
				var start, done sync.WaitGroup
				start.Add(1)
				for i := range n {
					done.Go(func() {
						start.Wait()
						errs[i] = stores[i].DeleteCredential(ctx, u.Handle, ids[i], false)
					})
				}
				start.Done()
				done.Wait()
				ok := 0
				for _, err := range errs {
					if err == nil {
						ok++
					} else {
						require.ErrorIs(t, err, webauthnkit.ErrLastCredential, "trial %d", trial)
					}
				}
				list, err := stores[0].ListCredentials(ctx, u.Handle)
				require.NoError(t, err)
				require.Len(t, list, 1, "trial %d: credentials left", trial)
				require.Equal(t, n-1, ok, "trial %d: deletes that succeeded", trial)
				_, err = stores[0].GetCredential(ctx, list[0].ID)
				require.NoError(t, err, "trial %d: the one left is readable", trial)
				require.NoError(t, stores[0].DeleteUser(ctx, u.Handle))
			}
		})
	}

	t.Run("same_credential_twice", func(t *testing.T) {
		// Two deletes of one credential (of three): one succeeds, the
		// other finds it gone.
		s1, s2 := testStore(t, newClientLike(t, c)), testStore(t, newClientLike(t, c))
		for trial := range 30 {
			u, first := createTestUser(t, s1)
			require.NoError(t, s1.AddCredential(ctx, storetest.RandomCredential(u.Handle)))
			var e1, e2 error
			var wg sync.WaitGroup
			wg.Go(func() { e1 = s1.DeleteCredential(ctx, u.Handle, first.ID, false) })
			wg.Go(func() { e2 = s2.DeleteCredential(ctx, u.Handle, first.ID, false) })
			wg.Wait()
			if e1 != nil {
				e1, e2 = e2, e1
			}
			require.NoError(t, e1, "trial %d", trial)
			require.ErrorIs(t, e2, webauthnkit.ErrNotFound, "trial %d", trial)
			list, err := s1.ListCredentials(ctx, u.Handle)
			require.NoError(t, err)
			require.Len(t, list, 1, "trial %d", trial)
			require.NoError(t, s1.DeleteUser(ctx, u.Handle))
		}
	})
}

// newClientLike returns a new client to the same server(s) as c, closed at
// the end of the test.
func newClientLike(t *testing.T, c redis.UniversalClient) redis.UniversalClient {
	t.Helper()
	var nc redis.UniversalClient
	switch c := c.(type) {
	case *redis.ClusterClient:
		nc = redis.NewClusterClient(c.Options())
	case *redis.Client:
		nc = redis.NewClient(c.Options())
	default:
		t.Fatalf("unexpected client %T", c)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

func testEndSessions(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	s := testStore(t, c)

	t.Run("unknown_user_leaves_no_key", func(t *testing.T) {
		h := storetest.RandomBytes(16)
		_, err := s.EndSessions(ctx, h)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound)
		requireNoKeys(t, c, s.userKey(tag(h)), s.userCredsKey(tag(h)))
		_, err = s.EndSessions(ctx, nil)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound)

		// Nor does it resurrect a deleted user.
		u, _ := createTestUser(t, s)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
		_, err = s.EndSessions(ctx, u.Handle)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound)
		requireNoKeys(t, c, s.userKey(tag(u.Handle)))
		_, err = s.GetUserByHandle(ctx, u.Handle)
		require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	})

	t.Run("stored_and_incremented", func(t *testing.T) {
		for _, start := range []uint64{0, 5, 9, 99, 1<<53 - 1, 1<<53 + 1, math.MaxInt64, math.MaxUint64 - 1} {
			u := storetest.RandomUser()
			u.SessionEpoch = start
			require.NoError(t, s.CreateUser(ctx, u, new(storetest.RandomCredential(u.Handle))))
			requireEpoch(t, s, u, start)
			got, err := s.EndSessions(ctx, u.Handle)
			require.NoError(t, err, "from %d", start)
			require.Equal(t, start+1, got, "from %d", start)
			requireEpoch(t, s, u, start+1)
			require.NoError(t, s.DeleteUser(ctx, u.Handle))
		}
	})

	t.Run("overflow_is_an_error", func(t *testing.T) {
		u := storetest.RandomUser()
		u.SessionEpoch = math.MaxUint64
		require.NoError(t, s.CreateUser(ctx, u, new(storetest.RandomCredential(u.Handle))))
		_, err := s.EndSessions(ctx, u.Handle)
		require.Error(t, err)
		require.NotErrorIs(t, err, webauthnkit.ErrNotFound)
		requireEpoch(t, s, u, math.MaxUint64) // not wrapped to 0, which would revive old sessions
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
	})

	t.Run("record_without_epoch", func(t *testing.T) {
		// Users written before epochs existed have no field: epoch 0.
		u, _ := createTestUser(t, s)
		require.NoError(t, c.HDel(ctx, s.userKey(tag(u.Handle)), fUserEpoch).Err())
		requireEpoch(t, s, u, 0)
		got, err := s.EndSessions(ctx, u.Handle)
		require.NoError(t, err)
		require.EqualValues(t, 1, got)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
	})

	t.Run("concurrent_calls_get_distinct_values", func(t *testing.T) {
		u, _ := createTestUser(t, s)
		const workers, each = 8, 10
		var mu sync.Mutex
		seen := map[uint64]bool{}
		var wg sync.WaitGroup
		for range workers {
			s := testStore(t, newClientLike(t, c))
			wg.Go(func() {
				for range each {
					e, err := s.EndSessions(ctx, u.Handle)
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					assert.False(t, seen[e], "epoch %d returned twice", e)
					seen[e] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, seen, workers*each)
		requireEpoch(t, s, u, workers*each)
		require.NoError(t, s.DeleteUser(ctx, u.Handle))
	})
}

// requireEpoch checks the epoch as both user reads return it.
func requireEpoch(t *testing.T, s *Store, u webauthnkit.User, want uint64) {
	t.Helper()
	byHandle, err := s.GetUserByHandle(t.Context(), u.Handle)
	require.NoError(t, err)
	require.Equal(t, want, byHandle.SessionEpoch, "GetUserByHandle")
	byName, err := s.GetUserByName(t.Context(), u.Name)
	require.NoError(t, err)
	require.Equal(t, want, byName.SessionEpoch, "GetUserByName")
}

// TestErrorTextsCarryNoStoredValues: records damaged in Redis give errors
// that do not quote what is stored (it could be a name, a handle or a
// credential ID), nor the keys (which contain them).
func TestErrorTextsCarryNoStoredValues(t *testing.T) {
	c := testClient(t)
	s := testStore(t, c)
	ctx := t.Context()
	u, cr := createTestUser(t, s)
	secret := "Secret-" + randomHex(8) // stands for a stored value
	leaks := func(err error) {
		t.Helper()
		require.Error(t, err)
		for _, v := range []string{secret, u.Name, string(u.Handle), tag(u.Handle), tag([]byte(u.Name)),
			string(cr.ID), tag(cr.ID), base64.StdEncoding.EncodeToString(cr.ID)} {
			require.NotContains(t, err.Error(), v)
		}
	}

	userKey := s.userKey(tag(u.Handle))
	for _, field := range []string{fUserCreated, fUserEpoch} {
		require.NoError(t, c.HSet(ctx, userKey, field, secret).Err())
		_, err := s.GetUserByHandle(ctx, u.Handle)
		leaks(err)
		_, err = s.GetUserByName(ctx, u.Name)
		leaks(err)
		if field == fUserEpoch {
			_, err = s.EndSessions(ctx, u.Handle)
			leaks(err)
		}
		require.NoError(t, c.HSet(ctx, userKey, field, "1").Err())
	}

	credKey := s.credKey(cr.ID)
	for _, field := range []string{fSignCount, fCreatedAt, fLastUsedAt, fTransports} {
		old, err := c.HGet(ctx, credKey, field).Result()
		if errors.Is(err, redis.Nil) {
			old = ""
		} else {
			require.NoError(t, err)
		}
		require.NoError(t, c.HSet(ctx, credKey, field, secret+string(cr.ID)).Err())
		_, err = s.GetCredential(ctx, cr.ID)
		leaks(err)
		_, err = s.ListCredentials(ctx, u.Handle)
		leaks(err)
		require.NoError(t, c.HSet(ctx, credKey, field, old).Err())
	}

	// A damaged name claim: the error must not name its key.
	u2 := storetest.RandomUser()
	require.NoError(t, c.Set(ctx, s.nameKey(u2.Name), "short", 0).Err())
	err := s.CreateUser(ctx, u2, new(storetest.RandomCredential(u2.Handle)))
	require.Error(t, err)
	require.NotContains(t, err.Error(), tag([]byte(u2.Name)))
	require.NotContains(t, err.Error(), u2.Name)
}

func TestFeaturesAndClose(t *testing.T) {
	c := testClient(t)
	s := testStore(t, c)
	require.Equal(t, webauthnkit.Features{ProcessLocal: false, CredentialWithUser: false, ListUserHandles: true, Audit: true}, s.Features())
	_, getter := any(s).(webauthnkit.CredentialUserGetter)
	require.False(t, getter, "declares CredentialWithUser false but implements it")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.NoError(t, c.Ping(t.Context()).Err(), "Close closed the caller's client")
}
