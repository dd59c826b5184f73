package webauthnkit_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Builders of hostile keys and responses, shared by keys_test.go and
// bench_keys_test.go (which also runs on the code before the key limits, to
// measure what they save).

// modulus returns size random bytes shaped like an RSA modulus (top bit set,
// odd): not a real key, but one go-webauthn would verify with.
func modulus(t testing.TB, size int) []byte {
	t.Helper()
	n := make([]byte, size)
	_, err := rand.Read(n)
	require.NoError(t, err)
	n[0] |= 0x80
	n[size-1] |= 1
	return n
}

// e65537 and e2p31m1 are RSA public exponents: the usual one, and 2^31-1,
// the largest Go verifies with (31 multiplications per verification).
var (
	e65537  = []byte{1, 0, 1}
	e2p31m1 = []byte{0x7f, 0xff, 0xff, 0xff}
)

func coseKey(t testing.TB, params map[int]any) []byte {
	t.Helper()
	b, err := webauthntest.MarshalCOSEKey(params)
	require.NoError(t, err)
	return b
}

func rsaCOSE(t testing.TB, alg int, n, e []byte) []byte {
	return coseKey(t, map[int]any{1: 3, 3: alg, -1: n, -2: e})
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func setSignature(t testing.TB, body, sig []byte) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m["response"].(map[string]any)["signature"] = base64.RawURLEncoding.EncodeToString(sig)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// certificateWithRSAKey returns a DER certificate, valid now and signed by a
// throwaway P-256 CA, whose subject key is the RSA key (n, e). Go's x509
// parser accepts any size.
func certificateWithRSAKey(t testing.TB, n *big.Int, e int) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hostile CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"Hostile"}, OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "hostile"},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &rsa.PublicKey{N: n, E: e}, caKey)
	require.NoError(t, err)
	parsed, err := x509.ParseCertificate(der)
	require.NoError(t, err, "Go's x509 parser takes the key whatever its size")
	require.Equal(t, n.BitLen(), parsed.PublicKey.(*rsa.PublicKey).N.BitLen())
	return der
}
