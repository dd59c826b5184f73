package sealstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// KeySize is the length of every key: sealing keys (AES-256) and the
// blind-index key (HMAC-SHA-256).
const KeySize = 32

// MaxKeyIDLen bounds a key ID, which every sealed value carries.
const MaxKeyIDLen = 32

// Key is one sealing key of a Keyring.
type Key struct {
	// ID names the key inside every value it seals: 1 to 32 characters
	// among A-Z a-z 0-9 - _ . (for example "2026-12"). Never reuse an ID
	// for another secret: values sealed with the old one would fail to
	// open (ErrTampered), not decrypt to garbage.
	ID string
	// Secret is 32 random bytes (AES-256).
	Secret []byte
}

// Keyring holds the keys of a Store: sealing keys, the first of which is
// the primary (every write seals with it), and the blind-index key (a
// separate secret: the index must not be computable from the sealing
// keys). A Keyring is immutable and safe for concurrent use; rotate by
// building a new one and passing it to Store.SetKeyring.
type Keyring struct {
	primary keyEntry
	byID    map[string]keyEntry
	ids     []string
	index   []byte
	hmacs   sync.Pool // *indexer keyed with index
}

type keyEntry struct {
	id   string
	aead cipher.AEAD
}

// NewKeyring builds a keyring from sealing keys (keys[0] is the primary;
// the others are kept to open older values) and the blind-index key. It
// copies the secrets.
func NewKeyring(indexKey []byte, keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("sealstore: NewKeyring: no sealing key")
	}
	if len(indexKey) != KeySize {
		return nil, fmt.Errorf("sealstore: NewKeyring: the index key has %d bytes, want %d", len(indexKey), KeySize)
	}
	kr := &Keyring{byID: make(map[string]keyEntry, len(keys)), index: append([]byte(nil), indexKey...)}
	for i, k := range keys {
		if err := validKeyID(k.ID); err != nil {
			return nil, fmt.Errorf("sealstore: NewKeyring: key %d: %w", i, err)
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("sealstore: NewKeyring: key %q has %d bytes, want %d", k.ID, len(k.Secret), KeySize)
		}
		if hmac.Equal(k.Secret, indexKey) {
			return nil, fmt.Errorf("sealstore: NewKeyring: key %q is the index key: use separate secrets", k.ID)
		}
		if _, dup := kr.byID[k.ID]; dup {
			return nil, fmt.Errorf("sealstore: NewKeyring: key ID %q listed twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("sealstore: NewKeyring: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sealstore: NewKeyring: %w", err)
		}
		e := keyEntry{id: k.ID, aead: aead}
		kr.byID[k.ID] = e
		kr.ids = append(kr.ids, k.ID)
		if i == 0 {
			kr.primary = e
		}
	}
	kr.hmacs.New = func() any { return &indexer{h: hmac.New(sha256.New, kr.index), buf: make([]byte, 0, 128)} }
	return kr, nil
}

// Primary returns the ID of the key new values are sealed with.
func (kr *Keyring) Primary() string { return kr.primary.id }

// IDs returns the key IDs, the primary first.
func (kr *Keyring) IDs() []string { return append([]string(nil), kr.ids...) }

// NewKey returns a key with this ID and a fresh random secret.
func NewKey(id string) Key {
	return Key{ID: id, Secret: RandomSecret()}
}

// RandomSecret returns KeySize bytes from crypto/rand.
func RandomSecret() []byte {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b) // never fails (crypto/rand.Read crashes the program instead)
	return b
}

func validKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("key ID must have 1 to %d characters", MaxKeyIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("key ID %q: only A-Z a-z 0-9 - _ . allowed", id)
		}
	}
	return nil
}

// Sealed value layout (before base64url for text columns):
//
//	version (1 byte, 1) | key ID length (1 byte) | key ID | nonce (12) | ciphertext | tag (16)
const sealVersion = 1

