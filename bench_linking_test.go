package webauthnkit_test

import (
	"testing"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// BenchmarkLinkFlow measures the library's cost of one device link on
// memstore, without the WebAuthn ceremonies around it: StartLink,
// LookupLink (first lookup of the window), ApproveLink (fresh time given),
// and the approving PollLink (which issues the grant).
func BenchmarkLinkFlow(b *testing.B) {
	e := newEnv(b)
	reg, _ := e.signUp(b, "alice")
	h := reg.User.Handle
	b.ReportAllocs()
	cpu := testenv.ProcessCPU()
	for b.Loop() {
		ls, err := e.rp.StartLink(ctx, webauthnkit.LinkStartRequest{UserAgent: uaChromeAndroid})
		if err != nil {
			b.Fatal(err)
		}
		req, err := e.rp.LookupLink(ctx, h, ls.Code)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.rp.ApproveLink(ctx, webauthnkit.LinkApproval{LinkID: req.LinkID, MatchPhrase: ls.MatchPhrase, UserHandle: h, MaxAge: -1}); err != nil {
			b.Fatal(err)
		}
		p, err := e.rp.PollLink(ctx, ls.PollToken)
		if err != nil || p.Status != webauthnkit.LinkApproved {
			b.Fatal(p, err)
		}
		// A new window each time, so the lookup budget is not the limit.
		e.clock.Advance(webauthnkit.LinkLookupWindow)
	}
	reportCPU(b, testenv.ProcessCPU()-cpu)
}

// BenchmarkLinkPollPending is the cost of one poll of a pending request
// (one store take that finds nothing).
func BenchmarkLinkPollPending(b *testing.B) {
	e := newEnv(b)
	ls, err := e.rp.StartLink(ctx, webauthnkit.LinkStartRequest{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := testenv.ProcessCPU()
	for b.Loop() {
		if p, err := e.rp.PollLink(ctx, ls.PollToken); err != nil || p.Status != webauthnkit.LinkPending {
			b.Fatal(p, err)
		}
	}
	reportCPU(b, testenv.ProcessCPU()-cpu)
}
