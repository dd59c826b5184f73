//go:build linux

// Package redistest starts the Redis topologies the tests run on: a
// Sentinel group (a primary, a replica and three sentinels) and a
// three-master Cluster, each on free loopback ports, stopped at the end of
// the test. A missing redis-server binary skips the test, or fails it
// under CI (internal/testenv).
package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// Sentinel is a Redis primary, its replica and three sentinels watching
// them under master name Master, with a fast failure detection (400 ms)
// and quorum 2.
type Sentinel struct {
	Master    string
	Primary   *testenv.Server
	Replica   *testenv.Server
	Sentinels []*testenv.Server
}

// StartSentinel starts the group and waits until every sentinel knows the
// replica and the other sentinels (so a failover can be elected).
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s := &Sentinel{Master: "webauthnkit-test", Primary: testenv.StartRedis(t)}
	s.Replica = StartReplica(t, s.Primary.Addr)
	host, port, _ := strings.Cut(s.Primary.Addr, ":")
	conf := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s 2\n"+
		"sentinel down-after-milliseconds %[1]s 400\n"+
		"sentinel failover-timeout %[1]s 2000\n"+
		"sentinel parallel-syncs %[1]s 1", s.Master, host, port)
	for range 3 {
		s.Sentinels = append(s.Sentinels, testenv.StartRedisSentinel(t, conf))
	}
	for _, a := range s.Addrs() {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a, MaxRetries: -1})
		WaitUntil(t, 20*time.Second, "sentinel "+a+" knows the replica and the other sentinels", func(ctx context.Context) bool {
			m, err := sc.Master(ctx, s.Master).Result()
			return err == nil && m["num-slaves"] == "1" && m["num-other-sentinels"] == "2"
		})
		sc.Close()
	}
	return s
}

// Addrs are the sentinels' addresses.
func (s *Sentinel) Addrs() []string {
	var a []string
	for _, x := range s.Sentinels {
		a = append(a, x.Addr)
	}
	return a
}

// WaitForPrimary waits until the first sentinel names want as the
// primary, and returns how long that took.
func (s *Sentinel) WaitForPrimary(t testing.TB, want string) time.Duration {
	t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0].Addr, MaxRetries: -1})
	defer sc.Close()
	start := time.Now()
	WaitUntil(t, 30*time.Second, "failover to "+want, func(ctx context.Context) bool {
		a, err := sc.GetMasterAddrByName(ctx, s.Master).Result()
		return err == nil && len(a) == 2 && a[0]+":"+a[1] == want
	})
	return time.Since(start)
}

// WaitForReplicas waits until the first sentinel sees n replicas of the
// current primary that are up.
func (s *Sentinel) WaitForReplicas(t testing.TB, n int) {
	t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0].Addr, MaxRetries: -1})
	defer sc.Close()
	WaitUntil(t, 30*time.Second, fmt.Sprintf("sentinel sees %d replicas up", n), func(ctx context.Context) bool {
		reps, err := sc.Replicas(ctx, s.Master).Result()
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

// StartReplica starts a redis-server replicating primary (host:port) and
// waits until its replication link is up.
func StartReplica(t testing.TB, primary string) *testenv.Server {
	t.Helper()
	host, port, _ := strings.Cut(primary, ":")
	r := testenv.StartRedis(t, "--replicaof", host, port)
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	WaitUntil(t, 10*time.Second, "replica "+r.Addr+" linked to "+primary, func(ctx context.Context) bool {
		info, err := c.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	return r
}

// WaitUntil polls ok (each call bounded by a second) until it holds,
// failing t after limit.
func WaitUntil(t testing.TB, limit time.Duration, what string, ok func(context.Context) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
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

// StartCluster starts a three-master Redis Cluster with
// scripts/redis-cluster.sh on free ports and returns the node addresses.
// It is stopped at the end of the test, even if the start failed half-way.
func StartCluster(t testing.TB) ([]string, error) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "redis-cluster.sh")
	dir := t.TempDir()
	ports := clusterPorts(t)
	t.Cleanup(func() {
		cmd := exec.Command("bash", script, "stop", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("redis-cluster.sh stop: %v\n%s", err, out)
		}
		// Whatever happened above, no node may survive the test.
		pids, _ := filepath.Glob(filepath.Join(dir, "node-*", "redis.pid"))
		for _, f := range pids {
			if b, err := os.ReadFile(f); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	cmd := exec.Command("bash", script, "start", dir)
	ps := make([]string, len(ports))
	for i, p := range ports {
		ps[i] = strconv.Itoa(p)
	}
	cmd.Env = append(os.Environ(),
		"REDIS_CLUSTER_PORTS="+strings.Join(ps, " "),
		"REDIS_CLUSTER_OWNER_PID="+strconv.Itoa(os.Getpid()))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/redis-cluster.sh start: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	t.Logf("started a Redis Cluster on ports %v in %v", ports, time.Since(start).Round(time.Millisecond))
	return strings.Split(strings.TrimSpace(string(out)), ","), nil
}

// clusterPorts picks three ports that are free on loopback, together with
// their cluster bus ports (port + 10000).
func clusterPorts(t testing.TB) []int {
	t.Helper()
	var ports []int
	for p := 20000 + int(time.Now().UnixNano()%20000); len(ports) < 3; p++ {
		if p+10000 > 65535 {
			p = 20000
		}
		if testenv.PortFree(p) && testenv.PortFree(p+10000) {
			ports = append(ports, p)
		}
	}
	return ports
}
