package sealstore_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/sealstore"
)

func TestKeyringFileCreatedOnce(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub", "passkeys.db.keyring")
	kr, created, err := sealstore.LoadOrCreateKeyringFile(ctx, path, "k1", nil)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "k1", kr.Primary())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
	again, created, err := sealstore.LoadOrCreateKeyringFile(ctx, path, "other", nil)
	require.NoError(t, err)
	require.False(t, created, "a second start reads the file")
	require.Equal(t, kr.IDs(), again.IDs())

	// Values sealed under the first keyring open under the reloaded one.
	s1, inner := sealedMem(t, kr)
	u := storetestUser()
	require.NoError(t, s1.CreateUser(ctx, u, nil))
	s2, err := sealstore.New(inner, sealstore.Config{Keyring: again})
	require.NoError(t, err)
	got, err := s2.GetUserByName(ctx, u.Name)
	require.NoError(t, err)
	require.Equal(t, u.DisplayName, got.DisplayName)

	if runtime.GOOS != "windows" {
		require.NoError(t, os.Chmod(path, 0o644))
		_, err = sealstore.LoadKeyringFile(ctx, path, nil)
		require.ErrorContains(t, err, "chmod 600")
	}
}

func TestKeyringFromEnvAndRotation(t *testing.T) {
	ctx := t.Context()
	f, err := sealstore.NewKeyringFile(ctx, "2026-01", nil)
	require.NoError(t, err)
	require.NoError(t, f.AddPrimary(ctx, "2026-12", nil))
	require.Error(t, f.AddPrimary(ctx, "2026-12", nil), "duplicate ID")
	data, err := json.Marshal(f)
	require.NoError(t, err)
	t.Setenv("TEST_SEALSTORE_KEYS", string(data))
	kr, err := sealstore.KeyringFromEnv(ctx, "TEST_SEALSTORE_KEYS", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"2026-12", "2026-01"}, kr.IDs())
	require.Error(t, f.Retire("2026-12"), "the primary cannot be retired")
	require.NoError(t, f.Retire("2026-01"))
	require.Len(t, f.Keys, 1)

	_, err = sealstore.KeyringFromEnv(ctx, "TEST_SEALSTORE_UNSET", nil)
	require.ErrorContains(t, err, "TEST_SEALSTORE_UNSET")
	t.Setenv("TEST_SEALSTORE_BAD", `{"index_key":"AAAA","keys":[{"id":"k","secret":"c2VjcmV0"}]}`)
	_, err = sealstore.KeyringFromEnv(ctx, "TEST_SEALSTORE_BAD", nil)
	require.ErrorContains(t, err, "index key has 3 bytes")
	require.NotContains(t, err.Error(), "c2VjcmV0")
}

// TestEnvelopeKMS: with a KMS the file holds only wrapped data keys; it
// opens with the KMS, not without it, not with another master key.
func TestEnvelopeKMS(t *testing.T) {
	ctx := t.Context()
	kms, err := sealstore.NewLocalKMS(sealstore.RandomSecret())
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "keyring.json")
	kr, created, err := sealstore.LoadOrCreateKeyringFile(ctx, path, "k1", kms)
	require.NoError(t, err)
	require.True(t, created)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var f sealstore.KeyringFile
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Empty(t, f.IndexKey, "a clear index key in an envelope file")
	require.Empty(t, f.Keys[0].Secret, "a clear data key in an envelope file")
	require.NotEmpty(t, f.Keys[0].Wrapped)

	again, err := sealstore.LoadKeyringFile(ctx, path, kms)
	require.NoError(t, err)
	require.Equal(t, kr.IDs(), again.IDs())
	_, err = sealstore.LoadKeyringFile(ctx, path, nil)
	require.ErrorContains(t, err, "no KMS")
	other, err := sealstore.NewLocalKMS(sealstore.RandomSecret())
	require.NoError(t, err)
	_, err = sealstore.LoadKeyringFile(ctx, path, other)
	require.ErrorContains(t, err, "does not open")

	require.NoError(t, f.AddPrimary(ctx, "k2", kms))
	require.Empty(t, f.Keys[0].Secret)
	rotated, err := sealstore.OpenKeyring(ctx, f, kms)
	require.NoError(t, err)
	require.Equal(t, []string{"k2", "k1"}, rotated.IDs())
}

func TestNewKeyringRefusesBadKeys(t *testing.T) {
	idx := sealstore.RandomSecret()
	for name, keys := range map[string][]sealstore.Key{
		"none":         nil,
		"short secret": {{ID: "k", Secret: make([]byte, 16)}},
		"empty ID":     {{ID: "", Secret: sealstore.RandomSecret()}},
		"bad ID":       {{ID: "a b", Secret: sealstore.RandomSecret()}},
		"duplicate ID": {sealstore.NewKey("k"), sealstore.NewKey("k")},
		"index reused": {{ID: "k", Secret: idx}},
		"long ID":      {{ID: "0123456789012345678901234567890123", Secret: sealstore.RandomSecret()}},
	} {
		_, err := sealstore.NewKeyring(idx, keys...)
		require.Error(t, err, name)
	}
	_, err := sealstore.NewKeyring(make([]byte, 31), sealstore.NewKey("k"))
	require.Error(t, err, "short index key")
}
