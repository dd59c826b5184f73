package otc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// Purpose names what a code is for. A code issued for one purpose never
// verifies for another. 1 to MaxPurposeLen bytes of [a-z0-9_].
type Purpose string

// Purposes the library's flows use; apps may add their own.
const (
	PurposeVerifyEmail    Purpose = "verify_email"
	PurposeRecoverAccount Purpose = "recover_account"
)

func (p Purpose) check() error {
	if len(p) == 0 || len(p) > MaxPurposeLen {
		return invalidArgument("the purpose must be 1 to 32 bytes")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return invalidArgument("the purpose must be [a-z0-9_]")
		}
	}
	return nil
}

func checkAccount(account []byte) error {
	if len(account) == 0 || len(account) > MaxAccountLen {
		return invalidArgument("the account must be 1 to 64 bytes")
	}
	return nil
}

// Code is what Issue returns for delivery to the user. Its String and
// LogValue hide the secrets, so an accidental log line shows none.
type Code struct {
	// Code is the code to type: Config.Digits decimal digits.
	Code string
	// LinkToken is for a link to click (base64url, 256 bits), set when
	// Config.Links is; verify it with VerifyLink. It is the same secret as
	// Code: using either consumes both.
	LinkToken string
	// ExpiresAt is when both stop working.
	ExpiresAt time.Time
}

func (c *Code) String() string { return "otc.Code{redacted}" }

// LogValue implements slog.LogValuer.
func (c *Code) LogValue() slog.Value { return slog.StringValue("redacted") }

// Codes issues and verifies one-time codes. Safe for concurrent use; any
// number of instances may share one Store and Secret.
type Codes struct {
	cfg  Config
	keys keys
	log  *slog.Logger
	// modulus is 10^Digits; limit the largest multiple of it below 2^32,
	// for uniform codes by rejection sampling.
	modulus, limit uint32
}

// New returns Codes for cfg, or a *ConfigError.
func New(cfg Config) (*Codes, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := uint32(1)
	for range cfg.Digits {
		m *= 10
	}
	return &Codes{
		cfg:     cfg,
		keys:    deriveKeys(cfg.Secret),
		log:     cfg.Logger,
		modulus: m,
		limit:   uint32((1 << 32) / uint64(m) * uint64(m)),
	}, nil
}

// issueRetries bounds the take-then-put loop of Issue under contention.
const issueRetries = 4

// Issue makes a new code (and link token with Config.Links) for purpose
// and account, replacing any live one: the previous code and link stop
// working. Only keyed hashes are stored.
//
// Concurrent Issue calls for one purpose and account behave as if run one
// after the other: each takes the live record and puts its own; a put that
// finds another call's record already there (ErrDuplicate) takes that one
// in turn. The last put wins; the codes of the others never verify. A call
// that loses issueRetries times in a row returns ErrBusy.
func (c *Codes) Issue(ctx context.Context, p Purpose, account []byte) (*Code, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	out := &Code{Code: c.randomCode(), ExpiresAt: c.cfg.Now().Add(c.cfg.TTL)}
	rec := codeRecord{
		expiresAt: out.ExpiresAt,
		codeHash:  keyedHash(c.keys.code, []byte(p), account, []byte(out.Code)),
	}
	if c.cfg.Links {
		token := make([]byte, LinkTokenBytes)
		_, _ = rand.Read(token) // never fails (crashes instead)
		out.LinkToken = base64.RawURLEncoding.EncodeToString(token)
		rec.tokenHash = keyedHash(c.keys.link, []byte(p), account, token)
		// The link record comes first: if the code record's put then
		// fails, an orphan link finds no matching code and is useless.
		if err := c.cfg.Store.PutCeremony(ctx, c.linkRecordID(p, token), c.encodeLinkRecord(p, token, account), out.ExpiresAt); err != nil {
			c.log.WarnContext(ctx, "otc: issue failed", "purpose", string(p), "account", c.accountRef(account), "error", err)
			return nil, wrap(ErrStore, err)
		}
	}
	id := c.codeRecordID(p, account)
	for range issueRetries {
		if _, err := c.cfg.Store.TakeCeremony(ctx, id); err != nil && !errors.Is(err, webauthnkit.ErrNotFound) {
			c.log.WarnContext(ctx, "otc: issue failed", "purpose", string(p), "account", c.accountRef(account), "error", err)
			return nil, wrap(ErrStore, err)
		}
		err := c.cfg.Store.PutCeremony(ctx, id, rec.encode(), out.ExpiresAt)
		switch {
		case err == nil:
			c.log.InfoContext(ctx, "otc: code issued", "purpose", string(p), "account", c.accountRef(account))
			return out, nil
		case errors.Is(err, webauthnkit.ErrDuplicate):
			continue
		default:
			c.log.WarnContext(ctx, "otc: issue failed", "purpose", string(p), "account", c.accountRef(account), "error", err)
			return nil, wrap(ErrStore, err)
		}
	}
	return nil, ErrBusy
}

