package account

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"

	"github.com/webauthnkit/webauthnkit"
)

// Recovery codes, for users without email: RecoveryCodeCount codes of
// 80 random bits each (NIST SP 800-63B asks at least 64 for a look-up
// secret), written as 16 Crockford base32 characters in four groups
// ("7k2m-q9xd-4fta-8wne"), shown once, stored only as keyed hashes
// (HMAC-SHA256 under a key derived from Config.Secret, bound to the
// account), each usable once through the store's atomic UseRecoveryCode.

const (
	// RecoveryCodeCount is how many codes GenerateRecoveryCodes returns.
	RecoveryCodeCount = 10
	recoveryCodeChars = 16 // 16 × 5 bits = 80 bits
	crockford         = "0123456789abcdefghjkmnpqrstvwxyz"
)

// GenerateRecoveryCodes makes a new set of codes for the account, replacing
// any previous set (the old codes stop working), and returns them for
// display, once: only their hashes are kept. Errors:
// webauthnkit.ErrUserNotFound, ErrStore.
func (a *Accounts) GenerateRecoveryCodes(ctx context.Context, handle []byte) ([]string, error) {
	u, err := a.cfg.RP.UserByHandle(ctx, handle)
	if err != nil {
		return nil, fromCore(err)
	}
	codes := make([]string, RecoveryCodeCount)
	hashes := make([][]byte, RecoveryCodeCount)
	for i := range codes {
		raw := make([]byte, recoveryCodeChars)
		_, _ = rand.Read(raw)
		var b strings.Builder
		for j, r := range raw {
			if j > 0 && j%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(crockford[r&31])
		}
		codes[i] = b.String()
		hashes[i] = a.recoveryCodeHash(u.Handle, strings.ReplaceAll(codes[i], "-", ""))
	}
	if err := a.cfg.Users.SetRecoveryCodes(ctx, u.Handle, hashes); err != nil {
		if errors.Is(err, webauthnkit.ErrNotFound) {
			return nil, webauthnkit.ErrUserNotFound
		}
		return nil, with(ErrStore, err)
	}
	a.emit(Event{Type: EventRecoveryCodesIssued, UserHandle: u.Handle, Username: u.Name})
	return codes, nil
}

func (a *Accounts) recoveryCodeHash(handle []byte, normalized string) []byte {
	return keyed(a.recoveryKey, handle, []byte(normalized))
}

// normalizeRecoveryCode accepts any case, spaces and dashes, and the
// Crockford look-alikes (i, l → 1; o → 0).
func normalizeRecoveryCode(code string) (string, bool) {
	if len(code) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'i' || r == 'l':
			r = '1'
		case r == 'o':
			r = '0'
		}
		if !strings.ContainsRune(crockford, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != recoveryCodeChars {
		return "", false
	}
	return b.String(), true
}

// RecoverWithCode uses one recovery code of the account named username
// (or its email) and returns a recovery grant, as ConfirmRecovery does.
// Wrong codes are counted per identifier (Config.CodeAttempts per
// MailWindow, across instances; a correct code gives its attempt back);
// an unknown account answers ErrInvalidCode after the same work (a store
// call with a dummy handle). RecoveryCodesLeft tells the app when to
// suggest a new set.
func (a *Accounts) RecoverWithCode(ctx context.Context, username, code string) (string, webauthnkit.User, error) {
	if len(username) > 512 {
		return "", webauthnkit.User{}, ErrInvalidCode
	}
	canon := canonicalIdentifier(username)
	slot, err := a.claim(ctx, "rcode", []byte(canon), a.cfg.CodeAttempts)
	if err != nil {
		return "", webauthnkit.User{}, err
	}
	normalized, ok := normalizeRecoveryCode(code)
	if !ok {
		return "", webauthnkit.User{}, ErrInvalidCode
	}
	u, found, err := a.lookup(ctx, username)
	if err != nil {
		return "", webauthnkit.User{}, err
	}
	handle := u.Handle
	if !found {
		handle = a.dummyAccount("rcode:" + canon)
	}
	err = a.cfg.Users.UseRecoveryCode(ctx, handle, a.recoveryCodeHash(handle, normalized))
	switch {
	case errors.Is(err, webauthnkit.ErrNotFound) || err == nil && !found:
		return "", webauthnkit.User{}, ErrInvalidCode
	case err != nil:
		return "", webauthnkit.User{}, with(ErrStore, err)
	}
	a.release(ctx, slot)
	a.emit(Event{Type: EventRecoveryCodeUsed, UserHandle: u.Handle, Username: u.Name})
	return a.recoveryGrant(ctx, u, "recovery code")
}

// RecoveryCodesLeft counts the account's unused recovery codes.
func (a *Accounts) RecoveryCodesLeft(ctx context.Context, handle []byte) (int, error) {
	n, err := a.cfg.Users.RecoveryCodesLeft(ctx, handle)
	if err != nil {
		return 0, with(ErrStore, err)
	}
	return n, nil
}
