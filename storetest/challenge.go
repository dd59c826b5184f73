package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

type challengeStore = webauthnkit.ChallengeStore

// Expiry timing used by the subtests that wait for a ceremony to expire.
// Short, to keep the suite fast, but with enough margin for a store that
// counts time in milliseconds or on a server whose clock differs a little.
const (
	shortTTL    = 150 * time.Millisecond
	expiryWait  = 400 * time.Millisecond
	ceremonyTTL = 5 * time.Minute // for ceremonies that must not expire during a subtest
)

// RandomCeremonyID returns a random ceremony ID such as "cer-9f2c...".
func RandomCeremonyID() string { return "cer-" + hex.EncodeToString(RandomBytes(16)) }

// TestChallengeStore runs the ChallengeStore conformance suite: one named
// subtest per clause of the webauthnkit.ChallengeStore contract, such as
// take_twice or concurrent_take_exactly_one_winner.
//
// newStore is called once per subtest and must return a working store; it
// should register any cleanup with t.Cleanup. The stores it returns may share
// their data: the suite only uses random ceremony IDs.
//
// The clause "expired ceremonies do not accumulate" is not checked here (see
// the package documentation): each store tests its own expiry mechanism.
func TestChallengeStore(t *testing.T, newStore func(t *testing.T) webauthnkit.ChallengeStore) {
	run := func(t *testing.T, name string, f func(t *testing.T, s challengeStore)) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			f(t, s)
		})
	}
	run(t, "put_then_take_returns_data", testPutTake)
	run(t, "take_twice", testTakeTwice)
	run(t, "take_unknown", testTakeUnknown)
	run(t, "put_duplicate_id", testPutDuplicate)
	run(t, "put_same_data_again", testPutSameDataAgain)
	run(t, "expired_not_returned", testExpiredNotReturned)
	run(t, "put_over_expired_id", testPutOverExpired)
	run(t, "already_expired_put", testAlreadyExpiredPut)
	run(t, "concurrent_take_exactly_one_winner", testConcurrentTake)
	run(t, "concurrent_put_same_id_one_winner", testConcurrentPutSameID)
	run(t, "concurrent_put_take_many_ids", testConcurrentPutTake)
	run(t, "large_data", testLargeData)
	run(t, "binary_data", testBinaryData)
	run(t, "input_not_retained", testCeremonyInputNotRetained)
	run(t, "ContextCanceled", testChallengeContextCanceled)
	run(t, "features_stable", testChallengeFeaturesStable)
}

func put(t *testing.T, s challengeStore, id string, data []byte, ttl time.Duration) {
	t.Helper()
	require.NoError(t, s.PutCeremony(t.Context(), id, data, time.Now().Add(ttl)), "PutCeremony(%q)", id)
}

func requireTake(t *testing.T, s challengeStore, id string, want []byte) {
	t.Helper()
	got, err := s.TakeCeremony(t.Context(), id)
	require.NoError(t, err, "TakeCeremony(%q)", id)
	require.True(t, bytes.Equal(want, got), "TakeCeremony(%q) returned %d bytes, not the %d bytes stored", id, len(got), len(want))
}

func requireTakeNotFound(t *testing.T, s challengeStore, id string, msgAndArgs ...any) {
	t.Helper()
	got, err := s.TakeCeremony(t.Context(), id)
	require.ErrorIs(t, err, errNotFound, append([]any{"TakeCeremony(%q) returned %d bytes", id, len(got)}, msgAndArgs...)...)
}

func testPutTake(t *testing.T, s challengeStore) {
	id, data := RandomCeremonyID(), RandomBytes(200)
	put(t, s, id, data, ceremonyTTL)
	requireTake(t, s, id, data)
}

func testTakeTwice(t *testing.T, s challengeStore) {
	id, data := RandomCeremonyID(), RandomBytes(100)
	put(t, s, id, data, ceremonyTTL)
	requireTake(t, s, id, data)
	requireTakeNotFound(t, s, id, "second take")
	requireTakeNotFound(t, s, id, "third take")
}