// randomCode returns Config.Digits uniform random decimal digits.
func (c *Codes) randomCode() string {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:]) // never fails (crashes instead)
		if v := binary.BigEndian.Uint32(b[:]); v < c.limit {
			s := strconv.FormatUint(uint64(v%c.modulus), 10)
			return strings.Repeat("0", c.cfg.Digits-len(s)) + s
		}
	}
}

// maxCodeInput bounds what Verify reads of a typed code before trimming.
const maxCodeInput = 64

// normalizeCode returns the code without surrounding spaces if it is then
// exactly Config.Digits ASCII digits.
func (c *Codes) normalizeCode(code string) (string, bool) {
	if len(code) > maxCodeInput {
		return "", false
	}
	code = strings.Trim(code, " \t")
	if len(code) != c.cfg.Digits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// Verify checks a typed code for purpose and account and consumes it: of
// any number of concurrent verifications of a correct code, exactly one
// returns nil.
//
// Each attempt first claims one of the account's MaxAttemptsPerAccount
// attempts for this purpose (ErrTooManyAttempts when spent; a correct code
// gives it back). It then takes the code record: atomically, so that only
// this attempt sees it. A correct code leaves it taken (used). A wrong one
// puts it back with one more wrong attempt, unless that makes
// MaxAttemptsPerCode (the code is then dead). An attempt that finds the
// record taken by a concurrent one fails: a guesser cannot compare more
// than one code at a time per record, and the attempt stays counted.
//
// Malformed codes are refused before any store call. Every failure other
// than the throttle and a store outage is ErrInvalidCode.
func (c *Codes) Verify(ctx context.Context, p Purpose, account []byte, code string) error {
	if err := p.check(); err != nil {
		return err
	}
	if err := checkAccount(account); err != nil {
		return err
	}
	code, ok := c.normalizeCode(code)
	if !ok {
		return ErrInvalidCode
	}
	now := c.cfg.Now()
	ref := c.accountRef(account)
	slot, err := c.claimAttempt(ctx, p, account, now)
	if err != nil {
		c.log.WarnContext(ctx, "otc: attempt refused", "purpose", string(p), "account", ref, "error", err)
		return err
	}
	id := c.codeRecordID(p, account)
	data, err := c.cfg.Store.TakeCeremony(ctx, id)
	switch {
	case errors.Is(err, webauthnkit.ErrNotFound):
		c.log.InfoContext(ctx, "otc: no live code", "purpose", string(p), "account", ref)
		return ErrInvalidCode
	case err != nil:
		c.log.WarnContext(ctx, "otc: verify failed", "purpose", string(p), "account", ref, "error", err)
		return wrap(ErrStore, err)
	}
	rec, ok := decodeCodeRecord(data)
	if !ok || !now.Before(rec.expiresAt) {
		c.log.InfoContext(ctx, "otc: no live code", "purpose", string(p), "account", ref)
		return ErrInvalidCode
	}
	if hmac.Equal(keyedHash(c.keys.code, []byte(p), account, []byte(code)), rec.codeHash) {
		c.releaseAttempt(ctx, slot)
		c.log.InfoContext(ctx, "otc: code verified", "purpose", string(p), "account", ref)
		return nil
	}
	rec.attempts++
	if rec.attempts >= c.cfg.MaxAttemptsPerCode {
		c.log.InfoContext(ctx, "otc: wrong code; the code is dead", "purpose", string(p), "account", ref)
		return ErrInvalidCode
	}
	c.putBack(ctx, id, rec, p, ref)
	c.log.InfoContext(ctx, "otc: wrong code", "purpose", string(p), "account", ref, "attempts", rec.attempts)
	return ErrInvalidCode
}

// putBack stores a taken code record again. ErrDuplicate means a newer
// Issue put its record meanwhile: that one wins. Any other failure leaves
// the code dead (fail closed), so it is logged, not returned.
func (c *Codes) putBack(ctx context.Context, id string, rec codeRecord, p Purpose, ref string) {
	if !c.cfg.Now().Before(rec.expiresAt) {
		return
	}
	err := c.cfg.Store.PutCeremony(ctx, id, rec.encode(), rec.expiresAt)
	if err != nil && !errors.Is(err, webauthnkit.ErrDuplicate) {
		c.log.WarnContext(ctx, "otc: could not put a code back; it is dead", "purpose", string(p), "account", ref, "error", err)
	}
}

// VerifyLink checks a link token for purpose, consumes it together with
// its code, and returns the account it was issued for. A token is 256
// random bits, beyond guessing, so failures are not counted per account
// (the account is not even known before the token is found). A token from
// before the account's latest Issue fails.
func (c *Codes) VerifyLink(ctx context.Context, p Purpose, token string) ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if len(token) != base64.RawURLEncoding.EncodedLen(LinkTokenBytes) {
		return nil, ErrInvalidCode
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, ErrInvalidCode
	}
	data, err := c.cfg.Store.TakeCeremony(ctx, c.linkRecordID(p, raw))
	switch {
	case errors.Is(err, webauthnkit.ErrNotFound):
		c.log.InfoContext(ctx, "otc: unknown link", "purpose", string(p))
		return nil, ErrInvalidCode
	case err != nil:
		c.log.WarnContext(ctx, "otc: link verify failed", "purpose", string(p), "error", err)
		return nil, wrap(ErrStore, err)
	}
	account, ok := c.decodeLinkRecord(p, raw, data)
	if !ok {
		return nil, ErrInvalidCode
	}
	ref := c.accountRef(account)
	id := c.codeRecordID(p, account)
	data, err = c.cfg.Store.TakeCeremony(ctx, id)
	switch {
	case errors.Is(err, webauthnkit.ErrNotFound):
		c.log.InfoContext(ctx, "otc: no live code for link", "purpose", string(p), "account", ref)
		return nil, ErrInvalidCode
	case err != nil:
		c.log.WarnContext(ctx, "otc: link verify failed", "purpose", string(p), "account", ref, "error", err)
		return nil, wrap(ErrStore, err)
	}
	rec, ok := decodeCodeRecord(data)
	if !ok || !c.cfg.Now().Before(rec.expiresAt) {
		return nil, ErrInvalidCode
	}
	if rec.tokenHash == nil || !hmac.Equal(keyedHash(c.keys.link, []byte(p), account, raw), rec.tokenHash) {
		// The record belongs to a newer Issue (or one without a link):
		// it stays live for its own code.
		c.putBack(ctx, id, rec, p, ref)
		c.log.InfoContext(ctx, "otc: link replaced by a newer code", "purpose", string(p), "account", ref)
		return nil, ErrInvalidCode
	}
	c.log.InfoContext(ctx, "otc: link verified", "purpose", string(p), "account", ref)
	return account, nil
}
