package webauthnkit

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// maxKeyChecks bounds the stored-key check cache: two generations of at
// most maxKeyChecks/2 entries (about 100 bytes each).
const maxKeyChecks = 8192

// keyCheckCache remembers the stored credential keys that passed
// checkCredentialKey, so a login does not decode the COSE key and check
// its point again for a passkey seen recently (go-webauthn still decodes it
// to verify the signature). An entry is keyed by a SHA-256 of the
// credential ID and the exact key bytes: a key changed in the store is a
// miss and is checked again. Refusals are not cached (they are logged each
// time). Config.Algorithms is fixed for a RelyingParty, so the cache is
// its own.
//
// It is bounded and approximately least-recently-used: when the current
// generation is full it becomes the old one (the older one is dropped),
// and a hit in the old generation moves the entry to the current one. The
// zero value is ready to use and safe for concurrent use.
type keyCheckCache struct {
	mu       sync.Mutex
	cur, old map[[32]byte]Algorithm
}

func keyCheckKey(id, pub []byte) [32]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(id)))])
	h.Write(id)
	h.Write(pub)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *keyCheckCache) get(k [32]byte) (Algorithm, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.cur[k]; ok {
		return a, true
	}
	a, ok := c.old[k]
	if ok {
		delete(c.old, k)
		c.put(k, a)
	}
	return a, ok
}

func (c *keyCheckCache) add(k [32]byte, a Algorithm) {
	c.mu.Lock()
	c.put(k, a)
	c.mu.Unlock()
}

func (c *keyCheckCache) put(k [32]byte, a Algorithm) {
	if c.cur == nil || len(c.cur) >= maxKeyChecks/2 {
		c.old, c.cur = c.cur, make(map[[32]byte]Algorithm, 64)
	}
	c.cur[k] = a
}

// len is the number of entries (for tests).
func (c *keyCheckCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}
