package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// replayHook runs the idempotent write scripts twice, as go-redis does when
// it retries a command whose reply was lost on a broken connection.
type replayHook struct{ shas map[string]bool }

func newReplayHook(scripts ...*redis.Script) replayHook {
	h := replayHook{shas: map[string]bool{}}
	for _, sc := range scripts {
		h.shas[sc.Hash()] = true
	}
	return h
}

func (replayHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h replayHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if len(args) > 1 && cmd.Name() == "evalsha" {
			if sha, _ := args[1].(string); h.shas[sha] {
				if err := next(ctx, cmd); err != nil {
					return err
				}
			}
		}
		return next(ctx, cmd)
	}
}
func (replayHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestScriptsReplayed runs the conformance suites with every write script
// that must be idempotent executed twice, as when go-redis resends a
// command whose reply was lost. GETDEL in TakeCeremony is not idempotent
// (a resent one reports ErrNotFound), nor is EndSessions' increment (a
// resent one skips a value).
// The compare-and-set of UpdateCredentialUse recognises its own earlier run
// only if no other update came in between (else: ErrConflict), so it is
// replayed in a separate, sequential test.
func TestScriptsReplayed(t *testing.T) {
	testClient(t)
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { c.Close() })
	// Load the scripts first, so that EVALSHA (the hooked command) finds them.
	s := testStore(t, c)
	u, cr := createTestUser(t, s)
	require.NoError(t, s.UpdateCredentialUse(t.Context(), cr.ID, cr.SignCount, webauthnkit.CredentialUse{SignCount: cr.SignCount}))
	require.NoError(t, s.UpdateUser(t.Context(), u.Handle, storetest.RandomName(), "x"))
	require.NoError(t, s.DeleteUser(t.Context(), u.Handle))
	require.NoError(t, s.PutCeremony(t.Context(), "x", nil, time.Now().Add(-time.Second)))
	require.NoError(t, s.PutCeremony(t.Context(), "replay-"+randomHex(8), nil, time.Now().Add(time.Second)))
	c.AddHook(newReplayHook(scriptPutCeremony, scriptBegin, scriptCommit, scriptClaim, scriptClaimCred,
		scriptMarkCommitted, scriptReleaseClaim, scriptDeleteCredIf, scriptRename, scriptDeleteUser,
		scriptBeginDelete, scriptMarkDeleting, scriptCommitDelete, scriptUnmarkDeleting,
		scriptBeginSwitch, scriptCommitSwitch, scriptSetRecoveryCodes, scriptUseRecoveryCode))
	storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore { return testStore(t, c) })
	storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore { return testStore(t, c) })

	t.Run("UpdateCredentialUse", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: redisAddr})
		t.Cleanup(func() { c.Close() })
		s := testStore(t, c)
		u, cr := createTestUser(t, s)
		c.AddHook(newReplayHook(scriptUpdateUse))
		now := time.Now()
		for i := range uint32(3) {
			use := webauthnkit.CredentialUse{SignCount: cr.SignCount + i + 1, UserVerified: true, LastUsedAt: now.Add(time.Duration(i) * time.Second)}
			require.NoError(t, s.UpdateCredentialUse(t.Context(), cr.ID, cr.SignCount+i, use), "replayed update %d", i)
		}
		// A real conflict is still one, even with the very same values.
		err := s.UpdateCredentialUse(t.Context(), cr.ID, cr.SignCount+2, webauthnkit.CredentialUse{SignCount: cr.SignCount + 3, UserVerified: true, LastUsedAt: now.Add(2 * time.Second)})
		require.ErrorIs(t, err, webauthnkit.ErrConflict)
		got, err := s.GetCredential(t.Context(), cr.ID)
		require.NoError(t, err)
		require.Equal(t, cr.SignCount+3, got.SignCount)
		require.NoError(t, s.DeleteUser(t.Context(), u.Handle))
	})
}

// ---- a private redis-server the fault tests can kill ----

type redisServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
	out  bytes.Buffer
}

// startRedisServer starts redis-server on a free loopback port (or on port,
// if non-zero) with no persistence, and stops it at the end of the test.
func startRedisServer(t *testing.T, port int) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Unavailable(t, "redis-server binary", "$PATH", err, "apt-get install redis-server")
	}
	if port == 0 {
		port = freePort(t)
	}
	srv := &redisServer{t: t, port: port, dir: t.TempDir()}
	srv.start(bin)
	t.Cleanup(srv.kill)
	return srv
}

