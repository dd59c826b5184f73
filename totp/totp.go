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

// recordID names one Replay store record of a user: "totp:" + kind + ":"
// + SHA-256(issuer, kind, n, slot, userID). The hash gives every ID the
// same short length (the SQL store takes up to 255 bytes) and keeps raw
// user IDs out of the store; it is not keyed, so that key rotation and
// Reseal do not rename a user's records (a code used just before a Reseal
// stays used after it). The issuer separates apps sharing one store.
func (t *TOTP) recordID(kind string, userID []byte, n int64, slot int) string {
	h := sha256.New()
	var buf [14]byte
	binary.BigEndian.PutUint16(buf[:2], uint16(len(t.cfg.Issuer)))
	h.Write([]byte("webauthnkit totp records v1\x00"))
	h.Write(buf[:2])
	h.Write([]byte(t.cfg.Issuer))
	h.Write([]byte(kind))
	binary.BigEndian.PutUint64(buf[2:10], uint64(n))
	binary.BigEndian.PutUint32(buf[10:], uint32(slot))
	h.Write(buf[2:])
	h.Write(userID)
	return "totp:" + kind + ":" + b32NoPadding.EncodeToString(h.Sum(nil)[:20])
}

// userRef is a short pseudonym of a user for log records, keyed so that
// logs (often shipped further than the database) do not reveal user IDs.
func (t *TOTP) userRef(userID []byte) string {
	m := hmac.New(sha256.New, t.keys.current.logKey)
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
