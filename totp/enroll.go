package totp

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Enrollment is what Begin returns: what to show the user (a QR code, or
// the secret for manual entry) and a sealed pending secret for the app to
// keep until Confirm (in its server-side session, or a hidden form field:
// it is encrypted and bound to the user).
//
// URI and Secret reveal the secret: show them to the user once, never log
// them. String, GoString and LogValue print neither, so an Enrollment
// passed to fmt or slog by mistake leaks nothing.
type Enrollment struct {
	// URI is the otpauth:// key URI (what the QR code encodes).
	URI string
	// Secret is the secret in base32 without padding, for manual entry.
	Secret string
	// QRCodePNG is URI as a QR code, Config.QRSize pixels square (more if
	// the code needs it at one pixel per module; serve it
	// with Cache-Control: no-store, or inline as a data: URL).
	QRCodePNG []byte
	// QRCodeSVG is the same QR code as an SVG document, for inline HTML.
	QRCodeSVG string
	// Sealed is the pending secret, to be passed to Confirm with the first
	// code.
	Sealed []byte
	// ExpiresAt is when Sealed stops being accepted by Confirm.
	ExpiresAt time.Time
}

func (e Enrollment) String() string   { return "totp.Enrollment{redacted}" }
func (e Enrollment) GoString() string { return e.String() }

// LogValue keeps the secret out of slog records.
func (e Enrollment) LogValue() slog.Value {
	return slog.GroupValue(slog.Time("expires_at", e.ExpiresAt))
}

// secretLen is the secret size for each algorithm: the hash's output
// size, as RFC 4226 §4 recommends (160 bits for SHA1).
func secretLen(a otp.Algorithm) int {
	switch a {
	case otp.AlgorithmSHA256:
		return 32
	case otp.AlgorithmSHA512:
		return 64
	default:
		return 20
	}
}

// Begin starts an enrolment for the app's user userID, labelled
// accountName in authenticator apps (the user's email or username; at most
// MaxAccountNameLen bytes, no ':' or control characters). Nothing is
// stored: the secret travels sealed in Enrollment.Sealed.
func (t *TOTP) Begin(ctx context.Context, userID []byte, accountName string) (*Enrollment, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	if accountName == "" || len(accountName) > MaxAccountNameLen ||
		strings.ContainsFunc(accountName, func(r rune) bool { return r == ':' || r < 0x20 || r == 0x7f }) {
		return nil, invalidArgument("the account name must be 1 to 254 bytes without ':' or control characters")
	}
	raw := make([]byte, secretLen(t.cfg.Algorithm))
	defer clear(raw)
	if _, err := rand.Read(raw); err != nil {
		return nil, wrap(ErrInternal, err)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      t.cfg.Issuer,
		AccountName: accountName,
		Period:      uint(t.cfg.Period / time.Second),
		Secret:      raw,
		Digits:      t.cfg.Digits,
		Algorithm:   t.cfg.Algorithm,
	})
	if err != nil {
		return nil, wrap(ErrInternal, err)
	}
	modules, err := qrModules(key.URL())
	if err != nil {
		return nil, wrap(ErrInternal, err)
	}
	qrPNG, err := qrPNG(modules, t.cfg.QRSize)
	if err != nil {
		return nil, wrap(ErrInternal, err)
	}
	now := t.cfg.Now()
	sealed, err := t.keys.seal(purposePending, userID, secret{
		raw:       raw,
		algorithm: t.cfg.Algorithm,
		digits:    t.cfg.Digits,
		period:    t.cfg.Period,
		issuedAt:  now,
	})
	if err != nil {
		return nil, wrap(ErrInternal, err)
	}
	return &Enrollment{
		URI:       key.URL(),
		Secret:    key.Secret(),
		QRCodePNG: qrPNG,
		QRCodeSVG: qrSVG(modules, t.cfg.QRSize),
		Sealed:    sealed,
		ExpiresAt: now.Add(t.cfg.PendingTTL),
	}, nil
}

// Confirm finishes an enrolment: code is the first code the user's app
// shows for the secret of pending (Enrollment.Sealed), and userID must be
// the one given to Begin. On success it returns the confirmed secret,
// sealed and bound to userID, for the app to store with the user (its
// users table: a nullable column of at most MaxSealedLen bytes). The code
// is consumed: Verify will not accept it again.
//
// Errors are those of Verify, plus ErrEnrollExpired after
// Config.PendingTTL. A pending value is not a confirmed one: Verify
// refuses it with ErrSealedValue.
func (t *TOTP) Confirm(ctx context.Context, pending, userID []byte, code string) ([]byte, error) {
	s, err := t.check(ctx, purposePending, pending, userID, code)
	defer clear(s.raw)
	if err != nil {
		return nil, err
	}
	s.issuedAt = t.cfg.Now()
	sealed, err := t.keys.seal(purposeActive, userID, s)
	if err != nil {
		return nil, wrap(ErrInternal, err)
	}
	return sealed, nil
}

// NeedsReseal reports whether sealed was sealed under a key other than
// Config.Keys[0] (so Reseal would move it to the current key).
func (t *TOTP) NeedsReseal(sealed []byte) bool {
	return len(sealed) < 2 || sealed[1] != t.keys.current.id
}

// Reseal opens a confirmed secret of userID under whichever configured key
// sealed it and seals it again under Config.Keys[0], for key rotation: run
// it over the stored values, then drop the old key from Config.Keys.
func (t *TOTP) Reseal(sealed, userID []byte) ([]byte, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	s, err := t.keys.open(purposeActive, userID, sealed)
	if err != nil {
		return nil, ErrSealedValue
	}
	defer clear(s.raw)
	out, err := t.keys.seal(purposeActive, userID, s)
	if err != nil {
		return nil, wrap(ErrInternal, err)
	}
	return out, nil
}
