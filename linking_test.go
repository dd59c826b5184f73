package webauthnkit_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

const (
	uaChromeAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	uaSafariMac     = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
)

// linkFixture is one account (Alice, on device A) and the environment.
type linkFixture struct {
	*env
	alice *webauthnkit.Registration
	authA *webauthntest.Authenticator
}

func newLinkFixture(t *testing.T) *linkFixture {
	e := newEnv(t)
	alice, authA := e.signUp(t, "alice")
	return &linkFixture{env: e, alice: alice, authA: authA}
}

// fresh re-authenticates Alice and returns the approval for linkID, with
// the words phrase typed.
func (f *linkFixture) fresh(t *testing.T, linkID, phrase string) webauthnkit.LinkApproval {
	t.Helper()
	login, err := f.reauth(t, f.alice.User.Handle, f.authA)
	require.NoError(t, err)
	return webauthnkit.LinkApproval{LinkID: linkID, MatchPhrase: phrase, UserHandle: f.alice.User.Handle, AuthenticatedAt: login.AuthenticatedAt}
}

func (f *linkFixture) start(t *testing.T) *webauthnkit.LinkStart {
	t.Helper()
	ls, err := f.rp.StartLink(ctx, webauthnkit.LinkStartRequest{UserAgent: uaChromeAndroid})
	require.NoError(t, err)
	return ls
}

func (f *linkFixture) poll(t *testing.T, token string) *webauthnkit.LinkPoll {
	t.Helper()
	p, err := f.rp.PollLink(ctx, token)
	require.NoError(t, err)
	return p
}

func TestLinkWholeFlow(t *testing.T) {
	f := newLinkFixture(t)

	// B, not signed in.
	ls := f.start(t)
	require.Regexp(t, `^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$`, ls.Code)
	require.Len(t, strings.Fields(ls.MatchPhrase), 3)
	require.Equal(t, webauthnkit.LinkDevice{Browser: "Chrome", OS: "Android"}, ls.Device)
	require.True(t, ls.ExpiresAt.Equal(f.clock.Now().Add(webauthnkit.MaxLinkTTL)))
	require.NotEmpty(t, ls.LinkID)
	require.Equal(t, webauthnkit.LinkPending, f.poll(t, ls.PollToken).Status)

	// A, signed in as Alice, types the code loosely.
	f.clock.Advance(20 * time.Second)
	typed := strings.ToLower(strings.ReplaceAll(ls.Code, "-", " "))
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, typed)
	require.NoError(t, err)
	require.Equal(t, ls.LinkID, req.LinkID)
	require.Equal(t, ls.Device, req.Device)
	require.True(t, req.CreatedAt.Equal(ls.CreatedAt))
	require.True(t, req.ExpiresAt.Equal(ls.ExpiresAt))
	require.Equal(t, webauthnkit.LinkPending, f.poll(t, ls.PollToken).Status)

	// Approve after a step-up.
	require.NoError(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, ls.MatchPhrase)))

	// B learns it and gets a grant for Alice's account, once.
	p := f.poll(t, ls.PollToken)
	require.Equal(t, webauthnkit.LinkApproved, p.Status)
	require.NotEmpty(t, p.Grant)
	require.Equal(t, "alice", p.Username)
	require.True(t, p.GrantExpiresAt.After(f.clock.Now()))
	again := f.poll(t, ls.PollToken)
	require.Empty(t, again.Grant, "the grant is handed out once")

	// B registers its own passkey with the grant, then signs in with it.
	reg, authB := register(t, f.rp, webauthnkit.RegistrationRequest{Grant: p.Grant})
	require.Equal(t, f.alice.User.Handle, reg.User.Handle, "the account is the approver's")
	require.False(t, reg.NewUser)
	require.Equal(t, webauthnkit.LinkGrantPurpose, reg.GrantPurpose)
	login, err := f.login(t, authB, "alice")
	require.NoError(t, err)
	require.Equal(t, reg.Credential.ID, login.Credential.ID)
	_, err = f.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: p.Grant})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidGrant, "single-use grant")

	types := f.events.types()
	require.Contains(t, types, webauthnkit.EventLinkStarted)
	require.Contains(t, types, webauthnkit.EventLinkApproved)
	for _, ev := range f.events.events {
		if ev.Type == webauthnkit.EventLinkApproved {
			require.Equal(t, f.alice.User.Handle, ev.UserHandle)
		}
	}
	// Nothing secret in logs or events.
	norm := strings.ReplaceAll(ls.Code, "-", "")
	dump := f.logs.String() + fmt.Sprintf("%+v", f.events.events)
	for _, secret := range []string{ls.Code, norm, ls.PollToken, p.Grant, ls.MatchPhrase} {
		require.NotContains(t, dump, secret)
	}
}

