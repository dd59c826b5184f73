package sealstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// LocalKMS is a KMS whose master key is held by this process (AES-256-GCM
// key wrapping). It shows the envelope layout and serves tests and setups
// where the master key comes from somewhere safer than the keyring file
// (a secrets manager, a hardware-backed variable). A cloud KMS is better:
// there the master key cannot be copied at all.
type LocalKMS struct {
	aead cipher.AEAD
}

var _ KMS = (*LocalKMS)(nil)

// NewLocalKMS returns a LocalKMS with a 32-byte master key.
func NewLocalKMS(masterKey []byte) (*LocalKMS, error) {
	if len(masterKey) != KeySize {
		return nil, fmt.Errorf("sealstore: NewLocalKMS: the master key has %d bytes, want %d", len(masterKey), KeySize)
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &LocalKMS{aead: aead}, nil
}

const localKMSAAD = "webauthnkit/sealstore/localkms/v1"

// Wrap encrypts a data key: nonce, then ciphertext and tag.
func (k *LocalKMS) Wrap(ctx context.Context, dataKey []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(dataKey)+k.aead.Overhead())
	_, _ = rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, dataKey, []byte(localKMSAAD)), nil
}

// Unwrap decrypts what Wrap returned; a wrong master key or an edited
// value fails.
func (k *LocalKMS) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ns := k.aead.NonceSize()
	if len(wrapped) < ns+k.aead.Overhead() {
		return nil, errLocalKMS
	}
	out, err := k.aead.Open(nil, wrapped[:ns], wrapped[ns:], []byte(localKMSAAD))
	if err != nil {
		return nil, errLocalKMS
	}
	return out, nil
}

var errLocalKMS = errors.New("sealstore: LocalKMS: the wrapped key does not open with this master key")
