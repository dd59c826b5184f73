package redisstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/storetest"
)

const sentinelMaster = "webauthnkit-test"

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
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Unavailable(t, "redis-server binary", "$PATH", err, "apt-get install redis-server")
	}
	primary := startRedisServer(t, 0)
	replica := startReplica(t, bin, primary.addr())
	sentinels := startSentinels(t, bin, primary.addr(), 3)

	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    sentinelMaster,
		SentinelAddrs: sentinels,
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
	pc := redis.NewClient(&redis.Options{Addr: primary.addr(), MaxRetries: -1})
	t.Cleanup(func() { pc.Close() })
	rc := redis.NewClient(&redis.Options{Addr: replica.addr(), MaxRetries: -1})
	t.Cleanup(func() { rc.Close() })
	waitUntil(t, 10*time.Second, "the replica has the first registration", func(ctx context.Context) bool {
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
	primary.kill()
	waitForPrimary(t, sentinels[0], replica.addr())
	_, err = eventually(t, func(ctx context.Context) (webauthnkit.User, error) { return plain.GetUserByHandle(ctx, u.Handle) })
	require.NoError(t, err, "a registration replicated before the failover is lost")
	_, err = eventually(t, func(ctx context.Context) (webauthnkit.User, error) { return plain.GetUserByHandle(ctx, lost.Handle) })
	require.ErrorIs(t, err, webauthnkit.ErrNotFound, "without WithReplicaAck, the registration the replica never received should be gone after the failover")
	t.Log("without WithReplicaAck: a registration the primary acknowledged while its replica was cut off was lost in the failover")

	// 2. With WithReplicaAck(1): a new replica for the new primary.
	replica2 := startReplica(t, bin, replica.addr())
	waitForReplicas(t, sentinels[0], 1)
	acked := testStore(t, fc, WithReplicaAck(1, 300*time.Millisecond))

	replica2.signal(syscall.SIGSTOP)
	start := time.Now()
	u2 := storetest.RandomUser()
	cr2 := storetest.RandomCredential(u2.Handle)
	err = acked.CreateUser(t.Context(), u2, &cr2)
	took := time.Since(start)
	replica2.signal(syscall.SIGCONT)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, "a write no replica confirmed must not be acknowledged")
	require.Contains(t, err.Error(), "replicas")
	require.Less(t, took, 3*time.Second, "the acknowledgement wait is bounded by its timeout")

	kept, keptCred := createTestUser(t, acked) // confirmed by replica2
	replica.kill()                             // the primary, right after the acknowledgement
	waitForPrimary(t, sentinels[0], replica2.addr())
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

// startReplica starts a redis-server replicating primary and waits until
// its replication link is up.
func startReplica(t *testing.T, bin, primary string) *redisServer {
	t.Helper()
	host, port, _ := strings.Cut(primary, ":")
	srv := &redisServer{t: t, port: freePort(t), dir: t.TempDir()}
	srv.cmd = exec.Command(bin, "--port", strconv.Itoa(srv.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", srv.dir, "--replicaof", host, port)
	srv.cmd.Stdout, srv.cmd.Stderr = &srv.out, &srv.out
	require.NoError(t, srv.cmd.Start())
	t.Cleanup(srv.kill)
	c := redis.NewClient(&redis.Options{Addr: srv.addr(), MaxRetries: -1})
	defer c.Close()
	waitUntil(t, 10*time.Second, "replica "+srv.addr()+" linked to "+primary, func(ctx context.Context) bool {
		info, err := c.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	return srv
}

// startSentinels starts n sentinels monitoring primary with quorum n/2+1
// and a fast failure detection, and waits until they know each other.
func startSentinels(t *testing.T, bin, primary string, n int) []string {
	t.Helper()
	host, port, _ := strings.Cut(primary, ":")
	var addrs []string
	for i := range n {
		p := freePort(t)
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		cfg := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
			"sentinel monitor %s %s %s %d\n"+
			"sentinel down-after-milliseconds %[3]s 400\n"+
			"sentinel failover-timeout %[3]s 2000\n"+
			"sentinel parallel-syncs %[3]s 1\n", p, dir, sentinelMaster, host, port, n/2+1)
		require.NoError(t, os.WriteFile(conf, []byte(cfg), 0o600))
		srv := &redisServer{t: t, port: p, dir: dir}
		srv.cmd = exec.Command(bin, conf, "--sentinel")
		srv.cmd.Stdout, srv.cmd.Stderr = &srv.out, &srv.out
		require.NoError(t, srv.cmd.Start(), "sentinel %d", i)
		t.Cleanup(srv.kill)
		addrs = append(addrs, srv.addr())
	}
	for _, a := range addrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a, MaxRetries: -1})
		waitUntil(t, 20*time.Second, "sentinel "+a+" knows the replica and the other sentinels", func(ctx context.Context) bool {
			m, err := sc.Master(ctx, sentinelMaster).Result()
			return err == nil && m["num-slaves"] == "1" && m["num-other-sentinels"] == strconv.Itoa(n-1)
		})
		sc.Close()
	}
	return addrs
}

// waitForPrimary waits until the sentinel names want as the primary.
func waitForPrimary(t *testing.T, sentinel, want string) {
	t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel, MaxRetries: -1})
	defer sc.Close()
	start := time.Now()
	waitUntil(t, 30*time.Second, "failover to "+want, func(ctx context.Context) bool {
		a, err := sc.GetMasterAddrByName(ctx, sentinelMaster).Result()
		return err == nil && len(a) == 2 && a[0]+":"+a[1] == want
	})
	t.Logf("failover to %s after %v", want, time.Since(start).Round(10*time.Millisecond))
}

// waitForReplicas waits until the sentinel sees n replicas of the primary.
func waitForReplicas(t *testing.T, sentinel string, n int) {
	t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel, MaxRetries: -1})
	defer sc.Close()
	waitUntil(t, 30*time.Second, "sentinel sees the new replica", func(ctx context.Context) bool {
		reps, err := sc.Replicas(ctx, sentinelMaster).Result()
		if err != nil {
			return false
		}
		up := 0
		for _, r := range reps {
			if !strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") {
				up++
			}
		}
		return up >= n
	})
}

func waitUntil(t *testing.T, limit time.Duration, what string, ok func(context.Context) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		done := ok(ctx)
		cancel()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
