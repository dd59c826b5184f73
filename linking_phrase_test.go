package webauthnkit_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
)

// Number matching: the approving device types the words the new device
// shows. Wrong words deny the request, once and for all.
func TestLinkPhraseMismatchDenies(t *testing.T) {
	f := newLinkFixture(t)
	ls := f.start(t)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)

	wrong := f.fresh(t, req.LinkID, "amber amber amber")
	if strings.EqualFold(ls.MatchPhrase, wrong.MatchPhrase) {
		wrong.MatchPhrase = "river river river"
	}
	err = f.rp.ApproveLink(ctx, wrong)
	require.ErrorIs(t, err, webauthnkit.ErrLinkPhraseMismatch)
	require.Equal(t, webauthnkit.CodeLinkPhraseMismatch, webauthnkit.ErrorCode(err))
	last := f.events.last()
	require.Equal(t, webauthnkit.EventLinkDenied, last.Type)
	require.Equal(t, f.alice.User.Handle, last.UserHandle)
	require.Empty(t, last.Username, "a denial names no account name, as DenyLink")

	// One guess: the right words now find nothing.
	err = f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, ls.MatchPhrase))
	require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
	require.ErrorIs(t, f.rp.DenyLink(ctx, req.LinkID, f.alice.User.Handle), webauthnkit.ErrLinkNotFound)

	// B learns the denial, gets no grant.
	p := f.poll(t, ls.PollToken)
	require.Equal(t, webauthnkit.LinkDenied, p.Status)
	require.Empty(t, p.Grant)
	_, err = f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)

	// The typed words are in no log or event.
	dump := f.logs.String() + fmt.Sprintf("%+v", f.events.events)
	require.NotContains(t, dump, ls.MatchPhrase)
	require.NotContains(t, dump, wrong.MatchPhrase)
}

func TestLinkPhraseNormalised(t *testing.T) {
	f := newLinkFixture(t)
	for _, typed := range []func(string) string{
		func(p string) string { return p },
		strings.ToUpper,
		// "Amber  RIVER-tiger": mixed case, runs of spaces, hyphens.
		func(p string) string {
			w := strings.Fields(p)
			return "  " + strings.ToUpper(w[0][:1]) + w[0][1:] + " \t " + strings.ToUpper(w[1]) + "-" + w[2] + "\n"
		},
		func(p string) string { return strings.ReplaceAll(p, " ", "--") },
	} {
		ls := f.start(t)
		req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
		require.NoError(t, err)
		require.NoError(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, typed(ls.MatchPhrase))), "typed %q for %q", typed(ls.MatchPhrase), ls.MatchPhrase)
		require.Equal(t, webauthnkit.LinkApproved, f.poll(t, ls.PollToken).Status)
	}
	// Words run together, a word missing, an extra word, or a huge input:
	// wrong (each denies its request).
	for _, typed := range []func(string) string{
		func(p string) string { return strings.ReplaceAll(p, " ", "") },
		func(p string) string { return p[:strings.LastIndexByte(p, ' ')] },
		func(p string) string { return p + " otter" },
		func(p string) string { return p + strings.Repeat(" ", 300) },
	} {
		ls := f.start(t)
		req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
		require.NoError(t, err)
		require.ErrorIs(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, typed(ls.MatchPhrase))), webauthnkit.ErrLinkPhraseMismatch)
		require.Equal(t, webauthnkit.LinkDenied, f.poll(t, ls.PollToken).Status)
	}
}

// No words at all is a malformed request, refused before anything is
// spent: the user can still type them.
func TestLinkPhraseMissingSpendsNothing(t *testing.T) {
	f := newLinkFixture(t)
	ls := f.start(t)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)
	for _, empty := range []string{"", "   ", "\t\n"} {
		require.ErrorIs(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, empty)), webauthnkit.ErrInvalidRequest)
	}
	require.Equal(t, webauthnkit.LinkPending, f.poll(t, ls.PollToken).Status)
	require.NoError(t, f.rp.ApproveLink(ctx, f.fresh(t, req.LinkID, ls.MatchPhrase)))
	require.Equal(t, webauthnkit.LinkApproved, f.poll(t, ls.PollToken).Status)
}

// The approving device is never told the words.
func TestLinkRequestHasNoPhrase(t *testing.T) {
	typ := reflect.TypeFor[webauthnkit.LinkRequest]()
	for i := range typ.NumField() {
		require.NotContains(t, strings.ToLower(typ.Field(i).Name), "phrase")
	}
	f := newLinkFixture(t)
	ls := f.start(t)
	req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
	require.NoError(t, err)
	for _, w := range strings.Fields(ls.MatchPhrase) {
		require.NotContains(t, fmt.Sprintf("%+v", *req), w)
	}
}

// Right and wrong words racing: exactly one decides, and B sees that one
// (approved when the right words won, denied when the wrong ones did).
func TestLinkPhraseRace(t *testing.T) {
	f := newLinkFixture(t)
	for range 4 {
		ls := f.start(t)
		req, err := f.rp.LookupLink(ctx, f.alice.User.Handle, ls.Code)
		require.NoError(t, err)
		right := f.fresh(t, req.LinkID, ls.MatchPhrase)
		wrong := right
		wrong.MatchPhrase = "x y z"
		const n = 12
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				if i%2 == 0 {
					errs[i] = f.rp.ApproveLink(ctx, right)
				} else {
					errs[i] = f.rp.ApproveLink(ctx, wrong)
				}
			})
		}
		close(start)
		wg.Wait()
		var decided []error
		for _, err := range errs {
			if err == nil || errors.Is(err, webauthnkit.ErrLinkPhraseMismatch) {
				decided = append(decided, err)
			} else {
				require.ErrorIs(t, err, webauthnkit.ErrLinkNotFound)
			}
		}
		require.Len(t, decided, 1, "one decision: %v", errs)
		want := webauthnkit.LinkApproved
		if decided[0] != nil {
			want = webauthnkit.LinkDenied
		}
		require.Equal(t, want, f.poll(t, ls.PollToken).Status)
	}
}
