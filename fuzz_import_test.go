package webauthnkit_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/webauthnkit/webauthnkit"
)

// FuzzImportCredential feeds mutated SubjectPublicKeyInfo keys, seeded with
// EC, Ed25519 and RSA ones, through COSEKeyFromSPKI and ImportCredential:
// whatever the bytes, the answer is a key imported or ErrInvalidRequest,
// never a panic or another error, and a refused key stores nothing.
func FuzzImportCredential(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, pub := range []any{&ec.PublicKey, ed, &rk.PublicKey} {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der, int64(webauthnkit.AlgES256))
		f.Add(der, int64(webauthnkit.AlgEdDSA))
		f.Add(der, int64(webauthnkit.AlgRS256))
	}
	e := newEnv(f)
	handle := []byte("fuzz-user")
	if _, err := e.rp.CreateUser(ctx, webauthnkit.NewUser{Handle: handle, Name: "fuzz"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, der []byte, alg int64) {
		cose, err := webauthnkit.COSEKeyFromSPKI(der, webauthnkit.Algorithm(alg))
		if err != nil {
			if !errors.Is(err, webauthnkit.ErrInvalidRequest) {
				t.Fatalf("COSEKeyFromSPKI: %v", err)
			}
			cose = der // import the raw bytes as a COSE key instead
		}
		id := randomBytes(t, 16)
		be := false
		_, err = e.rp.ImportCredential(ctx, webauthnkit.ImportedCredential{ID: id, UserHandle: handle, PublicKey: cose, BackupEligible: &be, BackupState: &be})
		if err == nil {
			return
		}
		if !errors.Is(err, webauthnkit.ErrInvalidRequest) {
			t.Fatalf("ImportCredential: %v", err)
		}
		if _, err := e.store.GetCredential(ctx, id); !errors.Is(err, webauthnkit.ErrNotFound) {
			t.Fatalf("a refused key was stored: %v", err)
		}
	})
}
