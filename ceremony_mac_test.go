package webauthnkit_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Whoever can write to the ChallengeStore cannot forge, alter or move a
// ceremony record (issue 11, item 8): the record is refused as if absent, a
// warning is logged, and no passkey is added.
func TestCeremonyRecordIntegrity(t *testing.T) {
	e := newEnv(t)
	alice, _ := e.signUp(t, "alice")
	freshID := func() string {
		return base64.RawURLEncoding.EncodeToString([]byte(rand.Text()))
	}
	// begin starts a genuine sign-up for the attacker and takes its record
	// out of the store, as a store writer can.
	begin := func(name string) (*webauthnkit.Begin, []byte, []byte) {
		b, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
		require.NoError(t, err)
		record, err := e.store.TakeCeremony(ctx, b.CeremonyID)
		require.NoError(t, err)
		body, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(b.Options)
		require.NoError(t, err)
		return b, record, body
	}
	finish := func(id string, body []byte) error {
		_, err := e.rp.FinishRegistration(ctx, id, body)
		return err
	}
	aliceKeys := func() int {
		creds, err := e.rp.ListCredentials(ctx, alice.User.Handle)
		require.NoError(t, err)
		return len(creds)
	}

	t.Run("forged record adding a passkey to alice", func(t *testing.T) {
		b, record, body := begin("mallory")
		// Rewrite the state (its first JSON value) to name alice's account.
		var st map[string]any
		require.NoError(t, json.NewDecoder(bytes.NewReader(record)).Decode(&st))
		st["u"] = base64.StdEncoding.EncodeToString(alice.User.Handle)
		st["s"].(map[string]any)["user_id"] = st["u"]
		delete(st, "nu")
		delete(st, "n")
		delete(st, "d")
		forged, err := json.Marshal(st)
		require.NoError(t, err)
		id := freshID()
		require.NoError(t, e.store.PutCeremony(ctx, id, forged, b.ExpiresAt))
		before := e.logs.String()
		require.ErrorIs(t, finish(id, body), webauthnkit.ErrCeremonyNotFound)
		assert.Equal(t, 1, aliceKeys(), "no passkey added to alice's account")
		logged := strings.TrimPrefix(e.logs.String(), before)
		assert.Contains(t, logged, "integrity check")
		assert.NotContains(t, logged, st["s"].(map[string]any)["challenge"].(string), "no record bytes in the log")
	})

	t.Run("flipped byte", func(t *testing.T) {
		b, record, body := begin("mallory2")
		for _, at := range []int{0, len(record) / 2, len(record) - 1} {
			bad := bytes.Clone(record)
			bad[at] ^= 0x01
			require.NoError(t, e.store.PutCeremony(ctx, b.CeremonyID, bad, b.ExpiresAt))
			assert.ErrorIs(t, finish(b.CeremonyID, body), webauthnkit.ErrCeremonyNotFound, "byte %d of %d", at, len(record))
		}
		require.NoError(t, e.store.PutCeremony(ctx, b.CeremonyID, record[:len(record)/2], b.ExpiresAt))
		assert.ErrorIs(t, finish(b.CeremonyID, body), webauthnkit.ErrCeremonyNotFound, "truncated")
		require.NoError(t, e.store.PutCeremony(ctx, b.CeremonyID, nil, b.ExpiresAt))
		assert.ErrorIs(t, finish(b.CeremonyID, body), webauthnkit.ErrCeremonyNotFound, "empty")
	})

	t.Run("record moved under another ID", func(t *testing.T) {
		b, record, body := begin("mallory3")
		id := freshID()
		require.NoError(t, e.store.PutCeremony(ctx, id, record, b.ExpiresAt))
		assert.ErrorIs(t, finish(id, body), webauthnkit.ErrCeremonyNotFound)
	})

	t.Run("record from a server with another secret", func(t *testing.T) {
		other := newEnv(t, func(c *webauthnkit.Config) { c.Credentials, c.Ceremonies = e.store, e.store })
		b, err := other.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "mallory4"})
		require.NoError(t, err)
		body, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(b.Options)
		require.NoError(t, err)
		assert.ErrorIs(t, finish(b.CeremonyID, body), webauthnkit.ErrCeremonyNotFound)
	})

	t.Run("genuine record passes", func(t *testing.T) {
		b, record, body := begin("carol")
		require.NoError(t, e.store.PutCeremony(ctx, b.CeremonyID, record, b.ExpiresAt))
		require.NoError(t, finish(b.CeremonyID, body))
	})
}
