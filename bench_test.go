package webauthnkit_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/loginbench"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// The login benchmarks below verify the same ES256 assertion (a synced
// passkey: counter 0, so it stays valid) three ways, so their ratio is the
// library's overhead:
//
//	BenchmarkLoginFloorECDSA      sha256 + ecdsa.VerifyASN1 (the cryptographic floor)
//	BenchmarkLoginGoWebAuthn      go-webauthn parse + ValidateLogin, nothing stored
//	BenchmarkFinishLogin          webauthnkit FinishLogin on memstore: take the
//	                              ceremony, parse, look up, validate, write back
//
// Each also reports cpu-ns/op, the process CPU time per operation
// (testenv.ProcessCPU): on a shared machine it is steadier than sec/op.
// BenchmarkFinishRegistration and BenchmarkRegistrationGoWebAuthn compare
// the same way for a "none" ES256 registration.
//
// Compare runs with benchstat (see BENCHMARKS.md).

var fixedChallenge = bytes.Repeat([]byte{0x42}, 32)

type loginFixture struct {
	rp      *webauthnkit.RelyingParty
	store   *memstore.Store
	body    []byte // one assertion, valid for every ceremony (fixed challenge)
	cred    webauthnkit.Credential
	user    webauthnkit.User
	pub     *ecdsa.PublicKey
	session webauthn.SessionData
}

func newLoginFixture(b testing.TB, opts ...memstore.Option) *loginFixture {
	b.Helper()
	store := newMemStore(b, opts...)
	f := loginbench.New(b, store, store)
	pub, ok := f.Device.Credentials()[0].PublicKey.(*ecdsa.PublicKey)
	require.True(b, ok)
	reg := f.Registration
	return &loginFixture{
		rp: f.RP, store: store, body: f.Body, cred: reg.Credential, user: reg.User, pub: pub,
		session: webauthn.SessionData{
			Challenge:        protocol.URLEncodedBase64(loginbench.Challenge).String(),
			RelyingPartyID:   loginbench.RPID,
			UserID:           reg.User.Handle,
			UserVerification: protocol.VerificationPreferred,
		},
	}
}

