package totp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/totp"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a handler.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNoSecretsInLogsOrErrors(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		// Without the wall-clock time, a code cannot match by chance.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	f := newFixture(t, func(c *totp.Config) { c.Logger = logger; c.MaxAttempts = 2 })
	ctx := context.Background()
	user := []byte("alice-user-id-4711")

	e, err := f.totp.Begin(ctx, user, "alice@example.com")
	require.NoError(t, err)
	logger.Info("an app logging the enrollment by mistake", "enrollment", e, "text", fmt.Sprintf("%v %+v %#v", e, e, e))
	confirmCode := f.code(e.Secret, 0)
	sealed, err := f.totp.Confirm(ctx, e.Sealed, user, confirmCode)
	require.NoError(t, err)

	var errTexts []string
	record := func(err error) {
		if err != nil {
			errTexts = append(errTexts, err.Error())
		}
	}
	record(f.totp.Verify(ctx, sealed, user, confirmCode)) // reused
	wrong := f.wrongCode(e.Secret)
	record(f.totp.Verify(ctx, sealed, user, wrong))
	record(f.totp.Verify(ctx, sealed, user, wrong))
	goodCode := f.code(e.Secret, 0)
	record(f.totp.Verify(ctx, sealed, user, goodCode)) // too many attempts
	f.clock.Add(15 * time.Minute)
	goodCode = f.code(e.Secret, 0)
	record(f.totp.Verify(ctx, sealed, user, goodCode))
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	record(f.totp.Verify(ctx, tampered, user, goodCode))
	require.Len(t, errTexts, 5)

	out := logs.String()
	for _, want := range []string{"totp: code accepted", "totp: wrong code", "totp: code reused", "totp: too many attempts", "totp: sealed secret refused"} {
		require.Contains(t, out, want)
	}
	secrets := map[string]string{
		"secret (base32)":         e.Secret,
		"secret (lower base32)":   strings.ToLower(e.Secret),
		"otpauth URI":             "otpauth://",
		"confirm code":            confirmCode,
		"good code":               goodCode,
		"wrong code":              wrong,
		"user ID":                 string(user),
		"user ID (hex)":           hex.EncodeToString(user),
		"sealed (base64)":         base64.StdEncoding.EncodeToString(sealed)[:16],
		"pending sealed (base64)": base64.StdEncoding.EncodeToString(e.Sealed)[:16],
	}
	for what, s := range secrets {
		require.NotContains(t, out, s, "the log holds the %s", what)
		for _, text := range errTexts {
			require.NotContains(t, text, s, "an error text holds the %s", what)
		}
	}
}
