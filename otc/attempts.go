package otc

import (
	"context"
	"errors"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// The per-account budget is a shared counter built from PutCeremony's
// atomic duplicate check, as in package totp: attempt k of a window is the
// record (purpose, account, window, slot k), and an attempt claims the
// first free slot, so at most MaxAttemptsPerAccount claims succeed per
// window however many instances race. A correct code gives its slot back,
// so only failures stay counted. A per-process limiter would allow the
// budget once per instance, and attackers choose the instance.

// storeMargin keeps attempt records somewhat past their window, for a
// store whose clock runs ahead of Config.Now.
const storeMargin = time.Minute

// claimAttempt claims one of the account's attempts for the purpose in the
// current window and returns its record ID, or ErrTooManyAttempts with the
// time to the next window.
func (c *Codes) claimAttempt(ctx context.Context, p Purpose, account []byte, now time.Time) (string, error) {
	window := int64(c.cfg.AccountWindow)
	w := now.UnixNano() / window
	end := time.Unix(0, (w+1)*window)
	for slot := range c.cfg.MaxAttemptsPerAccount {
		id := c.tryRecordID(p, account, w, slot)
		err := c.cfg.Store.PutCeremony(ctx, id, nonce(), end.Add(storeMargin))
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
func (c *Codes) releaseAttempt(ctx context.Context, id string) {
	if _, err := c.cfg.Store.TakeCeremony(ctx, id); err != nil && !errors.Is(err, webauthnkit.ErrNotFound) {
		c.log.WarnContext(ctx, "otc: could not give an attempt back", "error", err)
	}
}