func TestLinkDeny(t *testing.T) {
	f := newLinkFixture(t)
	ls := f.start(t)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)
	require.NoError(t, f.rp.DenyLink(ctx, req.LinkID, f.alice.User.Handle))
	require.Equal(t, webauthnkit.EventLinkDenied, f.events.last().Type)

	err = f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, ls.MatchPhrase))
	require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound, "decided already")
	p := f.poll(t, ls.PollToken)
	require.Equal(t, webauthnkit.LinkDenied, p.Status)
	require.Empty(t, p.Grant)
	_, err = f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound, "the code is useless after a denial")
}

func TestLinkExpiry(t *testing.T) {
	f := newLinkFixture(t)

	// Never looked up: the code expires.
	ls := f.start(t)
	f.clock.Advance(webauthnkit.MaxLinkTTL)
	_, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)

	// B polling after the expiry: expired, reported once.
	require.Equal(t, webauthnkit.LinkExpired, f.poll(t, ls.PollToken).Status)
	require.Equal(t, webauthnkit.EventLinkExpired, f.events.last().Type)
	n := len(f.events.types())
	require.Equal(t, webauthnkit.LinkExpired, f.poll(t, ls.PollToken).Status)
	require.Len(t, f.events.types(), n, "the expiry is reported once")
	f.clock.Advance(time.Hour)
	require.Equal(t, webauthnkit.LinkExpired, f.poll(t, ls.PollToken).Status)

	// Looked up, not approved in time.
	ls = f.start(t)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)
	f.clock.Advance(webauthnkit.MaxLinkTTL - time.Second)
	approval := f.fresh(t, req.LinkID, ls.MatchPhrase)
	f.clock.Advance(time.Second)
	require.ErrorIs(t, f.rp.ApproveLink(ctx, approval), webauthnkit.ErrLinkNotFound)
	require.ErrorIs(t, f.rp.DenyLink(ctx, req.LinkID, f.alice.User.Handle), webauthnkit.ErrLinkNotFound)
	require.Equal(t, webauthnkit.LinkExpired, f.poll(t, ls.PollToken).Status)

	// Approved just in time: B still collects after the expiry.
	ls = f.start(t)
	req, err = f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)
	f.clock.Advance(webauthnkit.MaxLinkTTL - time.Second)
	require.NoError(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, ls.MatchPhrase)))
	f.clock.Advance(time.Minute)
	p := f.poll(t, ls.PollToken)
	require.Equal(t, webauthnkit.LinkApproved, p.Status)
	require.NotEmpty(t, p.Grant)
	require.Equal(t, webauthnkit.LinkExpired, f.poll(t, ls.PollToken).Status, "collected, then over")
	require.NotEqual(t, webauthnkit.EventLinkExpired, f.events.last().Type, "a decided request does not expire")

	// TTL bounds.
	_, err = f.rp.StartLink(ctx, webauthnkit.LinkStartRequest{TTL: webauthnkit.MaxLinkTTL + time.Second})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	_, err = f.rp.StartLink(ctx, webauthnkit.LinkStartRequest{TTL: time.Second})
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	short, err := f.rp.StartLink(ctx, webauthnkit.LinkStartRequest{TTL: time.Minute})
	require.NoError(t, err)
	require.True(t, short.ExpiresAt.Equal(f.clock.Now().Add(time.Minute)))
}

func TestLinkCodeReplayedAfterApproval(t *testing.T) {
	f := newLinkFixture(t)
	bob, _ := f.signUp(t, "bob")
	ls := f.start(t)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)
	require.NoError(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, ls.MatchPhrase)))
	for _, h := range [][]byte{f.alice.User.Handle, bob.User.Handle} {
		_, err = f.rp.LookupLink(ctx, h, ls.Code)
		require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
	}
	require.ErrorIs(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, ls.MatchPhrase)), webauthnkit.ErrLinkNotFound, "approved once")
}