// aadPrefix starts every associated data, so a value sealed by another
// program with the same key never opens here.
const aadPrefix = "webauthnkit/sealstore/v1\x00"

// seal encrypts plaintext under the primary key with aad.
func (kr *Keyring) seal(plaintext, aad []byte) []byte {
	k := kr.primary
	ns := k.aead.NonceSize()
	out := make([]byte, 2+len(k.id)+ns, 2+len(k.id)+ns+len(plaintext)+k.aead.Overhead())
	out[0] = sealVersion
	out[1] = byte(len(k.id))
	copy(out[2:], k.id)
	nonce := out[2+len(k.id):]
	_, _ = rand.Read(nonce)
	return k.aead.Seal(out, nonce, plaintext, aad)
}

// open decrypts a sealed value with the key it names, in place (sealed is
// overwritten: pass a copy you own). It returns the key ID too, so Rekey
// can tell values sealed with an older key.
func (kr *Keyring) open(sealed, aad []byte) (plaintext []byte, keyID string, err error) {
	if len(sealed) < 2 || sealed[0] != sealVersion || len(sealed) < 2+int(sealed[1]) {
		return nil, "", errMalformed
	}
	idLen := int(sealed[1])
	k, ok := kr.byID[string(sealed[2:2+idLen])] // no allocation for the lookup
	keyID = k.id
	if !ok {
		keyID = string(sealed[2 : 2+idLen])
		if validKeyID(keyID) != nil {
			return nil, "", errMalformed
		}
		return nil, keyID, &KeyMissingError{KeyID: keyID}
	}
	rest := sealed[2+idLen:]
	ns := k.aead.NonceSize()
	if len(rest) < ns+k.aead.Overhead() {
		return nil, keyID, errMalformed
	}
	// Decrypted in place: the caller's buffer (a fresh decode) becomes
	// the plaintext.
	plaintext, err = k.aead.Open(rest[ns:ns], rest[:ns], rest[ns:], aad)
	if err != nil {
		return nil, keyID, errAuth
	}
	return plaintext, keyID, nil
}

// sealText is seal encoded as base64url (no padding), for string columns.
func (kr *Keyring) sealText(plaintext, aad []byte) string {
	return b64.EncodeToString(kr.seal(plaintext, aad))
}

// openText is open for a value made by sealText.
func (kr *Keyring) openText(sealed string, aad []byte) ([]byte, string, error) {
	raw, err := b64.DecodeString(sealed)
	if err != nil {
		return nil, "", errMalformed
	}
	return kr.open(raw, aad)
}

var b64 = base64.RawURLEncoding

// blindIndex returns the keyed blind index of value in the given domain
// ("name", "email"): base64url(HMAC-SHA-256(indexKey, domain 0 value)),
// 43 ASCII characters.
func (kr *Keyring) blindIndex(domain, value string) string {
	ix := kr.hmacs.Get().(*indexer)
	ix.buf = append(append(append(ix.buf[:0], domain...), 0), value...)
	ix.h.Reset()
	ix.h.Write(ix.buf)
	sum := ix.h.Sum(ix.sum[:0])
	var out [43]byte
	b64.Encode(out[:], sum)
	if cap(ix.buf) <= 4096 {
		kr.hmacs.Put(ix)
	}
	return string(out[:])
}

// blindIndexEqual reports whether want is the blind index of value,
// without allocating.
func (kr *Keyring) blindIndexEqual(domain, value, want string) bool {
	ix := kr.hmacs.Get().(*indexer)
	ix.buf = append(append(append(ix.buf[:0], domain...), 0), value...)
	ix.h.Reset()
	ix.h.Write(ix.buf)
	sum := ix.h.Sum(ix.sum[:0])
	var out [43]byte
	b64.Encode(out[:], sum)
	if cap(ix.buf) <= 4096 {
		kr.hmacs.Put(ix)
	}
	return string(out[:]) == want
}

// indexer is a pooled HMAC with its buffers.
type indexer struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}
