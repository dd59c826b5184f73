package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// loadSecret returns the app secret: Config.SessionSecret, else the content
// of Config.SessionSecretFile (created with 32 random bytes, hex, mode 0600,
// when missing), else 32 random bytes for this run only.
func loadSecret(cfg Config, log *slog.Logger) ([]byte, error) {
	if len(cfg.SessionSecret) > 0 {
		if len(cfg.SessionSecret) < MinSecretLength {
			return nil, fmt.Errorf("app: the session secret must be at least %d bytes (got %d)", MinSecretLength, len(cfg.SessionSecret))
		}
		return cfg.SessionSecret, nil
	}
	if cfg.SessionSecretFile == "" {
		log.Warn("passkeys: no session secret configured: using a random one, so everyone is signed out when the server restarts")
		return randomSecret()
	}
	return secretFromFile(cfg.SessionSecretFile, log)
}

func randomSecret() ([]byte, error) {
	b := make([]byte, MinSecretLength)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("app: reading random bytes: %w", err)
	}
	return b, nil
}

// secretFromFile reads the hex secret in path, or creates the file.
func secretFromFile(path string, log *slog.Logger) ([]byte, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		secret, err := hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(secret) < MinSecretLength {
			return nil, fmt.Errorf("app: %s must hold at least %d bytes in hex (delete it to make a new one, which signs everyone out)", path, MinSecretLength)
		}
		return secret, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("app: reading the session secret: %w", err)
	}
	secret, err := randomSecret()
	if err != nil {
		return nil, err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("app: creating the session secret: %w", err)
		}
	}
	// Write a temporary file, then link it into place: the secret file
	// never exists half-written, and if another process created it
	// meanwhile, its secret wins.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("app: creating the session secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(secret) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("app: writing the session secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return secretFromFile(path, log)
		}
		return nil, fmt.Errorf("app: creating the session secret: %w", err)
	}
	log.Info("passkeys: created a new session secret", "file", path)
	return secret, nil
}
