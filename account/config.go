package account

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/mail"
	"github.com/webauthnkit/webauthnkit/otc"
)

// Defaults and bounds of Config.
const (
	DefaultAppName          = "your account"
	DefaultMailsPerAddress  = 5
	DefaultMailWindow       = time.Hour
	DefaultStartsPerAccount = 5
	DefaultCodeAttempts     = 10
	DefaultGrantTTL         = 15 * time.Minute
	DefaultMinStartDuration = time.Second
	// MinSecretLen is the least Config.Secret length (256 bits).
	MinSecretLen = 32
	// maxBudget bounds the counted budgets: each unit is one store record.
	maxBudget = 100
)

// Config configures Accounts. Zero values take the defaults stated.
type Config struct {
	// RP is the core. Required.
	RP *webauthnkit.RelyingParty
	// Users is the CredentialStore the RP uses (webauthnkit.Config.Credentials):
	// email lookups and recovery-code hashes. Required.
	Users webauthnkit.CredentialStore
	// Challenges is the ChallengeStore the RP uses (Config.Ceremonies):
	// pending sign-ups and the rate-limit counters, shared by every
	// instance. Required.
	Challenges webauthnkit.ChallengeStore
	// Codes issues the emailed codes (its Config.Store should be
	// Challenges). Required. With otc.Config.Links set, mails carry a link
	// too (then LinkBase is required).
	Codes *otc.Codes
	// Mailer sends every mail. Required.
	Mailer mail.Mailer
	// Templates renders them. Default mail.DefaultTemplates().
	Templates *mail.Templates
	// Secret keys the recovery-code hashes, dummy accounts and counter
	// names (HMAC-SHA256 under derived subkeys). At least MinSecretLen
	// bytes from a CSPRNG, the same on every instance, not the otc or RP
	// secret. Required. Changing it invalidates stored recovery codes.
	Secret []byte
	// AppName is shown in mails. Default DefaultAppName.
	AppName string
	// LinkBase is an absolute http(s) URL; links are
	// LinkBase?flow=<signup|recovery|email>&token=<token>. Required when
	// Codes issues link tokens; ignored otherwise.
	LinkBase string
	// MailsPerAddress is how many mails (codes and notices together) one
	// address may receive per MailWindow; more are not sent (Start* answer
	// ErrTooManyAttempts, notices are dropped with ErrRateLimited). Counted
	// in Challenges, so across instances. Default 5; 1 to 100.
	MailsPerAddress int
	// MailWindow is the fixed window of MailsPerAddress, StartsPerAccount
	// and CodeAttempts. Default 1 hour; 1 minute to 24 hours.
	MailWindow time.Duration
	// StartsPerAccount is how many StartSignUp/StartRecovery calls one
	// typed identifier (email or username, existing or not) may make per
	// MailWindow. Default 5; 1 to 100.
	StartsPerAccount int
	// CodeAttempts is how many wrong recovery codes (RecoverWithCode) one
	// username may get per MailWindow. Default 10; 1 to 100.
	CodeAttempts int
	// GrantTTL is how long a registration grant waits for its ceremony.
	// Default 15 minutes; at most webauthnkit.MaxGrantTTL.
	GrantTTL time.Duration
	// MinStartDuration is the least time StartSignUp and StartRecovery
	// take (wall clock, padded with a sleep that ends early with ctx), so
	// that sending mail for a real account does not answer slower than
	// the dummy work for an unknown one: a loopback SMTP send took ~1 ms
	// against ~30 µs for an unknown account (BenchmarkStartRecovery).
	// Set it above your mail server's usual send time; sends slower than it
	// still show. Default 1 s; negative disables (tests); at most 10 s.
	MinStartDuration time.Duration
	// OnEvent, if set, receives account events (never codes or grants).
	OnEvent func(Event)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives outcomes without codes, tokens, grants or
	// addresses. Default: discards.
	Logger *slog.Logger
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field, Reason string
}

func (e *ConfigError) Error() string { return "account: invalid Config." + e.Field + ": " + e.Reason }

func (cfg Config) withDefaults() (Config, error) {
	bad := func(field, format string, args ...any) (Config, error) {
		return Config{}, &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case cfg.RP == nil:
		return bad("RP", "required")
	case cfg.Users == nil:
		return bad("Users", "required (the RP's CredentialStore)")
	case cfg.Challenges == nil:
		return bad("Challenges", "required (the RP's ChallengeStore)")
	case cfg.Codes == nil:
		return bad("Codes", "required")
	case cfg.Mailer == nil:
		return bad("Mailer", "required")
	case len(cfg.Secret) < MinSecretLen:
		return bad("Secret", "%d bytes, want at least %d", len(cfg.Secret), MinSecretLen)
	}
	if cfg.Templates == nil {
		cfg.Templates = mail.DefaultTemplates()
	}
	if cfg.AppName == "" {
		cfg.AppName = DefaultAppName
	}
	if cfg.LinkBase != "" {
		u, err := url.Parse(cfg.LinkBase)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return bad("LinkBase", "an absolute http(s) URL without query or fragment")
		}
	}
	budget := func(field string, v *int, def int) error {
		if *v == 0 {
			*v = def
		}
		if *v < 1 || *v > maxBudget {
			return &ConfigError{Field: field, Reason: fmt.Sprintf("%d, want 1 to %d", *v, maxBudget)}
		}
		return nil
	}
	for _, b := range []struct {
		f   string
		v   *int
		def int
	}{{"MailsPerAddress", &cfg.MailsPerAddress, DefaultMailsPerAddress}, {"StartsPerAccount", &cfg.StartsPerAccount, DefaultStartsPerAccount}, {"CodeAttempts", &cfg.CodeAttempts, DefaultCodeAttempts}} {
		if err := budget(b.f, b.v, b.def); err != nil {
			return Config{}, err
		}
	}
	if cfg.MailWindow == 0 {
		cfg.MailWindow = DefaultMailWindow
	}
	if cfg.MailWindow < time.Minute || cfg.MailWindow > 24*time.Hour {
		return bad("MailWindow", "%v, want 1m to 24h", cfg.MailWindow)
	}
	if cfg.GrantTTL == 0 {
		cfg.GrantTTL = DefaultGrantTTL
	}
	if cfg.GrantTTL < time.Minute || cfg.GrantTTL > webauthnkit.MaxGrantTTL {
		return bad("GrantTTL", "%v, want 1m to %v", cfg.GrantTTL, webauthnkit.MaxGrantTTL)
	}
	if cfg.MinStartDuration == 0 {
		cfg.MinStartDuration = DefaultMinStartDuration
	}
	if cfg.MinStartDuration > 10*time.Second {
		return bad("MinStartDuration", "%v, want at most 10s", cfg.MinStartDuration)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg, nil
}
