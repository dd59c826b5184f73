package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// The tests use the Redis at WEBAUTHNKIT_REDIS_ADDR (default
// 127.0.0.1:6379), under a key prefix unique to this run; TestMain deletes
// the run's keys at the end. Without a server they skip (fail under CI=true).

var (
	redisAddr = testenv.RedisAddr()
	runPrefix = "webauthnkit-test:" + randomHex(6) + ":"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the fault tests make many on purpose.
	redis.SetLogger(&logging.VoidLogger{})
	skipExamplesWithoutRedis()
	code := m.Run()
	// Delete this run's keys from the shared server, if it is up.
	c := redis.NewClient(&redis.Options{Addr: redisAddr, MaxRetries: -1, DialerRetries: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if c.Ping(ctx).Err() == nil {
		if n, err := deleteKeys(ctx, c, runPrefix); err != nil {
			fmt.Fprintf(os.Stderr, "redisstore: deleting test keys %s*: %v\n", runPrefix, err)
		} else if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "redisstore: deleted %d test keys %s*\n", n, runPrefix)
		}
	}
	cancel()
	c.Close()
	os.Exit(code)
}

// deleteKeys deletes every key starting with prefix (SCAN + DEL), on every
// master of a Cluster.
func deleteKeys(ctx context.Context, c redis.UniversalClient, prefix string) (int, error) {
	del := func(ctx context.Context, n redis.Cmdable) (int, error) {
		count := 0
		iter := n.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				count += len(batch)
				if err := delEach(ctx, n, batch); err != nil {
					return count, err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return count, err
		}
		count += len(batch)
		return count, delEach(ctx, n, batch)
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		total := 0
		var mu = make(chan struct{}, 1)
		err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			k, err := del(ctx, n)
			mu <- struct{}{}
			total += k
			<-mu
			return err
		})
		return total, err
	}
	return del(ctx, c)
}

// delEach deletes keys one per command (pipelined), which works whatever
// slots they are in.
func delEach(ctx context.Context, c redis.Cmdable, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	p := c.Pipeline()
	for _, k := range keys {
		p.Del(ctx, k)
	}
	_, err := p.Exec(ctx)
	return err
}

// testClient returns a client for the shared test server, skipping (or, in
// CI, failing) the test when it cannot be reached.
func testClient(t testing.TB) *redis.Client {
	t.Helper()
	if err := redisReachable(); err != nil {
		testenv.Unavailable(t, "Redis", redisAddr, err, testenv.HowToStartRedis)
	}
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { c.Close() })
	return c
}

// redisReachable pings the shared test server once per test binary, with a
// client that does not retry, so that a missing server costs no time.
var redisReachable = sync.OnceValue(func() error {
	c := redis.NewClient(&redis.Options{Addr: redisAddr, MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
})

// testStore returns a Store on c under this run's key prefix.
func testStore(t testing.TB, c redis.UniversalClient, opts ...Option) *Store {
	t.Helper()
	s, err := New(c, append([]Option{WithKeyPrefix(runPrefix)}, opts...)...)
	require.NoError(t, err)
	return s
}

func TestCredentialStore(t *testing.T) {
	c := testClient(t)
	storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore { return testStore(t, c) })
}

func TestChallengeStore(t *testing.T) {
	c := testClient(t)
	storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore { return testStore(t, c) })
}

// TestRESP2: the store does not depend on RESP3 reply types.
func TestRESP2(t *testing.T) {
	testClient(t)
	c := redis.NewClient(&redis.Options{Addr: redisAddr, Protocol: 2})
	t.Cleanup(func() { c.Close() })
	storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore { return testStore(t, c) })
	storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore { return testStore(t, c) })
}

// TestUnavailable runs the storetest Unavailable suites against an address
// where nothing listens. New would refuse such a client (it checks the
// server version), so the store is built without the check.
func TestUnavailable(t *testing.T) {
	newStore := func(t *testing.T) *Store {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: time.Second, DialerRetries: 2, MaxRetries: 1})
		t.Cleanup(func() { c.Close() })
		return &Store{c: c, prefix: runPrefix, lease: defaultLease, now: time.Now}
	}
	storetest.TestCredentialStoreUnavailable(t, func(t *testing.T) webauthnkit.CredentialStore { return newStore(t) })
	storetest.TestChallengeStoreUnavailable(t, func(t *testing.T) webauthnkit.ChallengeStore { return newStore(t) })
}

