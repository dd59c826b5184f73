package webauthnkit

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
)

// Ceremony records are authenticated: whoever can write to the
// ChallengeStore (a Redis or database account, a backup restored in the
// wrong place) could otherwise forge a registration ceremony naming any
// account's user handle and add their own passkey to it. Each record is the
// encoded state (ceremony_codec.go) followed by an HMAC-SHA256 tag over the ceremony ID and the
// state, under a key derived from Config.Secret for this use only; a record
// whose tag does not match is treated as absent.
//
// Records are also stored under a keyed hash of the ceremony ID, not the ID:
// someone who can read the store cannot take over a ceremony in flight (for
// instance finish a user's "add a passkey" with their own authenticator),
// since Finish* needs the ID the client holds.
//
// Not prevented: a store writer deleting records, or putting back a genuine
// record under its own key before it expires (single use is the store's
// atomic take; the expiry is inside the tag).

const ceremonyMACSize = sha256.Size

// ceremonyKeys are derived from the secret, with labels that keep them apart
// from each other and from the keys of the fake allow lists.
type ceremonyKeys struct {
	mac     *keyedHash // tags records
	storeID *keyedHash // hashes ceremony IDs into store keys
	// secret is HMAC-SHA256 under Config.Secret itself, with the labels of
	// enumeration.go (fake allow lists, user handles and ID tags): pooled,
	// not rebuilt for each fake.
	secret *keyedHash
}

func newCeremonyKeys(secret []byte) (ceremonyKeys, error) {
	mac, err := hkdf.Key(sha256.New, secret, nil, "webauthnkit ceremony record v1", 32)
	if err != nil {
		return ceremonyKeys{}, fmt.Errorf("webauthnkit: deriving the ceremony keys: %w", err)
	}
	storeID, err := hkdf.Key(sha256.New, secret, nil, "webauthnkit ceremony store key v1", 32)
	if err != nil {
		return ceremonyKeys{}, fmt.Errorf("webauthnkit: deriving the ceremony keys: %w", err)
	}
	return ceremonyKeys{mac: newKeyedHash(mac), storeID: newKeyedHash(storeID), secret: newKeyedHash(secret)}, nil
}

// keyedHash computes HMAC-SHA256 under one key, reusing keyed states: the
// key schedule would otherwise cost as much as hashing a small record.
type keyedHash struct{ pool sync.Pool }

func newKeyedHash(key []byte) *keyedHash {
	return &keyedHash{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

func (k *keyedHash) sum(parts ...[]byte) []byte {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	for _, p := range parts {
		h.Write(p)
	}
	out := h.Sum(make([]byte, 0, sha256.Size))
	k.pool.Put(h)
	return out
}

// ceremonyStoreID is the key under which the ceremony id is stored.
func (rp *RelyingParty) ceremonyStoreID(id string) string {
	return base64.RawURLEncoding.EncodeToString(rp.ceremonyKeys.storeID.sum([]byte(id)))
}

// ceremonyTag is the MAC of a record: the ID is length-prefixed, so no
// (ID, data) pair can pass for another.
func (rp *RelyingParty) ceremonyTag(id string, data []byte) []byte {
	var n [binary.MaxVarintLen64]byte
	return rp.ceremonyKeys.mac.sum(n[:binary.PutUvarint(n[:], uint64(len(id)))], []byte(id), data)
}

// sealCeremony returns the record to store for data under id.
func (rp *RelyingParty) sealCeremony(id string, data []byte) []byte {
	return append(data, rp.ceremonyTag(id, data)...)
}

// openCeremony checks the record stored under id and returns its data, or
// false (after a warning without any of the record's bytes) if it was not
// written by a RelyingParty holding the same secret for this ID.
func (rp *RelyingParty) openCeremony(ctx context.Context, id string, record []byte) ([]byte, bool) {
	if len(record) >= ceremonyMACSize {
		data, tag := record[:len(record)-ceremonyMACSize], record[len(record)-ceremonyMACSize:]
		if hmac.Equal(tag, rp.ceremonyTag(id, data)) {
			return data, true
		}
	}
	rp.log.WarnContext(ctx, "webauthnkit: ceremony record failed its integrity check: written by someone else, corrupted, or by a server with another Config.Secret",
		"record_bytes", len(record))
	return nil, false
}
