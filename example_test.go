package webauthnkit_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// A complete sign-up and sign-in, with the in-memory store and the software
// authenticator standing in for the browser.
func Example() {
	ctx := context.Background()
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "example.com",
		RPName:      "Example",
		Origins:     []string{"https://example.com"},
		Credentials: store,
		Ceremonies:  store,
	})
	if err != nil {
		log.Fatal(err)
	}
	device := webauthntest.New(webauthntest.WithOrigin("https://example.com"))

	// Sign-up: options go to the browser, its credential.toJSON() comes back.
	begin, _ := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "Alice", DisplayName: "Alice Liddell"})
	body, _ := device.Register(begin.Options)
	reg, err := rp.FinishRegistration(ctx, begin.CeremonyID, body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("registered:", reg.User.Name, "new account:", reg.NewUser)

	// Sign-in without a username (passkey picker).
	login, _ := rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	body, _ = device.Login(login.Options)
	result, err := rp.FinishLogin(ctx, login.CeremonyID, body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in:", result.User.Name, "verified:", result.UserVerified, "counter:", result.Credential.SignCount)

	// A ceremony is single use.
	_, err = rp.FinishLogin(ctx, login.CeremonyID, body)
	fmt.Println("replay rejected:", errors.Is(err, webauthnkit.ErrCeremonyNotFound), webauthnkit.ErrorCode(err))
	// Output:
	// registered: alice new account: true
	// signed in: alice verified: true counter: 1
	// replay rejected: true ceremony_not_found
}

// Errors carry a stable, client-safe code; sentinels work with errors.Is.
func ExampleErrorCode() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rp, _ := webauthnkit.New(webauthnkit.Config{
		RPID: "example.com", Origins: []string{"https://example.com"},
		Credentials: store, Ceremonies: store,
	})
	_, err = rp.BeginRegistration(context.Background(), webauthnkit.RegistrationRequest{Username: ""})
	fmt.Println(webauthnkit.ErrorCode(err), errors.Is(err, webauthnkit.ErrInvalidRequest))
	fmt.Println(err)
	// Output:
	// invalid_request true
	// webauthnkit: invalid_request: username is required
}

// New names the field it rejects.
func ExampleNew() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	_, err = webauthnkit.New(webauthnkit.Config{
		RPID:        "example.com",
		Origins:     []string{"http://example.com"},
		Credentials: store,
		Ceremonies:  store,
	})
	fmt.Println(err)
	// Output:
	// webauthnkit: invalid Config.Origins: "http://example.com" must use https (http is allowed only for localhost)
}

// Username-first login for a name that does not exist looks like a real one.
func ExampleRelyingParty_BeginLogin() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rp, _ := webauthnkit.New(webauthnkit.Config{
		RPID: "example.com", Origins: []string{"https://example.com"},
		Credentials: store, Ceremonies: store,
	})
	begin, err := rp.BeginLogin(context.Background(), webauthnkit.LoginRequest{Username: "nobody"})
	fmt.Println(err == nil, len(begin.CeremonyID))
	// Output:
	// true 43
}
