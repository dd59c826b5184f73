package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/redistest"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// TestSentinel runs the store behind Redis Sentinel (a primary, a replica
// and three sentinels on loopback, started here) and fails the primary
// over, twice:
//
//  1. Without WithReplicaAck, a registration the primary acknowledged
//     while its replica was cut off is lost when the primary dies and the
//     replica is promoted: what the option exists for.
//  2. With WithReplicaAck(1, ...), a write the (paused) replica cannot
//     confirm fails with ErrStoreUnavailable instead of being
//     acknowledged, and a registration acknowledged just before the
//     primary is killed survives the failover.
//
// It also runs the conformance suites through the Sentinel client.
func TestSentinel(t *testing.T) {
	group := redistest.StartSentinel(t)
	primary, replica := group.Primary, group.Replica

	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    group.Master,
		SentinelAddrs: group.Addrs(),
		DialTimeout:   500 * time.Millisecond,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		MaxRetries:    -1,
	})
	t.Cleanup(func() { fc.Close() })

	t.Run("CredentialStore", func(t *testing.T) {
		storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore {
			return testStore(t, fc, WithReplicaAck(1, 2*time.Second))
		})
	})
	t.Run("ChallengeStore", func(t *testing.T) {
		storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore {
			return testStore(t, fc, WithReplicaAck(1, 2*time.Second))
		})
	})

	// 1. No acknowledgement by replicas. The replica is cut off from its
	// primary (a wrong masterauth keeps it from reconnecting), the primary
	// takes a registration and dies.
	plain := testStore(t, fc)
	u, _ := createTestUser(t, plain) // replicated while the link is up
	pc := redis.NewClient(&redis.Options{Addr: primary.Addr, MaxRetries: -1})
	t.Cleanup(func() { pc.Close() })
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr, MaxRetries: -1})
	t.Cleanup(func() { rc.Close() })
	redistest.WaitUntil(t, 10*time.Second, "the replica has the first registration", func(ctx context.Context) bool {
		n, err := rc.Exists(ctx, plain.userKey(tag(u.Handle))).Result()
		return err == nil && n == 1
	})
	require.NoError(t, rc.ConfigSet(t.Context(), "masterauth", "wrong-"+randomHex(4)).Err())
	require.NoError(t, pc.ClientKillByFilter(t.Context(), "TYPE", "replica").Err())
	lost, _ := createTestUser(t, plain) // acknowledged by the primary alone
	n, err := rc.Exists(t.Context(), plain.userKey(tag(lost.Handle))).Result()
	require.NoError(t, err)
	require.Zero(t, n, "the replica was meant to be cut off")
	require.NoError(t, rc.ConfigSet(t.Context(), "masterauth", "").Err())
	primary.Kill()
	t.Logf("failover after %v", group.WaitForPrimary(t, replica.Addr))
	_, err = eventually(t, func(ctx context.Context) (webauthnkit.User, error) { return plain.GetUserByHandle(ctx, u.Handle) })
	require.NoError(t, err, "a registration replicated before the failover is lost")
	_, err = eventually(t, func(ctx context.Context) (webauthnkit.User, error) { return plain.GetUserByHandle(ctx, lost.Handle) })
	require.ErrorIs(t, err, webauthnkit.ErrNotFound, "without WithReplicaAck, the registration the replica never received should be gone after the failover")
	t.Log("without WithReplicaAck: a registration the primary acknowledged while its replica was cut off was lost in the failover")

	// 2. With WithReplicaAck(1): a new replica for the new primary.
	replica2 := redistest.StartReplica(t, replica.Addr)
	group.WaitForReplicas(t, 1)
	acked := testStore(t, fc, WithReplicaAck(1, 300*time.Millisecond))

	replica2.Pause()
	start := time.Now()
	u2 := storetest.RandomUser()
	cr2 := storetest.RandomCredential(u2.Handle)
	err = acked.CreateUser(t.Context(), u2, &cr2)
	took := time.Since(start)
	replica2.Resume()
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, "a write no replica confirmed must not be acknowledged")
	require.Contains(t, err.Error(), "replicas")
	require.Less(t, took, 3*time.Second, "the acknowledgement wait is bounded by its timeout")

	kept, keptCred := createTestUser(t, acked) // confirmed by replica2
	replica.Kill()                             // the primary, right after the acknowledgement
	t.Logf("failover after %v", group.WaitForPrimary(t, replica2.Addr))
	got, err := eventually(t, func(ctx context.Context) (webauthnkit.User, error) { return acked.GetUserByHandle(ctx, kept.Handle) })
	require.NoError(t, err, "with WithReplicaAck, an acknowledged registration was lost in the failover")
	require.Equal(t, kept.Name, got.Name)
	c, err := acked.GetCredential(t.Context(), keptCred.ID)
	require.NoError(t, err)
	require.Equal(t, keptCred.PublicKey, c.PublicKey)
}

func TestReplicaAckOptions(t *testing.T) {
	c := testClient(t)
	_, err := New(c, WithReplicaAck(-1, time.Second))
	require.Error(t, err)
	_, err = New(c, WithReplicaAck(1, 0))
	require.Error(t, err)
	s := testStore(t, c, WithReplicaAck(0, 0)) // 0 replicas: no WAIT
	createTestUser(t, s)

	// The shared test server has no replica: every acknowledged write
	// fails in bounded time, a read does not wait.
	s = testStore(t, c, WithReplicaAck(1, 50*time.Millisecond))
	u := storetest.RandomUser()
	err = s.CreateUser(t.Context(), u, nil)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.NotContains(t, err.Error(), u.Name)
	_, err = s.GetUserByName(t.Context(), "nobody-"+randomHex(4))
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
}

// eventually retries f while the store is unavailable (the client finding
// the new primary), for up to 15 seconds.
func eventually[T any](t *testing.T, f func(context.Context) (T, error)) (T, error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		v, err := f(ctx)
		cancel()
		if !errors.Is(err, webauthnkit.ErrStoreUnavailable) || time.Now().After(deadline) {
			return v, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
