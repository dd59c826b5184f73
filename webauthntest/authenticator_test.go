package webauthntest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	mrand "math/rand/v2"
	"sync"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/webauthntest"
)

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err, "not unpadded base64url: %q", s)
	return b
}

func TestAlgorithmsAndAttestation(t *testing.T) {
	for _, alg := range []webauthntest.Alg{webauthntest.ES256, webauthntest.EdDSA, webauthntest.RS256, webauthntest.ES384, webauthntest.ES512, webauthntest.PS256} {
		for _, format := range []webauthntest.AttestationFormat{webauthntest.AttestationNone, webauthntest.AttestationPackedSelf} {
			t.Run(alg.String()+"/"+string(format), func(t *testing.T) {
				t.Parallel()
				r := exampleRP(t)
				a := webauthntest.New(webauthntest.WithAlgorithm(alg), webauthntest.WithAttestation(format))
				u := newUser("alice")

				cred := r.mustRegister(a, u)
				assert.Equal(t, string(format), cred.AttestationFormat)
				wantType := "none"
				if format == webauthntest.AttestationPackedSelf {
					wantType = "basic_surrogate" // self attestation
				}
				assert.Equal(t, wantType, cred.AttestationType)
				assert.Equal(t, int64(alg), cred.Attestation.PublicKeyAlgorithm)
				assert.True(t, cred.Flags.UserPresent)
				assert.True(t, cred.Flags.UserVerified)
				assert.False(t, cred.Flags.BackupEligible)
				assert.Equal(t, protocol.Platform, cred.Authenticator.Attachment)

				// The COSE key go-webauthn stored is the device's key.
				key, err := webauthncose.ParsePublicKey(cred.PublicKey)
				require.NoError(t, err)
				info := a.Credentials()
				require.Len(t, info, 1)
				assert.Equal(t, cred.ID, info[0].ID)
				assert.Equal(t, alg, info[0].Algorithm)
				switch k := key.(type) {
				case webauthncose.EC2PublicKeyData:
					assert.Equal(t, int64(alg), k.Algorithm)
					assert.Equal(t, map[webauthntest.Alg]int64{webauthntest.ES256: 1, webauthntest.ES384: 2, webauthntest.ES512: 3}[alg], k.Curve)
				case webauthncose.OKPPublicKeyData:
					assert.Equal(t, int64(-8), k.Algorithm)
				case webauthncose.RSAPublicKeyData:
					assert.Equal(t, int64(alg), k.Algorithm)
					assert.Len(t, k.Modulus, 256)
				default:
					t.Fatalf("unexpected key %T", key)
				}

				got := r.mustLogin(a, u)
				assert.Equal(t, uint32(1), got.Authenticator.SignCount)

				found, got, err := r.passkeyLogin(a, nil)
				require.NoError(t, err)
				assert.Same(t, u, found)
				assert.Equal(t, uint32(2), got.Authenticator.SignCount)
			})
		}
	}
}

func TestRegistrationResponseShape(t *testing.T) {
	r := exampleRP(t)
	a := webauthntest.New(webauthntest.WithAAGUID([16]byte{1, 2, 3}))
	u := newUser("alice")
	options, session := r.beginRegistration(u)
	var opts struct {
		Challenge string `json:"challenge"`
	}
	require.NoError(t, json.Unmarshal(options, &opts))

	response, err := a.Register(options)
	require.NoError(t, err)

	var got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(response, &got))
	assert.ElementsMatch(t, []string{"id", "rawId", "response", "authenticatorAttachment", "clientExtensionResults", "type"}, keys(got))
	assert.JSONEq(t, `"public-key"`, string(got["type"]))
	assert.JSONEq(t, `"platform"`, string(got["authenticatorAttachment"]))
	assert.JSONEq(t, `{}`, string(got["clientExtensionResults"]))
	assert.Equal(t, got["id"], got["rawId"])

	var resp struct {
		ClientDataJSON     string   `json:"clientDataJSON"`
		AuthenticatorData  string   `json:"authenticatorData"`
		Transports         []string `json:"transports"`
		PublicKey          string   `json:"publicKey"`
		PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
		AttestationObject  string   `json:"attestationObject"`
	}
	require.NoError(t, json.Unmarshal(got["response"], &resp))
	assert.Equal(t, `{"type":"webauthn.create","challenge":"`+opts.Challenge+`","origin":"https://example.com","crossOrigin":false}`,
		string(b64(t, resp.ClientDataJSON)))
	assert.Equal(t, []string{"hybrid", "internal"}, resp.Transports)
	assert.Equal(t, -7, resp.PublicKeyAlgorithm)
	_, err = x509.ParsePKIXPublicKey(b64(t, resp.PublicKey))
	require.NoError(t, err)

	authData := b64(t, resp.AuthenticatorData)
	rpIDHash := sha256.Sum256([]byte("example.com"))
	assert.Equal(t, rpIDHash[:], authData[:32])
	assert.Equal(t, byte(0x45), authData[32], "UP|UV|AT")
	assert.Equal(t, []byte{0, 0, 0, 0}, authData[33:37])
	assert.Equal(t, []byte{1, 2, 3}, authData[37:40])

	cred, err := r.finishRegistration(u, session, response)
	require.NoError(t, err)
	assert.Equal(t, authData, []byte(cred.Attestation.AuthenticatorData))
	assert.Equal(t, []byte{1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, cred.Authenticator.AAGUID)
	assert.Equal(t, []protocol.AuthenticatorTransport{protocol.Hybrid, protocol.Internal}, cred.Transport)
}

