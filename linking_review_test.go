package webauthnkit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// A ceremony ID, or a grant, comes from the client (a cookie, a JSON
// field). Device-linking records live in the same ChallengeStore under
// keys such as "link/lookup/<handle>/<window>/<slot>", hashed and MAC'd
// with the same keys as ceremonies: a client-chosen ID naming such a key
// must not reach them. Otherwise a signed-in attacker takes back his own
// spent lookup slots through login/finish (unlimited code guesses), and
// anyone probes or destroys pending codes without spending any budget.
func TestLinkRecordsAreNotCeremonies(t *testing.T) {
	f := newLinkFixture(t)
	now := f.clock.Now()
	f.clock.Advance(now.Truncate(webauthnkit.LinkLookupWindow).Add(webauthnkit.LinkLookupWindow).Sub(now))
	handle := base64.RawURLEncoding.EncodeToString(f.alice.User.Handle)
	window := f.clock.Now().Unix() / int64(webauthnkit.LinkLookupWindow/time.Second)

	for i := range webauthnkit.LinkLookupLimit {
		_, err := f.rp.LookupLink(ctx, f.alice.User.Handle, fmt.Sprintf("ZZZZZ%05d", i))
		require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
	}
	_, err := f.rp.LookupLink(ctx, f.alice.User.Handle, "ZZZZZ-ZZZZZ")
	require.ErrorIs(t, err, webauthnkit.ErrTooManyAttempts)

	ls := f.start(t)
	code := strings.ReplaceAll(ls.Code, "-", "")
	body := []byte(`{}`)
	try := func(id string) []webauthnkit.Code {
		var codes []webauthnkit.Code
		_, err := f.rp.FinishLogin(ctx, id, body)
		codes = append(codes, webauthnkit.ErrorCode(err))
		_, err = f.rp.FinishReauth(ctx, f.alice.User.Handle, id, body)
		codes = append(codes, webauthnkit.ErrorCode(err))
		_, err = f.rp.FinishRegistration(ctx, id, body)
		codes = append(codes, webauthnkit.ErrorCode(err))
		_, err = f.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: id})
		codes = append(codes, webauthnkit.ErrorCode(err))
		return codes
	}
	unknown := try("link/code/ZZZZZZZZZZ")
	for slot := range webauthnkit.LinkLookupLimit {
		id := fmt.Sprintf("link/lookup/%s/%d/%d", handle, window, slot)
		require.Equal(t, unknown, try(id), "a lookup slot answers as an unknown ceremony")
	}
	require.Equal(t, unknown, try("link/code/"+code), "a live code answers as an unknown one (no oracle)")

	// The budget is still spent.
	_, err = f.rp.LookupLink(ctx, f.alice.User.Handle, "ZZZZZ-ZZZZZ")
	require.ErrorIs(t, err, webauthnkit.ErrTooManyAttempts, "lookup slots taken back through a ceremony ID")
	// The code is still pending: another account looks it up.
	bob, _ := f.signUp(t, "bob")
	req, err := f.rp.LookupLink(ctx, bob.User.Handle, ls.Code)
	require.NoError(t, err, "a pending code taken through a ceremony ID")
	require.Equal(t, ls.LinkID, req.LinkID)
}

// reviewFixture is a linkFixture on backend b (nil: memstore through
// newEnv) whose ChallengeStore is wrap(store).
func reviewFixture(t *testing.T, b *backendtest.Backend, wrap func(webauthnkit.ChallengeStore) webauthnkit.ChallengeStore) *linkFixture {
	t.Helper()
	var e *env
	if b == nil {
		e = newEnv(t, func(c *webauthnkit.Config) { c.Ceremonies = wrap(c.Ceremonies) })
	} else {
		clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
		store := b.Open(t, clock.Now)
		events := &eventLog{}
		rp, err := webauthnkit.New(webauthnkit.Config{
			RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: wrap(store),
			Now: clock.Now, Secret: bytes.Repeat([]byte{7}, 32), OnEvent: events.record,
		})
		require.NoError(t, err)
		e = &env{rp: rp, clock: clock, events: events, logs: &testenv.SyncBuffer{}}
	}
	f := &linkFixture{env: e}
	f.alice, f.authA = f.signUp(t, "alice")
	return f
}

// onEveryBackend runs test on memstore (newEnv) and on every backend.
func onEveryBackend(t *testing.T, test func(t *testing.T, b *backendtest.Backend)) {
	t.Run("env", func(t *testing.T) { test(t, nil) })
	for _, b := range backendtest.All() {
		t.Run(b.Name, func(t *testing.T) { test(t, &b) })
	}
}

// hookAfterTake runs hook once, before the first ChallengeStore call that
// follows the armed TakeCeremony: a deterministic interleaving of another
// request between two store calls of one operation.
type hookAfterTake struct {
	webauthnkit.ChallengeStore
	mu    sync.Mutex
	armed bool
	taken bool
	hook  func()
}

func (s *hookAfterTake) arm(hook func()) {
	s.mu.Lock()
	s.armed, s.taken, s.hook = true, false, hook
	s.mu.Unlock()
}

