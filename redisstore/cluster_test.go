package redisstore

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/redistest"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// TestCluster runs the conformance suites, the crash-recovery tests, the
// last-passkey race, the session-epoch tests, the rename crash and race
// tests, the tests of users without credentials, the SetEmail crash and
// race tests and the recovery-code race on a
// three-master Redis Cluster: the one at WEBAUTHNKIT_REDIS_CLUSTER_ADDRS
// (comma-separated) if set, else one the test starts itself with
// scripts/redis-cluster.sh in a temporary directory and stops at the end.
func TestCluster(t *testing.T) {
	cc := clusterClient(t)
	s := testStore(t, cc) // checks the version of every master
	ctx := t.Context()

	t.Run("keys_span_slots_and_nodes", func(t *testing.T) {
		u, cr := createTestUser(t, s)
		htag := tag(u.Handle)
		slots := map[int64]bool{}
		for _, k := range []string{s.nameKey(u.Name), s.credKey(cr.ID), s.userKey(htag)} {
			slot, err := cc.ClusterKeySlot(ctx, k).Result()
			require.NoError(t, err)
			slots[slot] = true
		}
		// The user's own keys share a slot.
		for _, k := range []string{s.userCredsKey(htag), s.leaseKey(htag, newTx()), s.recoveryKey(htag), s.recoveryUseKey(htag)} {
			a, err := cc.ClusterKeySlot(ctx, k).Result()
			require.NoError(t, err)
			b, err := cc.ClusterKeySlot(ctx, s.userKey(htag)).Result()
			require.NoError(t, err)
			require.Equal(t, b, a, k)
		}
		require.Greater(t, len(slots), 1, "name, credential and user keys all in one slot: the cross-slot path was not exercised")

		// Across many users, every master holds some of the store's keys.
		for range 20 {
			createTestUser(t, s)
		}
		err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			keys, _, err := n.Scan(ctx, 0, runPrefix+"*", 1000).Result()
			if err == nil && len(keys) == 0 {
				t.Errorf("master %s holds none of the store's keys", n.Options().Addr)
			}
			return err
		})
		require.NoError(t, err)
	})
	t.Run("CredentialStore", func(t *testing.T) {
		storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore { return testStore(t, cc) })
	})
	t.Run("ChallengeStore", func(t *testing.T) {
		storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore { return testStore(t, cc) })
	})
	t.Run("CrashRecovery", func(t *testing.T) { testCrashRecovery(t, cc) })
	t.Run("LastCredentialRace", func(t *testing.T) { testLastCredentialRace(t, cc) })
	t.Run("EndSessions", func(t *testing.T) { testEndSessions(t, cc) })
	t.Run("RenameCrashRecovery", func(t *testing.T) { testRenameCrashRecovery(t, cc) })
	t.Run("RenameRace", func(t *testing.T) { testRenameRace(t, cc) })
	t.Run("UserWithoutCredentials", func(t *testing.T) { testUserWithoutCredentials(t, cc) })
	t.Run("SetEmailCrashRecovery", func(t *testing.T) { testSetEmailCrashRecovery(t, cc) })
	t.Run("SetEmailRace", func(t *testing.T) { testSetEmailRace(t, cc) })
	t.Run("UseRecoveryCodeRace", func(t *testing.T) { testUseRecoveryCodeRace(t, cc) })
}

// clusterClient returns a client for the test cluster, skipping (failing in
// CI) when there is none and none can be started.
func clusterClient(t *testing.T) *redis.ClusterClient {
	t.Helper()
	addrs := os.Getenv("WEBAUTHNKIT_REDIS_CLUSTER_ADDRS")
	how := "scripts/redis-cluster.sh start /tmp/redis-cluster, then WEBAUTHNKIT_REDIS_CLUSTER_ADDRS=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"
	if addrs == "" {
		var err error
		nodes, err := redistest.StartCluster(t)
		addrs = strings.Join(nodes, ",")
		if err != nil {
			testenv.Unavailable(t, "Redis Cluster", "(a cluster started by the test)", err, how)
		}
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() }); err != nil {
		cc.Close()
		testenv.Unavailable(t, "Redis Cluster", addrs, err, how)
	}
	t.Cleanup(func() {
		if os.Getenv("WEBAUTHNKIT_REDIS_CLUSTER_ADDRS") != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := deleteKeys(ctx, cc, runPrefix); err != nil {
				t.Logf("deleting test keys from the cluster: %v", err)
			}
		}
		cc.Close()
	})
	return cc
}
