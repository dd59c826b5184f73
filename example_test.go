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

// One name reaches an error at every layer: the store's sentinel, the
// RelyingParty's *Error that wraps it, and its code (the HTTP adapter's
// "error" field). docs/errors.md has the whole table.
func Example_errorsAcrossLayers() {
	ctx := context.Background()
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rp, _ := webauthnkit.New(webauthnkit.Config{
		RPID: "example.com", Origins: []string{"https://example.com"},
		Credentials: store, Ceremonies: store,
	})
	device := webauthntest.New(webauthntest.WithOrigin("https://example.com"))

	// Two sign-ups for one name; the second finishes after the first.
	first, _ := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	second, _ := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "alice"})
	body, _ := device.Register(first.Options)
	alice, _ := rp.FinishRegistration(ctx, first.CeremonyID, body)
	body, _ = webauthntest.New(webauthntest.WithOrigin("https://example.com")).Register(second.Options)
	_, err = rp.FinishRegistration(ctx, second.CeremonyID, body)
	fmt.Println(webauthnkit.ErrorCode(err), errors.Is(err, webauthnkit.ErrUsernameTaken),
		errors.Is(err, webauthnkit.ErrUserExists), errors.Is(err, webauthnkit.ErrDuplicate))

	// The store's ErrNotFound, and the RelyingParty's error wrapping it.
	_, err = store.GetCredential(ctx, []byte("no such passkey"))
	fmt.Println(errors.Is(err, webauthnkit.ErrNotFound))
	err = rp.RenameCredential(ctx, alice.User.Handle, []byte("no such passkey"), "laptop")
	fmt.Println(webauthnkit.ErrorCode(err), errors.Is(err, webauthnkit.ErrNotFound))

	// The only passkey is kept unless forced.
	err = rp.RevokeCredential(ctx, alice.User.Handle, alice.Credential.ID, false)
	fmt.Println(webauthnkit.ErrorCode(err), errors.Is(err, webauthnkit.ErrLastCredential))

	// A client that went away is not a store outage.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	_, err = rp.BeginLogin(gone, webauthnkit.LoginRequest{Username: "alice"})
	fmt.Println(webauthnkit.ErrorCode(err), errors.Is(err, context.Canceled), errors.Is(err, webauthnkit.ErrStoreUnavailable))
	// Output:
	// username_taken true true true
	// true
	// not_found true
	// last_credential true
	// canceled true false
}
