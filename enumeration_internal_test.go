package webauthnkit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fakes are HMAC-SHA256 under Config.Secret with their labels, the
// same bytes as before the keyed states were pooled: a client shown a fake
// allow list sees the same one after an upgrade.
func TestFakesAreHMACUnderTheSecret(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	keys, err := newCeremonyKeys(secret)
	require.NoError(t, err)
	rp := &RelyingParty{cfg: Config{Secret: secret}, ceremonyKeys: keys}
	want := func(parts ...string) []byte {
		m := hmac.New(sha256.New, secret)
		for _, p := range parts {
			m.Write([]byte(p))
		}
		return m.Sum(nil)
	}
	for range 2 { // a pooled state is reused correctly
		assert.Equal(t, want("webauthnkit fake user\x00", "alice"), rp.fakeUserHandle("alice"))
		assert.Equal(t, want("webauthnkit fake credential tag\x00", "body")[:fakeIDTagSize], rp.fakeIDTag([]byte("body")))
		list := rp.fakeAllowList("alice")
		head := want("webauthnkit fake credential\x00", "alice", "\x00\x00")
		lengths := [...]int{16, 20, 32, 64}
		body := append(want("webauthnkit fake credential\x00", "alice", "\x00\x01"), want("webauthnkit fake credential\x00", "alice", "\x00\x02")...)[:lengths[head[1]%4]-fakeIDTagSize]
		assert.Equal(t, append(body, want("webauthnkit fake credential tag\x00", string(body))[:fakeIDTagSize]...), []byte(list[0].CredentialID))
		assert.True(t, rp.isFakeCredentialID(list[0].CredentialID))
	}
}
