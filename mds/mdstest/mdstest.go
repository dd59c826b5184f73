// Package mdstest mints FIDO MDS3 metadata BLOBs for tests: a test root,
// a BLOB signing certificate under it, and JWS-signed payloads, in the
// format the FIDO Alliance publishes (ES256, x5c header). Entries usually
// come from webauthntest.AttestationModel.MetadataEntry.
package mdstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Root is a test MDS root with a BLOB signing certificate.
type Root struct {
	// Cert is the root certificate: give it as mds.Options.Root.
	Cert *x509.Certificate
	// Intermediate is issued by Cert and issues Signer.
	Intermediate *x509.Certificate
	// Signer is the BLOB signing certificate.
	Signer    *x509.Certificate
	signerKey *ecdsa.PrivateKey
	intKey    *ecdsa.PrivateKey
}

// Validity of the certificates NewRoot makes.
var (
	NotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	NotAfter  = time.Date(2070, 1, 1, 0, 0, 0, 0, time.UTC)
)

// NewRoot makes a P-256 root, an intermediate and a signing certificate
// valid from NotBefore to NotAfter.
func NewRoot(name string) (*Root, error) {
	return NewRootValid(name, NotBefore, NotAfter)
}

// NewRootValid is NewRoot with the signing certificate valid from
// notBefore to notAfter.
func NewRootValid(name string, notBefore, notAfter time.Time) (*Root, error) {
	return newRoot(name, notBefore, notAfter, nil)
}

// NewRootSigners is NewRoot with a signing certificate for these DNS
// names (as the FIDO Alliance's is for mds.fidoalliance.org).
func NewRootSigners(name string, dnsNames ...string) (*Root, error) {
	return newRoot(name, NotBefore, NotAfter, dnsNames)
}

// AddSigner issues another BLOB signing certificate under r's
// intermediate, for these DNS names, and returns a Root that signs with
// it (another customer of the same public CA).
func (r *Root) AddSigner(dnsNames ...string) (*Root, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "Another Signer"},
		NotBefore: NotBefore, NotAfter: NotAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, DNSNames: dnsNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.Intermediate, &key.PublicKey, r.intKey)
	if err != nil {
		return nil, err
	}
	signer, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Root{Cert: r.Cert, Intermediate: r.Intermediate, Signer: signer, signerKey: key, intKey: r.intKey}, nil
}

func newRoot(name string, notBefore, notAfter time.Time, dnsNames []string) (*Root, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{name}, CommonName: name + " MDS Root"},
		NotBefore: NotBefore, NotAfter: NotAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	intKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	intTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{Organization: []string{name}, CommonName: name + " MDS CA"},
		NotBefore: NotBefore, NotAfter: NotAfter, IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if der, err = x509.CreateCertificate(rand.Reader, intTmpl, root, &intKey.PublicKey, rootKey); err != nil {
		return nil, err
	}
	inter, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{Organization: []string{name}, CommonName: name + " Metadata BLOB Signer"},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, DNSNames: dnsNames,
	}
	if der, err = x509.CreateCertificate(rand.Reader, tmpl, inter, &key.PublicKey, intKey); err != nil {
		return nil, err
	}
	signer, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Root{Cert: root, Intermediate: inter, Signer: signer, signerKey: key, intKey: intKey}, nil
}

// PEM is the root certificate in PEM form (for a -root file).
func (r *Root) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Cert.Raw})
}

// Payload is a BLOB payload: serial number no, nextUpdate (a date) and
// entries (JSON-ready, e.g. AttestationModel.MetadataEntry).
func Payload(no int, nextUpdate time.Time, entries ...map[string]any) map[string]any {
	if entries == nil {
		entries = []map[string]any{}
	}
	return map[string]any{
		"legalHeader": "mdstest BLOB: for tests only",
		"no":          no,
		"nextUpdate":  nextUpdate.UTC().Format(time.DateOnly),
		"entries":     entries,
	}
}

// Sign returns payload as a compact JWS (ES256) with the header
// {"alg":"ES256","typ":"JWT","x5c":[signer, intermediate]}, as the FIDO
// Alliance signs its BLOB.
func (r *Root) Sign(payload map[string]any) ([]byte, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(payload))
	tok.Header["x5c"] = []string{base64.StdEncoding.EncodeToString(r.Signer.Raw), base64.StdEncoding.EncodeToString(r.Intermediate.Raw)}
	s, err := tok.SignedString(r.signerKey)
	return []byte(s), err
}

// BLOB is Sign(Payload(no, nextUpdate, entries...)).
func (r *Root) BLOB(no int, nextUpdate time.Time, entries ...map[string]any) ([]byte, error) {
	return r.Sign(Payload(no, nextUpdate, entries...))
}
