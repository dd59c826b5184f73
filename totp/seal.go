package totp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"

	"github.com/pquerna/otp"
)

// A sealed value is
//
//	version (1) | key ID (1) | nonce (12) | AES-256-GCM(plaintext) with tag (16)
//
// and its plaintext is
//
//	algorithm (1) | digits (1) | period in seconds (1) | issued at, Unix seconds (8) | secret
//
// The associated data binds it to its purpose (pending enrolment or
// confirmed secret), to the header (version and key ID) and to the user ID,
// so a value copied to another user's row, or a pending value presented as
// a confirmed one, fails to open. The parameters travel with the secret, so
// changing Config.Digits, Period or Algorithm later does not break the
// enrolments made before.

const (
	sealVersion   = 1
	nonceLen      = 12
	headerLen     = 2 + nonceLen
	plainFixedLen = 3 + 8
	// maxSecretLen is the longest secret sealed (SHA512's 64 bytes).
	maxSecretLen = 64
	// MaxSealedLen caps a sealed value before any work is done on it.
	MaxSealedLen = headerLen + plainFixedLen + maxSecretLen + 16
	adLabel      = "webauthnkit/totp/v1\x00"
)

// purpose separates the sealed values of Begin from those of Confirm.
type purpose byte

const (
	purposePending purpose = 'P'
	purposeActive  purpose = 'A'
)

// sealingKey is one Config.Key with the keys derived from it.
type sealingKey struct {
	id   byte
	aead cipher.AEAD
	// logKey makes the pseudonymous user_ref of log records.
	logKey []byte
}

type keyring struct {
	current *sealingKey
	byID    map[byte]*sealingKey
}

func newKeyring(keys []Key) (*keyring, error) {
	kr := &keyring{byID: make(map[byte]*sealingKey, len(keys))}
	for i, k := range keys {
		aesKey, err := hkdf.Key(sha256.New, k.Secret, nil, "webauthnkit totp seal v1", 32)
		if err != nil {
			return nil, err
		}
		logKey, err := hkdf.Key(sha256.New, k.Secret, nil, "webauthnkit totp log ref v1", 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(aesKey)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sk := &sealingKey{id: k.ID, aead: aead, logKey: logKey}
		kr.byID[k.ID] = sk
		if i == 0 {
			kr.current = sk
		}
	}
	return kr, nil
}

// secret is an opened sealed value.
type secret struct {
	raw       []byte
	algorithm otp.Algorithm
	digits    otp.Digits
	period    time.Duration
	issuedAt  time.Time
	// key is the key that sealed it.
	key *sealingKey
}

func associatedData(p purpose, version, keyID byte, userID []byte) []byte {
	ad := make([]byte, 0, len(adLabel)+3+len(userID))
	ad = append(ad, adLabel...)
	ad = append(ad, byte(p), version, keyID)
	return append(ad, userID...)
}

// seal encrypts s under the current key for (p, userID).
func (kr *keyring) seal(p purpose, userID []byte, s secret) ([]byte, error) {
	k := kr.current
	out := make([]byte, headerLen, MaxSealedLen)
	out[0] = sealVersion
	out[1] = k.id
	if _, err := rand.Read(out[2:headerLen]); err != nil {
		return nil, err
	}
	plain := make([]byte, plainFixedLen, plainFixedLen+len(s.raw))
	plain[0] = byte(s.algorithm)
	plain[1] = byte(s.digits)
	plain[2] = byte(s.period / time.Second)
	binary.BigEndian.PutUint64(plain[3:], uint64(s.issuedAt.Unix()))
	plain = append(plain, s.raw...)
	out = k.aead.Seal(out, out[2:headerLen], plain, associatedData(p, sealVersion, k.id, userID))
	clear(plain)
	return out, nil
}

var errUnsealable = errors.New("unsealable")

// open decrypts a value sealed for (p, userID). Every failure is
// errUnsealable: the caller learns nothing about which check failed.
func (kr *keyring) open(p purpose, userID, sealed []byte) (secret, error) {
	if len(sealed) < headerLen+plainFixedLen+16 || len(sealed) > MaxSealedLen || sealed[0] != sealVersion {
		return secret{}, errUnsealable
	}
	k, ok := kr.byID[sealed[1]]
	if !ok {
		return secret{}, errUnsealable
	}
	plain, err := k.aead.Open(nil, sealed[2:headerLen], sealed[headerLen:], associatedData(p, sealed[0], sealed[1], userID))
	if err != nil {
		return secret{}, errUnsealable
	}
	s := secret{
		algorithm: otp.Algorithm(plain[0]),
		digits:    otp.Digits(plain[1]),
		period:    time.Duration(plain[2]) * time.Second,
		issuedAt:  time.Unix(int64(binary.BigEndian.Uint64(plain[3:])), 0),
		raw:       plain[plainFixedLen:],
		key:       k,
	}
	// Authentic values were written by seal from a valid Config; checking
	// anyway keeps a bug elsewhere from reaching otp's panicking String.
	switch s.algorithm {
	case otp.AlgorithmSHA1, otp.AlgorithmSHA256, otp.AlgorithmSHA512:
	default:
		return secret{}, errUnsealable
	}
	if (s.digits != otp.DigitsSix && s.digits != otp.DigitsEight) || s.period == 0 || len(s.raw) < 16 {
		return secret{}, errUnsealable
	}
	return s, nil
}
