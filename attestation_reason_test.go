package webauthnkit_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// packedObject is a packed attestation object with this x5c and AAGUID,
// for EvaluateAttestation (which does not check the signature).
func packedObject(t *testing.T, aaguid [16]byte, x5c ...*x509.Certificate) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pt, err := key.PublicKey.Bytes()
	require.NoError(t, err)
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pt[1:33], -3: pt[33:]})
	require.NoError(t, err)
	rpIDHash := sha256.Sum256([]byte(testRPID))
	credID := []byte("0123456789abcdef")
	authData := slices.Concat(rpIDHash[:], []byte{0x45}, []byte{0, 0, 0, 0}, aaguid[:])
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(credID)))
	authData = slices.Concat(authData, credID, cose)
	var chain []any
	for _, c := range x5c {
		chain = append(chain, c.Raw)
	}
	obj, err := webauthncbor.Marshal(map[string]any{
		"fmt": "packed", "attStmt": map[string]any{"alg": -7, "sig": []byte{0x30, 0}, "x5c": chain}, "authData": authData,
	})
	require.NoError(t, err)
	return obj
}

// The Reason of a result goes into events, logs and the Error() of
// ErrAttestationRefused. Go's x509 errors quote names of the certificates
// tried, which the authenticator chose: a failed chain must be reported
// without them.
func TestAttestationReasonHoldsNoCertificateText(t *testing.T) {
	w := newAttWorld(t)
	e := newEnv(t, func(c *webauthnkit.Config) { c.Attestation = w.policy(webauthnkit.AttestationEnforce) })
	injected := "Yubico\" trust=trusted level=ERROR msg=\"attestation verified " + strings.Repeat("A", 4000)
	issuerName := pkix.Name{CommonName: injected}
	issuerKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	// An intermediate with the issuer's name but another key: x509 tries it
	// as the leaf's issuer, fails, and names it in its error.
	interTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: issuerName,
		NotBefore: webauthntest.DefaultCertificateNotBefore, NotAfter: webauthntest.DefaultCertificateNotAfter,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, interTmpl, interTmpl, &otherKey.PublicKey, otherKey)
	require.NoError(t, err)
	inter, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: webauthntest.DefaultCertificateNotBefore, NotAfter: webauthntest.DefaultCertificateNotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err = x509.CreateCertificate(rand.Reader, leafTmpl, &x509.Certificate{Subject: issuerName, SubjectKeyId: inter.SubjectKeyId}, &leafKey.PublicKey, issuerKey)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)

	res, err := e.rp.EvaluateAttestation(ctx, webauthnkit.AttestationInput{AttestationObject: packedObject(t, w.good.AAGUID, leaf, inter)})
	require.NoError(t, err)
	assert.Equal(t, webauthnkit.AttestationUntrusted, res.Trust)
	assert.True(t, res.Refused)
	assert.Contains(t, res.Reason, "does not verify")
	assert.NotContains(t, res.Reason, "Yubico")
	assert.NotContains(t, res.Reason, "AAAA")
	assert.Less(t, len(res.Reason), 200, res.Reason)
	refusal := &webauthnkit.AttestationRefusal{Result: res}
	assert.NotContains(t, refusal.Error(), "Yubico")
}