func TestAssertionResponseShape(t *testing.T) {
	r := exampleRP(t)
	a := webauthntest.New()
	u := newUser("alice")
	r.mustRegister(a, u)

	assertion, _, err := r.w.BeginDiscoverableLogin()
	require.NoError(t, err)
	response, err := a.Login(mustJSON(t, assertion.Response))
	require.NoError(t, err)

	var got struct {
		ID                      string          `json:"id"`
		RawID                   string          `json:"rawId"`
		Type                    string          `json:"type"`
		AuthenticatorAttachment string          `json:"authenticatorAttachment"`
		ClientExtensionResults  json.RawMessage `json:"clientExtensionResults"`
		Response                map[string]string
	}
	require.NoError(t, json.Unmarshal(response, &got))
	assert.Equal(t, got.ID, got.RawID)
	assert.Equal(t, "public-key", got.Type)
	assert.Equal(t, "platform", got.AuthenticatorAttachment)
	assert.JSONEq(t, `{}`, string(got.ClientExtensionResults))
	assert.ElementsMatch(t, []string{"clientDataJSON", "authenticatorData", "signature", "userHandle"}, keys(got.Response))
	assert.Equal(t, u.id, b64(t, got.Response["userHandle"]))
	assert.Equal(t, `{"type":"webauthn.get","challenge":"`+assertion.Response.Challenge.String()+`","origin":"https://example.com","crossOrigin":false}`,
		string(b64(t, got.Response["clientDataJSON"])))
	authData := b64(t, got.Response["authenticatorData"])
	assert.Len(t, authData, 37)
	assert.Equal(t, byte(0x05), authData[32], "UP|UV")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestLocalhost(t *testing.T) {
	r := newRP(t, "localhost", "http://localhost:8080")
	a := webauthntest.New(webauthntest.WithOrigin("http://localhost:8080"))
	u := newUser("alice")
	r.mustRegister(a, u)
	r.mustLogin(a, u)
	_, _, err := r.passkeyLogin(a, nil)
	require.NoError(t, err)

	// Without WithOrigin the device claims https://localhost, which the RP rejects.
	_, err = r.register(webauthntest.New(), newUser("bob"), nil)
	require.Error(t, err)
	assert.Contains(t, errText(err), "Error validating origin")
}

func TestWrappedOptions(t *testing.T) {
	r := exampleRP(t)
	a := webauthntest.New()
	u := newUser("alice")

	// protocol.CredentialCreation marshals as {"publicKey": {...}}.
	creation, session, err := r.w.BeginRegistration(u)
	require.NoError(t, err)
	wrapped := mustJSON(t, creation)
	require.Contains(t, string(wrapped), `"publicKey":{`)
	response, err := a.Register(wrapped)
	require.NoError(t, err)
	_, err = r.finishRegistration(u, session, response)
	require.NoError(t, err)

	assertion, session, err := r.w.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	require.NoError(t, err)
	response, err = a.Login(mustJSON(t, assertion))
	require.NoError(t, err)
	_, err = r.finishLogin(u, session, response)
	require.NoError(t, err)
}

func TestDiscoverableAccountPicker(t *testing.T) {
	r := exampleRP(t)
	other := newRP(t, "other.example", "https://other.example")
	a := webauthntest.New()
	alice, bob, zed := newUser("alice"), newUser("bob"), newUser("zed")
	zedCred := other.mustRegister(a, zed) // another RP, created first
	aliceCred := r.mustRegister(a, alice, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	bobCred := r.mustRegister(a, bob, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))

	info := a.Credentials()
	require.Len(t, info, 3)
	assert.Equal(t, "other.example", info[0].RPID)
	assert.Equal(t, alice.id, info[1].UserHandle)
	assert.Equal(t, "alice", info[1].UserName)
	assert.True(t, info[1].Discoverable)
	assert.Equal(t, "example.com", info[1].RPID)

	// Login takes the first discoverable credential of the RP ID...
	found, cred, err := r.passkeyLogin(a, nil)
	require.NoError(t, err)
	assert.Same(t, alice, found)
	assert.Equal(t, aliceCred.ID, cred.ID)
	found, _, err = other.passkeyLogin(a, nil)
	require.NoError(t, err)
	assert.Same(t, zed, found)

	// ...LoginWith the one the user picks.
	assertion, session, err := r.w.BeginDiscoverableLogin()
	require.NoError(t, err)
	response, err := a.LoginWith(mustJSON(t, assertion.Response), bobCred.ID)
	require.NoError(t, err)
	found, cred, err = r.finishPasskeyLogin(session, response)
	require.NoError(t, err)
	assert.Same(t, bob, found)
	assert.Equal(t, bobCred.ID, cred.ID)
	_, err = a.LoginWith(mustJSON(t, assertion.Response), zedCred.ID)
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed, "credential of another RP ID")

	// With allowCredentials, only listed credentials are usable.
	assertion, _, err = r.w.BeginLogin(alice)
	require.NoError(t, err)
	_, err = a.LoginWith(mustJSON(t, assertion.Response), bobCred.ID)
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed)
	_, err = a.LoginWith(mustJSON(t, assertion.Response), []byte("unknown"))
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed)
	_, err = webauthntest.New().Login(mustJSON(t, assertion.Response))
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed, "another device")

	// Registering the same user again replaces their discoverable credential.
	newAlice := r.mustRegister(a, alice)
	info = a.Credentials()
	require.Len(t, info, 3)
	assert.Equal(t, bobCred.ID, info[1].ID)
	assert.Equal(t, newAlice.ID, info[2].ID)

	// A deleted passkey is gone.
	require.True(t, a.RemoveCredential(bobCred.ID))
	require.False(t, a.RemoveCredential(bobCred.ID))
	found, _, err = r.passkeyLogin(a, nil)
	require.NoError(t, err)
	assert.Same(t, alice, found)
}

