package otc

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// Defaults and bounds of Config.
const (
	DefaultTTL                   = 15 * time.Minute
	MaxTTL                       = 24 * time.Hour
	DefaultDigits                = 6
	MinDigits                    = 6
	MaxDigits                    = 8
	DefaultMaxAttemptsPerCode    = 5
	DefaultMaxAttemptsPerAccount = 10
	DefaultAccountWindow         = time.Hour
	// MaxMaxAttemptsPerAccount bounds Config.MaxAttemptsPerAccount: each
	// counted attempt is one store record, and a refused attempt probes up
	// to that many records.
	MaxMaxAttemptsPerAccount = 100
	// MaxMaxAttemptsPerCode bounds Config.MaxAttemptsPerCode (one byte in
	// the record).
	MaxMaxAttemptsPerCode = 20
	// MinSecretLen is the least Config.Secret length (256 bits).
	MinSecretLen = 32
	// MaxAccountLen bounds the account argument (a user handle is 64 bytes
	// at most in WebAuthn).
	MaxAccountLen = 64
	// MaxPurposeLen bounds a Purpose.
	MaxPurposeLen = 32
	// LinkTokenBytes is the random part of a link token: 256 bits, twice
	// the 128 the issue asks for, at no cost.
	LinkTokenBytes = 32
)

// Config configures a Codes. Zero values take the defaults stated on each
// field.
type Config struct {
	// Store keeps the hashed codes, link tokens and attempt counts, so that
	// they hold across every instance of the app sharing it (the store of
	// webauthnkit.Config.Ceremonies: sqlstore or redisstore with several
	// instances; memstore for one process). Required.
	Store webauthnkit.ChallengeStore
	// Secret keys every hash and record ID (HMAC-SHA256 under subkeys
	// derived per use). At least MinSecretLen bytes from a CSPRNG, kept
	// out of the store (a secret manager, an environment variable), the
	// same on every instance. Required. Changing it invalidates the live
	// codes and resets the attempt counts.
	Secret []byte

	// TTL is how long an issued code and link stay valid. Default 15
	// minutes; between 1 minute and MaxTTL (24 h).
	TTL time.Duration
	// Digits is the length of the typed code. Default 6; 6 to 8.
	Digits int
	// Links makes Issue return a link token too (Code.LinkToken), verified
	// by VerifyLink. Default false: codes only.
	Links bool
	// MaxAttemptsPerCode is how many wrong codes kill the live code (a new
	// Issue is then needed). Default 5; 1 to MaxMaxAttemptsPerCode.
	MaxAttemptsPerCode int
	// MaxAttemptsPerAccount is how many wrong codes one account may get per
	// purpose within AccountWindow, across all its codes (a new Issue does
	// not reset it). Default 10; 1 to MaxMaxAttemptsPerAccount.
	MaxAttemptsPerAccount int
	// AccountWindow is the fixed window over which MaxAttemptsPerAccount
	// is counted. Default 1 hour; between 1 minute and 24 hours.
	AccountWindow time.Duration

	// Now returns the current time. Default time.Now. The Store must use
	// the same clock (expiry times are computed from Now).
	Now func() time.Time
	// Logger receives outcomes with the purpose and a short keyed
	// pseudonym of the account; never codes, tokens, hashes or accounts.
	// Default: a logger that discards everything.
	Logger *slog.Logger
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return "otc: invalid Config." + e.Field + ": " + e.Reason
}

// withDefaults validates cfg and returns it with defaults filled in.
func (cfg Config) withDefaults() (Config, error) {
	bad := func(field, format string, args ...any) (Config, error) {
		return Config{}, &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if cfg.Store == nil {
		return bad("Store", "a ChallengeStore is required (the one webauthnkit.Config.Ceremonies uses)")
	}
	if len(cfg.Secret) < MinSecretLen {
		return bad("Secret", "%d bytes, want at least %d from a CSPRNG", len(cfg.Secret), MinSecretLen)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < time.Minute || cfg.TTL > MaxTTL {
		return bad("TTL", "%v, want between 1m and %v", cfg.TTL, MaxTTL)
	}
	if cfg.Digits == 0 {
		cfg.Digits = DefaultDigits
	}
	if cfg.Digits < MinDigits || cfg.Digits > MaxDigits {
		return bad("Digits", "%d, want %d to %d", cfg.Digits, MinDigits, MaxDigits)
	}
	if cfg.MaxAttemptsPerCode == 0 {
		cfg.MaxAttemptsPerCode = DefaultMaxAttemptsPerCode
	}
	if cfg.MaxAttemptsPerCode < 1 || cfg.MaxAttemptsPerCode > MaxMaxAttemptsPerCode {
		return bad("MaxAttemptsPerCode", "%d, want 1 to %d", cfg.MaxAttemptsPerCode, MaxMaxAttemptsPerCode)
	}
	if cfg.MaxAttemptsPerAccount == 0 {
		cfg.MaxAttemptsPerAccount = DefaultMaxAttemptsPerAccount
	}
	if cfg.MaxAttemptsPerAccount < 1 || cfg.MaxAttemptsPerAccount > MaxMaxAttemptsPerAccount {
		return bad("MaxAttemptsPerAccount", "%d, want 1 to %d", cfg.MaxAttemptsPerAccount, MaxMaxAttemptsPerAccount)
	}
	if cfg.AccountWindow == 0 {
		cfg.AccountWindow = DefaultAccountWindow
	}
	if cfg.AccountWindow < time.Minute || cfg.AccountWindow > 24*time.Hour {
		return bad("AccountWindow", "%v, want between 1m and 24h", cfg.AccountWindow)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg, nil
}
