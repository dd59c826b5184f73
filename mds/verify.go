package mds

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// DefaultMaxSize bounds a BLOB: the FIDO Alliance's is a few megabytes.
const DefaultMaxSize = 32 << 20

// maxChain bounds the x5c header of a BLOB, and maxHeader its encoded
// size (read before the signature is checked).
const (
	maxChain  = 8
	maxHeader = 64 << 10
)

// signingMethods are the JWS algorithms accepted for a BLOB (MDS3 §3.1.7
// names ES256 and RS256; the others are their siblings). "none" and HMAC
// never verify against a certificate.
var signingMethods = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// Errors of Verify and of loading a BLOB. Test them with errors.Is.
var (
	// ErrSignature: the BLOB is not a JWS, its signature does not verify,
	// or its certificate chain does not lead to the configured root at the
	// provider's time.
	ErrSignature = errors.New("mds: BLOB signature or certificate chain does not verify")
	// ErrMalformed: the BLOB verified but its payload cannot be read.
	ErrMalformed = errors.New("mds: BLOB payload malformed")
	// ErrTooLarge: the BLOB is above Options.MaxSize.
	ErrTooLarge = errors.New("mds: BLOB too large")
	// ErrExpired: the BLOB's nextUpdate is more than Options.Grace in the
	// past: a newer one should exist.
	ErrExpired = errors.New("mds: BLOB expired (nextUpdate passed)")
	// ErrNotNewer: the BLOB's serial number "no" is not above the one
	// already loaded (a replayed or rolled-back BLOB, or no update yet).
	ErrNotNewer = errors.New("mds: BLOB serial number not newer than the loaded one")
)

// FIDOSignerName is the DNS name of the FIDO Alliance's BLOB signing
// certificate. FIDORoot is a public web PKI root: every TLS certificate it
// issues, to anyone, chains to it, so a BLOB verified against it must also
// be signed with a certificate for this name.
const FIDOSignerName = "mds.fidoalliance.org"

// FIDORoot returns the FIDO Alliance's MDS3 trust anchor, GlobalSign Root
// R46 (a public web PKI root: see FIDOSignerName), the default, as
// go-webauthn's metadata package ships it.
func FIDORoot() *x509.Certificate {
	fidoRootOnce.Do(func() {
		der, err := base64.StdEncoding.DecodeString(metadata.ProductionMDSRoot)
		if err == nil {
			fidoRoot, err = x509.ParseCertificate(der)
		}
		if err != nil {
			panic("mds: go-webauthn's ProductionMDSRoot does not parse: " + err.Error())
		}
	})
	return fidoRoot
}

var (
	fidoRootOnce sync.Once
	fidoRoot     *x509.Certificate
)

// ParseRoot reads a root certificate in PEM or DER form.
func ParseRoot(data []byte) (*x509.Certificate, error) {
	if b, _ := pem.Decode(data); b != nil {
		data = b.Bytes
	}
	return x509.ParseCertificate(data)
}

// BLOB is a verified metadata BLOB.
type BLOB struct {
	// Number is the BLOB's serial number ("no"), increasing with each
	// publication.
	Number int
	// NextUpdate is the date by which a newer BLOB is published.
	NextUpdate time.Time
	// Metadata is the parsed payload. Entries that go-webauthn cannot parse
	// are in Metadata.Unparsed (their models are unknown to the provider).
	Metadata *metadata.Metadata
	// Raw is the BLOB as loaded.
	Raw []byte

	byAAGUID map[uuid.UUID]*metadata.Entry
	byKeyID  map[string]*metadata.Entry
}

// Verify checks a BLOB's signature and certificate chain against root at
// time now (certificate validity included), and parses its payload. It
// does not judge nextUpdate or the serial number (the Provider does), and
// checks no certificate revocation list (docs/attestation.md). root nil
// means FIDORoot(). With FIDORoot the signing certificate must be for
// FIDOSignerName (see VerifySigner).
func Verify(data []byte, root *x509.Certificate, now time.Time) (*BLOB, error) {
	return VerifySigner(data, root, "", now)
}

