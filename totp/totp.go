package totp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
)

// TOTP enrols and verifies time-based one-time passwords. It is safe for
// concurrent use; every instance of an app configured with the same Keys
// and Replay store sees the same used codes and attempt counts.
type TOTP struct {
	cfg  Config
	keys *keyring
	log  *slog.Logger
}

// New validates cfg (a *ConfigError names the bad field) and returns a TOTP.
func New(cfg Config) (*TOTP, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	kr, err := newKeyring(cfg.Keys)
	if err != nil {
		return nil, &ConfigError{Field: "Keys", Reason: err.Error()}
	}
	// The caller's key slices are not kept: only derived keys are.
	cfg.Keys = nil
	return &TOTP{cfg: cfg, keys: kr, log: cfg.Logger}, nil
}

var b32NoPadding = base32.StdEncoding.WithPadding(base32.NoPadding)

// recordID names one Replay store record of a user: "totp:" + kind + ":" +
// HMAC(recordKey, kind, userID, n, slot). The HMAC keeps user IDs out of
// the store and gives every ID the same short length (the SQL store takes
// up to 255 bytes).
func recordID(k *sealingKey, kind string, userID []byte, n int64, slot int) string {
	m := hmac.New(sha256.New, k.recordKey)
	var buf [12]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(n))
	binary.BigEndian.PutUint32(buf[8:], uint32(slot))
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write(buf[:])
	m.Write(userID)
	return "totp:" + kind + ":" + b32NoPadding.EncodeToString(m.Sum(nil)[:20])
}

// userRef is a short pseudonym of a user for log records: stable for one
// sealing key, not reversible without it.
func userRef(k *sealingKey, userID []byte) string {
	m := hmac.New(sha256.New, k.recordKey)
	m.Write([]byte("log\x00"))
	m.Write(userID)
	return hex.EncodeToString(m.Sum(nil)[:6])
}

func checkUserID(userID []byte) error {
	if len(userID) == 0 || len(userID) > MaxUserIDLen {
		return invalidArgument("the user ID must be 1 to 255 bytes")
	}
	return nil
}

func (t *TOTP) logAttrs(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	t.log.LogAttrs(ctx, level, msg, attrs...)
}
