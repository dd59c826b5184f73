package webauthnkit_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/mds/mdstest"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// u2fVendor is a vendor whose root issues both the attestation certificate
// of a FIDO U2F key (directly, as U2F vendors do: x5c has one element) and
// those of a FIDO2 model, as Yubico's root does.
type u2fVendor struct {
	root    *x509.Certificate
	u2fCert *x509.Certificate
	u2fKey  *ecdsa.PrivateKey
}

func newU2FVendor(t *testing.T) *u2fVendor {
	t.Helper()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"U2F Vendor"}, CommonName: "U2F Vendor Root"},
		NotBefore: webauthntest.DefaultCertificateNotBefore, NotAfter: webauthntest.DefaultCertificateNotAfter,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	require.NoError(t, err)
	root, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	u2fKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "U2F Vendor U2F EE Serial 1"},
		NotBefore: webauthntest.DefaultCertificateNotBefore, NotAfter: webauthntest.DefaultCertificateNotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
	}
	der, err = x509.CreateCertificate(rand.Reader, leafTmpl, root, &u2fKey.PublicKey, rootKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &u2fVendor{root: root, u2fCert: cert, u2fKey: u2fKey}
}

// u2fRegistration answers creation options as a browser relaying a FIDO
// U2F key does (fmt "fido-u2f"), with aaguid in the authenticator data: a
// browser writes zeros there; an attacker writes what he likes, since the
// U2F signature does not cover it.
func (v *u2fVendor) u2fRegistration(t *testing.T, options []byte, aaguid [16]byte) []byte {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	require.NoError(t, json.Unmarshal(options, &o))
	if o.PublicKey.Challenge == "" {
		require.NoError(t, json.Unmarshal(options, &o.PublicKey))
	}
	require.NotEmpty(t, o.PublicKey.Challenge)
	clientData, err := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": o.PublicKey.Challenge, "origin": testOrigin})
	require.NoError(t, err)
	cdHash := sha256.Sum256(clientData)
	rpIDHash := sha256.Sum256([]byte(testRPID))

	credKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pt, err := credKey.PublicKey.Bytes()
	require.NoError(t, err)
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pt[1:33], -3: pt[33:]})
	require.NoError(t, err)
	credID := make([]byte, 32)
	_, _ = rand.Read(credID)

	authData := slices.Concat(rpIDHash[:], []byte{0x41}, []byte{0, 0, 0, 0}, aaguid[:])
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(credID)))
	authData = slices.Concat(authData, credID, cose)

	signed := slices.Concat([]byte{0}, rpIDHash[:], cdHash[:], credID, pt)
	digest := sha256.Sum256(signed)
	sig, err := ecdsa.SignASN1(rand.Reader, v.u2fKey, digest[:])
	require.NoError(t, err)
	attObj, err := webauthncbor.Marshal(map[string]any{
		"fmt":      "fido-u2f",
		"attStmt":  map[string]any{"sig": sig, "x5c": []any{v.u2fCert.Raw}},
		"authData": authData,
	})
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	body, err := json.Marshal(map[string]any{
		"id": enc(credID), "rawId": enc(credID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": enc(clientData), "attestationObject": enc(attObj)},
	})
	require.NoError(t, err)
	return body
}

// keyID is the FIDO attestation certificate key identifier of an ECDSA
// certificate: the SHA-1 of its public key (the subjectPublicKey bits, RFC
// 5280 §4.2.1.2 method 1).
func keyID(t *testing.T, cert *x509.Certificate) string {
	pt, err := cert.PublicKey.(*ecdsa.PublicKey).Bytes()
	require.NoError(t, err)
	sum := sha1.Sum(pt) //nolint:gosec // the FIDO key identifier is a SHA-1
	return hex.EncodeToString(sum[:])
}

