package webauthnkit_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
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
	for _, decide := range []string{"approve", "deny"} {
		t.Run(decide, func(t *testing.T) {
			var hook *hookAfterTake
			f := &linkFixture{env: newEnv(t, func(c *webauthnkit.Config) {
				hook = &hookAfterTake{ChallengeStore: c.Ceremonies}
				c.Ceremonies = hook
			})}
			f.alice, f.authA = f.signUp(t, "alice")
			ls := f.start(t)
			req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
			require.NoError(t, err)
			f.clock.Advance(ls.ExpiresAt.Sub(f.clock.Now()) - 2*time.Second)
			a := f.fresh(t, req.LinkID)

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