func testTakeUnknown(t *testing.T, s challengeStore) {
	requireTakeNotFound(t, s, RandomCeremonyID())
	// A stored ID does not make similar IDs known.
	id := RandomCeremonyID()
	put(t, s, id, []byte("x"), ceremonyTTL)
	requireTakeNotFound(t, s, id[:len(id)-1])
	requireTakeNotFound(t, s, id+"0")
	requireTake(t, s, id, []byte("x"))
}

func testPutDuplicate(t *testing.T, s challengeStore) {
	id, first, second := RandomCeremonyID(), RandomBytes(50), RandomBytes(60)
	put(t, s, id, first, ceremonyTTL)
	err := s.PutCeremony(t.Context(), id, second, time.Now().Add(2*ceremonyTTL))
	require.ErrorIs(t, err, errDuplicate)
	requireTake(t, s, id, first) // not overwritten
	requireTakeNotFound(t, s, id)
}

// testPutSameDataAgain: a second put of the very data and expiresAt already
// stored may succeed (a store may take it for its own write retried after a
// lost reply, as redisstore does) or give ErrDuplicate, but nothing else, and
// the ceremony is still stored once.
func testPutSameDataAgain(t *testing.T, s challengeStore) {
	id, data := RandomCeremonyID(), RandomBytes(40)
	expiresAt := time.Now().Add(ceremonyTTL)
	require.NoError(t, s.PutCeremony(t.Context(), id, data, expiresAt))
	if err := s.PutCeremony(t.Context(), id, bytes.Clone(data), expiresAt); err != nil {
		require.ErrorIs(t, err, errDuplicate, "second put of the same data")
	}
	requireTake(t, s, id, data)
	requireTakeNotFound(t, s, id, "take after the only ceremony was taken")
}

func testExpiredNotReturned(t *testing.T, s challengeStore) {
	expiring, kept := RandomCeremonyID(), RandomCeremonyID()
	put(t, s, expiring, []byte("expiring"), shortTTL)
	put(t, s, kept, []byte("kept"), ceremonyTTL)
	time.Sleep(expiryWait)
	requireTakeNotFound(t, s, expiring, "ceremony expired %v ago", expiryWait-shortTTL)
	requireTake(t, s, kept, []byte("kept"))
}

// testPutOverExpired: ErrDuplicate only while the stored ceremony has not
// expired; afterwards the ID can be stored again.
func testPutOverExpired(t *testing.T, s challengeStore) {
	id := RandomCeremonyID()
	put(t, s, id, []byte("old"), shortTTL)
	time.Sleep(expiryWait)
	require.NoError(t, s.PutCeremony(t.Context(), id, []byte("new"), time.Now().Add(ceremonyTTL)),
		"PutCeremony over an expired ceremony with the same ID")
	requireTake(t, s, id, []byte("new"))
}

// testAlreadyExpiredPut: a ceremony whose expiresAt is already past is never
// returned. PutCeremony itself may accept or reject it.
func testAlreadyExpiredPut(t *testing.T, s challengeStore) {
	id := RandomCeremonyID()
	if err := s.PutCeremony(t.Context(), id, []byte("stale"), time.Now().Add(-time.Minute)); err != nil {
		t.Logf("PutCeremony with expiresAt in the past returned %v (allowed)", err)
	}
	requireTakeNotFound(t, s, id)

	// It does not block the ID either.
	id = RandomCeremonyID()
	_ = s.PutCeremony(t.Context(), id, []byte("stale"), time.Now().Add(-time.Minute))
	put(t, s, id, []byte("fresh"), ceremonyTTL)
	requireTake(t, s, id, []byte("fresh"))
}

