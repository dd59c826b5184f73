package mds_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/mds/mdstest"
)

// The FIDO root is a public web PKI root (GlobalSign Root R46): any TLS
// certificate it issues chains to it. A BLOB signed with another
// customer's certificate must not verify; only one for the FIDO signer's
// name does. Here a test root stands for the public CA, with SignerName
// set as the default sets it for the FIDO root.
func TestBLOBSignerName(t *testing.T) {
	f := newFixture(t)
	ca, err := mdstest.NewRootSigners("Public CA", mds.FIDOSignerName)
	require.NoError(t, err)
	stranger, err := ca.AddSigner("www.attacker.example")
	require.NoError(t, err)
	next := day.AddDate(0, 1, 0)
	genuine, err := ca.BLOB(5, next, f.entry)
	require.NoError(t, err)
	forged, err := stranger.BLOB(6, next, f.entry)
	require.NoError(t, err)

	now := day
	opts := mds.Options{Root: ca.Cert, SignerName: mds.FIDOSignerName, Now: func() time.Time { return now }}
	_, err = mds.NewFromReader(bytes.NewReader(forged), opts)
	require.ErrorIs(t, err, mds.ErrSignature, "a certificate for another name under the same public root")
	p, err := mds.NewFromReader(bytes.NewReader(genuine), opts)
	require.NoError(t, err)
	require.ErrorIs(t, p.Load(bytes.NewReader(forged)), mds.ErrSignature)
	assert.Equal(t, 5, p.Status().Number)

	_, err = mds.VerifySigner(forged, ca.Cert, mds.FIDOSignerName, day)
	require.ErrorIs(t, err, mds.ErrSignature)
	_, err = mds.VerifySigner(genuine, ca.Cert, mds.FIDOSignerName, day)
	require.NoError(t, err)
	// A private root (no SignerName): any signer under it, as before.
	_, err = mds.Verify(forged, ca.Cert, day)
	require.NoError(t, err)
}

// Algorithm confusion: a BLOB "signed" with HMAC keyed by public data of
// the signing certificate (its DER, its public key), or claiming an RSA
// algorithm for the EC signer, never verifies.
func TestBLOBAlgorithmConfusion(t *testing.T) {
	f := newFixture(t)
	payload := mdstest.Payload(7, day.AddDate(0, 1, 0), f.entry)
	x5c := []string{base64.StdEncoding.EncodeToString(f.root.Signer.Raw), base64.StdEncoding.EncodeToString(f.root.Intermediate.Raw)}
	spki, err := x509.MarshalPKIXPublicKey(f.root.Signer.PublicKey)
	require.NoError(t, err)
	hmac := func(alg jwt.SigningMethod, key []byte) []byte {
		tok := jwt.NewWithClaims(alg, jwt.MapClaims(payload))
		tok.Header["x5c"] = x5c
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return []byte(s)
	}
	genuine, err := f.root.Sign(payload)
	require.NoError(t, err)
	parts := strings.Split(string(genuine), ".")
	header := func(h string) []byte {
		return []byte(base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + parts[1] + "." + parts[2])
	}
	x5cJSON := `["` + x5c[0] + `","` + x5c[1] + `"]`
	for name, blob := range map[string][]byte{
		"HS256 keyed with the certificate": hmac(jwt.SigningMethodHS256, f.root.Signer.Raw),
		"HS256 keyed with the public key":  hmac(jwt.SigningMethodHS256, spki),
		"RS256 header on an ES256 JWS":     header(`{"alg":"RS256","x5c":` + x5cJSON + `}`),
		"PS256 header on an ES256 JWS":     header(`{"alg":"PS256","x5c":` + x5cJSON + `}`),
		"ES384 header on an ES256 JWS":     header(`{"alg":"ES384","x5c":` + x5cJSON + `}`),
		"no x5c: the root as signer":       header(`{"alg":"ES256"}`),
		"signer without its intermediate":  header(`{"alg":"ES256","x5c":["` + x5c[0] + `"]}`),
		"x5u":                              header(`{"alg":"ES256","x5u":"https://attacker.example/x5c"}`),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mds.Verify(blob, f.root.Cert, day)
			require.ErrorIs(t, err, mds.ErrSignature)
		})
	}
	_, err = mds.Verify(genuine, f.root.Cert, day)
	require.NoError(t, err)
}
