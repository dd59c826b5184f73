package totp

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"time"

	"github.com/pquerna/otp/hotp"
)

// maxCodeInput bounds the raw code before any other work.
const maxCodeInput = 32

// normalizeCode removes ASCII spaces and tabs (apps show "123 456") and
// checks that what remains is 6 or 8 ASCII digits. It never echoes the
// input.
func normalizeCode(code string) ([]byte, error) {
	if len(code) > maxCodeInput {
		return nil, ErrInvalidCode
	}
	out := make([]byte, 0, 8)
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == ' ' || c == '\t':
		case c >= '0' && c <= '9':
			if len(out) == 8 {
				return nil, ErrInvalidCode
			}
			out = append(out, c)
		default:
			return nil, ErrInvalidCode
		}
	}
	if len(out) != 6 && len(out) != 8 {
		return nil, ErrInvalidCode
	}
	return out, nil
}

// Verify checks code, submitted by the user identified by userID (the
// app's own user ID, as given to Confirm), against the sealed secret the
// app stored for that user. It returns nil exactly once per user and time
// step; otherwise:
//
//   - ErrInvalidCode: malformed (checked before anything else, without
//     touching the store) or wrong;
//   - ErrCodeReused: right, but already used;
//   - ErrTooManyAttempts (with RetryAfter): the user's attempts for this
//     window are spent; the code was not even compared;
//   - ErrSealedValue: sealed cannot be opened for this user;
//   - ErrStore: the Replay store failed (fail closed).
func (t *TOTP) Verify(ctx context.Context, sealed, userID []byte, code string) error {
	s, err := t.check(ctx, purposeActive, sealed, userID, code)
	clear(s.raw)
	return err
}

// check is Verify for sealed values of purpose p. It returns the opened
// secret (also with an error once opened); the caller clears s.raw.
func (t *TOTP) check(ctx context.Context, p purpose, sealed, userID []byte, code string) (secret, error) {
	digits, err := normalizeCode(code)
	if err != nil {
		return secret{}, err
	}
	if err := checkUserID(userID); err != nil {
		return secret{}, err
	}
	s, err := t.keys.open(p, userID, sealed)
	if err != nil {
		t.log.WarnContext(ctx, "totp: sealed secret refused (tampered, another user's, or unknown key ID)")
		return secret{}, ErrSealedValue
	}
	if len(digits) != int(s.digits) {
		return s, ErrInvalidCode
	}
	now := t.cfg.Now()
	if p == purposePending && now.Sub(s.issuedAt) > t.cfg.PendingTTL {
		return s, ErrEnrollExpired
	}
	if err := ctx.Err(); err != nil {
		return s, wrap(ErrStore, err)
	}
	ref := slog.String("user_ref", t.userRef(userID))

	attempt, err := t.claimAttempt(ctx, userID, now)
	if err != nil {
		if e, ok := err.(*Error); ok && e.Code == CodeTooManyAttempts {
			t.logAttrs(ctx, slog.LevelWarn, "totp: too many attempts", ref, slog.Duration("retry_after", e.RetryAfter))
		}
		return s, err
	}

	step, ok := t.matchStep(s, digits, now)
	if !ok {
		t.logAttrs(ctx, slog.LevelInfo, "totp: wrong code", ref)
		return s, ErrInvalidCode
	}
	if err := t.markUsed(ctx, userID, step, s.period); err != nil {
		if err == ErrCodeReused {
			t.logAttrs(ctx, slog.LevelWarn, "totp: code reused", ref)
		}
		return s, err
	}
	t.releaseAttempt(ctx, attempt)
	t.logAttrs(ctx, slog.LevelInfo, "totp: code accepted", ref)
	return s, nil
}

// matchStep compares code with the codes of every time step within the
// skew and returns the step that matched. All steps are computed and
// compared in constant time, so the timing does not tell which step (or
// whether any) matched.
func (t *TOTP) matchStep(s secret, code []byte, now time.Time) (int64, bool) {
	period := int64(s.period / time.Second)
	current := now.Unix() / period
	b32 := b32NoPadding.EncodeToString(s.raw)
	opts := hotp.ValidateOpts{Digits: s.digits, Algorithm: s.algorithm}
	found := 0
	matched := int64(0)
	for d := -int64(t.cfg.Skew); d <= int64(t.cfg.Skew); d++ {
		step := current + d
		if step < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(b32, uint64(step), opts)
		if err != nil {
			continue // unreachable: b32 is our own encoding
		}
		eq := subtle.ConstantTimeCompare([]byte(want), code)
		found |= eq
		matched = int64(subtle.ConstantTimeSelect(eq, int(step), int(matched)))
	}
	return matched, found == 1
}
