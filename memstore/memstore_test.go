package memstore

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/storetest"
)

func newTestStore(t *testing.T, opts ...Option) *Store {
	s := mustNew(t, opts...)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// mustNew is New for options known to be valid. It registers no cleanup:
// some tests need the Store to become unreachable.
func mustNew(tb testing.TB, opts ...Option) *Store {
	tb.Helper()
	s, err := New(opts...)
	require.NoError(tb, err)
	return s
}

func TestCredentialStore(t *testing.T) {
	storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore {
		return newTestStore(t)
	})
}

func TestChallengeStore(t *testing.T) {
	storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore {
		return newTestStore(t)
	})
}

// TestCredentialStoreShared runs the suite with one store for every subtest,
// as a shared database backend would: the suite must not assume emptiness.
func TestCredentialStoreShared(t *testing.T) {
	s := newTestStore(t)
	storetest.TestCredentialStore(t, func(*testing.T) webauthnkit.CredentialStore { return s })
	storetest.TestChallengeStore(t, func(*testing.T) webauthnkit.ChallengeStore { return s })
}

// fakeClock is a settable clock for WithClock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestSweeperRemovesExpiredCeremonies(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, WithClock(clock.Now), WithSweepInterval(5*time.Millisecond))
	ctx := context.Background()

	const n = 10_000
	for i := range n {
		require.NoError(t, s.PutCeremony(ctx, fmt.Sprint("expiring-", i), []byte("data"), clock.Now().Add(time.Minute)))
	}
	require.NoError(t, s.PutCeremony(ctx, "kept", []byte("kept"), clock.Now().Add(time.Hour)))
	require.Equal(t, n+1, s.st.ceremonyCount())

	// Not expired yet: the sweeper keeps everything.
	time.Sleep(30 * time.Millisecond)
	require.Equal(t, n+1, s.st.ceremonyCount())

	clock.Advance(time.Minute) // expiresAt reached: expired
	require.Eventually(t, func() bool { return s.st.ceremonyCount() == 1 }, 5*time.Second, 5*time.Millisecond,
		"sweeper did not remove the %d expired ceremonies", n)
	data, err := s.TakeCeremony(ctx, "kept")
	require.NoError(t, err)
	require.Equal(t, "kept", string(data))
	require.Zero(t, s.st.ceremonyCount())
}

// TestExpiredCeremoniesDoNotAccumulate: with a steady stream of ceremonies
// that are never taken, the map stays bounded.
func TestExpiredCeremoniesDoNotAccumulate(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, WithClock(clock.Now), WithSweepInterval(time.Millisecond))
	ctx := context.Background()
	for round := range 20 {
		for i := range 500 {
			require.NoError(t, s.PutCeremony(ctx, fmt.Sprint(round, "-", i), []byte("x"), clock.Now().Add(time.Second)))
		}
		clock.Advance(2 * time.Second)
		require.Eventually(t, func() bool { return s.st.ceremonyCount() == 0 }, 5*time.Second, time.Millisecond, "round %d", round)
	}
}

func TestClockDecidesExpiry(t *testing.T) {
	clock := newFakeClock()
	s := newTestStore(t, WithClock(clock.Now), WithSweepInterval(time.Hour))
	ctx := context.Background()
	exp := clock.Now().Add(time.Minute)
	require.NoError(t, s.PutCeremony(ctx, "a", []byte("a"), exp))
	require.NoError(t, s.PutCeremony(ctx, "b", []byte("b"), exp))

	clock.Advance(time.Minute - time.Nanosecond)
	data, err := s.TakeCeremony(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, "a", string(data))
	require.ErrorIs(t, s.PutCeremony(ctx, "b", []byte("b2"), exp.Add(time.Hour)), webauthnkit.ErrDuplicate)

	clock.Advance(time.Nanosecond) // now == expiresAt: expired
	_, err = s.TakeCeremony(ctx, "b")
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	require.Zero(t, s.st.ceremonyCount(), "an expired ceremony found by TakeCeremony is removed")

	// Putting an already expired ceremony stores nothing.
	require.NoError(t, s.PutCeremony(ctx, "c", []byte("c"), clock.Now()))
	require.Zero(t, s.st.ceremonyCount())
}

// sweepers returns the number of sweeper goroutines running in the process.
func sweepers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "memstore.(*state).sweepLoop(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func TestCloseStopsSweeper(t *testing.T) {
	require.Eventually(t, func() bool { return sweepers() == 0 }, 5*time.Second, 10*time.Millisecond,
		"sweepers of earlier tests still running")
	stores := make([]*Store, 20)
	for i := range stores {
		stores[i] = mustNew(t, WithSweepInterval(time.Millisecond))
	}
	require.Eventually(t, func() bool { return sweepers() == len(stores) }, 5*time.Second, time.Millisecond)
	for _, s := range stores {
		require.NoError(t, s.Close())
		select {
		case <-s.st.done:
		default:
			t.Fatal("Close returned before the sweeper exited")
		}
		require.NoError(t, s.Close(), "second Close")
	}
	// The goroutines have returned from sweepLoop; give them a moment to
	// disappear from the stack dump.
	require.Eventually(t, func() bool { return sweepers() == 0 }, 5*time.Second, time.Millisecond,
		"sweeper goroutines left after Close")

	// A closed store still serves requests; only sweeping stopped.
	s := stores[0]
	ctx := context.Background()
	require.NoError(t, s.PutCeremony(ctx, "id", []byte("d"), time.Now().Add(time.Minute)))
	_, err := s.TakeCeremony(ctx, "id")
	require.NoError(t, err)
}

