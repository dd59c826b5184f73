package app_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
)

func TestWeakSessionSecretRefused(t *testing.T) {
	for name, secret := range map[string]string{
		"32 identical":       strings.Repeat("k", 32),
		"two letters":        strings.Repeat("ab", 20),
		"a word repeated":    strings.Repeat("password", 4),
		"short":              "0123456789abcdef",
		"digits, repetitive": strings.Repeat("1234", 10),
	} {
		if _, _, err := app.New(app.Config{SessionSecret: []byte(secret)}); err == nil {
			t.Errorf("%s: %q was accepted", name, secret)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error repeats the secret: %v", name, err)
		}
	}
	for _, secret := range []string{
		"3f9c1a7be20d64c85e1f0a9b7d2c4e61",                                 // 32 random hex characters
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", // openssl rand -hex 32
		"q8Zr2LxWm4Tn7Vb1Pc5Hd9Jf3Kg6Ys0A",                                 // 32 random base62 characters
	} {
		_, c, err := app.New(app.Config{SessionSecret: []byte(secret)})
		if err != nil {
			t.Errorf("%q refused: %v", secret, err)
			continue
		}
		c.Close()
	}
}

func TestSecretFileReadableByOthersRefused(t *testing.T) {
	dir := t.TempDir()
	good := bytes.Repeat([]byte("ab"), 32) // hex of 32 bytes; the file's content is not checked for strength
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		path := filepath.Join(dir, "secret-"+mode.String())
		if err := os.WriteFile(path, append(good, '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, _, err := app.New(app.Config{SessionSecretFile: path})
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("session secret file with mode %v: %v, want a refusal naming chmod 600", mode, err)
		}
		_, _, err = app.New(app.Config{SQLitePath: filepath.Join(dir, "p.db"), WebauthnSecretFile: path})
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("webauthnkit secret file with mode %v: %v, want a refusal naming chmod 600", mode, err)
		}
	}
	path := filepath.Join(dir, "private")
	if err := os.WriteFile(path, append(good, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	_, c, err := app.New(app.Config{SessionSecretFile: path})
	if err != nil {
		t.Fatalf("mode 0600: %v", err)
	}
	c.Close()
}

// A shared store needs a stable webauthnkit secret: without one the app
// refuses to start; with a file it is created 0600 and reused.
func TestWebauthnSecretRequiredWithSharedStores(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "passkeys.db")
	_, _, err := app.New(app.Config{SQLitePath: db, SessionSecretFile: filepath.Join(dir, "s")})
	if err == nil || !strings.Contains(err.Error(), "WebauthnSecret") {
		t.Fatalf("SQLite without a webauthnkit secret: %v, want a refusal", err)
	}
	for _, cfg := range []app.Config{{PostgresDSN: "postgres://nowhere.invalid/x"}, {MySQLDSN: "root@tcp(nowhere.invalid)/x"}, {RedisAddr: "nowhere.invalid:6379"}} {
		if _, _, err := app.New(cfg); err == nil || !strings.Contains(err.Error(), "WebauthnSecret") {
			t.Errorf("%+v without a webauthnkit secret: %v, want a refusal before connecting", cfg, err)
		}
	}
	ws := filepath.Join(dir, "webauthn-secret")
	_, c, err := app.New(app.Config{SQLitePath: db, SessionSecretFile: filepath.Join(dir, "s"), WebauthnSecretFile: ws})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fi, err := os.Stat(ws)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("webauthnkit secret file mode %v, want 0600", fi.Mode().Perm())
	}
	first, _ := os.ReadFile(ws)
	_, c, err = app.New(app.Config{SQLitePath: db, SessionSecretFile: filepath.Join(dir, "s"), WebauthnSecretFile: ws})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if again, _ := os.ReadFile(ws); !bytes.Equal(first, again) {
		t.Error("the webauthnkit secret changed between starts")
	}
}
