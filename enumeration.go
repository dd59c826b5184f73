package webauthnkit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

// A login by username must not tell whether the name has an account with
// passkeys. BeginLogin answers an unknown name (or an account without
// passkeys: both are "unknown" below) with a stable fake allow list, kept in
// the ceremony state (ceremonyState.FakeIDs). FinishLogin then answers every
// probe the same way for a real and an unknown name:
//
//   - One of the name's own allowCredentials IDs (read from the options):
//     real: found, owned, signature checked, invalid_response; unknown: not
//     found, but a fake ID, so a dummy verification of the same cost
//     (ES256, go-webauthn's ValidateLogin) and the same invalid_response.
//     With a userHandle in the response (the attacker cannot know the real
//     account's): unknown_credential without verification, for both.
//   - A random or unregistered ID (another name's fake ID included): not
//     found for both: unknown_credential with UnknownCredentialID.
//   - Another account's registered credential: found and not owned for both
//     (an unknown name owns nothing): unknown_credential, no signal.
//
// Each pair makes the same store calls (TakeCeremony, GetCredential). Not
// hidden: a real account whose passkey is RSA or Ed25519 verifies slower or
// faster than the ES256 dummy, and a store may answer a miss faster than a
// hit.

// newDummyCredentialKey returns the COSE encoding of a fresh P-256 public key
// whose private key is discarded: no response can ever verify against it.
func newDummyCredentialKey() ([]byte, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("webauthnkit: making the dummy credential key: %w", err)
	}
	point, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, fmt.Errorf("webauthnkit: encoding the dummy credential key: %w", err)
	}
	key, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{
			KeyType:   int64(webauthncose.EllipticKey),
			Algorithm: int64(webauthncose.AlgES256),
		},
		Curve:  int64(webauthncose.P256),
		XCoord: point[1:33],
		YCoord: point[33:],
	})
	if err != nil {
		return nil, fmt.Errorf("webauthnkit: encoding the dummy credential key: %w", err)
	}
	return key, nil
}

// dummyUserHandle owns the dummy credential; a real handle has the same size.
var dummyUserHandle = make([]byte, 32)

// credentialIDs returns the IDs of an allow list.
func credentialIDs(allow []protocol.CredentialDescriptor) [][]byte {
	ids := make([][]byte, len(allow))
	for i, d := range allow {
		ids[i] = d.CredentialID
	}
	return ids
}

// fakeCredentialFailure returns, when a login by name for an unknown name
// presents one of the fake IDs it was shown (and the store knows no such
// credential), the error a real account gives for a response that does not
// verify, after work of the same cost. Otherwise it returns nil.
func (rp *RelyingParty) fakeCredentialFailure(st *ceremonyState, parsed *protocol.ParsedCredentialAssertionData) error {
	if !st.ByUsername || st.User != nil {
		return nil
	}
	fake := false
	for _, id := range st.FakeIDs {
		fake = fake || bytes.Equal(id, parsed.RawID)
	}
	if !fake {
		return nil
	}
	// A real account refuses a user handle other than its own before
	// verifying anything.
	if len(parsed.Response.UserHandle) > 0 {
		return &Error{Code: CodeUnknownCredential, Message: "this passkey is not registered"}
	}
	// The same key check as a real credential's, so both paths cost alike.
	if _, err := checkCredentialKey(rp.dummyKey, DefaultAlgorithms()); err != nil {
		return invalidResponse(err)
	}
	session := st.Session
	session.UserID = dummyUserHandle
	dummy := &waUser{handle: dummyUserHandle, creds: []webauthn.Credential{{ID: parsed.RawID, PublicKey: rp.dummyKey}}}
	_, err := rp.wa.ValidateLogin(dummy, session, parsed)
	if err == nil { // cannot happen: nobody holds the private key
		err = fmt.Errorf("dummy credential verified")
	}
	return invalidResponse(err)
}

// fakeAllowList derives, for an unknown user name, a stable list of
// credential descriptors shaped like real ones (one or two passkeys, ID
// lengths and transports as real authenticators report them), so that
// BeginLogin answers for unknown names look like answers for real accounts.
// The shape of a real account's list cannot be hidden completely: an account
// with three security keys still stands out.
func (rp *RelyingParty) fakeAllowList(name string) []protocol.CredentialDescriptor {
	return rp.fakeAllowListFor("webauthnkit fake credential\x00", []byte(name))
}

// fakeAllowListByHandle is fakeAllowList for a login bound by an unknown
// user handle (LoginRequest.UserHandle), keyed apart from names.
func (rp *RelyingParty) fakeAllowListByHandle(handle []byte) []protocol.CredentialDescriptor {
	return rp.fakeAllowListFor("webauthnkit fake credential by handle\x00", handle)
}

func (rp *RelyingParty) fakeAllowListFor(label string, key []byte) []protocol.CredentialDescriptor {
	stream := func(i byte) []byte {
		m := hmac.New(sha256.New, rp.cfg.Secret)
		m.Write([]byte(label))
		m.Write(key)
		m.Write([]byte{0, i})
		return m.Sum(nil)
	}
	head := stream(0)
	count := 1
	if head[0]%4 == 0 { // a quarter of accounts show two passkeys
		count = 2
	}
	// Real credential IDs are 16 (many platforms), 20 (Apple), 32 or 64
	// bytes (security keys).
	lengths := [...]int{16, 20, 32, 64}
	transports := [...][]string{{"hybrid", "internal"}, {"hybrid", "internal"}, {"internal"}, {"usb"}, {"nfc", "usb"}, {"hybrid", "internal"}}
	out := make([]protocol.CredentialDescriptor, 0, count)
	for i := range count {
		a, b := stream(byte(2*i+1)), stream(byte(2*i+2))
		id := append(a, b...)[:lengths[head[1+i]%4]]
		out = append(out, descriptor(id, transports[int(head[3+i])%len(transports)]))
	}
	return out
}

// fakeUserHandle is looked up for an unknown name so that both paths of
// BeginLogin make the same store calls.
func (rp *RelyingParty) fakeUserHandle(name string) []byte {
	m := hmac.New(sha256.New, rp.cfg.Secret)
	m.Write([]byte("webauthnkit fake user\x00"))
	m.Write([]byte(name))
	return m.Sum(nil)
}
