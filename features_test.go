package webauthnkit_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// sharedStore is memstore declaring itself shared by several processes, as
// sqlstore and redisstore do.
type sharedStore struct{ *memstore.Store }

func (sharedStore) Features() webauthnkit.Features {
	return webauthnkit.Features{CredentialWithUser: true}
}

// claimsJoinStore declares CredentialWithUser but has only the methods of
// CredentialStore.
type claimsJoinStore struct{ webauthnkit.CredentialStore }

func (claimsJoinStore) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true}
}

// Issue 11 item 7: with a store several processes may share, a per-process
// random secret would make their answers for unknown names differ, so New
// requires Config.Secret.
func TestNewRequiresSecretWithSharedStore(t *testing.T) {
	local := newMemStore(t)
	t.Cleanup(func() { local.Close() })
	shared := sharedStore{local}
	secret := []byte("0123456789abcdef0123456789abcdef")
	for _, tc := range []struct {
		name  string
		creds webauthnkit.CredentialStore
		cers  webauthnkit.ChallengeStore
	}{
		{"shared credentials", shared, local},
		{"shared ceremonies", local, shared},
		{"both shared", shared, shared},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: tc.creds, Ceremonies: tc.cers}
			_, err := webauthnkit.New(cfg)
			var ce *webauthnkit.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "Secret", ce.Field)
			for _, hint := range []string{"32 random bytes", "secret store", "every instance"} {
				assert.Contains(t, err.Error(), hint, "the error says how to make one")
			}

			cfg.Secret = secret
			rp, err := webauthnkit.New(cfg)
			require.NoError(t, err)
			assert.Equal(t, secret, webauthnkit.EffectiveConfig(rp).Secret)

			cfg.Secret = secret[:31]
			_, err = webauthnkit.New(cfg)
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "Secret", ce.Field)
		})
	}
	t.Run("process-local stores", func(t *testing.T) {
		rp, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: local, Ceremonies: local})
		require.NoError(t, err)
		assert.Len(t, webauthnkit.EffectiveConfig(rp).Secret, 32, "a random secret is made")
	})
}

// A store declaring CredentialWithUser must implement CredentialUserGetter:
// New checks the declaration once, so FinishLogin never meets a store that
// lied.
func TestNewChecksCredentialWithUserDeclaration(t *testing.T) {
	store := newMemStore(t)
	t.Cleanup(func() { store.Close() })
	_, err := webauthnkit.New(webauthnkit.Config{RPID: testRPID, Origins: []string{testOrigin}, Credentials: claimsJoinStore{store}, Ceremonies: store})
	var ce *webauthnkit.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Credentials", ce.Field)
	assert.True(t, strings.Contains(err.Error(), "CredentialUserGetter"), err.Error())
}