func TestNonDiscoverable(t *testing.T) {
	r := exampleRP(t)
	a := webauthntest.New(webauthntest.WithResidentKeys(false), webauthntest.SecurityKey())
	u := newUser("alice")

	options, _ := r.beginRegistration(u, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	_, err := a.Register(options)
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed)

	cred := r.mustRegister(a, u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementDiscouraged),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	require.NotNil(t, cred.Extensions.RK)
	assert.False(t, *cred.Extensions.RK)
	assert.Equal(t, protocol.CrossPlatform, cred.Authenticator.Attachment)
	assert.Equal(t, []protocol.AuthenticatorTransport{protocol.USB}, cred.Transport)
	assert.Nil(t, a.Credentials()[0].UserHandle)

	// Not discoverable: a usernameless login finds nothing...
	assertion, _, err := r.w.BeginDiscoverableLogin()
	require.NoError(t, err)
	_, err = a.Login(mustJSON(t, assertion.Response))
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed)

	// ...but a login with allowCredentials works, without a user handle.
	assertion, session, err := r.w.BeginLogin(u)
	require.NoError(t, err)
	response, err := a.Login(mustJSON(t, assertion.Response))
	require.NoError(t, err)
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	require.NoError(t, err)
	assert.Empty(t, parsed.Response.UserHandle)
	_, err = r.w.ValidateLogin(u, *session, parsed)
	require.NoError(t, err)
}

