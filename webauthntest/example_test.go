package webauthntest_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/webauthnkit/webauthnkit/webauthntest"
)

type exampleUser struct {
	creds []webauthn.Credential
}

func (exampleUser) WebAuthnID() []byte                            { return []byte("user-1234") }
func (exampleUser) WebAuthnName() string                          { return "alice" }
func (exampleUser) WebAuthnDisplayName() string                   { return "Alice" }
func (u *exampleUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// A registration and a login against a go-webauthn relying party. Error
// handling is left out for brevity.
func Example() {
	rp, _ := webauthn.New(&webauthn.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"}})
	user := &exampleUser{}
	device := webauthntest.New() // origin https://example.com, derived from the RP ID

	creation, session, _ := rp.BeginRegistration(user)
	options, _ := json.Marshal(creation) // {"publicKey": {...}} or the bare options
	response, _ := device.Register(options)
	parsed, _ := protocol.ParseCredentialCreationResponseBytes(response)
	cred, err := rp.CreateCredential(user, *session, parsed)
	fmt.Println("registered:", err == nil)
	user.creds = append(user.creds, *cred)

	assertion, session, _ := rp.BeginLogin(user)
	options, _ = json.Marshal(assertion.Response)
	response, _ = device.Login(options)
	parsedLogin, _ := protocol.ParseCredentialRequestResponseBytes(response)
	cred, err = rp.ValidateLogin(user, *session, parsedLogin)
	fmt.Println("logged in:", err == nil, "sign count:", cred.Authenticator.SignCount)

	// A negative test: the same ceremony with a corrupted signature.
	assertion, session, _ = rp.BeginLogin(user)
	options, _ = json.Marshal(assertion.Response)
	response, _ = device.Login(options, webauthntest.BadSignature())
	parsedLogin, _ = protocol.ParseCredentialRequestResponseBytes(response)
	_, err = rp.ValidateLogin(user, *session, parsedLogin)
	fmt.Println("bad signature rejected:", err != nil)
	// Output:
	// registered: true
	// logged in: true sign count: 1
	// bad signature rejected: true
}

// Browser errors are reported as sentinel errors.
func ExampleAuthenticator_Register_excludeCredentials() {
	rp, _ := webauthn.New(&webauthn.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"}})
	user := &exampleUser{}
	device := webauthntest.New()

	creation, session, _ := rp.BeginRegistration(user)
	options, _ := json.Marshal(creation)
	response, _ := device.Register(options)
	parsed, _ := protocol.ParseCredentialCreationResponseBytes(response)
	cred, _ := rp.CreateCredential(user, *session, parsed)
	user.creds = append(user.creds, *cred)

	// Registering the same device again is refused by the "browser".
	creation, _, _ = rp.BeginRegistration(user, webauthn.WithExclusions(webauthn.Credentials(user.creds).CredentialDescriptors()))
	options, _ = json.Marshal(creation)
	_, err := device.Register(options)
	fmt.Println(errors.Is(err, webauthntest.ErrInvalidState))
	// Output:
	// true
}