// TestCloseKeepsClient: Close may be called twice, leaves the caller's
// client open and the Store usable, as memstore's and sqlstore's Close do.
func TestCloseKeepsClient(t *testing.T) {
	c := testClient(t)
	s := testStore(t, c)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "second Close")
	require.NoError(t, c.Ping(t.Context()).Err(), "Close closed the caller's client")
	_, err := s.GetCredential(t.Context(), []byte("no such credential"))
	require.ErrorIs(t, err, webauthnkit.ErrNotFound, "the Store works after Close")
	require.True(t, strings.HasPrefix(err.Error(), "redisstore: GetCredential: "), err.Error())
}

func TestNewUnreachable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: time.Second, DialerRetries: 1})
	defer c.Close()
	_, err := New(c)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.True(t, strings.HasPrefix(err.Error(), "redisstore: "), err.Error())
}

// fakeInfo is a go-redis hook that answers INFO with a canned reply.
type fakeInfo struct{ reply string }

func (fakeInfo) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h fakeInfo) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if sc, ok := cmd.(*redis.StringCmd); ok && strings.EqualFold(cmd.Name(), "info") {
			sc.SetVal(h.reply)
			return nil
		}
		return next(ctx, cmd)
	}
}
func (fakeInfo) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestNewChecksVersion(t *testing.T) {
	c := testClient(t)
	// The real server passes.
	_, err := New(c)
	require.NoError(t, err)

	old := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer old.Close()
	old.AddHook(fakeInfo{"# Server\r\nredis_version:6.0.16\r\nredis_mode:standalone\r\n"})
	_, err = New(old)
	require.EqualError(t, err, "redisstore: Redis 6.2 or newer required, server is 6.0.16")

	noVersion := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer noVersion.Close()
	noVersion.AddHook(fakeInfo{"# Server\r\nredis_mode:standalone\r\n"})
	_, err = New(noVersion)
	require.ErrorContains(t, err, "did not report redis_version")
}

func TestNewRefusesRing(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": redisAddr}})
	defer ring.Close()
	_, err := New(ring)
	require.ErrorContains(t, err, "redis.Ring is not supported")
}

func TestVersionAtLeast(t *testing.T) {
	for v, want := range map[string]bool{
		"6.2.0": true, "6.2.14": true, "7.0.15": true, "10.0.0": true, "6.10.1": true,
		"6.0.9": false, "5.0.14": false, "6": false, "": false, "x.y.z": false, "6.1.255": false,
	} {
		assert.Equal(t, want, versionAtLeast(v, 6, 2), v)
	}
}

func TestKeyPrefix(t *testing.T) {
	c := testClient(t)
	for _, p := range []string{"a{b", "}", "{x}:"} {
		_, err := New(c, WithKeyPrefix(p))
		require.ErrorContains(t, err, "must not contain", p)
	}
	// Default prefix.
	s, err := New(c)
	require.NoError(t, err)
	require.Equal(t, "webauthnkit:cred:{AQI}", s.credKey([]byte{1, 2}))

	// Every key the store writes starts with the prefix.
	prefix := runPrefix + "prefixcheck-" + randomHex(4) + ":"
	s = testStore(t, c, WithKeyPrefix(prefix))
	u := storetest.RandomUser()
	cr := storetest.RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(t.Context(), u, &cr))
	require.NoError(t, s.PutCeremony(t.Context(), "id", []byte("x"), time.Now().Add(time.Minute)))
	keys, err := c.Keys(t.Context(), prefix+"*").Result()
	require.NoError(t, err)
	// user, user's credential index, name claim, credential, ceremony.
	require.Len(t, keys, 5, "%q", keys)
}

