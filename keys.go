package webauthnkit

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Public key limits. Every key is checked before any signature is verified
// with it: the credential public key at registration and before each login
// (keys already stored included), the self-attestation key, and the key of
// every attestation certificate. Verifying with an RSA key costs time
// proportional to the square of its modulus size times the bits of its
// exponent, and neither go-webauthn nor Go's x509 parser bounds them (only
// crypto/tls does): an RSA key with a 46,000-byte modulus and e = 2^31-1
// costs seconds of CPU per verification. Keys outside these limits fail the
// ceremony with ErrInvalidResponse wrapping ErrKeyNotAllowed.
const (
	// MinRSAModulusBits is the smallest RSA modulus accepted: smaller keys
	// are breakable (NIST SP 800-131A).
	MinRSAModulusBits = 2048
	// MaxRSAModulusBits is the largest RSA modulus accepted. No authenticator
	// makes larger keys (TPMs: 2048; attestation roots: up to 4096), and a
	// 4096-bit verification with e = 65537 costs about 0.4 ms of CPU, 4.6
	// times an ES256 one (BENCHMARKS.md, "Key limits").
	MaxRSAModulusBits = 4096
	// RSAPublicExponent is the only RSA public exponent accepted, the one
	// every authenticator and certificate authority uses.
	RSAPublicExponent = 65537
)

// maxAttestationCertificates bounds an x5c chain: real ones have 1 to 4
// certificates (leaf, intermediates, sometimes the root).
const maxAttestationCertificates = 8

// ErrKeyNotAllowed is wrapped by the ErrInvalidResponse of a ceremony whose
// credential or attestation key is outside the limits above or uses an
// algorithm not in Config.Algorithms.
var ErrKeyNotAllowed = errors.New("webauthnkit: public key not allowed")

// Algorithm is a COSE algorithm identifier (IANA "COSE Algorithms"
// registry): the signature algorithm of a credential key.
type Algorithm int64

// The credential algorithms webauthnkit can verify. DefaultAlgorithms are
// ES256, EdDSA and RS256; the others are opt-in through Config.Algorithms.
const (
	AlgES256 Algorithm = -7  // ECDSA on P-256 with SHA-256 (default; nearly every authenticator)
	AlgEdDSA Algorithm = -8  // Ed25519 (default; some security keys)
	AlgES384 Algorithm = -35 // ECDSA on P-384 with SHA-384
	AlgES512 Algorithm = -36 // ECDSA on P-521 with SHA-512
	AlgPS256 Algorithm = -37 // RSASSA-PSS with SHA-256
	AlgPS384 Algorithm = -38 // RSASSA-PSS with SHA-384
	AlgPS512 Algorithm = -39 // RSASSA-PSS with SHA-512
	// ML-DSA (FIPS 204) keys need a Go version with crypto/mldsa (Go 1.27):
	// New refuses them on builds that cannot verify them.
	AlgMLDSA44 Algorithm = -48
	AlgMLDSA65 Algorithm = -49
	AlgMLDSA87 Algorithm = -50
	AlgRS256   Algorithm = -257   // RSASSA-PKCS1-v1_5 with SHA-256 (default; Windows Hello)
	AlgRS384   Algorithm = -258   // RSASSA-PKCS1-v1_5 with SHA-384
	AlgRS512   Algorithm = -259   // RSASSA-PKCS1-v1_5 with SHA-512
	AlgRS1     Algorithm = -65535 // RSASSA-PKCS1-v1_5 with SHA-1: only for legacy TPMs; SHA-1 is broken
)

// DefaultAlgorithms returns the algorithms offered when Config.Algorithms is
// empty, in order of preference: ES256, EdDSA, RS256 (what WebAuthn Level 3
// recommends, and what every authenticator in use can make).
func DefaultAlgorithms() []Algorithm { return []Algorithm{AlgES256, AlgEdDSA, AlgRS256} }

// COSE key types and curves (RFC 9053, RFC 8230, RFC 9964).
const (
	coseKtyOKP = 1
	coseKtyEC2 = 2
	coseKtyRSA = 3
	coseKtyAKP = 7

	coseCrvP256    = 1
	coseCrvP384    = 2
	coseCrvP521    = 3
	coseCrvEd25519 = 6
)