func testConcurrentTake(t *testing.T, s challengeStore) {
	const (
		rounds  = 20
		takers  = 50
		timeout = 30 * time.Second
	)
	ctx := t.Context()
	for round := range rounds {
		id, data := RandomCeremonyID(), RandomBytes(64)
		put(t, s, id, data, ceremonyTTL)

		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			winners  int
			notFound int
			others   []error
			wrong    int
		)
		start := make(chan struct{})
		for range takers {
			wg.Go(func() {
				<-start
				got, err := s.TakeCeremony(ctx, id)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners++
					if !bytes.Equal(got, data) {
						wrong++
					}
				case errors.Is(err, errNotFound):
					notFound++
				default:
					others = append(others, err)
				}
			})
		}
		close(start)
		if !waitTimeout(&wg, timeout) {
			t.Fatalf("round %d: %d concurrent TakeCeremony calls did not return within %v", round, takers, timeout)
		}
		require.Empty(t, others, "round %d: unexpected errors", round)
		require.Equal(t, 1, winners, "round %d: %d concurrent takes of one ceremony: want exactly one winner", round, takers)
		require.Equal(t, takers-1, notFound, "round %d: losers must get ErrNotFound", round)
		require.Zero(t, wrong, "round %d: the winner got data other than what was stored", round)
		requireTakeNotFound(t, s, id, "take after the concurrent takes")
	}
}

// testConcurrentPutSameID: PutCeremony's duplicate check and write are one
// atomic step. Of concurrent puts of one id with different data exactly one
// succeeds, the others get ErrDuplicate (not a deadlock or serialisation
// error: callers such as package totp take any other error as a store
// failure), and the id holds the winner's data. The id is new, or was stored
// and then taken or expired, or is taken while the puts run (as totp gives
// an attempt back while others claim it): a database that keeps a deleted
// row for a while (InnoDB's delete-marked records) locks differently then.
func testConcurrentPutSameID(t *testing.T, s challengeStore) {
	const (
		trials  = 16
		putters = 16
		timeout = 30 * time.Second
	)
	ctx := t.Context()
	earlier := []byte("earlier")
	for trial := range trials {
		id := RandomCeremonyID()
		history := [...]string{"new", "taken", "taken during the puts", "expired"}[trial%4]
		switch history {
		case "taken", "taken during the puts":
			put(t, s, id, earlier, ceremonyTTL)
		case "expired":
			put(t, s, id, earlier, shortTTL)
			time.Sleep(expiryWait)
		}
		if history == "taken" {
			requireTake(t, s, id, earlier)
		}
		datas := make([][]byte, putters)
		for i := range datas {
			datas[i] = []byte(fmt.Sprintf("putter %d %x", i, RandomBytes(8)))
		}
		errs := make([]error, putters)
		var (
			wg      sync.WaitGroup
			taken   []byte
			takeErr error
		)
		start := make(chan struct{})
		for i := range putters {
			wg.Go(func() {
				<-start
				errs[i] = s.PutCeremony(ctx, id, datas[i], time.Now().Add(ceremonyTTL))
			})
			if i == putters/2 && history == "taken during the puts" {
				wg.Go(func() {
					<-start
					taken, takeErr = s.TakeCeremony(ctx, id)
				})
			}
		}
		close(start)
		if !waitTimeout(&wg, timeout) {
			t.Fatalf("trial %d (%s id): %d concurrent PutCeremony calls did not return within %v", trial, history, putters, timeout)
		}
		winner, duplicates := -1, 0
		var others []error
		for i, err := range errs {
			switch {
			case err == nil:
				if winner < 0 {
					winner = i
				} else {
					others = append(others, fmt.Errorf("putter %d succeeded too (after putter %d)", i, winner))
				}
			case errors.Is(err, errDuplicate):
				duplicates++
			default:
				others = append(others, err)
			}
		}
		require.Empty(t, others, "trial %d (%s id): of %d concurrent puts of one id, all but one must get ErrDuplicate", trial, history, putters)
		if history == "taken during the puts" {
			// The live earlier ceremony refuses the puts that come before
			// the take, so there may be no winner.
			require.NoError(t, takeErr, "trial %d: take of a live ceremony during the puts", trial)
			require.Equal(t, earlier, taken, "trial %d: the puts overwrote a live ceremony", trial)
			if winner < 0 {
				requireTakeNotFound(t, s, id, "trial %d: no put succeeded", trial)
				continue
			}
		}
		require.GreaterOrEqual(t, winner, 0, "trial %d (%s id): none of %d concurrent puts of one id succeeded", trial, history, putters)
		requireTake(t, s, id, datas[winner])
		requireTakeNotFound(t, s, id, "trial %d: take after the winner's ceremony was taken", trial)
	}
}