func (s *hookAfterTake) before(take bool) {
	s.mu.Lock()
	var run func()
	if s.armed {
		if s.taken {
			run, s.armed = s.hook, false
		} else if take {
			s.taken = true
		}
	}
	s.mu.Unlock()
	if run != nil {
		run()
	}
}

func (s *hookAfterTake) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	s.before(false)
	return s.ChallengeStore.PutCeremony(ctx, id, data, exp)
}

func (s *hookAfterTake) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	s.before(true)
	return s.ChallengeStore.TakeCeremony(ctx, id)
}

// An approval that takes the request just before it expires, and a poll
// of the new device just after, while the decision is being written: one
// outcome for both devices. Before, the poll reported the expiry (and
// EventLinkExpired) and the approval succeeded too (EventLinkApproved, the
// device_linked notice): the next poll then handed out a grant after
// "expired", or the new device had stopped and the user was told it was
// linked.
func TestLinkApprovalRacesExpiry(t *testing.T) {
	onEveryBackend(t, testLinkApprovalRacesExpiry)
}

func testLinkApprovalRacesExpiry(t *testing.T, b *backendtest.Backend) {
	for _, decide := range []string{"approve", "deny"} {
		t.Run(decide, func(t *testing.T) {
			var hook *hookAfterTake
			f := reviewFixture(t, b, func(c webauthnkit.ChallengeStore) webauthnkit.ChallengeStore {
				hook = &hookAfterTake{ChallengeStore: c}
				return hook
			})
			ls := f.start(t)
			req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
			require.NoError(t, err)
			f.clock.Advance(ls.ExpiresAt.Sub(f.clock.Now()) - 2*time.Second)
			a := f.fresh(t, req.LinkID, ls.MatchPhrase)

			var during *webauthnkit.LinkPoll
			hook.arm(func() {
				f.clock.Advance(ls.ExpiresAt.Sub(f.clock.Now()) + time.Second)
				during = f.poll(t, ls.PollToken)
			})
			if decide == "approve" {
				err = f.rp.ApproveLink(ctx, a)
			} else {
				err = f.rp.DenyLink(ctx, req.LinkID, f.alice.User.Handle)
			}
			require.NotNil(t, during)
			after := f.poll(t, ls.PollToken)

			types := f.events.types()
			decided := webauthnkit.EventLinkApproved
			if decide == "deny" {
				decided = webauthnkit.EventLinkDenied
			}
			if err == nil {
				// The decision won: the new device learns it, never "expired".
				require.NotEqual(t, webauthnkit.LinkExpired, during.Status)
				require.NotContains(t, types, webauthnkit.EventLinkExpired)
				want := webauthnkit.LinkApproved
				if decide == "deny" {
					want = webauthnkit.LinkDenied
				}
				require.Equal(t, want, after.Status)
			} else {
				// The expiry won: the decision fails, and stays unmade.
				require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
				require.Equal(t, webauthnkit.LinkExpired, during.Status)
				require.Equal(t, webauthnkit.LinkExpired, after.Status)
				require.Empty(t, after.Grant)
				require.NotContains(t, types, decided)
			}
		})
	}
}

// landsThenFails forwards every PutCeremony, but reports the skip+1-th
// after arming as failed: a write that committed and whose answer was
// lost (a timeout after the commit), the ambiguous failure of any
// networked store.
type landsThenFails struct {
	webauthnkit.ChallengeStore
	mu    sync.Mutex
	armed bool
	skip  int
	// then, when set, runs after the write that is reported failed.
	then func()
}

func (s *landsThenFails) failAfter(skip int) {
	s.mu.Lock()
	s.armed, s.skip = true, skip
	s.mu.Unlock()
}

func (s *landsThenFails) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	err := s.ChallengeStore.PutCeremony(ctx, id, data, exp)
	s.mu.Lock()
	var then func()
	if s.armed {
		if s.skip == 0 {
			s.armed = false
			if err == nil {
				err, then = storewrap.ErrDown, s.then
			}
		} else {
			s.skip--
		}
	}
	s.mu.Unlock()
	if then != nil {
		then()
	}
	return err
}

// A decision whose write committed but reported a failure: the user is
// told it failed, so nothing of it may stay. Before, the request was put
// back with the decision still in the store: the new device collected the
// approval, and the user's retry (a denial) succeeded too.
func TestLinkDecisionAmbiguousWriteFailure(t *testing.T) {
	onEveryBackend(t, testLinkDecisionAmbiguousWriteFailure)
}