func (srv *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(srv.port) }

func (srv *redisServer) start(bin string) {
	t := srv.t
	t.Helper()
	srv.out.Reset()
	srv.cmd = exec.Command(bin, "--port", strconv.Itoa(srv.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", srv.dir)
	srv.cmd.Stdout, srv.cmd.Stderr = &srv.out, &srv.out
	require.NoError(t, srv.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: srv.addr(), MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			srv.kill()
			t.Fatalf("redis-server on port %d did not start: %v\n%s", srv.port, err, srv.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (srv *redisServer) restart() { srv.start(srv.cmd.Path) }

// kill kills the server (SIGKILL: no goodbye to the clients) and waits.
func (srv *redisServer) kill() {
	if srv.cmd == nil || srv.cmd.Process == nil || srv.cmd.ProcessState != nil {
		return
	}
	_ = srv.cmd.Process.Signal(syscall.SIGCONT) // in case it was stopped
	_ = srv.cmd.Process.Kill()
	_ = srv.cmd.Wait()
}

func (srv *redisServer) signal(sig syscall.Signal) {
	require.NoError(srv.t, srv.cmd.Process.Signal(sig))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// workload runs one round of every kind of call, on fresh random records,
// and returns the errors it got.
func workload(ctx context.Context, s *Store) []error {
	return workloadEach(ctx, s, 0)
}

// workloadEach is workload with a timeout of its own for each call, if
// perCall is not zero.
func workloadEach(parent context.Context, s *Store, perCall time.Duration) []error {
	var errs []error
	call := func(f func(ctx context.Context) error) error {
		ctx, cancel := parent, context.CancelFunc(func() {})
		if perCall > 0 {
			ctx, cancel = context.WithTimeout(parent, perCall)
		}
		defer cancel()
		err := f(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		return err
	}
	id := "fault-" + randomHex(8)
	if call(func(ctx context.Context) error {
		return s.PutCeremony(ctx, id, []byte("data"), time.Now().Add(time.Minute))
	}) == nil {
		call(func(ctx context.Context) error { _, err := s.TakeCeremony(ctx, id); return err })
	}
	u := storetest.RandomUser()
	cr := storetest.RandomCredential(u.Handle)
	if call(func(ctx context.Context) error { return s.CreateUser(ctx, u, &cr) }) != nil {
		return errs
	}
	call(func(ctx context.Context) error { _, err := s.GetCredential(ctx, cr.ID); return err })
	call(func(ctx context.Context) error {
		return s.UpdateCredentialUse(ctx, cr.ID, cr.SignCount, webauthnkit.CredentialUse{SignCount: cr.SignCount + 1})
	})
	call(func(ctx context.Context) error { _, err := s.GetUserByName(ctx, u.Name); return err })
	call(func(ctx context.Context) error { _, err := s.ListCredentials(ctx, u.Handle); return err })
	call(func(ctx context.Context) error { return s.DeleteUser(ctx, u.Handle) })
	return errs
}

// TestFaultConnectionsKilled: the store's connections are killed with CLIENT
// KILL TYPE normal (from an admin client that spares itself with SKIPME
// yes). Runs against a private server: killing every normal client of the
// shared server would break other tests.
func TestFaultConnectionsKilled(t *testing.T) {
	srv := startRedisServer(t, 0)
	admin := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer admin.Close()
	killAll := func() int64 {
		n, err := admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Int64()
		require.NoError(t, err)
		return n
	}

	// Between calls: the next calls work again; an error, if any, is
	// ErrStoreUnavailable.
	t.Run("between_calls", func(t *testing.T) {
		for _, opts := range []redis.Options{{}, {MaxRetries: -1}} {
			opts.Addr = srv.addr()
			c := redis.NewClient(&opts)
			defer c.Close()
			s, err := New(c, WithKeyPrefix(runPrefix))
			require.NoError(t, err)
			var killed int64
			failures := 0
			for range 20 {
				require.Empty(t, workload(t.Context(), s))
				killed += killAll()
				for try := 0; ; try++ {
					errs := workload(t.Context(), s)
					if len(errs) == 0 {
						break
					}
					for _, err := range errs {
						require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
					}
					failures++
					require.Less(t, try, 3, "still failing after the connections were killed: %v", errs)
				}
			}
			require.Positive(t, killed)
			t.Logf("MaxRetries %d: %d connections killed in 20 rounds, %d workloads saw ErrStoreUnavailable", opts.MaxRetries, killed, failures)
		}
	})

	// During calls: connections are killed every few milliseconds while
	// four goroutines work. Without retries (MaxRetries -1) every failed
	// call reports ErrStoreUnavailable. With go-redis's default retries a command
	// whose reply was lost is sent again; the store's writes recognise their
	// own earlier run, except GETDEL: a retried TakeCeremony finds the
	// ceremony already taken (ErrNotFound), as documented. Nothing panics or
	// hangs, and once the killing stops everything works.
	for _, tc := range []struct {
		name string
		opts redis.Options
	}{
		{"during_calls_no_retries", redis.Options{MaxRetries: -1}},
		{"during_calls_default_retries", redis.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Addr = srv.addr()
			c := redis.NewClient(&opts)
			defer c.Close()
			s, err := New(c, WithKeyPrefix(runPrefix))
			require.NoError(t, err)

			var kills atomic.Int64
			stop := make(chan struct{})
			killerDone := make(chan struct{})
			go func() {
				defer close(killerDone)
				for {
					select {
					case <-stop:
						return
					case <-time.After(3 * time.Millisecond):
					}
					n, err := admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Int64()
					if err == nil {
						kills.Add(n)
					}
				}
			}()
			var mu sync.Mutex
			var seen []error
			var wg sync.WaitGroup
			deadline := time.Now().Add(1500 * time.Millisecond)
			for range 4 {
				wg.Go(func() {
					for time.Now().Before(deadline) {
						ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
						errs := workload(ctx, s)
						cancel()
						mu.Lock()
						seen = append(seen, errs...)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			close(stop)
			<-killerDone

			unavailable, replayedTakes := 0, 0
			for _, err := range seen {
				switch {
				case errors.Is(err, webauthnkit.ErrStoreUnavailable):
					unavailable++
				case opts.MaxRetries >= 0 && errors.Is(err, webauthnkit.ErrNotFound) &&
					strings.HasPrefix(err.Error(), "redisstore: TakeCeremony:"):
					replayedTakes++
				default:
					t.Errorf("unexpected error while connections were killed: %v", err)
				}
			}
			t.Logf("%d connections killed, %d ErrStoreUnavailable, %d retried takes", kills.Load(), unavailable, replayedTakes)
			require.Positive(t, kills.Load(), "no connection was killed")

			// Killing stopped: everything works again.
			for range 3 {
				require.Empty(t, workload(t.Context(), s))
			}
		})
	}
}

// TestFaultServerDown: the server is killed, then started again on the same
// port. While it is down every call returns ErrStoreUnavailable within its
// context deadline; once it is back the store works again by itself.
func TestFaultServerDown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    redis.Options
		perCall time.Duration // expected bound on one failing call
	}{
		// The options the documentation recommends: fail fast.
		{"recommended_options", redis.Options{DialerRetries: 1, ContextTimeoutEnabled: true}, 200 * time.Millisecond},
		// go-redis defaults: each failing call retries dialing for about
		// two seconds; the caller's deadline still bounds it.
		{"default_options", redis.Options{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRedisServer(t, 0)
			opts := tc.opts
			opts.Addr = srv.addr()
			c := redis.NewClient(&opts)
			defer c.Close()
			s, err := New(c, WithKeyPrefix(runPrefix))
			require.NoError(t, err)
			require.Empty(t, workload(t.Context(), s))
			u, cr := createTestUser(t, s) // to read during and after the outage

			srv.kill()
			// Each call has a deadline of its own; every one must fail with
			// ErrStoreUnavailable, within it.
			const perCall = time.Second
			rounds := 3
			if tc.perCall == 0 {
				rounds = 1
			}
			for i := range rounds {
				start := time.Now()
				errs := workloadEach(t.Context(), s, perCall)
				ctx, cancel := context.WithTimeout(t.Context(), perCall)
				_, err := s.GetCredential(ctx, cr.ID)
				cancel()
				errs = append(errs, err)
				elapsed := time.Since(start)
				for _, err := range errs {
					require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
					require.NotErrorIs(t, err, webauthnkit.ErrNotFound)
				}
				require.Less(t, elapsed, time.Duration(len(errs))*(perCall+200*time.Millisecond), "calls outlived their context deadline")
				if tc.perCall > 0 {
					require.Less(t, elapsed, time.Duration(len(errs))*tc.perCall)
				}
				t.Logf("round %d: %d calls failed with ErrStoreUnavailable in %v; last: %v", i, len(errs), elapsed.Round(time.Millisecond), errs[len(errs)-1])
			}
			// A short caller deadline is honoured.
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			start := time.Now()
			_, err = s.GetCredential(ctx, cr.ID)
			cancel()
			require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
			// Generous bound: the point is "no hang", and CI machines are busy.
			require.Less(t, time.Since(start), 2*time.Second)
			if tc.perCall > 0 {
				t.Run("storetest_unavailable", func(t *testing.T) {
					storetest.TestCredentialStoreUnavailable(t, func(t *testing.T) webauthnkit.CredentialStore { return s })
					storetest.TestChallengeStoreUnavailable(t, func(t *testing.T) webauthnkit.ChallengeStore { return s })
				})
			}

			srv.restart() // same port, empty (no persistence)
			start = time.Now()
			for {
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				errs := workload(ctx, s)
				cancel()
				if len(errs) == 0 {
					break
				}
				for _, err := range errs {
					require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
				}
				require.Less(t, time.Since(start), 10*time.Second, "store did not recover: %v", errs)
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("working again %v after the restart", time.Since(start).Round(time.Millisecond))
			// The data went with the server (no persistence): the user is
			// gone and can be created again.
			_, err = s.GetUserByHandle(t.Context(), u.Handle)
			require.ErrorIs(t, err, webauthnkit.ErrNotFound)
			require.NoError(t, s.CreateUser(t.Context(), u, &cr))
			got, err := s.GetCredential(t.Context(), cr.ID)
			require.NoError(t, err)
			storetest.AssertCredentialEqual(t, cr, got)
		})
	}
}

// TestFaultServerHung: a server that accepts connections but does not
// answer (SIGSTOP). With ContextTimeoutEnabled, as the documentation
// recommends, calls give up at the caller's deadline with ErrStoreUnavailable.
func TestFaultServerHung(t *testing.T) {
	srv := startRedisServer(t, 0)
	c := redis.NewClient(&redis.Options{Addr: srv.addr(), ContextTimeoutEnabled: true})
	defer c.Close()
	s, err := New(c, WithKeyPrefix(runPrefix))
	require.NoError(t, err)
	_, cr := createTestUser(t, s)

	srv.signal(syscall.SIGSTOP)
	for _, d := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		start := time.Now()
		_, err := s.GetCredential(ctx, cr.ID)
		elapsed := time.Since(start)
		cancel()
		require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, elapsed, d+500*time.Millisecond, fmt.Sprintf("deadline %v", d))
	}
	srv.signal(syscall.SIGCONT)
	start := time.Now()
	for {
		_, err := s.GetCredential(t.Context(), cr.ID)
		if err == nil {
			break
		}
		require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
		require.Less(t, time.Since(start), 10*time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	require.Empty(t, workload(t.Context(), s))
}

// TestFaultServerDiesMidWrite: Redis dies between two steps of CreateUser.
// The call fails with ErrStoreUnavailable within its deadline, clean-up included,
// even with go-redis's default (slow to fail) options.
func TestFaultServerDiesMidWrite(t *testing.T) {
	for _, step := range []string{"CreateUser:claimedName", "CreateUser:committed"} {
		t.Run(step, func(t *testing.T) {
			srv := startRedisServer(t, 0)
			c := redis.NewClient(&redis.Options{Addr: srv.addr()})
			defer c.Close()
			s, err := New(c, WithKeyPrefix(runPrefix))
			require.NoError(t, err)
			s.failpoint = func(got string) error {
				if got == step {
					srv.kill()
				}
				return nil
			}
			const deadline = 500 * time.Millisecond
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			u := storetest.RandomUser()
			start := time.Now()
			err = s.CreateUser(ctx, u, new(storetest.RandomCredential(u.Handle)))
			elapsed := time.Since(start)
			if step == "CreateUser:committed" {
				require.NoError(t, err, "the commit happened; finishing it is best effort")
			} else {
				require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
			}
			// Generous bound (best-effort clean-up, busy CI machines): the
			// point is that the call does not hang past its deadline.
			require.Less(t, elapsed, deadline+1500*time.Millisecond)
			t.Logf("returned after %v: %v", elapsed.Round(time.Millisecond), err)
		})
	}
}