// keySpec is what a credential key of one algorithm must look like.
type keySpec struct {
	name string
	kty  int64
	crv  int64      // EC2 and OKP
	size int        // EC2 coordinate, OKP x or AKP public key length in bytes
	ecdh ecdh.Curve // EC2: checks the point is on the curve
}

var keySpecs = map[Algorithm]keySpec{
	AlgES256:   {name: "ES256", kty: coseKtyEC2, crv: coseCrvP256, size: 32, ecdh: ecdh.P256()},
	AlgES384:   {name: "ES384", kty: coseKtyEC2, crv: coseCrvP384, size: 48, ecdh: ecdh.P384()},
	AlgES512:   {name: "ES512", kty: coseKtyEC2, crv: coseCrvP521, size: 66, ecdh: ecdh.P521()},
	AlgEdDSA:   {name: "EdDSA", kty: coseKtyOKP, crv: coseCrvEd25519, size: ed25519.PublicKeySize},
	AlgPS256:   {name: "PS256", kty: coseKtyRSA},
	AlgPS384:   {name: "PS384", kty: coseKtyRSA},
	AlgPS512:   {name: "PS512", kty: coseKtyRSA},
	AlgRS256:   {name: "RS256", kty: coseKtyRSA},
	AlgRS384:   {name: "RS384", kty: coseKtyRSA},
	AlgRS512:   {name: "RS512", kty: coseKtyRSA},
	AlgRS1:     {name: "RS1", kty: coseKtyRSA},
	AlgMLDSA44: {name: "ML-DSA-44", kty: coseKtyAKP, size: 1312},
	AlgMLDSA65: {name: "ML-DSA-65", kty: coseKtyAKP, size: 1952},
	AlgMLDSA87: {name: "ML-DSA-87", kty: coseKtyAKP, size: 2592},
}

// String returns the algorithm's registered name, e.g. "ES256".
func (a Algorithm) String() string {
	if s, ok := keySpecs[a]; ok {
		return s.name
	}
	return fmt.Sprintf("Algorithm(%d)", int64(a))
}

// verifiable reports whether this build of go-webauthn can verify a. It
// registers a name for the ML-DSA identifiers only when built with a Go
// version that has crypto/mldsa.
func (a Algorithm) verifiable() bool {
	if keySpecs[a].kty != coseKtyAKP {
		return true
	}
	return webauthncose.COSEAlgorithmIdentifier(a).String() == keySpecs[a].name
}

// checkAlgorithms validates Config.Algorithms (already defaulted) and
// returns the pubKeyCredParams to offer.
func checkAlgorithms(algs []Algorithm) ([]protocol.CredentialParameter, error) {
	if len(algs) == 0 {
		return nil, errors.New("the list is empty")
	}
	params := make([]protocol.CredentialParameter, 0, len(algs))
	for i, a := range algs {
		if _, ok := keySpecs[a]; !ok {
			return nil, fmt.Errorf("unknown COSE algorithm %d", int64(a))
		}
		for _, b := range algs[:i] {
			if a == b {
				return nil, fmt.Errorf("%v is listed twice", a)
			}
		}
		if !a.verifiable() {
			return nil, fmt.Errorf("%v cannot be verified by this build (go-webauthn verifies ML-DSA only when built with Go 1.27 or newer)", a)
		}
		params = append(params, protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.COSEAlgorithmIdentifier(a)})
	}
	return params, nil
}

// coseKeyParams holds the COSE_Key labels every supported key type uses.
// It is decoded with go-webauthn's own CBOR decoder (duplicate keys, tags
// and trailing data refused), so both read the same key.
type coseKeyParams struct {
	Kty int64                   `cbor:"1,keyasint"`
	Alg int64                   `cbor:"3,keyasint"`
	P1  webauthncbor.RawMessage `cbor:"-1,keyasint"` // EC2, OKP: crv; RSA: n; AKP: pub
	P2  []byte                  `cbor:"-2,keyasint"` // EC2, OKP: x; RSA: e
	P3  []byte                  `cbor:"-3,keyasint"` // EC2: y
}

func keyNotAllowed(format string, args ...any) error {
	return &Error{Code: CodeInvalidResponse, Message: "public key not allowed: " + fmt.Sprintf(format, args...), Err: ErrKeyNotAllowed}
}

