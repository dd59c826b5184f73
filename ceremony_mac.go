package webauthnkit

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Ceremony records are authenticated: whoever can write to the
// ChallengeStore (a Redis or database account, a backup restored in the
// wrong place) could otherwise forge a registration ceremony naming any
// account's user handle and add their own passkey to it. Each record is the
// JSON state followed by an HMAC-SHA256 tag over the ceremony ID and the
// state, under a key derived from Config.Secret for this use only; a record
// whose tag does not match is treated as absent.
//
// The tag does not stop a store writer from replaying a genuine record under
// its own ID before it expires, nor from deleting records; single use is
// the store's atomic take, and the record's expiry is inside the tag.

const ceremonyMACSize = sha256.Size

// ceremonyMACKey derives the ceremony key from the secret; the label keeps it
// apart from the keys of the fake allow lists.
func ceremonyMACKey(secret []byte) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, "webauthnkit ceremony record v1", 32)
	if err != nil {
		return nil, fmt.Errorf("webauthnkit: deriving the ceremony key: %w", err)
	}
	return key, nil
}

// ceremonyTag is the MAC of a record: the ID is length-prefixed, so no
// (ID, data) pair can pass for another.
func (rp *RelyingParty) ceremonyTag(id string, data []byte) []byte {
	m := hmac.New(sha256.New, rp.ceremonyKey)
	var n [binary.MaxVarintLen64]byte
	m.Write(n[:binary.PutUvarint(n[:], uint64(len(id)))])
	m.Write([]byte(id))
	m.Write(data)
	return m.Sum(nil)
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
