package totp

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// Replay protection and attempt counting both live in the Replay
// ChallengeStore, whose PutCeremony fails with ErrDuplicate for a live ID
// atomically in every backend (memstore, sqlstore, redisstore). That one
// primitive gives:
//
//   - "each code once": after a code matches time step s, PutCeremony of
//     the ID for (user, s); the duplicate means it was used. Of concurrent
//     verifications of one code exactly one puts first.
//   - a counter shared by all instances: attempt k of a window is the
//     record (user, window, slot k); an attempt claims the first free slot
//     with PutCeremony, so at most MaxAttempts claims succeed per window
//     however many instances race. A correct code gives its slot back
//     (TakeCeremony), so only failures stay counted. A per-process limiter
//     (golang.org/x/time/rate) would allow MaxAttempts per instance, and
//     attackers choose the instance.

// storeMargin keeps records somewhat longer than needed, for a store whose
// clock runs ahead of Config.Now.
const storeMargin = time.Minute

// marker returns the data of a record: random, because a store may take
// a put of the exact bytes already stored under the ID for its own retry
// (redisstore does, to survive a lost reply) and report success instead of
// ErrDuplicate. Random data keeps every put distinct.
func marker() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes instead)
	return b
}

// claimAttempt claims one of the user's attempts in the current window and
// returns its record ID, or ErrTooManyAttempts with the time to the next
// window.
func (t *TOTP) claimAttempt(ctx context.Context, userID []byte, now time.Time) (string, error) {
	window := int64(t.cfg.AttemptWindow)
	w := now.UnixNano() / window
	end := time.Unix(0, (w+1)*window)
	for slot := range t.cfg.MaxAttempts {
		id := t.recordID("try", userID, w, slot)
		err := t.cfg.Replay.PutCeremony(ctx, id, marker(), end.Add(storeMargin))
		switch {
		case err == nil:
			return id, nil
		case errors.Is(err, webauthnkit.ErrDuplicate):
			continue
		default:
			return "", wrap(ErrStore, err)
		}
	}
	e := *ErrTooManyAttempts
	e.RetryAfter = end.Sub(now)
	return "", &e
}

// releaseAttempt gives a claimed attempt back after a correct code. A
// failure only leaves the attempt counted, so it is logged, not returned.
func (t *TOTP) releaseAttempt(ctx context.Context, id string) {
	if _, err := t.cfg.Replay.TakeCeremony(ctx, id); err != nil && !errors.Is(err, webauthnkit.ErrNotFound) {
		t.log.WarnContext(ctx, "totp: could not give an attempt back", "error", err)
	}
}

// markUsed records that the user's code of time step step was accepted, or
// returns ErrCodeReused if it already was. The record outlives the last
// moment at which that code is still within the skew.
func (t *TOTP) markUsed(ctx context.Context, userID []byte, step int64, period time.Duration) error {
	lastValid := time.Unix(0, (step+int64(t.cfg.Skew)+1)*int64(period))
	err := t.cfg.Replay.PutCeremony(ctx, t.recordID("used", userID, step, 0), marker(), lastValid.Add(storeMargin))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, webauthnkit.ErrDuplicate):
		return ErrCodeReused
	default:
		return wrap(ErrStore, err)
	}
}