func TestCredProps(t *testing.T) {
	r := exampleRP(t) // rejects unsolicited extension outputs
	a := webauthntest.New()
	u := newUser("alice")
	cred := r.mustRegister(a, u, webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	require.NotNil(t, cred.Extensions.RK)
	assert.True(t, *cred.Extensions.RK)

	cred = r.mustRegister(a, newUser("bob"))
	assert.Nil(t, cred.Extensions.RK, "credProps is only sent when requested")
}

func TestExcludeCredentials(t *testing.T) {
	r := exampleRP(t)
	a := webauthntest.New()
	u := newUser("alice")
	r.mustRegister(a, u)
	descriptors := webauthn.Credentials(u.creds).CredentialDescriptors()

	options, _ := r.beginRegistration(u, webauthn.WithExclusions(descriptors))
	_, err := a.Register(options)
	require.ErrorIs(t, err, webauthntest.ErrInvalidState)
	assert.Len(t, a.Credentials(), 1)

	// Another device does not hold the excluded credential.
	r.mustRegister(webauthntest.New(), u, webauthn.WithExclusions(descriptors))
}

func TestPubKeyCredParams(t *testing.T) {
	r := exampleRP(t)
	onlyRS256 := webauthn.WithCredentialParameters([]protocol.CredentialParameter{
		{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
	})
	options, _ := r.beginRegistration(newUser("alice"), onlyRS256)
	_, err := webauthntest.New().Register(options)
	require.ErrorIs(t, err, webauthntest.ErrNotSupported)
	_, err = webauthntest.New(webauthntest.WithAlgorithm(webauthntest.EdDSA)).Register(options)
	require.ErrorIs(t, err, webauthntest.ErrNotSupported)

	// An empty list means ES256 and RS256.
	response, err := webauthntest.New().Register([]byte(`{"rp":{"id":"example.com","name":"x"},"user":{"id":"dQ","name":"u","displayName":"u"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA","pubKeyCredParams":[]}`))
	require.NoError(t, err)
	assert.Contains(t, string(response), `"publicKeyAlgorithm":-7`)
	_, err = webauthntest.New(webauthntest.WithAlgorithm(webauthntest.EdDSA)).Register([]byte(`{"rp":{"id":"example.com","name":"x"},"user":{"id":"dQ","name":"u","displayName":"u"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`))
	require.ErrorIs(t, err, webauthntest.ErrNotSupported)
}

func TestAttachmentAndUserVerification(t *testing.T) {
	r := exampleRP(t)
	u := newUser("alice")

	crossPlatform := webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{AuthenticatorAttachment: protocol.CrossPlatform})
	options, _ := r.beginRegistration(u, crossPlatform)
	_, err := webauthntest.New().Register(options)
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed)
	cred := r.mustRegister(webauthntest.New(webauthntest.SecurityKey()), u, crossPlatform)
	assert.Equal(t, protocol.CrossPlatform, cred.Authenticator.Attachment)

	// A device without user verification.
	noUV := webauthntest.New(webauthntest.WithUserVerification(false))
	uvRequired := webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired})
	options, _ = r.beginRegistration(u, uvRequired)
	_, err = noUV.Register(options)
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed)

	cred = r.mustRegister(noUV, u)
	assert.False(t, cred.Flags.UserVerified)
	cred = r.mustLogin(noUV, u, webauthn.WithAllowedCredentials([]protocol.CredentialDescriptor{cred.Descriptor()}))
	assert.False(t, cred.Flags.UserVerified)

	assertion, _, err := r.w.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	require.NoError(t, err)
	_, err = noUV.Login(mustJSON(t, assertion.Response))
	require.ErrorIs(t, err, webauthntest.ErrNotAllowed)
}

