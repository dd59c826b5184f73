package webauthntest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// A minimal relying party on top of go-webauthn, to verify what the
// authenticator produces.

type user struct {
	id    []byte
	name  string
	creds []webauthn.Credential
}

func newUser(name string) *user { return &user{id: []byte("id-" + name), name: name} }

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// save stores a new or updated credential, as an RP does after a ceremony.
func (u *user) save(c *webauthn.Credential) {
	for i := range u.creds {
		if bytes.Equal(u.creds[i].ID, c.ID) {
			u.creds[i] = *c
			return
		}
	}
	u.creds = append(u.creds, *c)
}

type rp struct {
	t     testing.TB
	w     *webauthn.WebAuthn
	users map[string]*user // by user handle
}

func newRP(t testing.TB, rpID, origin string, tweak ...func(*webauthn.Config)) *rp {
	t.Helper()
	cfg := &webauthn.Config{RPID: rpID, RPDisplayName: "Test RP", RPOrigins: []string{origin}}
	for _, f := range tweak {
		f(cfg)
	}
	w, err := webauthn.New(cfg)
	require.NoError(t, err)
	return &rp{t: t, w: w, users: map[string]*user{}}
}

func exampleRP(t testing.TB, tweak ...func(*webauthn.Config)) *rp {
	return newRP(t, "example.com", "https://example.com", tweak...)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// beginRegistration returns the creation options JSON and the session.
func (r *rp) beginRegistration(u *user, opts ...webauthn.RegistrationOption) ([]byte, *webauthn.SessionData) {
	r.t.Helper()
	creation, session, err := r.w.BeginRegistration(u, opts...)
	require.NoError(r.t, err)
	return mustJSON(r.t, creation.Response), session
}

// finishRegistration verifies a registration response and, if valid, stores
// the credential with the user.
func (r *rp) finishRegistration(u *user, session *webauthn.SessionData, response []byte) (*webauthn.Credential, error) {
	r.t.Helper()
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, err
	}
	cred, err := r.w.CreateCredential(u, *session, parsed)
	if err != nil {
		return nil, err
	}
	u.save(cred)
	r.users[string(u.id)] = u
	return cred, nil
}

// register runs a whole registration; the authenticator must produce a
// response, whose verification result is returned.
func (r *rp) register(a *webauthntest.Authenticator, u *user, calls []webauthntest.CallOption, opts ...webauthn.RegistrationOption) (*webauthn.Credential, error) {
	r.t.Helper()
	options, session := r.beginRegistration(u, opts...)
	response, err := a.Register(options, calls...)
	require.NoError(r.t, err)
	return r.finishRegistration(u, session, response)
}

func (r *rp) mustRegister(a *webauthntest.Authenticator, u *user, opts ...webauthn.RegistrationOption) *webauthn.Credential {
	r.t.Helper()
	cred, err := r.register(a, u, nil, opts...)
	require.NoError(r.t, err)
	return cred
}

func (r *rp) finishLogin(u *user, session *webauthn.SessionData, response []byte) (*webauthn.Credential, error) {
	r.t.Helper()
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, err
	}
	cred, err := r.w.ValidateLogin(u, *session, parsed)
	if err != nil {
		return nil, err
	}
	u.save(cred)
	return cred, nil
}

// login runs a login for a known user (allowCredentials = the user's
// credentials) and returns the verification result.
func (r *rp) login(a *webauthntest.Authenticator, u *user, calls []webauthntest.CallOption, opts ...webauthn.LoginOption) (*webauthn.Credential, error) {
	r.t.Helper()
	assertion, session, err := r.w.BeginLogin(u, opts...)
	require.NoError(r.t, err)
	response, err := a.Login(mustJSON(r.t, assertion.Response), calls...)
	require.NoError(r.t, err)
	return r.finishLogin(u, session, response)
}

func (r *rp) mustLogin(a *webauthntest.Authenticator, u *user, opts ...webauthn.LoginOption) *webauthn.Credential {
	r.t.Helper()
	cred, err := r.login(a, u, nil, opts...)
	require.NoError(r.t, err)
	return cred
}

func (r *rp) finishPasskeyLogin(session *webauthn.SessionData, response []byte) (*user, *webauthn.Credential, error) {
	r.t.Helper()
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, nil, err
	}
	found, cred, err := r.w.ValidatePasskeyLogin(func(_, userHandle []byte) (webauthn.User, error) {
		if u, ok := r.users[string(userHandle)]; ok {
			return u, nil
		}
		return nil, fmt.Errorf("no user with handle %q", userHandle)
	}, *session, parsed)
	if err != nil {
		return nil, nil, err
	}
	u := found.(*user)
	u.save(cred)
	return u, cred, nil
}

// passkeyLogin runs a discoverable (usernameless) login.
func (r *rp) passkeyLogin(a *webauthntest.Authenticator, calls []webauthntest.CallOption, opts ...webauthn.LoginOption) (*user, *webauthn.Credential, error) {
	r.t.Helper()
	assertion, session, err := r.w.BeginDiscoverableLogin(opts...)
	require.NoError(r.t, err)
	response, err := a.Login(mustJSON(r.t, assertion.Response), calls...)
	require.NoError(r.t, err)
	return r.finishPasskeyLogin(session, response)
}

// errText is the whole text of a go-webauthn error: protocol.Error.Error()
// returns only Details, while the reason is often in DevInfo.
func errText(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Details + " | " + pe.DevInfo
	}
	return err.Error()
}
