package webauthnkit_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/webauthnkit/webauthnkit"
)

// recordedVector is the part of a testdata vector the fuzz seeds need.
type recordedVector struct {
	Kind      string          `json:"kind"`
	RPID      string          `json:"rpId"`
	Origin    string          `json:"origin"`
	Challenge string          `json:"challenge"`
	Response  json.RawMessage `json:"response"`
}

// FuzzFinishRegistration feeds mutated registration responses, seeded with
// every recorded attestation format (packed, tpm, android-key, fido-u2f,
// apple, none), to FinishRegistration. Whatever the input, the answer is a
// *webauthnkit.Error with a client-error code: never a panic, never an
// internal error, and nothing stored for a response that fails.
func FuzzFinishRegistration(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var v recordedVector
		if json.Unmarshal(raw, &v) != nil || v.Kind != "registration" {
			continue
		}
		f.Add(v.RPID, v.Origin, v.Challenge, []byte(v.Response))
	}
	f.Fuzz(func(t *testing.T, rpID, origin, challenge string, body []byte) {
		c, err := base64.RawURLEncoding.DecodeString(challenge)
		if err != nil || len(c) < 16 {
			return
		}
		store := newMemStore(t)
		defer store.Close()
		rp, err := webauthnkit.New(webauthnkit.Config{
			RPID: rpID, Origins: []string{origin}, Credentials: store, Ceremonies: store,
			NewChallenge: func() ([]byte, error) { return c, nil },
		})
		if err != nil {
			return // the fuzzer mutated the configuration into an invalid one
		}
		begin, err := rp.BeginRegistration(ctx, webauthnkit.RegistrationRequest{Username: "fuzz"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = rp.FinishRegistration(ctx, begin.CeremonyID, body)
		if err == nil {
			return
		}
		switch code := webauthnkit.ErrorCode(err); code {
		case webauthnkit.CodeInternal, webauthnkit.CodeStoreUnavailable:
			t.Fatalf("client input gave %s: %v", code, err)
		}
		if _, err := store.GetUserByName(ctx, "fuzz"); err == nil {
			t.Fatal("a failed registration stored the account")
		}
	})
}

// FuzzFinishLogin does the same for login responses, seeded with the
// recorded ES256, RS256 and EdDSA assertions and a fresh valid one.
func FuzzFinishLogin(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var v recordedVector
		if json.Unmarshal(raw, &v) != nil || v.Kind != "login" {
			continue
		}
		f.Add([]byte(v.Response))
	}
	fx := newLoginFixture(f)
	f.Add(fx.body)
	f.Fuzz(func(t *testing.T, body []byte) {
		begin, err := fx.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = fx.rp.FinishLogin(ctx, begin.CeremonyID, body)
		if err == nil {
			return
		}
		switch code := webauthnkit.ErrorCode(err); code {
		case webauthnkit.CodeInternal, webauthnkit.CodeStoreUnavailable:
			t.Fatalf("client input gave %s: %v", code, err)
		}
	})
}