func TestCounters(t *testing.T) {
	t.Run("default increments by one", func(t *testing.T) {
		r, a, u := exampleRP(t), webauthntest.New(), newUser("alice")
		assert.Equal(t, uint32(0), r.mustRegister(a, u).Authenticator.SignCount)
		for want := uint32(1); want <= 3; want++ {
			cred := r.mustLogin(a, u)
			assert.Equal(t, want, cred.Authenticator.SignCount)
			assert.False(t, cred.Authenticator.CloneWarning)
		}
		assert.Equal(t, uint32(3), a.Credentials()[0].SignCount)
	})

	t.Run("start and step", func(t *testing.T) {
		r, a, u := exampleRP(t), webauthntest.New(webauthntest.WithCounter(100, 10)), newUser("alice")
		assert.Equal(t, uint32(100), r.mustRegister(a, u).Authenticator.SignCount)
		assert.Equal(t, uint32(110), r.mustLogin(a, u).Authenticator.SignCount)
		assert.Equal(t, uint32(120), r.mustLogin(a, u).Authenticator.SignCount)
	})

	for name, opt := range map[string]webauthntest.Option{
		"always zero":    webauthntest.WithCounter(0, 0),
		"synced passkey": webauthntest.SyncedPasskey(),
	} {
		t.Run(name, func(t *testing.T) {
			r, a, u := exampleRP(t), webauthntest.New(opt), newUser("alice")
			r.mustRegister(a, u)
			for range 3 {
				cred := r.mustLogin(a, u)
				assert.Equal(t, uint32(0), cred.Authenticator.SignCount)
				assert.False(t, cred.Authenticator.CloneWarning, "0 after 0 is not a clone signal")
			}
		})
	}

	t.Run("SetSignCount going backwards", func(t *testing.T) {
		r, a, u := exampleRP(t), webauthntest.New(), newUser("alice")
		id := r.mustRegister(a, u).ID
		require.True(t, a.SetSignCount(id, 50))
		assert.Equal(t, uint32(50), a.Credentials()[0].SignCount)
		assert.Equal(t, uint32(51), r.mustLogin(a, u).Authenticator.SignCount)

		require.True(t, a.SetSignCount(id, 10))
		cred := r.mustLogin(a, u)
		assert.True(t, cred.Authenticator.CloneWarning)
		assert.Equal(t, uint32(51), cred.Authenticator.SignCount, "go-webauthn keeps the stored counter")

		assert.False(t, a.SetSignCount([]byte("unknown"), 1))
	})

	t.Run("cloned device", func(t *testing.T) {
		r, a, u := exampleRP(t), webauthntest.New(), newUser("alice")
		r.mustRegister(a, u)
		r.mustLogin(a, u) // 1
		clone := a.Clone()
		r.mustLogin(a, u) // 2
		r.mustLogin(a, u) // 3
		assert.Equal(t, uint32(3), a.Credentials()[0].SignCount)
		assert.Equal(t, uint32(1), clone.Credentials()[0].SignCount)

		cred := r.mustLogin(clone, u) // reports 2 <= 3
		assert.True(t, cred.Authenticator.CloneWarning)
		assert.Equal(t, uint32(2), clone.Credentials()[0].SignCount)
		assert.Equal(t, uint32(3), a.Credentials()[0].SignCount)
	})

	t.Run("cloned synced passkey", func(t *testing.T) {
		r, a, u := exampleRP(t), webauthntest.New(webauthntest.SyncedPasskey()), newUser("alice")
		r.mustRegister(a, u)
		clone := a.Clone()
		r.mustLogin(a, u)
		assert.False(t, r.mustLogin(clone, u).Authenticator.CloneWarning)
	})
}

func TestBackupFlags(t *testing.T) {
	r, u := exampleRP(t), newUser("alice")
	a := webauthntest.New(webauthntest.WithBackup(true, false))
	cred := r.mustRegister(a, u)
	assert.True(t, cred.Flags.BackupEligible)
	assert.False(t, cred.Flags.BackupState)

	// Later the passkey gets synced: BS becomes true.
	synced := a.Clone(webauthntest.WithBackup(true, true))
	cred = r.mustLogin(synced, u)
	assert.True(t, cred.Flags.BackupEligible)
	assert.True(t, cred.Flags.BackupState)

	// BE must never change for a credential.
	_, err := r.login(a.Clone(webauthntest.WithBackup(false, false)), u, nil)
	require.Error(t, err)
	assert.Contains(t, errText(err), "Backup Eligible flag inconsistency")

	// BS without BE is invalid.
	_, err = r.register(webauthntest.New(webauthntest.WithBackup(false, true)), newUser("bob"), nil)
	require.Error(t, err)
	assert.Contains(t, errText(err), "Backup State Flag is true but Backup Eligible flag is false")

	cred = r.mustRegister(webauthntest.New(webauthntest.SyncedPasskey()), newUser("carol"))
	assert.True(t, cred.Flags.BackupEligible)
	assert.True(t, cred.Flags.BackupState)
}

func TestUserPresence(t *testing.T) {
	r := exampleRP(t)
	_, err := r.register(webauthntest.New(webauthntest.WithUserPresence(false)), newUser("alice"), nil)
	require.Error(t, err)
	assert.Contains(t, errText(err), "User presence required")
}