func BenchmarkFinishLogin(b *testing.B) {
	f := newLoginFixture(b)
	ids := make([]string, b.N)
	for i := range ids {
		begin, err := f.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
		require.NoError(b, err)
		ids[i] = begin.CeremonyID
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.ProcessCPU()
	for i := range b.N {
		if _, err := f.rp.FinishLogin(ctx, ids[i], f.body); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, testenv.ProcessCPU()-cpu)
}

// waBenchUser is the minimal go-webauthn user for the bare benchmark.
type waBenchUser struct {
	id    []byte
	creds []webauthn.Credential
}

func (u *waBenchUser) WebAuthnID() []byte                         { return u.id }
func (u *waBenchUser) WebAuthnName() string                       { return "alice" }
func (u *waBenchUser) WebAuthnDisplayName() string                { return "alice" }
func (u *waBenchUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func BenchmarkLoginGoWebAuthn(b *testing.B) {
	op := goWebAuthnLogin(b, newLoginFixture(b))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.ProcessCPU()
	for range b.N {
		op()
	}
	reportCPU(b, testenv.ProcessCPU()-cpu)
}

// goWebAuthnLogin returns one go-webauthn login of f's assertion: parse +
// ValidateLogin, nothing stored.
func goWebAuthnLogin(b *testing.B, f *loginFixture) func() {
	wa, err := webauthn.New(&webauthn.Config{
		RPID: testRPID, RPDisplayName: testRPID, RPOrigins: []string{testOrigin},
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	require.NoError(b, err)
	user := &waBenchUser{id: f.user.Handle, creds: []webauthn.Credential{{
		ID: f.cred.ID, PublicKey: f.cred.PublicKey, AttestationFormat: f.cred.AttestationFormat,
		Flags:         webauthn.NewCredentialFlags(protocol.FlagUserPresent | protocol.FlagBackupEligible | protocol.FlagBackupState),
		Authenticator: webauthn.Authenticator{AAGUID: f.cred.AAGUID},
	}}}
	return func() {
		parsed, err := protocol.ParseCredentialRequestResponseBytes(f.body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := wa.ValidateLogin(user, f.session, parsed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoginFloorECDSA(b *testing.B) {
	op := floorLogin(b, newLoginFixture(b))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.ProcessCPU()
	for range b.N {
		op()
	}
	reportCPU(b, testenv.ProcessCPU()-cpu)
}

// floorLogin returns the cryptographic floor of a login of f's assertion:
// sha256 + ecdsa.VerifyASN1 on the parsed key.
func floorLogin(b *testing.B, f *loginFixture) func() {
	var resp struct {
		Response struct {
			ClientDataJSON    protocol.URLEncodedBase64 `json:"clientDataJSON"`
			AuthenticatorData protocol.URLEncodedBase64 `json:"authenticatorData"`
			Signature         protocol.URLEncodedBase64 `json:"signature"`
		} `json:"response"`
	}
	require.NoError(b, json.Unmarshal(f.body, &resp))
	r := resp.Response
	return func() {
		cdHash := sha256.Sum256(r.ClientDataJSON)
		h := sha256.New()
		h.Write(r.AuthenticatorData)
		h.Write(cdHash[:])
		if !ecdsa.VerifyASN1(f.pub, h.Sum(nil), r.Signature) {
			b.Fatal("signature does not verify")
		}
	}
}

func BenchmarkBeginLogin(b *testing.B) {
	for _, tc := range []struct {
		name string
		req  func(f *loginFixture) webauthnkit.LoginRequest
	}{
		{"usernameless", func(*loginFixture) webauthnkit.LoginRequest { return webauthnkit.LoginRequest{} }},
		{"username", func(f *loginFixture) webauthnkit.LoginRequest { return webauthnkit.LoginRequest{Username: f.user.Name} }},
		{"unknown_username", func(*loginFixture) webauthnkit.LoginRequest { return webauthnkit.LoginRequest{Username: "nobody"} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			// A store of its own, with room for all of b.N (nothing
			// finishes these ceremonies): the ceremonies another case
			// left would make the garbage collector's work grow.
			f := newLoginFixture(b, memstore.WithMaxCeremonies(1<<24))
			req := tc.req(f)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := f.rp.BeginLogin(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFinishRegistration(b *testing.B) {
	rp, _ := benchRP(b)
	device := webauthntest.New(webauthntest.WithOrigin(testOrigin))
	ins := make([]*regInput, b.N)
	for i := range b.N {
		ins[i] = newRegInput(b, rp, device, fmt.Sprintf("user-%d", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.ProcessCPU()
	for _, in := range ins {
		finishRegistration(b, rp, in)
	}
	reportCPU(b, testenv.ProcessCPU()-cpu)
}

// BenchmarkRegistrationGoWebAuthn is go-webauthn's parse + CreateCredential
// of the same kind of registration ("none", ES256, fixed challenge), nothing
// stored: what BenchmarkFinishRegistration compares to.
func BenchmarkRegistrationGoWebAuthn(b *testing.B) {
	rp, _ := benchRP(b)
	in := newRegInput(b, rp, webauthntest.New(webauthntest.WithOrigin(testOrigin)), "alice")
	create := goWebAuthnRegistration(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := testenv.ProcessCPU()
	for range b.N {
		create(in)
	}
	reportCPU(b, testenv.ProcessCPU()-cpu)
}

// regInput is a registration begun with a benchRP and answered by a
// device, with what go-webauthn needs to verify it alone.
type regInput struct {
	ceremonyID string
	body       []byte
	user       waBenchUser
	session    webauthn.SessionData
}

func newRegInput(b *testing.B, rp *webauthnkit.RelyingParty, device *webauthntest.Authenticator, name string) *regInput {
	begin, err := rp.BeginRegistration(context.Background(), webauthnkit.RegistrationRequest{Username: name})
	require.NoError(b, err)
	body, err := device.Register(begin.Options)
	require.NoError(b, err)
	var opts struct {
		User struct {
			ID protocol.URLEncodedBase64 `json:"id"`
		} `json:"user"`
		PubKeyCredParams []protocol.CredentialParameter `json:"pubKeyCredParams"`
	}
	require.NoError(b, json.Unmarshal(begin.Options, &opts))
	return &regInput{
		ceremonyID: begin.CeremonyID, body: body,
		user: waBenchUser{id: opts.User.ID},
		session: webauthn.SessionData{
			Challenge:        protocol.URLEncodedBase64(fixedChallenge).String(),
			RelyingPartyID:   testRPID,
			UserID:           opts.User.ID,
			UserVerification: protocol.VerificationPreferred,
			CredParams:       opts.PubKeyCredParams,
		},
	}
}

func finishRegistration(b *testing.B, rp *webauthnkit.RelyingParty, in *regInput) {
	if _, err := rp.FinishRegistration(context.Background(), in.ceremonyID, in.body); err != nil {
		b.Fatal(err)
	}
}

// goWebAuthnRegistration returns go-webauthn's parse + CreateCredential of
// a registration, nothing stored.
func goWebAuthnRegistration(b *testing.B) func(*regInput) {
	wa, err := webauthn.New(&webauthn.Config{
		RPID: testRPID, RPDisplayName: testRPID, RPOrigins: []string{testOrigin},
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	require.NoError(b, err)
	return func(in *regInput) {
		parsed, err := protocol.ParseCredentialCreationResponseBytes(in.body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := wa.CreateCredential(&in.user, in.session, parsed); err != nil {
			b.Fatal(err)
		}
	}
}