// TestCeremonyExpiry: expired ceremonies do not accumulate because every
// ceremony key carries a native TTL (PX) that ends at expiresAt.
func TestCeremonyExpiry(t *testing.T) {
	c := testClient(t)
	s := testStore(t, c)
	ctx := t.Context()
	id := "ttl-" + randomHex(8)
	require.NoError(t, s.PutCeremony(ctx, id, []byte("x"), time.Now().Add(2*time.Second)))
	ttl, err := c.PTTL(ctx, s.ceremonyKey(id)).Result()
	require.NoError(t, err)
	require.True(t, ttl > 0 && ttl <= 2001*time.Millisecond, "PTTL %v", ttl)
	time.Sleep(2100 * time.Millisecond)
	n, err := c.Exists(ctx, s.ceremonyKey(id)).Result()
	require.NoError(t, err)
	require.Zero(t, n, "ceremony key still exists after its TTL")

	// Sub-millisecond remaining time is rounded up, not to zero (which Redis
	// would reject) and not stored without TTL.
	id = "ttl-" + randomHex(8)
	require.NoError(t, s.PutCeremony(ctx, id, []byte("x"), time.Now().Add(500*time.Microsecond)))
	ttl, err = c.PTTL(ctx, s.ceremonyKey(id)).Result()
	require.NoError(t, err)
	require.True(t, ttl == -2 || (ttl >= 0 && ttl <= time.Millisecond), "PTTL %v", ttl)

	// An already expired ceremony is not stored at all.
	id = "ttl-" + randomHex(8)
	require.NoError(t, s.PutCeremony(ctx, id, []byte("x"), time.Now().Add(-time.Second)))
	n, err = c.Exists(ctx, s.ceremonyKey(id)).Result()
	require.NoError(t, err)
	require.Zero(t, n)
}

// TestCeremonyExpiryUsesStoreClock: TakeCeremony compares the stored expiry
// with the store's clock, so a ceremony is not returned after expiresAt even
// while the server-side TTL still runs.
func TestCeremonyExpiryUsesStoreClock(t *testing.T) {
	c := testClient(t)
	now := time.Now()
	s := testStore(t, c, WithClock(func() time.Time { return now }))
	id := "clock-" + randomHex(8)
	require.NoError(t, s.PutCeremony(t.Context(), id, []byte("x"), now.Add(time.Minute)))
	now = now.Add(time.Minute) // exactly at expiresAt: expired
	_, err := s.TakeCeremony(t.Context(), id)
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
}

func TestErrorClassification(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"refused", ctx, opErr, true},
		{"reset", ctx, fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"eof", ctx, io.EOF, true},
		{"pool timeout", ctx, redis.ErrPoolTimeout, true},
		{"deadline", ctx, context.DeadlineExceeded, true},
		{"canceled", canceled, context.Canceled, false},
		{"net error after cancel", canceled, opErr, false},
		{"clusterdown", ctx, redisError("CLUSTERDOWN The cluster is down"), true},
		{"loading", ctx, redisError("LOADING Redis is loading the dataset in memory"), true},
		{"readonly", ctx, redisError("READONLY You can't write against a read only replica."), true},
		{"masterdown", ctx, redisError("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), true},
		{"tryagain", ctx, redisError("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{"busy", ctx, redisError("BUSY Redis is busy running a script."), true},
		{"wrongtype", ctx, redisError("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{"crossslot", ctx, redisError("CROSSSLOT Keys in request don't hash to the same slot"), false},
		{"noauth", ctx, redisError("NOAUTH Authentication required."), false},
		{"other", ctx, errors.New("boom"), false},
		{"nil", ctx, redis.Nil, false},
	} {
		got := isUnavailable(tc.ctx, tc.err)
		assert.Equal(t, tc.want, got, tc.name)
		err := wrapErr(tc.ctx, "Op", tc.err)
		assert.Equal(t, tc.want, errors.Is(err, webauthnkit.ErrStoreUnavailable), tc.name)
		assert.ErrorIs(t, err, tc.err, tc.name)
		assert.True(t, strings.HasPrefix(err.Error(), "redisstore: Op: "), tc.name)
	}
}

// redisError returns an error as go-redis returns Redis error replies: its
// type has the RedisError marker method that redis.HasErrorPrefix and the
// redis.Is*Error helpers look for.
func redisError(msg string) error {
	c := redis.NewStringCmd(context.Background())
	c.SetErr(redisErr(msg))
	return c.Err()
}

type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}