// testConcurrentPutTake: many goroutines putting and taking their own
// ceremonies at once get back exactly their own data.
func testConcurrentPutTake(t *testing.T, s challengeStore) {
	const (
		workers = 8
		perW    = 50
	)
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ids := make([]string, perW)
			datas := make([][]byte, perW)
			for i := range perW {
				ids[i] = RandomCeremonyID()
				datas[i] = []byte(fmt.Sprintf("worker %d ceremony %d %x", w, i, RandomBytes(8)))
				if !assert.NoError(t, s.PutCeremony(ctx, ids[i], datas[i], time.Now().Add(ceremonyTTL))) {
					return
				}
			}
			for _, i := range mrand.Perm(perW) {
				got, err := s.TakeCeremony(ctx, ids[i])
				if assert.NoError(t, err, "worker %d take %d", w, i) {
					assert.Equal(t, datas[i], got, "worker %d take %d", w, i)
				}
			}
			for i := range 5 {
				_, err := s.TakeCeremony(ctx, ids[i])
				assert.ErrorIs(t, err, errNotFound, "worker %d second take %d", w, i)
			}
		})
	}
	if !waitTimeout(&wg, time.Minute) {
		t.Fatal("concurrent puts and takes did not finish within a minute")
	}
}

func testLargeData(t *testing.T, s challengeStore) {
	id, data := RandomCeremonyID(), RandomBytes(64<<10)
	put(t, s, id, data, ceremonyTTL)
	requireTake(t, s, id, data)
}

func testBinaryData(t *testing.T, s challengeStore) {
	data := make([]byte, 0, 512+4)
	for i := range 256 {
		data = append(data, byte(i))
	}
	for i := range 256 {
		data = append(data, byte(255-i))
	}
	data = append(data, 0, 0, 0xC0, 0x80) // ends with NULs and an overlong UTF-8 NUL
	id := RandomCeremonyID()
	put(t, s, id, data, ceremonyTTL)
	requireTake(t, s, id, data)

	// Leading zero bytes are kept too.
	id, data = RandomCeremonyID(), append([]byte{0, 0, 0}, RandomBytes(13)...)
	put(t, s, id, data, ceremonyTTL)
	requireTake(t, s, id, data)
}

func testCeremonyInputNotRetained(t *testing.T, s challengeStore) {
	id, data := RandomCeremonyID(), RandomBytes(100)
	want := bytes.Clone(data)
	put(t, s, id, data, ceremonyTTL)
	scribble(data)
	requireTake(t, s, id, want)
}

func testChallengeContextCanceled(t *testing.T, s challengeStore) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	stored, data := RandomCeremonyID(), RandomBytes(32)
	put(t, s, stored, data, ceremonyTTL)
	canceledPut := RandomCeremonyID()

	assert.Error(t, s.PutCeremony(ctx, canceledPut, data, time.Now().Add(ceremonyTTL)), "PutCeremony with a canceled context")
	_, err := s.TakeCeremony(ctx, stored)
	assert.Error(t, err, "TakeCeremony with a canceled context")

	// Nothing was written or consumed, and the store still works.
	requireTakeNotFound(t, s, canceledPut, "ceremony put with a canceled context")
	requireTake(t, s, stored, data)
	id := RandomCeremonyID()
	put(t, s, id, data, ceremonyTTL)
	requireTake(t, s, id, data)
}

// waitTimeout waits for wg and reports whether it finished within d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