func TestLinkApprovalByAnotherAccount(t *testing.T) {
	f := newLinkFixture(t)
	bob, authBob := f.signUp(t, "bob")
	ls := f.start(t)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)

	// Bob, freshly re-authenticated, knows the link ID: not his request.
	login, err := f.reauth(t, bob.User.Handle, authBob)
	require.NoError(t, err)
	err = f.rp.ApproveLink(ctx, webauthnkit.LinkApproval{LinkID: req.LinkID, MatchPhrase: ls.MatchPhrase, UserHandle: bob.User.Handle, AuthenticatedAt: login.AuthenticatedAt})
	require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
	require.ErrorIs(t, f.rp.DenyLink(ctx, req.LinkID, bob.User.Handle), webauthnkit.ErrLinkNotFound)
	require.Equal(t, webauthnkit.LinkPending, f.poll(t, ls.PollToken).Status)

	// Alice's approval still works, and B joins Alice's account.
	require.NoError(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, ls.MatchPhrase)))
	p := f.poll(t, ls.PollToken)
	require.Equal(t, "alice", p.Username)
	reg, _ := register(t, f.rp, webauthnkit.RegistrationRequest{Grant: p.Grant})
	require.Equal(t, f.alice.User.Handle, reg.User.Handle)
}

func TestLinkApprovalNeedsFreshAuth(t *testing.T) {
	f := newLinkFixture(t)
	ls := f.start(t)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)

	a := f.fresh(t, req.LinkID, ls.MatchPhrase)
	stale := a
	stale.AuthenticatedAt = f.clock.Now().Add(-webauthnkit.DefaultReauthMaxAge - time.Second)
	require.ErrorIs(t, f.rp.ApproveLink(ctx, stale), webauthnkit.ErrReauthRequired)
	none := a
	none.AuthenticatedAt = time.Time{}
	require.ErrorIs(t, f.rp.ApproveLink(ctx, none), webauthnkit.ErrReauthRequired)
	longer := stale
	longer.MaxAge = 10 * time.Minute
	// The refusals took nothing: a fresh approval goes through.
	require.NoError(t, f.rp.ApproveLink(ctx, longer))

	// MaxAge < 0: the caller turned the check off.
	ls = f.start(t)
	req, err = f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)
	require.NoError(t, f.rp.ApproveLink(ctx, webauthnkit.LinkApproval{LinkID: req.LinkID, MatchPhrase: ls.MatchPhrase, UserHandle: f.alice.User.Handle, MaxAge: -1}))
}

func TestLinkApprovalsRace(t *testing.T) {
	f := newLinkFixture(t)
	for round := range 3 {
		ls := f.start(t)
		req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
		require.NoError(t, err)
		a := f.fresh(t, req.LinkID, ls.MatchPhrase)
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if i%2 == 0 || round == 0 {
					errs[i] = f.rp.ApproveLink(ctx, a)
				} else {
					errs[i] = f.rp.DenyLink(ctx, req.LinkID, f.alice.User.Handle)
				}
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
			}
		}
		require.Equal(t, 1, wins, "one decision wins")
		p := f.poll(t, ls.PollToken)
		require.Contains(t, []webauthnkit.LinkStatus{webauthnkit.LinkApproved, webauthnkit.LinkDenied}, p.Status)
	}
}

func TestLinkLookupsRace(t *testing.T) {
	f := newLinkFixture(t)
	bob, _ := f.signUp(t, "bob")
	ls := f.start(t)
	const n = 10
	var wg sync.WaitGroup
	results := make([]*webauthnkit.LinkRequest, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := f.alice.User.Handle
			if i%2 == 1 {
				h = bob.User.Handle
			}
			results[i], errs[i] = f.rp.LookupLink(ctx, h, ls.Code)
		}()
	}
	wg.Wait()
	wins := 0
	for i := range n {
		if errs[i] == nil {
			wins++
			require.Equal(t, ls.LinkID, results[i].LinkID)
		} else {
			require.ErrorIs(t, errs[i], webauthnkit.ErrLinkNotFound)
		}
	}
	require.Equal(t, 1, wins, "a code binds to one account")
}