// The fido-u2f signature covers neither the AAGUID nor any other field of
// the authenticator data but the RP ID hash, credential ID and key: an
// AAGUID there is not vouched for by the attestation. A U2F key of a vendor
// whose root also issues an allowed FIDO2 model's certificates must not
// pass as that model by writing its AAGUID (nor escape its own revoked
// entry that way).
func TestAttestationU2FAAGUIDNotVouched(t *testing.T) {
	v := newU2FVendor(t)
	mdsRoot, err := mdstest.NewRoot("Test MDS")
	require.NoError(t, err)
	ca, err := webauthntest.NewAttestationCA("Other")
	require.NoError(t, err)
	fido2, err := ca.NewModel(uuid.New())
	require.NoError(t, err)
	rootB64 := base64.StdEncoding.EncodeToString(v.root.Raw)
	// The allowed FIDO2 model, under the vendor's (shared) root.
	allowed := fido2.MetadataEntry("Vendor FIDO2 Key")
	allowed["metadataStatement"].(map[string]any)["attestationRootCertificates"] = []string{rootB64}
	// The U2F key's own entry (by key identifier): revoked.
	u2f, err := ca.NewModel(uuid.New())
	require.NoError(t, err)
	revoked := u2f.MetadataEntry("Vendor U2F Key", webauthntest.StatusReport{Status: "REVOKED", EffectiveDate: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	delete(revoked, "aaguid")
	st := revoked["metadataStatement"].(map[string]any)
	delete(st, "aaguid")
	delete(st, "authenticatorGetInfo")
	st["protocolFamily"] = "u2f"
	st["attestationRootCertificates"] = []string{rootB64}
	st["attestationCertificateKeyIdentifiers"] = []string{keyID(t, v.u2fCert)}
	revoked["attestationCertificateKeyIdentifiers"] = []string{keyID(t, v.u2fCert)}
	blob, err := mdsRoot.BLOB(1, time.Now().AddDate(0, 1, 0), allowed, revoked)
	require.NoError(t, err)
	provider, err := mds.NewFromReader(bytes.NewReader(blob), mds.Options{Root: mdsRoot.Cert})
	require.NoError(t, err)

	e := newEnv(t, func(c *webauthnkit.Config) {
		c.Attestation = webauthnkit.AttestationPolicy{Mode: webauthnkit.AttestationEnforce, Metadata: provider,
			AllowAAGUIDs: []string{fido2.AAGUIDString()}}
	})
	register := func(name string, aaguid [16]byte) (*webauthnkit.Registration, error) {
		begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
		require.NoError(t, err)
		return e.rp.FinishRegistration(ctx, begin.CeremonyID, v.u2fRegistration(t, begin.Options, aaguid))
	}

	// Honest: zero AAGUID, looked up by key identifier: revoked, and not in
	// the allow list.
	_, err = register("honest", [16]byte{})
	require.ErrorIs(t, err, webauthnkit.ErrAttestationRefused)
	evs := e.events.attestation()
	require.Len(t, evs, 1)
	assert.Equal(t, webauthnkit.AttestationRevoked, evs[0].Attestation.Trust, evs[0].Attestation.Reason)

	// Forged: the allowed model's AAGUID.
	reg, err := register("mallory", fido2.AAGUID)
	require.ErrorIs(t, err, webauthnkit.ErrAttestationRefused, "a U2F attestation must not vouch for an AAGUID it does not sign")
	assert.Nil(t, reg)
	evs = e.events.attestation()
	require.Len(t, evs, 2)
	last := evs[1].Attestation
	assert.Equal(t, webauthnkit.AttestationRevoked, last.Trust, "the key's own (revoked) entry, found by key identifier: %s", last.Reason)
	assert.Equal(t, "Vendor U2F Key", last.Description)
	assert.True(t, last.Refused)

	// Monitor reports it, never refuses.
	m := newEnv(t, func(c *webauthnkit.Config) {
		c.Attestation = webauthnkit.AttestationPolicy{Mode: webauthnkit.AttestationMonitor, Metadata: provider}
	})
	begin, err := m.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "mallory"})
	require.NoError(t, err)
	reg, err = m.rp.FinishRegistration(ctx, begin.CeremonyID, v.u2fRegistration(t, begin.Options, fido2.AAGUID))
	require.NoError(t, err)
	assert.NotEqual(t, webauthnkit.AttestationTrusted, reg.Attestation.Trust, reg.Attestation.Reason)
}
