package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/mail"
)

// Accounts runs the flows. Safe for concurrent use; instances sharing the
// stores and Secret share every budget.
type Accounts struct {
	cfg                                     Config
	recoveryKey, dummyKey, nameKey, counter []byte
}

// New returns Accounts for cfg, or a *ConfigError.
func New(cfg Config) (*Accounts, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sub := func(label string) []byte { return keyed(cfg.Secret, []byte(label)) }
	return &Accounts{
		cfg:         cfg,
		recoveryKey: sub("account recovery codes v1"),
		dummyKey:    sub("account dummy accounts v1"),
		nameKey:     sub("account record names v1"),
		counter:     sub("account counters v1"),
	}, nil
}

// keyed is HMAC-SHA256(key, len-prefixed parts).
func keyed(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p)) + ":"))
		h.Write(p)
	}
	return h.Sum(nil)
}

// recordName names a ChallengeStore record of this package.
func (a *Accounts) recordName(kind string, parts ...[]byte) string {
	return "account:" + kind + ":" + base64.RawURLEncoding.EncodeToString(keyed(a.nameKey, append([][]byte{[]byte(kind)}, parts...)...))
}

// dummyAccount is the otc account used when the typed identifier has no
// account: the same store work as a real one, for a code nobody receives.
func (a *Accounts) dummyAccount(identifier string) []byte {
	return keyed(a.dummyKey, []byte(identifier))
}

// claim takes one unit of a budget of limit per MailWindow, counted with
// PutCeremony's atomic duplicate check (one record per unit, as otc and
// totp do), so it holds across instances. The returned ID gives the unit
// back (release); ErrTooManyAttempts carries the time to the next window.
func (a *Accounts) claim(ctx context.Context, kind string, key []byte, limit int) (string, error) {
	now := a.cfg.Now()
	window := int64(a.cfg.MailWindow)
	w := now.UnixNano() / window
	end := time.Unix(0, (w+1)*window)
	for slot := range limit {
		id := a.recordName("n:"+kind, key, []byte(strconv.FormatInt(w, 10)), []byte(strconv.Itoa(slot)))
		// Random data: a store may take a put of identical bytes for a
		// retry of the same put and accept it (redisstore does).
		err := a.cfg.Challenges.PutCeremony(ctx, id, nonce(), end.Add(time.Minute))
		switch {
		case err == nil:
			return id, nil
		case errors.Is(err, webauthnkit.ErrDuplicate):
		default:
			return "", with(ErrStore, err)
		}
	}
	e := *ErrTooManyAttempts
	e.RetryAfter = end.Sub(now)
	return "", &e
}

func (a *Accounts) release(ctx context.Context, id string) {
	if _, err := a.cfg.Challenges.TakeCeremony(ctx, id); err != nil && !errors.Is(err, webauthnkit.ErrNotFound) {
		a.cfg.Logger.WarnContext(ctx, "account: could not give a budget unit back", "error", err)
	}
}

// send renders template name to address and sends it, within the
// address's mail budget. limited reports a spent budget (nothing sent).
func (a *Accounts) send(ctx context.Context, name, address string, data mail.Data) error {
	if _, err := a.claim(ctx, "mail", []byte(address), a.cfg.MailsPerAddress); err != nil {
		if errors.Is(err, ErrTooManyAttempts) {
			a.cfg.Logger.InfoContext(ctx, "account: mail budget of the address spent; not sent", "template", name)
		}
		return err
	}
	data.AppName = a.cfg.AppName
	msg, err := a.cfg.Templates.Render(name, address, data)
	if err != nil {
		return with(ErrInvalidArgument, err)
	}
	if err := a.cfg.Mailer.Send(ctx, msg); err != nil {
		a.cfg.Logger.WarnContext(ctx, "account: mail not sent", "template", name, "error", err)
		return fromMail(err)
	}
	return nil
}

// padFrom sleeps until Config.MinStartDuration has passed since began
// (wall clock: the padding hides real time), or ctx ends.
func (a *Accounts) padFrom(ctx context.Context, began time.Time) {
	d := a.cfg.MinStartDuration - time.Since(began)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func nonce() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crashes instead)
	return b
}

// link returns the link for a token, or "" without LinkBase or token.
func (a *Accounts) link(flow, token string) string {
	if a.cfg.LinkBase == "" || token == "" {
		return ""
	}
	return a.cfg.LinkBase + "?" + url.Values{"flow": {flow}, "token": {token}}.Encode()
}

// NormalizeEmail is webauthnkit.NormalizeEmail (the form stored on
// accounts: the whole address lower-cased, IDNA domain) with this
// package's ErrInvalidArgument, the core's error as its cause.
func NormalizeEmail(email string) (string, error) {
	out, err := webauthnkit.NormalizeEmail(email)
	if err != nil {
		return "", with(ErrInvalidArgument, err)
	}
	return out, nil
}

// lookup finds the account of a typed username or email address. found is
// false for none (also for a malformed identifier); err is a store failure.
func (a *Accounts) lookup(ctx context.Context, identifier string) (u webauthnkit.User, found bool, err error) {
	if strings.Contains(identifier, "@") {
		if email, e := NormalizeEmail(identifier); e == nil {
			u, err = a.cfg.Users.GetUserByEmail(ctx, email)
			if err == nil {
				return u, true, nil
			}
			if !errors.Is(err, webauthnkit.ErrNotFound) {
				return u, false, with(ErrStore, err)
			}
		}
	}
	name, e := webauthnkit.NormalizeUsername(identifier)
	if e != nil {
		return u, false, nil
	}
	u, err = a.cfg.Users.GetUserByName(ctx, name)
	if errors.Is(err, webauthnkit.ErrNotFound) {
		return u, false, nil
	}
	if err != nil {
		return u, false, with(ErrStore, err)
	}
	return u, true, nil
}

// canonicalIdentifier is the key of per-identifier budgets: the same for
// every spelling that finds the same account by name or email.
func canonicalIdentifier(identifier string) string {
	if e, err := NormalizeEmail(identifier); err == nil && strings.Contains(identifier, "@") {
		return "e:" + e
	}
	if n, err := webauthnkit.NormalizeUsername(identifier); err == nil {
		return "n:" + n
	}
	return "x:" + identifier
}

// EventType names an account event.
type EventType string

const (
	EventSignUpStarted   EventType = "account.sign_up_started"
	EventSignUpConfirmed EventType = "account.sign_up_confirmed"
	EventEmailVerified   EventType = "account.email_verified"
	// EventUnprovenPasskeysRemoved: an address was verified by a link
	// opened without the account's session, so the passkeys registered
	// before it was proven were removed (ConfirmEmailLink).
	EventUnprovenPasskeysRemoved EventType = "account.unproven_passkeys_removed"
	EventRecoveryStarted         EventType = "account.recovery_started"
	EventRecoveryGranted         EventType = "account.recovery_granted"
	EventRecoveryCompleted       EventType = "account.recovery_completed"
	EventRecoveryCodesIssued     EventType = "account.recovery_codes_issued"
	EventRecoveryCodeUsed        EventType = "account.recovery_code_used"
	EventNotified                EventType = "account.notified"
)

// Event reports a flow step of an existing account. It never carries
// codes, tokens, grants or addresses.
type Event struct {
	Type       EventType
	Time       time.Time
	UserHandle []byte
	Username   string
	// Kind is the notification kind of EventNotified.
	Kind Kind
}

func (a *Accounts) emit(ev Event) {
	if a.cfg.OnEvent != nil {
		ev.Time = a.cfg.Now()
		a.cfg.OnEvent(ev)
	}
}