func TestConcurrentClose(t *testing.T) {
	s := mustNew(t, WithSweepInterval(time.Millisecond))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _ = s.Close() })
	}
	wg.Wait()
	<-s.st.done
}

// TestUnclosedStoreStopsSweeper: a Store dropped without Close does not leak
// its sweeper goroutine forever.
func TestUnclosedStoreStopsSweeper(t *testing.T) {
	s := mustNew(t, WithSweepInterval(time.Millisecond))
	done := s.st.done
	s = nil
	_ = s
	require.Eventually(t, func() bool {
		runtime.GC()
		select {
		case <-done:
			return true
		default:
			return false
		}
	}, 5*time.Second, 10*time.Millisecond)
}

func TestCreateUserHandleMismatch(t *testing.T) {
	s := newTestStore(t)
	u := storetest.RandomUser()
	c := storetest.RandomCredential(storetest.RandomHandle())
	require.ErrorIs(t, s.CreateUser(context.Background(), u, &c), errHandleMismatch)
	_, err := s.GetUserByHandle(context.Background(), u.Handle)
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
}

// TestHotPathAllocations pins the allocations of the login path.
func TestHotPathAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts in -short mode are not interesting")
	}
	s := newTestStore(t)
	ctx := context.Background()
	u := storetest.RandomUser()
	c := storetest.RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(ctx, u, &c))

	allocs := testing.AllocsPerRun(100, func() { _, _ = s.GetCredential(ctx, c.ID) })
	require.LessOrEqual(t, allocs, 2.0, "GetCredential: one buffer for the byte slices, one for Transports")
	allocs = testing.AllocsPerRun(100, func() { _, _ = s.GetUserByHandle(ctx, u.Handle) })
	require.LessOrEqual(t, allocs, 1.0, "GetUserByHandle")
	n := c.SignCount
	use := webauthnkit.CredentialUse{LastUsedAt: time.Now()}
	allocs = testing.AllocsPerRun(100, func() {
		use.SignCount = n + 1
		if s.UpdateCredentialUse(ctx, c.ID, n, use) == nil {
			n++
		}
	})
	require.Zero(t, allocs, "UpdateCredentialUse")
	data := []byte("ceremony state")
	exp := time.Now().Add(time.Hour)
	allocs = testing.AllocsPerRun(100, func() {
		_ = s.PutCeremony(ctx, "id", data, exp)
		_, _ = s.TakeCeremony(ctx, "id")
	})
	require.LessOrEqual(t, allocs, 1.0, "PutCeremony+TakeCeremony: only the copy of the data")
}