// checkCredentialKey checks a COSE_Key against the key limits and returns
// its algorithm, which must be in allowed. It does no signature work and
// costs a few microseconds for any input.
func checkCredentialKey(cose []byte, allowed []Algorithm) (Algorithm, error) {
	var k coseKeyParams
	if err := webauthncbor.Unmarshal(cose, &k); err != nil {
		return 0, keyNotAllowed("the credential key is not a valid COSE key")
	}
	alg := Algorithm(k.Alg)
	spec, known := keySpecs[alg]
	if !known || !containsAlg(allowed, alg) {
		return alg, keyNotAllowed("credential algorithm %v is not accepted", alg)
	}
	if k.Kty != spec.kty {
		return alg, keyNotAllowed("a %v credential key must have COSE key type %d, not %d", alg, spec.kty, k.Kty)
	}
	switch spec.kty {
	case coseKtyEC2, coseKtyOKP:
		if !coseSmallUint(k.P1, spec.crv) {
			return alg, keyNotAllowed("a %v credential key must be on COSE curve %d", alg, spec.crv)
		}
		if len(k.P2) != spec.size || (spec.kty == coseKtyEC2) != (k.P3 != nil) || (k.P3 != nil && len(k.P3) != spec.size) {
			return alg, keyNotAllowed("a %v credential key must have %d-byte coordinates", alg, spec.size)
		}
		if spec.ecdh != nil {
			point := make([]byte, 0, 1+2*spec.size)
			point = append(append(append(point, 4), k.P2...), k.P3...)
			if _, err := spec.ecdh.NewPublicKey(point); err != nil {
				return alg, keyNotAllowed("the %v credential key is not a point on its curve", alg)
			}
		}
	case coseKtyRSA:
		if len(k.P1) > 2*MaxRSAModulusBits/8 { // no need to copy a huge one again
			return alg, keyNotAllowed("the RSA credential key has a modulus of over %d bytes, more than %d bits", 2*MaxRSAModulusBits/8-3, MaxRSAModulusBits)
		}
		var n []byte
		if err := webauthncbor.Unmarshal(k.P1, &n); err != nil {
			return alg, keyNotAllowed("the RSA credential key has no modulus")
		}
		if err := checkRSA(n, k.P2); err != nil {
			return alg, keyNotAllowed("the RSA credential key %v", err)
		}
	case coseKtyAKP:
		var pub []byte
		if err := webauthncbor.Unmarshal(k.P1, &pub); err != nil || len(pub) != spec.size {
			return alg, keyNotAllowed("a %v credential key must be %d bytes", alg, spec.size)
		}
	}
	return alg, nil
}

// coseSmallUint reports whether raw, one CBOR data item, is the integer
// want. The curve identifiers (0..23) take one byte in CBOR's preferred
// encoding; any other encoding goes through the full decoder.
func coseSmallUint(raw []byte, want int64) bool {
	if len(raw) == 1 && raw[0] < 24 {
		return int64(raw[0]) == want
	}
	var v int64
	return webauthncbor.Unmarshal(raw, &v) == nil && v == want
}

func containsAlg(list []Algorithm, a Algorithm) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

// checkRSA checks an RSA modulus and exponent given as unsigned big-endian
// bytes, without building big integers from attacker-sized input.
func checkRSA(n, e []byte) error {
	n = bytes.TrimLeft(n, "\x00")
	nBits := 0
	if len(n) > 0 {
		nBits = (len(n)-1)*8 + bits.Len8(n[0])
	}
	if nBits < MinRSAModulusBits || nBits > MaxRSAModulusBits {
		return fmt.Errorf("has a %d-bit modulus, outside %d..%d bits", nBits, MinRSAModulusBits, MaxRSAModulusBits)
	}
	if n[len(n)-1]&1 == 0 {
		return errors.New("has an even modulus")
	}
	if e = bytes.TrimLeft(e, "\x00"); !bytes.Equal(e, []byte{0x01, 0x00, 0x01}) {
		return fmt.Errorf("has a public exponent other than %d", RSAPublicExponent)
	}
	return nil
}

