package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Weak-secret rule for secrets typed by people (PASSKEYS_SESSION_SECRET):
// besides MinSecretLength, the value must hold at least minDistinctBytes
// different bytes and an estimated minSecretBits of entropy (its length
// times the Shannon entropy of its byte frequencies). This is a floor
// against obvious mistakes (32 identical characters, "abab...", a word
// repeated), not proof of randomness. A 32-character random hex string
// (128 bits) estimates at about 110 bits with 14 distinct characters (the
// worst of 200,000 tried: 93 bits, 9 distinct), so the bounds leave it a
// wide margin; "aaaa...a" estimates at 0 bits, "abab...ab" at 32 with 2
// distinct, "password" repeated at 88 bits but only 7 distinct. Generate
// secrets with `openssl rand -hex 32`.
const (
	minDistinctBytes = 8
	minSecretBits    = 80
)

// checkSecretStrength refuses a weak secret value (see the rule above).
func checkSecretStrength(what string, secret []byte) error {
	if len(secret) < MinSecretLength {
		return fmt.Errorf("app: the %s must be at least %d bytes (got %d)", what, MinSecretLength, len(secret))
	}
	var counts [256]int
	for _, b := range secret {
		counts[b]++
	}
	distinct := 0
	bits := 0.0
	for _, c := range counts {
		if c == 0 {
			continue
		}
		distinct++
		p := float64(c) / float64(len(secret))
		bits -= float64(c) * math.Log2(p)
	}
	if distinct < minDistinctBytes || bits < minSecretBits {
		return fmt.Errorf("app: the %s looks weak (%d distinct characters, about %.0f bits; want at least %d and %d): use a random one, e.g. `openssl rand -hex 32`", what, distinct, bits, minDistinctBytes, minSecretBits)
	}
	return nil
}

// loadSecret returns a secret: value if set (checked for strength), else
// the content of file (created with 32 random bytes, hex, mode 0600, when
// missing; refused when others may read it), else 32 random bytes for this
// run only (logged, since restarting then changes it).
func loadSecret(what string, value []byte, file string, log *slog.Logger) ([]byte, error) {
	if len(value) > 0 {
		if err := checkSecretStrength(what, value); err != nil {
			return nil, err
		}
		return value, nil
	}
	if file == "" {
		log.Warn("passkeys: no " + what + " configured: using a random one for this run")
		return randomSecret()
	}
	return secretFromFile(what, file, log)
}

func randomSecret() ([]byte, error) {
	b := make([]byte, MinSecretLength)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("app: reading random bytes: %w", err)
	}
	return b, nil
}

// secretFromFile reads the hex secret in path, or creates the file.
func secretFromFile(what, path string, log *slog.Logger) ([]byte, error) {
	f, err := os.Open(path)
	switch {
	case err == nil:
		defer f.Close()
		// Checked on the open file, so the file checked is the file read.
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("app: reading the %s: %w", what, err)
		}
		if err := checkSecretFileMode(path, fi.Mode()); err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(f, 4096))
		if err != nil {
			return nil, fmt.Errorf("app: reading the %s: %w", what, err)
		}
		secret, err := hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(secret) < MinSecretLength {
			return nil, fmt.Errorf("app: %s must hold at least %d bytes in hex (delete it to make a new one)", path, MinSecretLength)
		}
		return secret, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("app: reading the %s: %w", what, err)
	}
	secret, err := randomSecret()
	if err != nil {
		return nil, err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("app: creating the %s: %w", what, err)
		}
	}
	// Write a temporary file, then link it into place: the secret file
	// never exists half-written, and if another process created it
	// meanwhile, its secret wins. CreateTemp makes it 0600.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("app: creating the %s: %w", what, err)
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
		return nil, fmt.Errorf("app: writing the %s: %w", what, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return secretFromFile(what, path, log)
		}
		return nil, fmt.Errorf("app: creating the %s: %w", what, err)
	}
	log.Info("passkeys: created a new "+what, "file", path)
	return secret, nil
}

// checkSecretFileMode refuses a secret file that is not a regular file or
// that its group or others may read or write: a secret others can read is
// no secret. (Windows has no such mode bits; there it is not checked.)
func checkSecretFileMode(path string, mode fs.FileMode) error {
	if !mode.IsRegular() {
		return fmt.Errorf("app: %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && mode.Perm()&0o077 != 0 {
		return fmt.Errorf("app: %s is accessible to other users (mode %04o): run chmod 600 %s", path, mode.Perm(), path)
	}
	return nil
}
