package webauthnkit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
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
//   - A random or unregistered ID: not found for both: unknown_credential
//     with UnknownCredentialID.
//   - Another account's registered credential: found and not owned for both
//     (an unknown name owns nothing): unknown_credential, no signal.
//   - Any name's fake ID, replayed in another ceremony (a login by another
//     name, or a discoverable one): answered as that name's real passkey
//     would be there, never as "not registered", or the signal would tell
//     fake IDs from real ones. Fake IDs carry a tag keyed by the secret
//     (fakeIDTagSize bytes), so FinishLogin recognises them in any ceremony.
//
// A login bound by user handle (LoginRequest.UserHandle) follows the same
// scheme, with fake lists keyed by the handle (apart from names' lists), for
// unknown handles and accounts without passkeys. A login by name lists no
// second-factor-only passkey, so an account that has only those answers a
// name like an unknown one.
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

// fakeCredentialFailure returns, for a response naming a fake ID (which the
// store does not know), the error FinishLogin gives when the ID is a real
// account's registered passkey, after work of the same cost: in the
// ceremony of the name it was made for, that of the name's own passkey
// (ErrInvalidResponse, after a dummy verification); in a login by another
// name, that of another account's passkey (ErrUnknownCredential, no
// signal); in a discoverable login, that of a passkey found by its ID. For
// any other ID it returns nil (not registered).
func (rp *RelyingParty) fakeCredentialFailure(st *ceremonyState, parsed *protocol.ParsedCredentialAssertionData) error {
	if !rp.isFakeCredentialID(parsed.RawID) {
		return nil
	}
	own := false
	for _, id := range st.FakeIDs {
		own = own || bytes.Equal(id, parsed.RawID)
	}
	// A real account's passkey is refused, before any verification, in a
	// login by another name, and with a user handle other than its owner's.
	if st.ByUsername && !own || len(parsed.Response.UserHandle) > 0 {
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
		return rp.ceremonyKeys.secret.sum([]byte(label), key, []byte{0, i})
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
		body := append(a, b...)[:lengths[head[1+i]%4]-fakeIDTagSize]
		id := append(body, rp.fakeIDTag(body)...)
		out = append(out, descriptor(id, transports[int(head[3+i])%len(transports)]))
	}
	return out
}

// fakeIDTagSize is the size of the tag that ends every fake credential ID:
// a real ID passes for a fake one with probability 2^-64.
const fakeIDTagSize = 8

// fakeIDTag is the tag of a fake credential ID whose other bytes are body.
func (rp *RelyingParty) fakeIDTag(body []byte) []byte {
	return rp.ceremonyKeys.secret.sum([]byte("webauthnkit fake credential tag\x00"), body)[:fakeIDTagSize]
}

// isFakeCredentialID reports whether id is a fake credential ID made by
// fakeAllowList (for any name) under this secret.
func (rp *RelyingParty) isFakeCredentialID(id []byte) bool {
	switch len(id) {
	case 16, 20, 32, 64:
	default:
		return false
	}
	body, tag := id[:len(id)-fakeIDTagSize], id[len(id)-fakeIDTagSize:]
	return hmac.Equal(tag, rp.fakeIDTag(body))
}

// fakeUserHandle is looked up for an unknown name so that both paths of
// BeginLogin make the same store calls.
func (rp *RelyingParty) fakeUserHandle(name string) []byte {
	return rp.ceremonyKeys.secret.sum([]byte("webauthnkit fake user\x00"), []byte(name))
}
