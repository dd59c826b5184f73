package webauthnkit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
)

// flakyPuts lets skip PutCeremony calls through, fails the next one, then
// lets every call through again.
type flakyPuts struct {
	webauthnkit.ChallengeStore
	mu    sync.Mutex
	armed bool
	skip  int
}

func (f *flakyPuts) failAfter(skip int) {
	f.mu.Lock()
	f.armed, f.skip = true, skip
	f.mu.Unlock()
}

func (f *flakyPuts) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	f.mu.Lock()
	fail := false
	if f.armed {
		if f.skip == 0 {
			f.armed, fail = false, true
		} else {
			f.skip--
		}
	}
	f.mu.Unlock()
	if fail {
		return storewrap.ErrDown
	}
	return f.ChallengeStore.PutCeremony(ctx, id, data, exp)
}

// A write that fails half-way through a lookup or a decision puts the
// taken record back: the user can retry instead of starting over.
func TestLinkStoreFailureKeepsTheRequest(t *testing.T) {
	mem := newMemStore(t)
	flaky := &flakyPuts{ChallengeStore: mem}
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: mem, Ceremonies: flaky})
	require.NoError(t, err)
	alice, _ := register(t, rp, webauthnkit.RegistrationRequest{Username: "alice"})
	h := alice.User.Handle

	ls, err := rp.StartLink(ctx, webauthnkit.LinkStartRequest{})
	require.NoError(t, err)
	// Lookup: the budget slot's put goes through, the take too, the bound
	// record's put fails.
	flaky.failAfter(1)
	_, err = rp.LookupLink(ctx, h, ls.Code)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	req, err := rp.LookupLink(ctx, h, ls.Code)
	require.NoError(t, err, "the code was put back")

	// Approval: the take goes through, the decision's put fails.
	flaky.failAfter(0)
	a := webauthnkit.LinkApproval{LinkID: req.LinkID, MatchPhrase: ls.MatchPhrase, UserHandle: h, MaxAge: -1}
	require.ErrorIs(t, rp.ApproveLink(ctx, a), webauthnkit.ErrStoreUnavailable)
	p, err := rp.PollLink(ctx, ls.PollToken)
	require.NoError(t, err)
	require.Equal(t, webauthnkit.LinkPending, p.Status)
	require.NoError(t, rp.ApproveLink(ctx, a), "the request was put back")
	p, err = rp.PollLink(ctx, ls.PollToken)
	require.NoError(t, err)
	require.Equal(t, webauthnkit.LinkApproved, p.Status)
}

// The store round trips of each step (memstore behind the call log).
func TestLinkStoreCalls(t *testing.T) {
	mem := newMemStore(t)
	store := storewrap.New(mem, mem, storewrap.WithCallLog())
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	alice, _ := register(t, rp, webauthnkit.RegistrationRequest{Username: "alice"})
	h := alice.User.Handle
	store.TakeCalls()

	ls, err := rp.StartLink(ctx, webauthnkit.LinkStartRequest{})
	require.NoError(t, err)
	require.Equal(t, []string{"PutCeremony", "PutCeremony"}, store.TakeCalls(), "start: code, expiry marker")
	_, err = rp.PollLink(ctx, ls.PollToken)
	require.NoError(t, err)
	require.Equal(t, []string{"TakeCeremony"}, store.TakeCalls(), "pending poll")
	req, err := rp.LookupLink(ctx, h, ls.Code)
	require.NoError(t, err)
	require.Equal(t, []string{"PutCeremony", "TakeCeremony", "PutCeremony"}, store.TakeCalls(), "lookup: budget slot, code, bound request")
	require.NoError(t, rp.ApproveLink(ctx, webauthnkit.LinkApproval{LinkID: req.LinkID, MatchPhrase: ls.MatchPhrase, UserHandle: h, MaxAge: -1}))
	require.Equal(t, []string{"GetUserByHandle", "TakeCeremony", "TakeCeremony", "PutCeremony"}, store.TakeCalls(), "approve: account, request, expiry marker, decision")
	p, err := rp.PollLink(ctx, ls.PollToken)
	require.NoError(t, err)
	require.NotEmpty(t, p.Grant)
	require.Equal(t, []string{"TakeCeremony", "PutCeremony", "GetUserByHandle", "PutCeremony"}, store.TakeCalls(), "approved poll: decision, marker's tombstone, grant")
}