// Every corruption makes go-webauthn reject a response that it accepts
// without the corruption.
func TestCorruptionsLogin(t *testing.T) {
	cases := []struct {
		name     string
		call     webauthntest.CallOption
		passkey  bool // use a discoverable login
		uvNeeded bool // the RP requires user verification
		want     string
	}{
		{name: "BadSignature", call: webauthntest.BadSignature(), want: "Error validating the assertion signature"},
		{name: "TamperAuthenticatorData", call: webauthntest.TamperAuthenticatorData(), want: "Error validating the assertion signature"},
		{name: "WrongOrigin", call: webauthntest.WrongOrigin("https://evil.example"), want: "Error validating origin"},
		{name: "WrongRPID", call: webauthntest.WrongRPID("evil.example"), want: "RP Hash mismatch"},
		{name: "WrongChallenge", call: webauthntest.WrongChallenge(), want: "Error validating challenge"},
		{name: "WrongType", call: webauthntest.WrongType(), want: "Error validating ceremony type"},
		{name: "OmitUserHandle", call: webauthntest.OmitUserHandle(), passkey: true, want: "blank User Handle"},
		{name: "WithoutUserVerification", call: webauthntest.WithoutUserVerification(), uvNeeded: true, want: "User verification required"},
		{name: "WithoutUserPresence", call: webauthntest.WithoutUserPresence(), want: "User presence required"},
	}
	for _, alg := range []webauthntest.Alg{webauthntest.ES256, webauthntest.EdDSA, webauthntest.RS256} {
		r, a, u := exampleRP(t), webauthntest.New(webauthntest.WithAlgorithm(alg)), newUser("alice")
		r.mustRegister(a, u)
		for _, tc := range cases {
			t.Run(alg.String()+"/"+tc.name, func(t *testing.T) {
				var opts []webauthn.LoginOption
				if tc.uvNeeded {
					opts = append(opts, webauthn.WithUserVerification(protocol.VerificationRequired))
				}
				run := func(calls ...webauthntest.CallOption) error {
					if tc.passkey {
						_, _, err := r.passkeyLogin(a, calls, opts...)
						return err
					}
					_, err := r.login(a, u, calls, opts...)
					return err
				}
				require.NoError(t, run(), "control")
				err := run(tc.call)
				require.Error(t, err)
				assert.Contains(t, errText(err), tc.want)
			})
		}
	}
}

func TestCorruptionsRegister(t *testing.T) {
	cases := []struct {
		name     string
		call     webauthntest.CallOption
		uvNeeded bool
		want     string
	}{
		{name: "BadSignature", call: webauthntest.BadSignature(), want: "Unable to verify signature"},
		{name: "TamperAuthenticatorData", call: webauthntest.TamperAuthenticatorData(), want: "Unable to verify signature"},
		{name: "WrongOrigin", call: webauthntest.WrongOrigin("https://evil.example"), want: "Error validating origin"},
		{name: "WrongRPID", call: webauthntest.WrongRPID("evil.example"), want: "RP Hash mismatch"},
		{name: "WrongChallenge", call: webauthntest.WrongChallenge(), want: "Error validating challenge"},
		{name: "WrongType", call: webauthntest.WrongType(), want: "Error validating ceremony type"},
		{name: "WithoutUserVerification", call: webauthntest.WithoutUserVerification(), uvNeeded: true, want: "User verification required"},
		{name: "WithoutUserPresence", call: webauthntest.WithoutUserPresence(), want: "User presence required"},
	}
	for _, alg := range []webauthntest.Alg{webauthntest.ES256, webauthntest.EdDSA} {
		r := exampleRP(t)
		a := webauthntest.New(webauthntest.WithAlgorithm(alg), webauthntest.WithAttestation(webauthntest.AttestationPackedSelf))
		for _, tc := range cases {
			t.Run(alg.String()+"/"+tc.name, func(t *testing.T) {
				var opts []webauthn.RegistrationOption
				if tc.uvNeeded {
					opts = append(opts, webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}))
				}
				_, err := r.register(a, newUser("control-"+tc.name), nil, opts...)
				require.NoError(t, err, "control")
				_, err = r.register(a, newUser(tc.name), []webauthntest.CallOption{tc.call}, opts...)
				require.Error(t, err)
				assert.Contains(t, errText(err), tc.want)
			})
		}
	}

	t.Run("not applicable", func(t *testing.T) {
		r := exampleRP(t)
		options, _ := r.beginRegistration(newUser("alice"))
		a := webauthntest.New() // "none" attestation has no signature
		for _, call := range []webauthntest.CallOption{webauthntest.BadSignature(), webauthntest.TamperAuthenticatorData(), webauthntest.OmitUserHandle()} {
			_, err := a.Register(options, call)
			require.Error(t, err)
		}
		assert.Empty(t, a.Credentials())
	})
}