func testLinkDecisionAmbiguousWriteFailure(t *testing.T, b *backendtest.Backend) {
	var store *landsThenFails
	f := reviewFixture(t, b, func(c webauthnkit.ChallengeStore) webauthnkit.ChallengeStore {
		store = &landsThenFails{ChallengeStore: c}
		return store
	})
	ls := f.start(t)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)

	a := f.fresh(t, req.LinkID, ls.MatchPhrase)
	store.failAfter(0)
	require.ErrorIs(t, f.rp.ApproveLink(ctx, a), webauthnkit.ErrStoreUnavailable)
	p := f.poll(t, ls.PollToken)
	require.Equal(t, webauthnkit.LinkPending, p.Status, "a failed approval approved nothing")
	require.Empty(t, p.Grant)
	require.NotContains(t, f.events.types(), webauthnkit.EventLinkApproved)

	// The user, told it failed, denies instead: B learns that, only that.
	require.NoError(t, f.rp.DenyLink(ctx, req.LinkID, f.alice.User.Handle))
	require.Equal(t, webauthnkit.LinkDenied, f.poll(t, ls.PollToken).Status)
	require.NotEqual(t, webauthnkit.LinkApproved, f.poll(t, ls.PollToken).Status)
}

// A lookup whose bound record committed but reported a failure: the
// retry of the same account finds its request (before: the code was put
// back, and every retry failed with internal_error on the duplicate).
func TestLinkLookupAmbiguousWriteFailure(t *testing.T) {
	onEveryBackend(t, testLinkLookupAmbiguousWriteFailure)
}

func testLinkLookupAmbiguousWriteFailure(t *testing.T, b *backendtest.Backend) {
	var store *landsThenFails
	f := reviewFixture(t, b, func(c webauthnkit.ChallengeStore) webauthnkit.ChallengeStore {
		store = &landsThenFails{ChallengeStore: c}
		return store
	})
	bob, _ := f.signUp(t, "bob")
	ls := f.start(t)

	store.failAfter(1) // the budget slot goes through, the bound record "fails"
	_, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err, "the retry finds the request bound to this account")
	require.Equal(t, ls.LinkID, req.LinkID)
	_, err = f.rp.LookupLink(ctx, bob.User.Handle, ls.Code)
	require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound, "bound to one account only")
	require.NoError(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, ls.MatchPhrase)))
	require.Equal(t, webauthnkit.LinkApproved, f.poll(t, ls.PollToken).Status)
}

// The same, when the new device collected the committed approval before
// the approver saw the failure: the approval stands (ApproveLink
// succeeds, once), and a later denial fails.
func TestLinkDecisionAmbiguousWriteCollected(t *testing.T) {
	onEveryBackend(t, testLinkDecisionAmbiguousWriteCollected)
}

func testLinkDecisionAmbiguousWriteCollected(t *testing.T, b *backendtest.Backend) {
	var store *landsThenFails
	f := reviewFixture(t, b, func(c webauthnkit.ChallengeStore) webauthnkit.ChallengeStore {
		store = &landsThenFails{ChallengeStore: c}
		return store
	})
	ls := f.start(t)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)
	a := f.fresh(t, req.LinkID, ls.MatchPhrase)

	var during *webauthnkit.LinkPoll
	store.then = func() { during = f.poll(t, ls.PollToken) }
	store.failAfter(0)
	require.NoError(t, f.rp.ApproveLink(ctx, a), "the new device has the grant: approved")
	require.Equal(t, webauthnkit.LinkApproved, during.Status)
	require.NotEmpty(t, during.Grant)
	require.Contains(t, f.events.types(), webauthnkit.EventLinkApproved)
	require.ErrorIs(t, f.rp.DenyLink(ctx, req.LinkID, f.alice.User.Handle), webauthnkit.ErrLinkNotFound)
	require.NotEqual(t, webauthnkit.LinkDenied, f.poll(t, ls.PollToken).Status)
}

// An approval the account's owner takes back by ending the account's
// sessions (sign out everywhere, removing a passkey: what a user does on
// the device_linked notice of an approval they were tricked into) is
// cancelled, whether the new device has not collected it yet or holds
// the grant and has not begun its registration. Before, the grant stayed
// good for LinkGrantTTL whatever the owner did.
func TestLinkApprovalEndedWithTheSessions(t *testing.T) {
	f := newLinkFixture(t)
	approve := func() *webauthnkit.LinkStart {
		ls := f.start(t)
		req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
		require.NoError(t, err)
		require.NoError(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, ls.MatchPhrase)))
		return ls
	}

	// Not collected yet.
	ls := approve()
	_, err := f.rp.EndSessions(ctx, f.alice.User.Handle)
	require.NoError(t, err)
	p := f.poll(t, ls.PollToken)
	require.Equal(t, webauthnkit.LinkDenied, p.Status)
	require.Empty(t, p.Grant)

	// Collected, registration not begun.
	ls = approve()
	p = f.poll(t, ls.PollToken)
	require.Equal(t, webauthnkit.LinkApproved, p.Status)
	_, err = f.rp.EndSessions(ctx, f.alice.User.Handle)
	require.NoError(t, err)
	_, err = f.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: p.Grant})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidGrant)

	// Untouched: the approval still works.
	ls = approve()
	p = f.poll(t, ls.PollToken)
	require.Equal(t, webauthnkit.LinkApproved, p.Status)
	reg, _ := register(t, f.rp, webauthnkit.RegistrationRequest{Grant: p.Grant})
	require.Equal(t, f.alice.User.Handle, reg.User.Handle)
}
