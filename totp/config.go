package totp

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/pquerna/otp"

	"github.com/webauthnkit/webauthnkit"
)

// Defaults and bounds of Config.
const (
	DefaultPeriod        = 30 * time.Second
	DefaultDigits        = otp.DigitsSix
	DefaultSkew          = 1
	DefaultMaxAttempts   = 5
	DefaultAttemptWindow = 15 * time.Minute
	DefaultPendingTTL    = 10 * time.Minute
	DefaultQRSize        = 256

	// MinKeyLen is the least key material per Key (256 bits).
	MinKeyLen = 32
	// MaxSkew bounds Config.Skew: every extra step widens what a guess can
	// hit (2·Skew+1 codes are valid at once).
	MaxSkew = 2
	// MaxMaxAttempts bounds Config.MaxAttempts: each counted attempt is one
	// store record, and a refused attempt costs up to MaxAttempts probes.
	MaxMaxAttempts = 100
	// MaxUserIDLen and MaxAccountNameLen bound the caller's arguments.
	MaxUserIDLen      = 255
	MaxAccountNameLen = 254
)

// Key is one AES-256-GCM sealing key with its ID. The ID is written into
// each sealed value, so values sealed under an older key still open after
// rotation as long as that key stays in Config.Keys.
type Key struct {
	// ID names the key in sealed values. IDs are unique within Config.Keys.
	ID byte
	// Secret is at least MinKeyLen bytes from a CSPRNG, kept out of the
	// database that holds the sealed values (a secret manager, an
	// environment variable). The AES key and the key that names store
	// records are derived from it with HKDF-SHA256.
	Secret []byte
}

// Config configures a TOTP verifier. Zero values take the defaults stated
// on each field.
type Config struct {
	// Issuer is shown by authenticator apps next to the account name
	// ("Example Corp"). Required, at most 100 bytes, without ':'.
	Issuer string

	// Keys seal and open the secrets. Keys[0] seals new values; every key
	// opens values sealed under its ID. Required. To rotate: put the new key
	// first, keep the old ones until every stored value was Resealed.
	Keys []Key

	// Replay is where used codes and counted attempts are recorded, so that
	// both hold across every instance of the app sharing it (use the same
	// store as webauthnkit.Config.Ceremonies: sqlstore or redisstore with
	// several instances; memstore only for one process). Required.
	Replay webauthnkit.ChallengeStore

	// Period is the TOTP time step. Default 30 s (what authenticator apps
	// assume); whole seconds between 15 s and 120 s.
	Period time.Duration
	// Digits is the code length, 6 or 8. Default 6.
	Digits otp.Digits
	// Algorithm is the HMAC hash: SHA1 (the default, the zero value), SHA256
	// or SHA512. Many authenticator apps ignore anything but SHA1 and then
	// show wrong codes, so keep the default unless you control the apps.
	Algorithm otp.Algorithm
	// Skew is how many time steps before and after the current one are also
	// accepted, for clock drift and typing time. Default 1 (RFC 6238 §5.2's
	// recommendation); at most MaxSkew. Set NoSkew for none.
	Skew int
	// NoSkew accepts the current time step only (Skew is then ignored).
	NoSkew bool

	// MaxAttempts is how many codes one user may submit per AttemptWindow
	// (wrong and reused codes count; a correct code gives its attempt
	// back). Default 5; at most MaxMaxAttempts.
	MaxAttempts int
	// AttemptWindow is the fixed window over which MaxAttempts is counted.
	// Default 15 minutes; at least one Period.
	AttemptWindow time.Duration

	// PendingTTL is how long an Enrollment from Begin can be confirmed.
	// Default 10 minutes.
	PendingTTL time.Duration
	// QRSize is the width and height in pixels of Enrollment.QRCodePNG.
	// Default 256; between 64 and 1024.
	QRSize int

	// Now returns the current time. Default time.Now. The Replay store
	// must use the same clock (expiry times are computed from Now).
	Now func() time.Time
	// Logger receives diagnostic records: outcomes and a short pseudonymous
	// user reference, never secrets, codes, user IDs or sealed values.
	// Default: a logger that discards everything.
	Logger *slog.Logger
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return "totp: invalid Config." + e.Field + ": " + e.Reason
}

