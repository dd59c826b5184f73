package webauthnkit_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Adding a new device (B) by approval from a signed-in one (A), with a
// step-up re-authentication on A before the approval.
func ExampleRelyingParty_StartLink() {
	ctx := context.Background()
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID: "example.com", Origins: []string{"https://example.com"},
		Credentials: store, Ceremonies: store,
	})
	if err != nil {
		log.Fatal(err)
	}
	laptop := webauthntest.New(webauthntest.WithOrigin("https://example.com"))
	begin, _ := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	body, _ := laptop.Register(begin.Options)
	alice, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
	if err != nil {
		log.Fatal(err)
	}

	// B: shows link.Code (and a QR code of the approval URL) and the
	// phrase, keeps the poll token.
	link, _ := rp.StartLink(ctx, webauthnkit.LinkStartRequest{
		UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	})
	poll, _ := rp.PollLink(ctx, link.PollToken)
	fmt.Println("B:", poll.Status)

	// A, signed in as Alice: the code binds the request to her account.
	req, err := rp.LookupLink(ctx, alice.User.Handle, link.Code)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("A sees:", req.Device.Browser, "on", req.Device.OS, "(no phrase shown)")

	// Approving needs a fresh user-verified authentication.
	// The user types the words B shows (link.MatchPhrase), in any case.
	typed := strings.ToUpper(link.MatchPhrase)
	err = rp.ApproveLink(ctx, webauthnkit.LinkApproval{LinkID: req.LinkID, MatchPhrase: typed, UserHandle: alice.User.Handle})
	fmt.Println("without step-up:", errors.Is(err, webauthnkit.ErrReauthRequired))
	rb, _ := rp.BeginReauth(ctx, alice.User.Handle)
	body, _ = laptop.Login(rb.Options)
	reauth, err := rp.FinishReauth(ctx, alice.User.Handle, rb.CeremonyID, body)
	if err != nil {
		log.Fatal(err)
	}
	err = rp.ApproveLink(ctx, webauthnkit.LinkApproval{LinkID: req.LinkID, MatchPhrase: typed, UserHandle: alice.User.Handle, AuthenticatedAt: reauth.AuthenticatedAt})
	fmt.Println("approved:", err == nil)

	// B: a single-use grant for Alice's account; B registers its own passkey.
	poll, _ = rp.PollLink(ctx, link.PollToken)
	fmt.Println("B:", poll.Status, "for", poll.Username)
	phone := webauthntest.New(webauthntest.WithOrigin("https://example.com"))
	begin, _ = rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Grant: poll.Grant, CredentialName: "Phone"})
	body, _ = phone.Register(begin.Options)
	reg, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("B registered a passkey for", reg.User.Name, "purpose", reg.GrantPurpose)

	// The code is spent.
	_, err = rp.LookupLink(ctx, alice.User.Handle, link.Code)
	fmt.Println("code again:", webauthnkit.ErrorCode(err))
	// Output:
	// B: pending
	// A sees: Safari on iOS (no phrase shown)
	// without step-up: true
	// approved: true
	// B: approved for alice
	// B registered a passkey for alice purpose device_link
	// code again: link_not_found
}
