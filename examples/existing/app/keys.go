package app

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// keys are the app's secrets, all derived from one master key kept outside
// the database: a database dump alone opens no session and no TOTP secret.
type keys struct {
	session  []byte // HMAC key of the app's session cookie
	webauthn []byte // webauthnkit.Config.Secret (fake allow lists for unknown users)
	totp     []byte // seals the TOTP secrets in the users table
}

func deriveKeys(master []byte) (keys, error) {
	derive := func(purpose string) ([]byte, error) {
		return hkdf.Key(sha256.New, master, nil, "examples/existing "+purpose, 32)
	}
	var k keys
	var err error
	if k.session, err = derive("session"); err != nil {
		return k, err
	}
	if k.webauthn, err = derive("webauthn"); err != nil {
		return k, err
	}
	k.totp, err = derive("totp")
	return k, err
}

// loadMasterKey reads the master key from path (64 hex characters), creating
// it with mode 0600 if it does not exist. A file other users may read is
// refused: whoever reads it can forge sessions.
func loadMasterKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		_, err = f.WriteString(hex.EncodeToString(key) + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return key, err
	}
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("app: %s may be read by other users (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("app: %s must hold at least 32 bytes as hex", path)
	}
	return key, nil
}