func BenchmarkTakeCeremony(b *testing.B) {
	s := mustNew(b)
	defer s.Close()
	ctx := context.Background()
	data := make([]byte, 256)
	exp := time.Now().Add(time.Hour)
	// Ceremonies are put in batches, outside the timer, so that memory stays
	// bounded whatever b.N is.
	const batch = 10_000
	ids := make([]string, batch)
	for i := range ids {
		ids[i] = fmt.Sprint("ceremony-", i)
	}
	fill := func() {
		for _, id := range ids {
			if err := s.PutCeremony(ctx, id, data, exp); err != nil {
				b.Fatal(err)
			}
		}
	}
	fill()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := i % batch
		if j == 0 && i > 0 {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		if _, err := s.TakeCeremony(ctx, ids[j]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetCredential(b *testing.B) {
	s := mustNew(b)
	defer s.Close()
	ctx := context.Background()
	var ids [][]byte
	for range 1000 {
		u := storetest.RandomUser()
		c := storetest.RandomCredential(u.Handle)
		if err := s.CreateUser(ctx, u, &c); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.GetCredential(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkUpdateCredentialUse(b *testing.B) {
	s := mustNew(b)
	defer s.Close()
	ctx := context.Background()
	u := storetest.RandomUser()
	c := storetest.RandomCredential(u.Handle)
	c.SignCount = 0
	if err := s.CreateUser(ctx, u, &c); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	var n uint32
	b.ReportAllocs()
	for b.Loop() {
		use := webauthnkit.CredentialUse{SignCount: n + 1, UserVerified: true, LastUsedAt: now}
		if err := s.UpdateCredentialUse(ctx, c.ID, n, use); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

func BenchmarkGetCredentialParallel(b *testing.B) {
	s := mustNew(b)
	defer s.Close()
	ctx := context.Background()
	u := storetest.RandomUser()
	c := storetest.RandomCredential(u.Handle)
	if err := s.CreateUser(ctx, u, &c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GetCredential(ctx, c.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// A flood of begin requests cannot grow memory without bound.
func TestMaxCeremonies(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := mustNew(t, WithMaxCeremonies(100), WithClock(clock))
	defer s.Close()
	ctx := context.Background()
	for i := range 100 {
		require.NoError(t, s.PutCeremony(ctx, fmt.Sprint("c", i), []byte("x"), now.Add(time.Minute)))
	}
	err := s.PutCeremony(ctx, "one-too-many", []byte("x"), now.Add(time.Minute))
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	require.Equal(t, 100, s.st.ceremonyCount())

	// Taking one frees a place.
	_, err = s.TakeCeremony(ctx, "c0")
	require.NoError(t, err)
	require.NoError(t, s.PutCeremony(ctx, "fits", []byte("x"), now.Add(time.Minute)))

	// Once they expire, a full store sweeps them itself rather than waiting
	// for the sweeper.
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	require.NoError(t, s.PutCeremony(ctx, "after-expiry", []byte("x"), now.Add(time.Minute)))
	require.Equal(t, 1, s.st.ceremonyCount())
}

// TestNewRejectsNegativeOptions: New fails, like the other backends' New,
// on an option it cannot honour, and names the option; zero keeps the
// default.
func TestNewRejectsNegativeOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"WithMaxCeremonies": WithMaxCeremonies(-1),
		"WithSweepInterval": WithSweepInterval(-time.Second),
	} {
		s, err := New(opt)
		require.Nil(t, s, name)
		require.ErrorContains(t, err, "memstore: New: "+name, name)
	}
	s := mustNew(t, WithMaxCeremonies(0), WithSweepInterval(0), WithClock(nil))
	defer s.Close()
	require.Equal(t, DefaultMaxCeremonies, s.st.maxCeremonies)
	require.NotNil(t, s.st.now)
}

// TestErrorsPrefixed: every error names the package and the method, and
// still matches its sentinel (or the context's error) with errors.Is.
func TestErrorsPrefixed(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	u := storetest.RandomUser()
	c := storetest.RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(ctx, u, &c))
	require.NoError(t, s.PutCeremony(ctx, "c1", []byte("x"), time.Now().Add(time.Minute)))
	ghost := storetest.RandomHandle()
	canceled, cancel := context.WithCancel(ctx)
	cancel()

	check := func(method string, err error, want error) {
		t.Helper()
		require.ErrorIs(t, err, want, method)
		require.True(t, strings.HasPrefix(err.Error(), "memstore: "+method+": "), "%s: %q", method, err)
	}
	_, err := s.GetCredential(ctx, ghost)
	check("GetCredential", err, webauthnkit.ErrNotFound)
	_, _, err = s.GetCredentialWithUser(ctx, ghost)
	check("GetCredentialWithUser", err, webauthnkit.ErrNotFound)
	_, err = s.GetUserByHandle(ctx, ghost)
	check("GetUserByHandle", err, webauthnkit.ErrNotFound)
	_, err = s.GetUserByName(ctx, "nobody-"+u.Name)
	check("GetUserByName", err, webauthnkit.ErrNotFound)
	check("CreateUser", s.CreateUser(ctx, u, &c), webauthnkit.ErrUserExists)
	check("AddCredential", s.AddCredential(ctx, c), webauthnkit.ErrCredentialExists)
	check("UpdateCredentialUse", s.UpdateCredentialUse(ctx, c.ID, 7, webauthnkit.CredentialUse{SignCount: 8}), webauthnkit.ErrConflict)
	check("RenameCredential", s.RenameCredential(ctx, ghost, c.ID, "x"), webauthnkit.ErrNotFound)
	check("DeleteCredential", s.DeleteCredential(ctx, u.Handle, c.ID, false), webauthnkit.ErrLastCredential)
	check("DeleteUser", s.DeleteUser(ctx, ghost), webauthnkit.ErrNotFound)
	_, err = s.EndSessions(ctx, ghost)
	check("EndSessions", err, webauthnkit.ErrNotFound)
	check("PutCeremony", s.PutCeremony(ctx, "c1", []byte("y"), time.Now().Add(time.Minute)), webauthnkit.ErrDuplicate)
	_, err = s.TakeCeremony(ctx, "c2")
	check("TakeCeremony", err, webauthnkit.ErrNotFound)
	_, err = s.GetCredential(canceled, c.ID)
	check("GetCredential", err, context.Canceled)
	_, err = s.ListCredentials(canceled, u.Handle)
	check("ListCredentials", err, context.Canceled)
}

// BenchmarkGetCredentialNotFound measures the miss path (an unknown
// credential at sign-in), which now builds a prefixed error.
func BenchmarkGetCredentialNotFound(b *testing.B) {
	s := mustNew(b)
	defer s.Close()
	ctx := context.Background()
	id := storetest.RandomBytes(32)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = s.GetCredential(ctx, id)
	}
}
