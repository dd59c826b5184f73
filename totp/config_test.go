package totp_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/totp"
)

func TestConfigValidation(t *testing.T) {
	ms := newMemStore(t)
	t.Cleanup(func() { ms.Close() })
	valid := func() totp.Config {
		return totp.Config{Issuer: "Example", Keys: []totp.Key{testKey(1)}, Replay: ms}
	}
	_, err := totp.New(valid())
	require.NoError(t, err)

	for _, tc := range []struct {
		field string
		edit  func(*totp.Config)
	}{
		{"Issuer", func(c *totp.Config) { c.Issuer = "" }},
		{"Issuer", func(c *totp.Config) { c.Issuer = "a:b" }},
		{"Keys", func(c *totp.Config) { c.Keys = nil }},
		{"Keys", func(c *totp.Config) { c.Keys = []totp.Key{{ID: 1, Secret: make([]byte, 31)}} }},
		{"Keys", func(c *totp.Config) { c.Keys = []totp.Key{testKey(1), testKey(1)} }},
		{"Replay", func(c *totp.Config) { c.Replay = nil }},
		{"Period", func(c *totp.Config) { c.Period = 10 * time.Second }},
		{"Period", func(c *totp.Config) { c.Period = 30*time.Second + 1 }},
		{"Digits", func(c *totp.Config) { c.Digits = 7 }},
		{"Algorithm", func(c *totp.Config) { c.Algorithm = otp.AlgorithmMD5 }},
		{"Algorithm", func(c *totp.Config) { c.Algorithm = 42 }},
		{"Skew", func(c *totp.Config) { c.Skew = 3 }},
		{"Skew", func(c *totp.Config) { c.Skew = -1 }},
		{"MaxAttempts", func(c *totp.Config) { c.MaxAttempts = 101 }},
		{"MaxAttempts", func(c *totp.Config) { c.MaxAttempts = -1 }},
		{"AttemptWindow", func(c *totp.Config) { c.AttemptWindow = time.Second }},
		{"PendingTTL", func(c *totp.Config) { c.PendingTTL = time.Second }},
		{"QRSize", func(c *totp.Config) { c.QRSize = 5000 }},
	} {
		cfg := valid()
		tc.edit(&cfg)
		_, err := totp.New(cfg)
		var ce *totp.ConfigError
		require.True(t, errors.As(err, &ce), "%s: %v", tc.field, err)
		require.Equal(t, tc.field, ce.Field)
		require.Contains(t, err.Error(), "totp: invalid Config."+tc.field)
	}
}

func TestConfigKeysNotRetained(t *testing.T) {
	ms := newMemStore(t)
	t.Cleanup(func() { ms.Close() })
	k := testKey(1)
	tp, err := totp.New(totp.Config{Issuer: "Example", Keys: []totp.Key{k}, Replay: ms})
	require.NoError(t, err)
	clear(k.Secret) // the caller wipes its copy: sealing still works
	_, err = tp.Begin(t.Context(), []byte("u"), "a")
	require.NoError(t, err)
}