func TestLinkLookupBudget(t *testing.T) {
	f := newLinkFixture(t)
	bob, _ := f.signUp(t, "bob")
	// Start at a window boundary so the test does not straddle two.
	now := f.clock.Now()
	f.clock.Advance(now.Truncate(webauthnkit.LinkLookupWindow).Add(webauthnkit.LinkLookupWindow).Sub(now))
	ls := f.start(t)

	// Concurrent wrong guesses: exactly the budget is looked at.
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[webauthnkit.Code]int{}
	for i := range 3 * webauthnkit.LinkLookupLimit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.rp.LookupLink(ctx, f.alice.User.Handle, fmt.Sprintf("ZZZZZ%05d", i))
			mu.Lock()
			counts[webauthnkit.ErrorCode(err)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Equal(t, map[webauthnkit.Code]int{
		webauthnkit.CodeLinkNotFound:    webauthnkit.LinkLookupLimit,
		webauthnkit.CodeTooManyAttempts: 2 * webauthnkit.LinkLookupLimit,
	}, counts)

	// Spent: even the right code is not looked at.
	_, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.ErrorIs(t, err, webauthnkit.ErrTooManyAttempts)
	// Another account has its own budget (and binds the request).
	_, err = f.rp.LookupLink(ctx, bob.User.Handle, "00000-00000")
	require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
	// The next window: Alice may look up again.
	f.clock.Advance(webauthnkit.LinkLookupWindow)
	ls = f.start(t)
	_, err = f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)
}

func TestLinkHostileInput(t *testing.T) {
	f := newLinkFixture(t)
	other := newLinkFixture(t) // another Config.Secret
	ls := f.start(t)

	// One character of the MAC changed (not the last one: its low bits are
	// padding, and it may already be the replacement).
	i := len(ls.PollToken) - 2
	flip := "A"
	if ls.PollToken[i] == 'A' {
		flip = "B"
	}
	for _, tok := range []string{"", "x", strings.Repeat("A", 10000), ls.PollToken[:i] + flip + ls.PollToken[i+1:], ls.PollToken + "A"} {
		_, err := f.rp.PollLink(ctx, tok)
		require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound, tok)
	}
	_, err := other.rp.PollLink(ctx, ls.PollToken)
	require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound, "a token of another secret")

	for _, code := range []string{"", "12345", strings.Repeat("1", 10000), "ÄÄÄÄÄ-ÄÄÄÄÄ", "UUUUU-UUUUU"} {
		_, err := f.rp.LookupLink(ctx, f.alice.User.Handle, code)
		require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
	}
	_, err = f.rp.LookupLink(ctx, nil, ls.Code)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidRequest)
	for _, id := range []string{"", strings.Repeat("a", 65), "a/b", "ä"} {
		require.ErrorIs(t, f.rp.DenyLink(ctx, id, f.alice.User.Handle), webauthnkit.ErrLinkNotFound)
		require.ErrorIs(t, f.rp.ApproveLink(ctx, webauthnkit.LinkApproval{LinkID: id, MatchPhrase: ls.MatchPhrase, UserHandle: f.alice.User.Handle, MaxAge: -1}), webauthnkit.ErrLinkNotFound)
	}
	// A User-Agent of any size is cut, never echoed whole.
	big, err := f.rp.StartLink(ctx, webauthnkit.LinkStartRequest{UserAgent: strings.Repeat("Firefox/ ", 100000)})
	require.NoError(t, err)
	require.Equal(t, "Firefox", big.Device.Browser)
	// The code is still valid after all that.
	_, err = f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)
}

func TestLinkUserAgents(t *testing.T) {
	f := newLinkFixture(t)
	for ua, want := range map[string]webauthnkit.LinkDevice{
		uaChromeAndroid: {Browser: "Chrome", OS: "Android"},
		uaSafariMac:     {Browser: "Safari", OS: "macOS"},
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": {Browser: "Safari", OS: "iOS"},
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":           {Browser: "Edge", OS: "Windows"},
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                                  {Browser: "Firefox", OS: "Linux"},
		"curl/8.0": {},
		"":         {},
	} {
		ls, err := f.rp.StartLink(ctx, webauthnkit.LinkStartRequest{UserAgent: ua})
		require.NoError(t, err)
		require.Equal(t, want, ls.Device, ua)
	}
}

// The phrase and code are uniform enough to differ between requests.
func TestLinkCodesDiffer(t *testing.T) {
	f := newLinkFixture(t)
	codes, phrases := map[string]bool{}, map[string]bool{}
	re := regexp.MustCompile(`^[a-z]+ [a-z]+ [a-z]+$`)
	for range 50 {
		ls := f.start(t)
		codes[ls.Code] = true
		phrases[ls.MatchPhrase] = true
		require.Regexp(t, re, ls.MatchPhrase)
		require.False(t, bytes.Contains([]byte(ls.PollToken), []byte(ls.LinkID)))
	}
	require.Len(t, codes, 50)
	require.Greater(t, len(phrases), 45)
}
