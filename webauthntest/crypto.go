package webauthntest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// ctap2 encodes CBOR in the CTAP2 canonical form authenticators use.
var ctap2 = func() cbor.EncMode {
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// newKey generates a credential key pair. With a custom reader r, ECDSA and
// EdDSA keys are derived from it deterministically; crypto/ecdsa and
// crypto/rsa ignore custom readers in GenerateKey since Go 1.26.
func newKey(alg Alg, rsaBits int, r io.Reader) (crypto.Signer, error) {
	switch alg {
	case ES256, ES384, ES512:
		curve := curveOf(alg)
		if r == nil {
			return ecdsa.GenerateKey(curve, rand.Reader)
		}
		for {
			d := make([]byte, (curve.Params().BitSize+7)/8)
			if _, err := io.ReadFull(r, d); err != nil {
				return nil, err
			}
			if alg == ES512 {
				d[0] &= 0x01 // 521 bits in 66 bytes
			}
			// Rejection sampling: fails only for 0 and values >= N.
			if k, err := ecdsa.ParseRawPrivateKey(curve, d); err == nil {
				return k, nil
			}
		}
	case EdDSA:
		if r == nil {
			r = rand.Reader
		}
		seed := make([]byte, ed25519.SeedSize)
		if _, err := io.ReadFull(r, seed); err != nil {
			return nil, err
		}
		return ed25519.NewKeyFromSeed(seed), nil
	case RS256, PS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	}
	return nil, fmt.Errorf("unsupported algorithm %v", alg)
}

// keyFits reports whether key can sign with alg.
func keyFits(key crypto.Signer, alg Alg) error {
	ok := false
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		ok = (alg == ES256 || alg == ES384 || alg == ES512) && k.Curve == curveOf(alg)
	case ed25519.PrivateKey:
		ok = alg == EdDSA
	case *rsa.PrivateKey:
		ok = alg == RS256 || alg == PS256
	}
	if !ok {
		return fmt.Errorf("a %T cannot sign %v", key, alg)
	}
	return nil
}

func curveOf(alg Alg) elliptic.Curve {
	switch alg {
	case ES384:
		return elliptic.P384()
	case ES512:
		return elliptic.P521()
	}
	return elliptic.P256()
}

// hashOf is the hash an algorithm signs with.
func hashOf(alg Alg) crypto.Hash {
	switch alg {
	case ES384:
		return crypto.SHA384
	case ES512:
		return crypto.SHA512
	}
	return crypto.SHA256
}

// sign produces a WebAuthn signature over msg with the credential's
// algorithm: ASN.1 DER ECDSA, raw Ed25519, PKCS #1 v1.5 or PSS.
func (a *Authenticator) sign(key crypto.Signer, alg Alg, msg []byte) ([]byte, error) {
	if k, ok := key.(ed25519.PrivateKey); ok {
		return ed25519.Sign(k, msg), nil
	}
	hash := hashOf(alg)
	h := hash.New()
	h.Write(msg)
	digest := h.Sum(nil)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if a.cfg.rand != nil {
			return k.Sign(nil, digest, hash) // RFC 6979, reproducible
		}
		return ecdsa.SignASN1(rand.Reader, k, digest)
	case *rsa.PrivateKey:
		if alg == PS256 {
			return rsa.SignPSS(rand.Reader, k, hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(nil, k, hash, digest)
	}
	return nil, fmt.Errorf("unsupported key type %T", key)
}

// coseKey encodes the public key as a COSE_Key (RFC 9052, RFC 9053, RFC 8230).
func coseKey(key crypto.Signer, alg Alg) ([]byte, error) {
	var m map[int]any
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		pt, err := k.PublicKey.Bytes() // 0x04 | x | y, each left-padded to the field size
		if err != nil {
			return nil, err
		}
		n := (len(pt) - 1) / 2
		crv := map[Alg]int{ES256: 1, ES384: 2, ES512: 3}[alg]
		m = map[int]any{1: 2, 3: int(alg), -1: crv, -2: pt[1 : 1+n], -3: pt[1+n:]}
	case ed25519.PrivateKey:
		m = map[int]any{1: 1, 3: int(EdDSA), -1: 6, -2: []byte(k.Public().(ed25519.PublicKey))}
	case *rsa.PrivateKey:
		m = map[int]any{1: 3, 3: int(alg), -1: k.N.Bytes(), -2: big.NewInt(int64(k.E)).Bytes()}
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	return ctap2.Marshal(m)
}

// MarshalCOSEKey encodes a COSE_Key given as its parameters, in the CTAP2
// canonical CBOR form authenticators use, for WithCredentialKey. Labels are
// those of RFC 9052/9053/8230: 1 kty (1 OKP, 2 EC2, 3 RSA), 3 alg, and for
// EC2 -1 crv, -2 x, -3 y; OKP -1 crv, -2 x; RSA -1 n, -2 e. Byte strings are
// []byte, integers int. Anything goes, which is the point: it makes keys no
// authenticator would.
func MarshalCOSEKey(params map[int]any) ([]byte, error) {
	return ctap2.Marshal(params)
}

// coseAlg reads the alg (label 3) of a COSE_Key, or 0.
func coseAlg(key []byte) int {
	var k struct {
		Alg int `cbor:"3,keyasint"`
	}
	if err := cbor.Unmarshal(key, &k); err != nil {
		return 0
	}
	return k.Alg
}

// spkiKey returns the DER SubjectPublicKeyInfo of the public key, which is
// what getPublicKey() and toJSON() expose as response.publicKey.
func spkiKey(key crypto.Signer) ([]byte, error) {
	return x509.MarshalPKIXPublicKey(key.Public())
}

type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
