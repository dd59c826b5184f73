package webauthnkit

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func es256COSE(t *testing.T) []byte {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	pt := k.PublicKey().Bytes() // 0x04 || x || y
	b, err := webauthncbor.Marshal(map[int]any{1: coseKtyEC2, 3: int(AlgES256), -1: coseCrvP256, -2: pt[1:33], -3: pt[33:]})
	require.NoError(t, err)
	return b
}

func keyCacheRP() *RelyingParty {
	return &RelyingParty{cfg: Config{Algorithms: DefaultAlgorithms()}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// A key that passed is remembered for its credential ID and exact bytes
// only: the same ID with other key bytes (a key replaced in the store by
// a hostile one) is checked again and refused; refusals are not cached.
func TestStoredKeyCheckCache(t *testing.T) {
	rp := keyCacheRP()
	good := es256COSE(t)
	c := &Credential{ID: []byte("cred-1"), PublicKey: good}
	require.NoError(t, rp.checkStoredKey(context.Background(), c))
	require.Equal(t, 1, rp.keyChecks.len())
	require.NoError(t, rp.checkStoredKey(context.Background(), c))
	assert.Equal(t, 1, rp.keyChecks.len(), "a hit adds nothing")

	// Same ID, key off the curve (last byte of y changed).
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	for range 2 {
		assert.ErrorIs(t, rp.checkStoredKey(context.Background(), &Credential{ID: c.ID, PublicKey: bad}), ErrKeyNotAllowed)
	}
	// Same key under another ID: checked (and passes) on its own.
	require.NoError(t, rp.checkStoredKey(context.Background(), &Credential{ID: []byte("cred-2"), PublicKey: good}))
	assert.Equal(t, 2, rp.keyChecks.len(), "refusals are not cached")
	// The ID and key are length-separated in the cache key.
	assert.NotEqual(t, keyCheckKey([]byte("ab"), []byte("c")), keyCheckKey([]byte("a"), []byte("bc")))

	// Another RelyingParty with other algorithms has its own cache.
	other := keyCacheRP()
	other.cfg.Algorithms = []Algorithm{AlgEdDSA}
	assert.ErrorIs(t, other.checkStoredKey(context.Background(), c), ErrKeyNotAllowed)
}

// The cache stays bounded, and an entry in use survives rotations.
func TestStoredKeyCheckCacheBounded(t *testing.T) {
	var c keyCheckCache
	hot := keyCheckKey([]byte("hot"), nil)
	c.add(hot, AlgES256)
	for i := range 3 * maxKeyChecks {
		c.add(keyCheckKey(fmt.Appendf(nil, "cold-%d", i), nil), AlgES256)
		if i%(maxKeyChecks/4) == 0 {
			_, ok := c.get(hot)
			require.True(t, ok, "hot entry lost after %d others", i)
		}
		require.LessOrEqual(t, c.len(), maxKeyChecks)
	}
	_, ok := c.get(keyCheckKey([]byte("cold-0"), nil))
	assert.False(t, ok, "the oldest unused entry is gone")
}

func TestStoredKeyCheckCacheConcurrent(t *testing.T) {
	rp := keyCacheRP()
	keys := make([][]byte, 8)
	for i := range keys {
		keys[i] = es256COSE(t)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := keys[(g+i)%len(keys)]
				assert.NoError(t, rp.checkStoredKey(context.Background(), &Credential{ID: k[len(k)-8:], PublicKey: k}))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, len(keys), rp.keyChecks.len())
}

// The one-byte fast path agrees with the CBOR decoder.
func TestCOSESmallUint(t *testing.T) {
	for _, tc := range []struct {
		raw  []byte
		want int64
		ok   bool
	}{
		{[]byte{0x01}, 1, true},
		{[]byte{0x06}, 6, true},
		{[]byte{0x06}, 1, false},
		{[]byte{0x18, 0x01}, 1, true}, // non-preferred encoding: decoder
		{[]byte{0x20}, -1, true},      // negative: decoder
		{[]byte{0x20}, 1, false},
		{[]byte{0x41, 0x01}, 1, false}, // a byte string
		{[]byte{0x18}, 24, false},      // truncated
		{nil, 0, false},
	} {
		assert.Equal(t, tc.ok, coseSmallUint(tc.raw, tc.want), "% x", tc.raw)
	}
}
