package sealstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// KeyringFile is the JSON form of a keyring, for a file or an environment
// variable:
//
//	{
//	  "index_key": "<32 bytes, base64>",
//	  "keys": [
//	    {"id": "2026-12", "secret": "<32 bytes, base64>"},
//	    {"id": "2026-01", "secret": "<32 bytes, base64>"}
//	  ]
//	}
//
// (standard base64 with padding, as encoding/json writes []byte). The
// first key is the primary. With envelope encryption (a KMS holds the
// master key), "secret" and "index_key" give way to "wrapped" and
// "index_key_wrapped": data keys encrypted by the KMS, which
// OpenKeyring asks it to decrypt at start-up. The file then holds nothing
// usable without the KMS.
type KeyringFile struct {
	IndexKey        []byte           `json:"index_key,omitempty"`
	IndexKeyWrapped []byte           `json:"index_key_wrapped,omitempty"`
	Keys            []KeyringFileKey `json:"keys"`
}

// KeyringFileKey is one sealing key of a KeyringFile: Secret in clear, or
// Wrapped by a KMS.
type KeyringFileKey struct {
	ID      string `json:"id"`
	Secret  []byte `json:"secret,omitempty"`
	Wrapped []byte `json:"wrapped,omitempty"`
}

// KMS is a key management service that wraps data keys (envelope
// encryption): the keyring's keys are random data keys, stored only in the
// form the KMS encrypted (Wrap), and decrypted by it (Unwrap) once, when
// the keyring is opened. The master key never leaves the KMS. An adapter
// over a cloud KMS is a few lines (AWS KMS Encrypt/Decrypt, Google Cloud
// KMS Encrypt/Decrypt, Vault transit encrypt/decrypt): see
// docs/privacy.md. LocalKMS is one with a master key held in the process.
type KMS interface {
	Wrap(ctx context.Context, dataKey []byte) (wrapped []byte, err error)
	Unwrap(ctx context.Context, wrapped []byte) (dataKey []byte, err error)
}

// MaxKeyringFileSize bounds what LoadKeyringFile and KeyringFromEnv read.
const MaxKeyringFileSize = 64 << 10

// OpenKeyring builds the keyring a KeyringFile describes, asking kms to
// unwrap the wrapped keys (kms may be nil if none is wrapped).
func OpenKeyring(ctx context.Context, f KeyringFile, kms KMS) (*Keyring, error) {
	unwrap := func(what string, clear, wrapped []byte) ([]byte, error) {
		switch {
		case len(clear) > 0 && len(wrapped) > 0:
			return nil, fmt.Errorf("sealstore: %s is given both in clear and wrapped", what)
		case len(wrapped) > 0:
			if kms == nil {
				return nil, fmt.Errorf("sealstore: %s is wrapped and no KMS is configured", what)
			}
			k, err := kms.Unwrap(ctx, wrapped)
			if err != nil {
				return nil, fmt.Errorf("sealstore: unwrapping %s: %w", what, err)
			}
			return k, nil
		case len(clear) > 0:
			return clear, nil
		}
		return nil, fmt.Errorf("sealstore: %s is missing", what)
	}
	index, err := unwrap("the index key", f.IndexKey, f.IndexKeyWrapped)
	if err != nil {
		return nil, err
	}
	keys := make([]Key, 0, len(f.Keys))
	for _, k := range f.Keys {
		secret, err := unwrap(fmt.Sprintf("key %q", k.ID), k.Secret, k.Wrapped)
		if err != nil {
			return nil, err
		}
		keys = append(keys, Key{ID: k.ID, Secret: secret})
	}
	return NewKeyring(index, keys...)
}

// ParseKeyring decodes a KeyringFile from JSON and opens it.
func ParseKeyring(ctx context.Context, data []byte, kms KMS) (*Keyring, error) {
	var f KeyringFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, errors.New("sealstore: the keyring is not valid JSON") // the decoder's message may quote a key
	}
	return OpenKeyring(ctx, f, kms)
}

// KeyringFromEnv reads a keyring's JSON from the environment variable
// name (for demos and containers whose secrets arrive as variables).
func KeyringFromEnv(ctx context.Context, name string, kms KMS) (*Keyring, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return nil, fmt.Errorf("sealstore: the environment variable %s is not set", name)
	}
	if len(v) > MaxKeyringFileSize {
		return nil, fmt.Errorf("sealstore: %s is longer than %d bytes", name, MaxKeyringFileSize)
	}
	return ParseKeyring(ctx, []byte(v), kms)
}

