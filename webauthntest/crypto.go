package webauthntest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
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

// newKey generates a credential key pair. With a custom reader r, ES256 and
// EdDSA keys are derived from it deterministically; crypto/ecdsa and
// crypto/rsa ignore custom readers in GenerateKey since Go 1.26.
func newKey(alg Alg, r io.Reader) (crypto.Signer, error) {
	switch alg {
	case ES256:
		if r == nil {
			return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		for {
			d := make([]byte, 32)
			if _, err := io.ReadFull(r, d); err != nil {
				return nil, err
			}
			// Rejection sampling: fails only for 0 and values >= N.
			if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d); err == nil {
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
	case RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("unsupported algorithm %v", alg)
}

// sign produces a WebAuthn signature over msg: ASN.1 DER ECDSA, raw Ed25519,
// or PKCS #1 v1.5, all with SHA-256 where a hash is used.
func (a *Authenticator) sign(key crypto.Signer, msg []byte) ([]byte, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(msg)
		if a.cfg.rand != nil {
			return k.Sign(nil, h[:], crypto.SHA256) // RFC 6979, reproducible
		}
		return ecdsa.SignASN1(rand.Reader, k, h[:])
	case ed25519.PrivateKey:
		return ed25519.Sign(k, msg), nil
	case *rsa.PrivateKey:
		h := sha256.Sum256(msg)
		return rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:])
	}
	return nil, fmt.Errorf("unsupported key type %T", key)
}

// coseKey encodes the public key as a COSE_Key (RFC 9052, RFC 9053, RFC 8230).
func coseKey(key crypto.Signer) ([]byte, error) {
	var m map[int]any
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		pt, err := k.PublicKey.Bytes() // 0x04 | x | y, each left-padded to 32 bytes
		if err != nil {
			return nil, err
		}
		m = map[int]any{1: 2, 3: int(ES256), -1: 1, -2: pt[1:33], -3: pt[33:65]}
	case ed25519.PrivateKey:
		m = map[int]any{1: 1, 3: int(EdDSA), -1: 6, -2: []byte(k.Public().(ed25519.PublicKey))}
	case *rsa.PrivateKey:
		m = map[int]any{1: 3, 3: int(RS256), -1: k.N.Bytes(), -2: big.NewInt(int64(k.E)).Bytes()}
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	return ctap2.Marshal(m)
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
