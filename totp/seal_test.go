package totp_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/totp"
)

func TestSealedValueFailsClosed(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	user := userID(1)
	sealed, secret := f.enrol(user)
	code := f.code(secret, 0)

	t.Run("tampered", func(t *testing.T) {
		for i := range sealed {
			for _, bit := range []byte{0x01, 0x80} {
				bad := bytes.Clone(sealed)
				bad[i] ^= bit
				require.ErrorIs(t, f.totp.Verify(ctx, bad, user, code), totp.ErrSealedValue, "byte %d", i)
			}
		}
	})
	t.Run("truncated or extended", func(t *testing.T) {
		for n := range len(sealed) {
			require.ErrorIs(t, f.totp.Verify(ctx, sealed[:n], user, code), totp.ErrSealedValue, "length %d", n)
		}
		require.ErrorIs(t, f.totp.Verify(ctx, append(bytes.Clone(sealed), 0), user, code), totp.ErrSealedValue)
		require.ErrorIs(t, f.totp.Verify(ctx, make([]byte, 1<<20), user, code), totp.ErrSealedValue)
	})
	t.Run("moved to another user", func(t *testing.T) {
		require.ErrorIs(t, f.totp.Verify(ctx, sealed, userID(2), code), totp.ErrSealedValue)
		require.ErrorIs(t, f.totp.Verify(ctx, sealed, append(bytes.Clone(user), 0), code), totp.ErrSealedValue)
	})
	t.Run("unknown key ID", func(t *testing.T) {
		other := newFixtureOn(t, f.clock, f.store, func(c *totp.Config) { c.Keys = []totp.Key{testKey(2)} })
		require.ErrorIs(t, other.totp.Verify(ctx, sealed, user, code), totp.ErrSealedValue)
	})
	t.Run("same key ID, other key", func(t *testing.T) {
		k := testKey(1)
		k.Secret[0] ^= 1
		other := newFixtureOn(t, f.clock, f.store, func(c *totp.Config) { c.Keys = []totp.Key{k} })
		require.ErrorIs(t, other.totp.Verify(ctx, sealed, user, code), totp.ErrSealedValue)
	})
	// None of the above spent the user's attempts.
	require.NoError(t, f.totp.Verify(ctx, sealed, user, code))
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t, nil) // Keys: [1]
	ctx := context.Background()
	user := userID(1)
	sealed, secret := f.enrol(user)

	rotated := newFixtureOn(t, f.clock, f.store, func(c *totp.Config) { c.Keys = []totp.Key{testKey(2), testKey(1)} })
	used := f.code(secret, 0)
	require.NoError(t, rotated.totp.Verify(ctx, sealed, user, used), "old values open while the old key is listed")
	require.True(t, rotated.totp.NeedsReseal(sealed))
	resealed, err := rotated.totp.Reseal(sealed, user)
	require.NoError(t, err)
	require.False(t, rotated.totp.NeedsReseal(resealed))
	require.ErrorIs(t, rotated.totp.Verify(ctx, resealed, user, used), totp.ErrCodeReused, "a code used before the Reseal stays used")
	_, err = rotated.totp.Reseal(sealed, userID(2))
	require.ErrorIs(t, err, totp.ErrSealedValue)

	onlyNew := newFixtureOn(t, f.clock, f.store, func(c *totp.Config) { c.Keys = []totp.Key{testKey(2)} })
	f.clock.Add(30 * 1e9)
	require.ErrorIs(t, onlyNew.totp.Verify(ctx, sealed, user, f.code(secret, 0)), totp.ErrSealedValue)
	require.NoError(t, onlyNew.totp.Verify(ctx, resealed, user, f.code(secret, 0)))
}