// VerifySigner is Verify with the DNS name the BLOB signing certificate
// (the first of the x5c header) must be valid for. signerName "" means
// FIDOSignerName when root is FIDORoot() (or nil), and any certificate
// under root otherwise (a private root that issues nothing else).
func VerifySigner(data []byte, root *x509.Certificate, signerName string, now time.Time) (*BLOB, error) {
	if root == nil {
		root = FIDORoot()
	}
	if signerName == "" && root.Equal(FIDORoot()) {
		signerName = FIDOSignerName
	}
	s := strings.TrimSpace(string(data))
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrSignature)
	}
	if len(parts[0]) > maxHeader {
		return nil, fmt.Errorf("%w: header above %d bytes", ErrSignature, maxHeader)
	}
	var header struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
		X5U string   `json:"x5u"`
	}
	if raw, err := decodeSegment(parts[0]); err != nil || json.Unmarshal(raw, &header) != nil {
		return nil, fmt.Errorf("%w: unreadable header", ErrSignature)
	}
	if !slices.Contains(signingMethods, header.Alg) {
		return nil, fmt.Errorf("%w: algorithm %q not accepted", ErrSignature, header.Alg)
	}
	if header.X5U != "" {
		return nil, fmt.Errorf("%w: x5u headers are not followed", ErrSignature)
	}
	if len(header.X5C) > maxChain {
		return nil, fmt.Errorf("%w: %d certificates in x5c", ErrSignature, len(header.X5C))
	}
	signer := root
	if len(header.X5C) > 0 {
		var chain []*x509.Certificate
		for i, c := range header.X5C {
			der, err := base64.StdEncoding.DecodeString(c)
			if err != nil {
				return nil, fmt.Errorf("%w: x5c[%d] is not base64", ErrSignature, i)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("%w: x5c[%d]: %v", ErrSignature, i, err)
			}
			if err := checkKey(cert); err != nil {
				return nil, fmt.Errorf("%w: x5c[%d]: %v", ErrSignature, i, err)
			}
			chain = append(chain, cert)
		}
		roots := x509.NewCertPool()
		roots.AddCert(root)
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		if _, err := chain[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		}); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSignature, err)
		}
		if signerName != "" {
			if err := chain[0].VerifyHostname(signerName); err != nil {
				return nil, fmt.Errorf("%w: the signing certificate is not for %s", ErrSignature, signerName)
			}
		}
		signer = chain[0]
	} else if signerName != "" {
		return nil, fmt.Errorf("%w: no x5c header: the signing certificate for %s is missing", ErrSignature, signerName)
	} else if now.Before(root.NotBefore) || now.After(root.NotAfter) {
		return nil, fmt.Errorf("%w: the root, which signed the BLOB itself, is not valid at %s", ErrSignature, now.UTC().Format(time.RFC3339))
	}
	sig, err := decodeSegment(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64url", ErrSignature)
	}
	if err := jwt.GetSigningMethod(header.Alg).Verify(parts[0]+"."+parts[1], sig, signer.PublicKey); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	// Only now is the payload (megabytes of JSON) read.
	raw, err := decodeSegment(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	var payload metadata.PayloadJSON
	if err := json.Unmarshal(raw, &payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	dec, err := metadata.NewDecoder(metadata.WithIgnoreEntryParsingErrors())
	if err != nil {
		return nil, err
	}
	md, err := dec.Parse(&payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	b := &BLOB{Number: md.Parsed.Number, NextUpdate: md.Parsed.NextUpdate, Metadata: md, Raw: data,
		byAAGUID: map[uuid.UUID]*metadata.Entry{}, byKeyID: map[string]*metadata.Entry{}}
	for i := range md.Parsed.Entries {
		e := &md.Parsed.Entries[i]
		if e.AaGUID != uuid.Nil {
			b.byAAGUID[e.AaGUID] = e
		}
		for _, id := range e.AttestationCertificateKeyIdentifiers {
			b.byKeyID[strings.ToLower(id)] = e
		}
	}
	return b, nil
}

// Entry returns the entry of the model with this AAGUID or, for the zero
// AAGUID, with one of these attestation certificate key identifiers; nil
// if there is none.
func (b *BLOB) Entry(aaguid uuid.UUID, keyIDs []string) *metadata.Entry {
	if aaguid != uuid.Nil {
		return b.byAAGUID[aaguid]
	}
	for _, id := range keyIDs {
		if e := b.byKeyID[strings.ToLower(id)]; e != nil {
			return e
		}
	}
	return nil
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// checkKey bounds the signing chain's keys: RSA up to 4096 bits with
// exponent 65537, or ECDSA.
func checkKey(c *x509.Certificate) error {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() > 4096 || k.E != 65537 {
			return errors.New("RSA key outside 4096 bits / e=65537")
		}
	case *ecdsa.PublicKey:
	default:
		return fmt.Errorf("unsupported key type %T", c.PublicKey)
	}
	return nil
}