// checkCertificateKey applies the key limits to a parsed certificate's key.
func checkCertificateKey(cert *x509.Certificate) error {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.E != RSAPublicExponent {
			return fmt.Errorf("has a public exponent other than %d", RSAPublicExponent)
		}
		if b := k.N.BitLen(); b < MinRSAModulusBits || b > MaxRSAModulusBits {
			return fmt.Errorf("has a %d-bit RSA modulus, outside %d..%d bits", b, MinRSAModulusBits, MaxRSAModulusBits)
		}
	case *ecdsa.PublicKey:
		// Go's x509 parser only returns keys on P-224, P-256, P-384 and P-521,
		// checked to be on the curve.
		if k.Curve == elliptic.P224() {
			return errors.New("is on P-224")
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("has an unsupported key type %T", k)
	}
	return nil
}

// checkAttestationKeys checks the keys of every certificate an attestation
// statement carries (x5c of packed, tpm, android-key, fido-u2f, apple and
// of compound sub-statements; the JWS x5c header of android-safetynet)
// before go-webauthn verifies any signature with them or builds a chain.
// Go's x509 parser accepts RSA keys of any size. A self attestation is
// signed by the credential key, which checkCredentialKey covers.
func checkAttestationKeys(att *protocol.AttestationObject) error {
	stmts := []protocol.NonCompoundAttestationObject{{Format: att.Format, AttStatement: att.AttStatement}}
	stmts = append(stmts, att.SubStatements...)
	for _, st := range stmts {
		var certs []any
		if raw, present := st.AttStatement["x5c"]; present {
			list, ok := raw.([]any)
			if !ok {
				return keyNotAllowed("x5c is not a certificate list")
			}
			certs = list
		}
		if protocol.AttestationFormat(st.Format) == protocol.AttestationFormatAndroidSafetyNet {
			jws, _ := st.AttStatement["response"].([]byte)
			list, err := safetyNetCertificates(jws)
			if err != nil {
				return keyNotAllowed("the SafetyNet response header is malformed")
			}
			certs = append(certs, list...)
		}
		if len(certs) > maxAttestationCertificates {
			return keyNotAllowed("the attestation has %d certificates, more than %d", len(certs), maxAttestationCertificates)
		}
		for i, c := range certs {
			der, ok := c.([]byte)
			if !ok {
				return keyNotAllowed("attestation certificate %d is not a byte string", i)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return keyNotAllowed("attestation certificate %d cannot be parsed", i)
			}
			if err := checkCertificateKey(cert); err != nil {
				return keyNotAllowed("attestation certificate %d %v", i, err)
			}
		}
	}
	return nil
}

// safetyNetCertificates returns the DER certificates of the x5c header of a
// SafetyNet JWS (compact serialisation), as []any of []byte.
func safetyNetCertificates(jws []byte) ([]any, error) {
	header, _, ok := strings.Cut(string(jws), ".")
	if !ok {
		return nil, errors.New("not a JWS")
	}
	js, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return nil, err
	}
	var h struct {
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(js, &h); err != nil {
		return nil, err
	}
	out := make([]any, 0, len(h.X5C))
	for _, s := range h.X5C {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, err
		}
		out = append(out, der)
	}
	return out, nil
}

// checkRegistrationKeys applies the key limits and Config.Algorithms to a
// parsed registration response, before go-webauthn verifies it.
func (rp *RelyingParty) checkRegistrationKeys(parsed *protocol.ParsedCredentialCreationData) error {
	att := &parsed.Response.AttestationObject
	if _, err := checkCredentialKey(att.AuthData.AttData.CredentialPublicKey, rp.cfg.Algorithms); err != nil {
		return err
	}
	return checkAttestationKeys(att)
}

// checkStoredKey applies the key limits and Config.Algorithms to a stored
// credential before a login verifies a signature with it: a key stored by an
// earlier version, or written to the store by someone else, must not cost
// seconds of CPU either. The log names the reason, never the key.
//
// A key that passed is remembered (keys_cache.go): the next login with the
// same credential ID and the same key bytes skips the check.
func (rp *RelyingParty) checkStoredKey(ctx context.Context, c *Credential) error {
	k := keyCheckKey(c.ID, c.PublicKey)
	if _, ok := rp.keyChecks.get(k); ok {
		return nil
	}
	alg, err := checkCredentialKey(c.PublicKey, rp.cfg.Algorithms)
	if err != nil {
		rp.log.WarnContext(ctx, "webauthnkit: stored credential key refused", "alg", alg.String(), "reason", err.(*Error).Message)
		return err
	}
	rp.keyChecks.add(k, alg)
	return nil
}
