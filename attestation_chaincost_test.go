package webauthnkit_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// hostileChain is an attestation certificate (as packed requires it) and
// seven P-521 intermediates that all bear its issuer's name and sign one
// another in a ring: Go's path builder tries every one at every level, up
// to its cap of 100 signature checks (~90 ms of CPU here), none of which
// leads to a root.
func hostileChain(t *testing.T) (leafKey *ecdsa.PrivateKey, x5c []*x509.Certificate) {
	t.Helper()
	name := pkix.Name{CommonName: "Loop CA"}
	keys := make([]*ecdsa.PrivateKey, 7)
	for i := range keys {
		var err error
		keys[i], err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		require.NoError(t, err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(100),
		Subject:   pkix.Name{Country: []string{"US"}, Organization: []string{"Mallory"}, OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "Mallory Key"},
		NotBefore: webauthntest.DefaultCertificateNotBefore, NotAfter: webauthntest.DefaultCertificateNotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, &x509.Certificate{Subject: name}, &leafKey.PublicKey, keys[0])
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	x5c = append(x5c, leaf)
	for i := range keys {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: name,
			NotBefore: webauthntest.DefaultCertificateNotBefore, NotAfter: webauthntest.DefaultCertificateNotAfter,
			KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, &x509.Certificate{Subject: name}, &keys[i].PublicKey, keys[(i+1)%len(keys)])
		require.NoError(t, err)
		c, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		x5c = append(x5c, c)
	}
	return leafKey, x5c
}

// packedRegistration answers creation options with packed attestation
// made with attKey and this x5c, for a model's AAGUID.
func packedRegistration(t *testing.T, options []byte, aaguid [16]byte, attKey *ecdsa.PrivateKey, x5c []*x509.Certificate) []byte {
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
	authData := slices.Concat(rpIDHash[:], []byte{0x45}, []byte{0, 0, 0, 0}, aaguid[:])
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(credID)))
	authData = slices.Concat(authData, credID, cose)
	digest := sha256.Sum256(slices.Concat(authData, cdHash[:]))
	sig, err := ecdsa.SignASN1(rand.Reader, attKey, digest[:])
	require.NoError(t, err)
	var chain []any
	for _, c := range x5c {
		chain = append(chain, c.Raw)
	}
	attObj, err := webauthncbor.Marshal(map[string]any{
		"fmt": "packed", "attStmt": map[string]any{"alg": -7, "sig": sig, "x5c": chain}, "authData": authData,
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

// An unauthenticated sign-up can present any x5c (it signs with its own
// attestation key): the chain search it causes must stay cheap. An x5c
// whose certificates after the first share a subject is refused before
// any path building (no real attestation chain has two).
func TestAttestationHostileChainIsCheap(t *testing.T) {
	w := newAttWorld(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationMonitor) })
	leafKey, x5c := hostileChain(t)

	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "mallory"})
	require.NoError(t, err)
	start := time.Now()
	reg, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, packedRegistration(t, begin.Options, w.good.AAGUID, leafKey, x5c))
	took := time.Since(start)
	require.NoError(t, err, "monitor never refuses")
	t.Logf("registration with the hostile chain: %v", took)
	assert.Equal(t, webauthnkit.AttestationUntrusted, reg.Attestation.Trust)
	assert.Contains(t, reg.Attestation.Reason, "same subject")
}

// Distinct subjects do not make a forged chain cheap by themselves: x509
// checks bottom-up, each certificate with the next one's (the attacker's,
// P-521) key. The chain is checked top-down first, from the model's root,
// so a forged one fails at the first check, with the vendor's key.
func TestAttestationForgedChainFailsAtTheRoot(t *testing.T) {
	w := newAttWorld(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationMonitor) })
	keys := make([]*ecdsa.PrivateKey, 7)
	for i := range keys {
		var err error
		keys[i], err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		require.NoError(t, err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	name := func(i int) pkix.Name {
		if i == len(keys) {
			return w.ca.Root.Subject // the top claims the vendor's root as issuer
		}
		return pkix.Name{CommonName: "Forged CA " + string(rune('A'+i))}
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(100),
		Subject:   pkix.Name{Country: []string{"US"}, Organization: []string{"Mallory"}, OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "Mallory Key"},
		NotBefore: webauthntest.DefaultCertificateNotBefore, NotAfter: webauthntest.DefaultCertificateNotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, &x509.Certificate{Subject: name(0), PublicKey: &keys[0].PublicKey}, &leafKey.PublicKey, keys[0])
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	x5c := []*x509.Certificate{leaf}
	for i := range keys {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: name(i),
			NotBefore: webauthntest.DefaultCertificateNotBefore, NotAfter: webauthntest.DefaultCertificateNotAfter,
			KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
		signer := keys[(i+1)%len(keys)]
		der, err := x509.CreateCertificate(rand.Reader, tmpl, &x509.Certificate{Subject: name(i + 1), PublicKey: &signer.PublicKey}, &keys[i].PublicKey, signer)
		require.NoError(t, err)
		c, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		x5c = append(x5c, c)
	}

	begin, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "mallory"})
	require.NoError(t, err)
	start := time.Now()
	reg, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, packedRegistration(t, begin.Options, w.good.AAGUID, leafKey, x5c))
	t.Logf("registration with a forged seven-certificate P-521 chain: %v", time.Since(start))
	require.NoError(t, err, "monitor never refuses")
	assert.Equal(t, webauthnkit.AttestationUntrusted, reg.Attestation.Trust)
	assert.Contains(t, reg.Attestation.Reason, "no certificate path", "refused by the top-down check, before x509.Verify")

	// The genuine chain still verifies.
	reg, _, err = tryRegister(t, e.rp, "alice", device(w.good)...)
	require.NoError(t, err)
	assert.Equal(t, webauthnkit.AttestationTrusted, reg.Attestation.Trust, reg.Attestation.Reason)
}