// withDefaults validates cfg and returns it with defaults filled in.
func (cfg Config) withDefaults() (Config, error) {
	bad := func(field, format string, args ...any) (Config, error) {
		return Config{}, &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if cfg.Issuer == "" {
		return bad("Issuer", "required (shown in authenticator apps)")
	}
	if len(cfg.Issuer) > 100 {
		return bad("Issuer", "%d bytes, at most 100", len(cfg.Issuer))
	}
	for _, r := range cfg.Issuer {
		if r == ':' || r < 0x20 || r == 0x7f {
			return bad("Issuer", "must not contain ':' or control characters")
		}
	}
	if len(cfg.Keys) == 0 {
		return bad("Keys", "at least one key is required")
	}
	seen := map[byte]bool{}
	for i, k := range cfg.Keys {
		if len(k.Secret) < MinKeyLen {
			return bad("Keys", "key %d (ID %d) has %d bytes, want at least %d", i, k.ID, len(k.Secret), MinKeyLen)
		}
		if seen[k.ID] {
			return bad("Keys", "key ID %d appears twice", k.ID)
		}
		seen[k.ID] = true
	}
	if cfg.Replay == nil {
		return bad("Replay", "a ChallengeStore is required (the one webauthnkit.Config.Ceremonies uses)")
	}
	if cfg.Period == 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Period < 15*time.Second || cfg.Period > 120*time.Second || cfg.Period%time.Second != 0 {
		return bad("Period", "%v: want whole seconds between 15s and 120s", cfg.Period)
	}
	if cfg.Digits == 0 {
		cfg.Digits = DefaultDigits
	}
	if cfg.Digits != otp.DigitsSix && cfg.Digits != otp.DigitsEight {
		return bad("Digits", "%d: want 6 or 8", int(cfg.Digits))
	}
	switch cfg.Algorithm {
	case otp.AlgorithmSHA1, otp.AlgorithmSHA256, otp.AlgorithmSHA512:
	default:
		return bad("Algorithm", "unsupported value %d (want SHA1, SHA256 or SHA512)", int(cfg.Algorithm))
	}
	switch {
	case cfg.NoSkew:
		cfg.Skew = 0
	case cfg.Skew == 0:
		cfg.Skew = DefaultSkew
	case cfg.Skew < 0 || cfg.Skew > MaxSkew:
		return bad("Skew", "%d: want 1 to %d (or NoSkew)", cfg.Skew, MaxSkew)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxAttempts < 1 || cfg.MaxAttempts > MaxMaxAttempts {
		return bad("MaxAttempts", "%d: want 1 to %d", cfg.MaxAttempts, MaxMaxAttempts)
	}
	if cfg.AttemptWindow == 0 {
		cfg.AttemptWindow = DefaultAttemptWindow
	}
	if cfg.AttemptWindow < cfg.Period || cfg.AttemptWindow > 24*time.Hour {
		return bad("AttemptWindow", "%v: want between one Period and 24h", cfg.AttemptWindow)
	}
	if cfg.PendingTTL == 0 {
		cfg.PendingTTL = DefaultPendingTTL
	}
	if cfg.PendingTTL < time.Minute || cfg.PendingTTL > 24*time.Hour {
		return bad("PendingTTL", "%v: want between 1m and 24h", cfg.PendingTTL)
	}
	if cfg.QRSize == 0 {
		cfg.QRSize = DefaultQRSize
	}
	if cfg.QRSize < 64 || cfg.QRSize > 1024 {
		return bad("QRSize", "%d: want 64 to 1024", cfg.QRSize)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
