package webauthnkit_test

import (
	"errors"
	"testing"

	"github.com/webauthnkit/webauthnkit"
)

// FuzzLinkInputs feeds hostile poll tokens, codes and link IDs: no panic,
// and only the documented answers.
func FuzzLinkInputs(f *testing.F) {
	e := newEnv(f)
	reg, _ := e.signUp(f, "alice")
	ls, err := e.rp.StartLink(ctx, webauthnkit.LinkStartRequest{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ls.PollToken, ls.Code, ls.LinkID)
	f.Add("", "", "")
	f.Add(ls.PollToken[:10], "O0IL1-ooiil", "../..")
	f.Fuzz(func(t *testing.T, token, code, linkID string) {
		if p, err := e.rp.PollLink(ctx, token); err != nil {
			if !errors.Is(err, webauthnkit.ErrLinkNotFound) {
				t.Fatalf("poll: %v", err)
			}
		} else if token != ls.PollToken {
			t.Fatalf("a forged token was accepted: %+v", p)
		}
		if _, err := e.rp.LookupLink(ctx, reg.User.Handle, code); err != nil &&
			!errors.Is(err, webauthnkit.ErrLinkNotFound) && !errors.Is(err, webauthnkit.ErrTooManyAttempts) {
			t.Fatalf("lookup: %v", err)
		}
		if err := e.rp.DenyLink(ctx, linkID, reg.User.Handle); err != nil && !errors.Is(err, webauthnkit.ErrLinkNotFound) {
			t.Fatalf("deny: %v", err)
		}
	})
}
