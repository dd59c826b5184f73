package storetest

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// ---- UpdateCredentialUse ----

func testUpdateUseApplies(t *testing.T, s credStore) {
	u := RandomUser()
	c := RandomCredential(u.Handle)
	c.SignCount = math.MaxUint32 - 7
	c.BackupEligible, c.BackupState, c.UserVerified, c.CloneSuspected = true, true, false, false
	c.LastUsedAt = time.Time{}
	require.NoError(t, s.CreateUser(t.Context(), u, &c))
	sibling := addCredential(t, s, u)

	// Every field changes.
	use := webauthnkit.CredentialUse{
		SignCount:      math.MaxUint32,
		BackupState:    false,
		UserVerified:   true,
		LastUsedAt:     time.Now().In(zones[0]),
		CloneSuspected: true,
	}
	require.NoError(t, s.UpdateCredentialUse(t.Context(), c.ID, c.SignCount, use))
	want := withUse(c, use)
	requireCredential(t, s, want)

	// And back: flags can be cleared, not only set.
	use2 := webauthnkit.CredentialUse{
		SignCount:      math.MaxUint32,
		BackupState:    true,
		UserVerified:   false,
		LastUsedAt:     use.LastUsedAt.Add(time.Minute).In(zones[1]),
		CloneSuspected: false,
	}
	require.NoError(t, s.UpdateCredentialUse(t.Context(), c.ID, math.MaxUint32, use2))
	requireCredential(t, s, withUse(c, use2))
	requireCredential(t, s, sibling) // other credentials untouched
}

// withUse returns c after a successful UpdateCredentialUse(use).
func withUse(c cred, use webauthnkit.CredentialUse) cred {
	c.SignCount = use.SignCount
	c.BackupState = use.BackupState
	c.UserVerified = use.UserVerified
	c.LastUsedAt = use.LastUsedAt
	c.CloneSuspected = use.CloneSuspected
	return c
}

// testUpdateUseZeroCounter: authenticators without a counter (synced
// passkeys) always report 0; each login is a CAS from 0 to 0.
func testUpdateUseZeroCounter(t *testing.T, s credStore) {
	u := RandomUser()
	c := RandomCredential(u.Handle)
	c.SignCount = 0
	require.NoError(t, s.CreateUser(t.Context(), u, &c))
	last := time.Now().Add(-time.Minute)
	for i := range 3 {
		use := webauthnkit.CredentialUse{SignCount: 0, BackupState: true, UserVerified: true, LastUsedAt: last.Add(time.Duration(i) * time.Second)}
		require.NoError(t, s.UpdateCredentialUse(t.Context(), c.ID, 0, use), "update %d", i)
		requireCredential(t, s, withUse(c, use))
	}
}

func testUpdateUseConflict(t *testing.T, s credStore) {
	u := RandomUser()
	c := RandomCredential(u.Handle)
	c.SignCount = 10
	require.NoError(t, s.CreateUser(t.Context(), u, &c))
	use := webauthnkit.CredentialUse{SignCount: 12, BackupState: !c.BackupState, UserVerified: !c.UserVerified, LastUsedAt: time.Now(), CloneSuspected: !c.CloneSuspected}
	for _, expected := range []uint32{9, 11, 0, 12, 10 + 1<<16} {
		err := s.UpdateCredentialUse(t.Context(), c.ID, expected, use)
		require.ErrorIs(t, err, errConflict, "stored SignCount is 10, expected %d", expected)
		require.NotErrorIs(t, err, errNotFound)
	}
	requireCredential(t, s, c) // nothing changed
}

func testUpdateUseNotFound(t *testing.T, s credStore) {
	use := webauthnkit.CredentialUse{SignCount: 1, LastUsedAt: time.Now()}
	err := s.UpdateCredentialUse(t.Context(), RandomBytes(32), 0, use)
	require.ErrorIs(t, err, errNotFound)
	require.NotErrorIs(t, err, errConflict)
}

// testUpdateUseConcurrent: goroutines each perform increments as a login
// does (read, then CAS from the value read, retry on ErrConflict). Every
// increment must land exactly once and no goroutine may see the count go
// down.
func testUpdateUseConcurrent(t *testing.T, s credStore) {
	const (
		workers    = 20
		increments = 5
		start      = 1000
		maxTries   = 2000 // per increment; far more than any fair store needs
	)
	u := RandomUser()
	c := RandomCredential(u.Handle)
	c.SignCount = start
	require.NoError(t, s.CreateUser(t.Context(), u, &c))

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		problems []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	ctx := t.Context()
	stop := make(chan struct{})
	// An observer that only reads.
	observerDone := make(chan struct{})
	go func() {
		defer close(observerDone)
		var seen uint32
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := s.GetCredential(ctx, c.ID)
			if err != nil {
				fail("observer: GetCredential: %v", err)
				return
			}
			if got.SignCount < seen {
				fail("observer saw SignCount go from %d back to %d", seen, got.SignCount)
			}
			seen = got.SignCount
			time.Sleep(time.Millisecond)
		}
	}()
	for w := range workers {
		wg.Go(func() {
			var seen uint32
			for i := range increments {
				for try := 0; ; try++ {
					if try == maxTries {
						fail("worker %d: increment %d still conflicting after %d tries", w, i, maxTries)
						return
					}
					got, err := s.GetCredential(ctx, c.ID)
					if err != nil {
						fail("worker %d: GetCredential: %v", w, err)
						return
					}
					if got.SignCount < seen {
						fail("worker %d saw SignCount go from %d back to %d", w, seen, got.SignCount)
					}
					seen = got.SignCount
					// A login verifies the assertion between the read and
					// the write: let other goroutines run in between.
					runtime.Gosched()
					use := webauthnkit.CredentialUse{
						SignCount:    got.SignCount + 1,
						BackupState:  true,
						UserVerified: true,
						LastUsedAt:   time.Now(),
					}
					err = s.UpdateCredentialUse(ctx, c.ID, got.SignCount, use)
					if errors.Is(err, errConflict) {
						continue
					}
					if err != nil {
						fail("worker %d: UpdateCredentialUse: %v", w, err)
						return
					}
					seen = use.SignCount
					break
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-observerDone
	require.Empty(t, problems)

	got, err := s.GetCredential(t.Context(), c.ID)
	require.NoError(t, err)
	require.Equal(t, uint32(start+workers*increments), got.SignCount,
		"%d successful compare-and-set increments from %d: updates were lost", workers*increments, start)
}
