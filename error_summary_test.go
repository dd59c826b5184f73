package webauthnkit_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// An invalid_response's Error() names its cause (go-webauthn's error type
// and description) for logs, and nothing of the response.
func TestInvalidResponseErrorNamesCause(t *testing.T) {
	e := newEnv(t)
	_, auth := e.signUp(t, "alice")
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{Username: "alice"})
	require.NoError(t, err)
	body, err := auth.Login(begin.Options, webauthntest.BadSignature())
	require.NoError(t, err)
	_, err = e.rp.FinishLogin(ctx, begin.CeremonyID, body)
	require.ErrorIs(t, err, webauthnkit.ErrInvalidResponse)
	text := err.Error()
	t.Log(text)
	assert.True(t, strings.HasPrefix(text, "webauthnkit: invalid_response: the authenticator response could not be verified: "), text)
	var pe *protocol.Error
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, text, pe.Type, "the go-webauthn error type is in the text")
	assert.Contains(t, strings.ToLower(text), "signature", "the cause says what failed")
	assertNoBlobsOf(t, text, body, begin.Options)
}

// go-webauthn's DevInfo echoes the challenge ("Expected b Value: ...") and
// client input: it never reaches Error(), and encoded values in Details are
// replaced. Random values in every encoding, many times.
func TestInvalidResponseErrorScrubsEncodedValues(t *testing.T) {
	for i := 0; i < 200; i++ {
		secret := make([]byte, 16+i%48)
		_, _ = rand.Read(secret)
		encs := encodings(secret)
		enc := encs[i%len(encs)]
		cause := protocol.ErrVerification.
			WithDetails("Error validating challenge " + enc + " (" + enc[:len(enc)/2] + ")").
			WithInfo("Expected b Value: " + enc + "\nReceived b: " + enc)
		err := &webauthnkit.Error{Code: webauthnkit.CodeInvalidResponse, Message: "the authenticator response could not be verified", Err: cause}
		text := err.Error()
		assert.Contains(t, text, "verification_error: Error validating challenge", "type and description stay")
		for _, e := range encs {
			require.NotContains(t, text, e)
			if len(e) >= 32 {
				require.NotContains(t, text, e[:16], "no prefix of an encoded value")
			}
		}
		require.NotContains(t, text, "Expected b Value", "DevInfo never")
	}
}

// Hostile Details (control characters, non-ASCII, huge) stay bounded and
// printable; other cause types give only their Go type.
func TestInvalidResponseErrorBounded(t *testing.T) {
	cause := &protocol.Error{Type: "x\n<script>" + strings.Repeat("t", 500), Details: "a\x00b\u202ec " + strings.Repeat("word ", 10000)}
	text := (&webauthnkit.Error{Code: webauthnkit.CodeInvalidResponse, Message: "m", Err: cause}).Error()
	assert.Less(t, len(text), 300)
	for _, r := range text {
		assert.True(t, r == '…' || r >= 0x20 && r < 0x7f, "%q in %q", r, text)
	}
	plain := errors.New("client said " + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123")))
	text = (&webauthnkit.Error{Code: webauthnkit.CodeInvalidResponse, Message: "m", Err: plain}).Error()
	assert.Equal(t, "webauthnkit: invalid_response: m: cause *errors.errorString", text)
	assert.Equal(t, "webauthnkit: invalid_response: m", (&webauthnkit.Error{Code: webauthnkit.CodeInvalidResponse, Message: "m"}).Error())
}

// encodings returns b as the encodings a log could hold it in.
func encodings(b []byte) []string {
	return []string{
		base64.RawURLEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		hex.EncodeToString(b),
	}
}

// assertNoBlobsOf checks that no base64url field of the JSON documents
// (the response body, the options with the challenge), nor any 16-character
// piece of one, appears in text.
func assertNoBlobsOf(t *testing.T, text string, docs ...[]byte) {
	t.Helper()
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			if len(v) < 16 {
				return
			}
			if raw, err := base64.RawURLEncoding.DecodeString(v); err == nil {
				for _, e := range encodings(raw) {
					for i := 0; i+16 <= len(e); i += 8 {
						require.NotContains(t, text, e[i:i+16])
					}
				}
			}
		}
	}
	for _, d := range docs {
		var v any
		require.NoError(t, json.Unmarshal(d, &v))
		walk(v)
	}
}

// FuzzInvalidResponseErrorText: whatever go-webauthn's texts hold, Error()
// is short printable text, and a secret written into Details (anywhere,
// any encoding) or DevInfo never appears in it.
func FuzzInvalidResponseErrorText(f *testing.F) {
	f.Add("verification_error", "Error validating challenge", "Expected b Value: x", []byte("0123456789abcdef0123"), 0)
	f.Add("invalid_signature", strings.Repeat("word ", 40), "", []byte("\x00\xff\x10secret-bytes-here"), 150)
	f.Add("", "\u202e\x00", "\n", []byte("abcdefghijklmnopqrstuvwxyz"), 3)
	f.Fuzz(func(t *testing.T, typ, details, devInfo string, secret []byte, at int) {
		if len(secret) < 12 {
			return
		}
		for _, enc := range encodings(secret) {
			if at < 0 || at > len(details) {
				at = len(details)
			}
			d := details[:at] + " " + enc + " " + details[at:]
			cause := &protocol.Error{Type: typ, Details: d, DevInfo: devInfo + enc}
			text := (&webauthnkit.Error{Code: webauthnkit.CodeInvalidResponse, Message: "m", Err: cause}).Error()
			if strings.Contains(text, enc) {
				t.Fatalf("%q holds the secret %q", text, enc)
			}
			if len(text) > 40+maxDetails+64 {
				t.Fatalf("%d bytes: %q", len(text), text)
			}
			for _, r := range text {
				if r != '…' && (r < 0x20 || r >= 0x7f) {
					t.Fatalf("%q in %q", r, text)
				}
			}
		}
	})
}

// maxDetails mirrors the bound of go-webauthn's Details in Error().
const maxDetails = 160