// LoadKeyringFile reads a keyring's JSON from path. The file must be a
// regular file that neither its group nor others may read or write
// (chmod 600; not checked on Windows).
func LoadKeyringFile(ctx context.Context, path string, kms KMS) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sealstore: reading the keyring: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("sealstore: reading the keyring: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("sealstore: %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("sealstore: %s is accessible to other users (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyringFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("sealstore: reading the keyring: %w", err)
	}
	if len(data) > MaxKeyringFileSize {
		return nil, fmt.Errorf("sealstore: %s is larger than %d bytes", path, MaxKeyringFileSize)
	}
	return ParseKeyring(ctx, data, kms)
}

// NewKeyringFile returns a KeyringFile with a random index key and one
// random sealing key named keyID, wrapped by kms if it is not nil.
func NewKeyringFile(ctx context.Context, keyID string, kms KMS) (KeyringFile, error) {
	var f KeyringFile
	if err := validKeyID(keyID); err != nil {
		return f, fmt.Errorf("sealstore: %w", err)
	}
	index, secret := RandomSecret(), RandomSecret()
	if kms == nil {
		f.IndexKey = index
		f.Keys = []KeyringFileKey{{ID: keyID, Secret: secret}}
		return f, nil
	}
	var err error
	if f.IndexKeyWrapped, err = kms.Wrap(ctx, index); err != nil {
		return f, fmt.Errorf("sealstore: wrapping the index key: %w", err)
	}
	k := KeyringFileKey{ID: keyID}
	if k.Wrapped, err = kms.Wrap(ctx, secret); err != nil {
		return f, fmt.Errorf("sealstore: wrapping key %q: %w", keyID, err)
	}
	f.Keys = []KeyringFileKey{k}
	return f, nil
}

// AddPrimary puts a new random key named keyID first (the primary), keeping
// the others so older values still open: the first step of a rotation.
func (f *KeyringFile) AddPrimary(ctx context.Context, keyID string, kms KMS) error {
	if err := validKeyID(keyID); err != nil {
		return fmt.Errorf("sealstore: %w", err)
	}
	for _, k := range f.Keys {
		if k.ID == keyID {
			return fmt.Errorf("sealstore: key ID %q is already in the keyring", keyID)
		}
	}
	k := KeyringFileKey{ID: keyID, Secret: RandomSecret()}
	if kms != nil {
		w, err := kms.Wrap(ctx, k.Secret)
		if err != nil {
			return fmt.Errorf("sealstore: wrapping key %q: %w", keyID, err)
		}
		k.Secret, k.Wrapped = nil, w
	}
	f.Keys = append([]KeyringFileKey{k}, f.Keys...)
	return nil
}

// Retire removes the key keyID: the last step of a rotation, once Rekey
// (CheckOnly) counts no value sealed with it. The primary cannot be
// retired.
func (f *KeyringFile) Retire(keyID string) error {
	for i, k := range f.Keys {
		if k.ID != keyID {
			continue
		}
		if i == 0 {
			return fmt.Errorf("sealstore: key %q is the primary", keyID)
		}
		f.Keys = append(f.Keys[:i:i], f.Keys[i+1:]...)
		return nil
	}
	return fmt.Errorf("sealstore: no key %q in the keyring", keyID)
}

// LoadOrCreateKeyringFile loads the keyring in path, or creates the file
// (mode 0600, with NewKeyringFile(ctx, keyID, kms)) when it does not exist:
// the demo's "sealed by default" start-up. created reports a new file.
// Concurrent first starts agree on one file (it is linked into place; the
// first wins).
func LoadOrCreateKeyringFile(ctx context.Context, path, keyID string, kms KMS) (kr *Keyring, created bool, err error) {
	kr, err = LoadKeyringFile(ctx, path, kms)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kr, false, err
	}
	f, err := NewKeyringFile(ctx, keyID, kms)
	if err != nil {
		return nil, false, err
	}
	if err := WriteKeyringFile(path, f); err != nil {
		if errors.Is(err, fs.ErrExist) {
			kr, err = LoadKeyringFile(ctx, path, kms)
			return kr, false, err
		}
		return nil, false, err
	}
	kr, err = OpenKeyring(ctx, f, kms)
	return kr, err == nil, err
}

// WriteKeyringFile writes f to path (mode 0600) if path does not exist
// (fs.ErrExist otherwise): written to a temporary file, then linked into
// place, so it never exists half-written. To change an existing keyring,
// write a new file and rename it over the old one yourself.
func WriteKeyringFile(path string, f KeyringFile) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("sealstore: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sealstore: creating the keyring: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".keyring-*")
	if err != nil {
		return fmt.Errorf("sealstore: creating the keyring: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(data, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err != nil {
		return fmt.Errorf("sealstore: writing the keyring: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("sealstore: %s: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("sealstore: creating the keyring: %w", err)
	}
	return nil
}