func TestLargeCredentialID(t *testing.T) {
	r, u := exampleRP(t), newUser("alice")
	a := webauthntest.New(webauthntest.WithCredentialIDLength(webauthntest.MaxCredentialIDLength))
	cred := r.mustRegister(a, u)
	assert.Len(t, cred.ID, 1023)
	r.mustLogin(a, u)
	assert.Panics(t, func() { webauthntest.New(webauthntest.WithCredentialIDLength(1024)) })
}

func TestDeterministic(t *testing.T) {
	options := []byte(`{"rp":{"id":"example.com","name":"Example"},"user":{"id":"dXNlcg","name":"u","displayName":"U"},` +
		`"challenge":"c2FtZS1jaGFsbGVuZ2UtYnl0ZXM","pubKeyCredParams":[{"type":"public-key","alg":-7},{"type":"public-key","alg":-8}]}`)
	request := []byte(`{"challenge":"YW5vdGhlci1jaGFsbGVuZ2U","rpId":"example.com"}`)
	for _, alg := range []webauthntest.Alg{webauthntest.ES256, webauthntest.EdDSA} {
		run := func() (reg, login []byte) {
			a := webauthntest.New(webauthntest.WithAlgorithm(alg), webauthntest.WithAttestation(webauthntest.AttestationPackedSelf),
				webauthntest.WithRand(mrand.NewChaCha8([32]byte{42})))
			reg, err := a.Register(options)
			require.NoError(t, err)
			login, err = a.Login(request)
			require.NoError(t, err)
			return reg, login
		}
		reg1, login1 := run()
		reg2, login2 := run()
		assert.Equal(t, string(reg1), string(reg2), alg.String())
		assert.Equal(t, string(login1), string(login2), alg.String())
	}
}

func TestOptionsErrors(t *testing.T) {
	a := webauthntest.New()
	for name, options := range map[string]string{
		"not JSON":           `nope`,
		"no challenge":       `{"rp":{"id":"example.com"},"user":{"id":"dQ"}}`,
		"user.id not base64": `{"rp":{"id":"example.com"},"user":{"id":"alice@example.com"},"challenge":"AAAA"}`,
		"no user.id":         `{"rp":{"id":"example.com"},"user":{},"challenge":"AAAA"}`,
		"no rp.id or origin": `{"rp":{},"user":{"id":"dQ"},"challenge":"AAAA"}`,
	} {
		_, err := a.Register([]byte(options))
		assert.Error(t, err, name)
	}
	for name, options := range map[string]string{
		"not JSON":         `[]`,
		"no challenge":     `{"rpId":"example.com"}`,
		"bad allow id":     `{"rpId":"example.com","challenge":"AAAA","allowCredentials":[{"type":"public-key","id":"***"}]}`,
		"no rpId nor orig": `{"challenge":"AAAA"}`,
	} {
		_, err := a.Login([]byte(options))
		assert.Error(t, err, name)
	}
	_, err := a.LoginWith([]byte(`{"rpId":"example.com","challenge":"AAAA"}`), nil)
	assert.Error(t, err)
}

func TestRPIDFromOrigin(t *testing.T) {
	a := webauthntest.New(webauthntest.WithOrigin("https://login.example.com:8443"))
	_, err := a.Register([]byte(`{"rp":{"name":"x"},"user":{"id":"dQ"},"challenge":"AAAA"}`))
	require.NoError(t, err)
	assert.Equal(t, "login.example.com", a.Credentials()[0].RPID)
	response, err := a.Login([]byte(`{"challenge":"AAAA"}`))
	require.NoError(t, err)
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	require.NoError(t, err)
	h := sha256.Sum256([]byte("login.example.com"))
	assert.Equal(t, h[:], parsed.Response.AuthenticatorData.RPIDHash)
	assert.Equal(t, "https://login.example.com:8443", parsed.Response.CollectedClientData.Origin)
}

