package webauthnkit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// storeKeys records the keys ceremonies are stored under, as someone
// watching the store sees them.
type storeKeys struct {
	*memstore.Store
	mu   sync.Mutex
	last string
}

func (s *storeKeys) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	s.mu.Lock()
	s.last = id
	s.mu.Unlock()
	return s.Store.PutCeremony(ctx, id, data, exp)
}

// Whoever can read and write the ChallengeStore cannot forge, alter or move
// a ceremony record, nor finish a ceremony found in it (issue 11, item 8):
// the record is refused as if absent, a warning is logged, and no passkey is
// added.
func TestCeremonyRecordIntegrity(t *testing.T) {
	keys := &storeKeys{}
	e := newEnv(t, func(c *webauthnkit.Config) {
		keys.Store = c.Ceremonies.(*memstore.Store)
		c.Ceremonies = keys
	})
	alice, _ := e.signUp(t, "alice")
	// begin starts a genuine sign-up for the attacker, and takes its record
	// out of the store (under the key the attacker sees there).
	begin := func(name string) (b *webauthnkit.Begin, key string, record, body []byte) {
		b, err := e.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: name})
		require.NoError(t, err)
		keys.mu.Lock()
		key = keys.last
		keys.mu.Unlock()
		record, err = e.store.TakeCeremony(ctx, key)
		require.NoError(t, err)
		body, err = webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(b.Options)
		require.NoError(t, err)
		return b, key, record, body
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
		b, key, record, body := begin("mallory")
		// Rewrite the state (the record without its tag) to name alice's
		// account.
		js, err := webauthnkit.CeremonyDataJSON(record[:len(record)-webauthnkit.CeremonyMACSize])
		require.NoError(t, err)
		var st map[string]any
		require.NoError(t, json.Unmarshal(js, &st))
		st["u"] = base64.StdEncoding.EncodeToString(alice.User.Handle)
		st["s"].(map[string]any)["user_id"] = st["u"]
		delete(st, "nu")
		delete(st, "n")
		delete(st, "d")
		js, err = json.Marshal(st)
		require.NoError(t, err)
		forged, err := webauthnkit.CeremonyDataFromJSON(js)
		require.NoError(t, err)
		before := e.logs.String()
		// In the current form, then in the earlier JSON form, with the
		// genuine tag and without one.
		tag := record[len(record)-webauthnkit.CeremonyMACSize:]
		for _, f := range [][]byte{forged, js, append(forged, tag...), append(js, tag...)} {
			require.NoError(t, e.store.PutCeremony(ctx, key, f, b.ExpiresAt))
			require.ErrorIs(t, finish(b.CeremonyID, body), webauthnkit.ErrCeremonyNotFound)
		}
		assert.Equal(t, 1, aliceKeys(), "no passkey added to alice's account")
		logged := strings.TrimPrefix(e.logs.String(), before)
		assert.Contains(t, logged, "integrity check")
		assert.NotContains(t, logged, st["s"].(map[string]any)["challenge"].(string), "no record bytes in the log")
	})

	t.Run("flipped byte", func(t *testing.T) {
		b, key, record, body := begin("mallory2")
		for _, at := range []int{0, len(record) / 2, len(record) - 1} {
			bad := bytes.Clone(record)
			bad[at] ^= 0x01
			require.NoError(t, e.store.PutCeremony(ctx, key, bad, b.ExpiresAt))
			assert.ErrorIs(t, finish(b.CeremonyID, body), webauthnkit.ErrCeremonyNotFound, "byte %d of %d", at, len(record))
		}
		for _, bad := range [][]byte{record[:len(record)/2], nil} {
			require.NoError(t, e.store.PutCeremony(ctx, key, bad, b.ExpiresAt))
			assert.ErrorIs(t, finish(b.CeremonyID, body), webauthnkit.ErrCeremonyNotFound, "%d bytes", len(bad))
		}
	})

	t.Run("record moved under another ceremony", func(t *testing.T) {
		b1, _, record, body := begin("mallory3")
		b2, key2, _, _ := begin("mallory4")
		require.NoError(t, e.store.PutCeremony(ctx, key2, record, b1.ExpiresAt))
		assert.ErrorIs(t, finish(b2.CeremonyID, body), webauthnkit.ErrCeremonyNotFound)
	})

	t.Run("store keys do not reveal ceremony IDs", func(t *testing.T) {
		b, key, record, body := begin("mallory5")
		assert.NotEqual(t, b.CeremonyID, key)
		assert.NotContains(t, string(record), b.CeremonyID)
		require.NoError(t, e.store.PutCeremony(ctx, key, record, b.ExpiresAt))
		// A store reader who finishes with the key it sees gets nothing.
		assert.ErrorIs(t, finish(key, body), webauthnkit.ErrCeremonyNotFound)
	})

	t.Run("record from a server with another secret", func(t *testing.T) {
		other := newEnv(t, func(c *webauthnkit.Config) { c.Credentials, c.Ceremonies = e.store, e.store })
		b, err := other.rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "mallory6"})
		require.NoError(t, err)
		body, err := webauthntest.New(webauthntest.WithOrigin(testOrigin)).Register(b.Options)
		require.NoError(t, err)
		assert.ErrorIs(t, finish(b.CeremonyID, body), webauthnkit.ErrCeremonyNotFound)
	})

	t.Run("genuine record passes", func(t *testing.T) {
		b, key, record, body := begin("carol")
		require.NoError(t, e.store.PutCeremony(ctx, key, record, b.ExpiresAt))
		require.NoError(t, finish(b.CeremonyID, body))
	})
	assert.Equal(t, 1, aliceKeys())
}