func TestConcurrentUse(t *testing.T) {
	r := exampleRP(t)
	a := webauthntest.New()
	u := newUser("alice")
	r.mustRegister(a, u)
	assertion, _, err := r.w.BeginLogin(u)
	require.NoError(t, err)
	options := mustJSON(t, assertion.Response)

	const workers, perWorker = 8, 25
	var (
		mu     sync.Mutex
		counts = map[uint32]bool{}
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			// Registrations of other users interleave with the logins.
			regOptions := []byte(`{"rp":{"id":"example.com","name":"x"},"user":{"id":"` +
				base64.RawURLEncoding.EncodeToString([]byte{byte(w)}) + `"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`)
			if _, err := a.Register(regOptions); err != nil {
				t.Error(err)
			}
			clone := a.Clone()
			_ = clone.Credentials()
			for range perWorker {
				response, err := a.Login(options)
				if err != nil {
					t.Error(err)
					return
				}
				parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[parsed.Response.AuthenticatorData.Counter] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Len(t, counts, workers*perWorker, "every assertion has its own counter value")
	assert.Len(t, a.Credentials(), 1+workers)
	for _, c := range a.Credentials() {
		if bytes.Equal(c.UserHandle, u.id) {
			assert.Equal(t, uint32(workers*perWorker), c.SignCount)
		}
	}
}

func BenchmarkLogin(b *testing.B) {
	r := exampleRP(b)
	a := webauthntest.New()
	u := newUser("alice")
	r.mustRegister(a, u)
	assertion, _, err := r.w.BeginLogin(u)
	require.NoError(b, err)
	options := mustJSON(b, assertion.Response)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Login(options); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRSAKeyBits(t *testing.T) {
	r := exampleRP(t)
	a := webauthntest.New(webauthntest.WithAlgorithm(webauthntest.RS256), webauthntest.WithRSAKeyBits(4096))
	u := newUser("alice")
	cred := r.mustRegister(a, u)
	key, err := webauthncose.ParsePublicKey(cred.PublicKey)
	require.NoError(t, err)
	require.IsType(t, webauthncose.RSAPublicKeyData{}, key)
	assert.Len(t, key.(webauthncose.RSAPublicKeyData).Modulus, 512)
	r.mustLogin(a, u)
	assert.Panics(t, func() { webauthntest.New(webauthntest.WithRSAKeyBits(1024)) })
}

func TestWithCredentialKeyAndAttestationStatement(t *testing.T) {
	r := exampleRP(t)
	a := webauthntest.New()
	u := newUser("alice")
	options, session := r.beginRegistration(u)

	// A P-256 key the device does not hold: registration verifies ("none"
	// attestation signs nothing), but the device cannot log in with it.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pt, err := other.PublicKey.Bytes()
	require.NoError(t, err)
	raw, err := webauthntest.MarshalCOSEKey(map[int]any{1: 2, 3: -7, -1: 1, -2: pt[1:33], -3: pt[33:]})
	require.NoError(t, err)
	body, err := a.Register(options, webauthntest.WithCredentialKey(raw))
	require.NoError(t, err)
	assert.Contains(t, string(body), `"publicKeyAlgorithm":-7`)
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	require.NoError(t, err)
	assert.Equal(t, raw, parsed.Response.AttestationObject.AuthData.AttData.CredentialPublicKey)
	cred, err := r.finishRegistration(u, session, body)
	require.NoError(t, err)
	assert.Equal(t, raw, cred.PublicKey)

	// The statement is sent as given.
	options, _ = r.beginRegistration(newUser("bob"))
	body, err = a.Register(options, webauthntest.WithAttestationStatement("packed", map[string]any{"alg": -7, "sig": []byte{1, 2, 3}}))
	require.NoError(t, err)
	parsed, err = protocol.ParseCredentialCreationResponseBytes(body)
	require.NoError(t, err)
	assert.Equal(t, "packed", parsed.Response.AttestationObject.Format)
	assert.Equal(t, []byte{1, 2, 3}, parsed.Response.AttestationObject.AttStatement["sig"])

	assertion, _, err := r.w.BeginLogin(u)
	require.NoError(t, err)
	_, err = a.Login(mustJSON(t, assertion.Response), webauthntest.WithCredentialKey(raw))
	assert.ErrorContains(t, err, "Register only")
}

func TestWithKey(t *testing.T) {
	r := exampleRP(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	a := webauthntest.New(webauthntest.WithKey(key))
	alice, bob := newUser("alice"), newUser("bob")
	c1, c2 := r.mustRegister(a, alice), r.mustRegister(a, bob)
	assert.NotEqual(t, c1.ID, c2.ID)
	assert.Equal(t, c1.PublicKey, c2.PublicKey)
	r.mustLogin(a, bob)

	options, _ := r.beginRegistration(newUser("carol"))
	_, err = webauthntest.New(webauthntest.WithKey(key), webauthntest.WithAlgorithm(webauthntest.EdDSA)).Register(options)
	assert.ErrorContains(t, err, "cannot sign EdDSA")
}
