package account

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/mail"
	"github.com/webauthnkit/webauthnkit/otc"
)

// recoverable reports whether u can recover by email: a verified address.
func recoverable(u webauthnkit.User) bool {
	return u.Email != "" && !u.EmailVerifiedAt.IsZero()
}

// StartRecovery ("lost my device") mails a recovery code (and link) to the
// verified address of the account named by identifier (username or
// email). It answers nil whether or not such an account exists: without
// one (or without a verified address, or when the server rejects the
// address) the same store work is done for a keyed dummy account, whose
// code nobody receives. The SMTP round trip of a real account is hidden
// by answering no sooner than Config.MinStartDuration (docs/recovery.md).
//
// Errors: ErrTooManyAttempts (Config.StartsPerAccount per identifier,
// existing or not; a spent mail budget of the address sends nothing and
// answers nil), ErrMailUnavailable (the issued code was
// not delivered: it is harmless, as guessing it is bounded by the same
// per-account budget as a delivered one, and a newer Start replaces it),
// ErrStore.
func (a *Accounts) StartRecovery(ctx context.Context, identifier string) error {
	defer a.padFrom(ctx, time.Now())
	canon := canonicalIdentifier(identifier)
	if len(identifier) > 512 {
		return nil // no account has such a name; no work worth doing
	}
	if _, err := a.claim(ctx, "start", []byte(canon), a.cfg.StartsPerAccount); err != nil {
		return err
	}
	u, found, err := a.lookup(ctx, identifier)
	if err != nil {
		return err
	}
	if !found || !recoverable(u) {
		if _, err := a.cfg.Codes.Issue(ctx, otc.PurposeRecoverAccount, a.dummyAccount("recovery:"+canon)); err != nil {
			return fromOTC(err)
		}
		a.cfg.Logger.InfoContext(ctx, "account: recovery for no recoverable account; nothing sent")
		return nil
	}
	code, err := a.cfg.Codes.Issue(ctx, otc.PurposeRecoverAccount, u.Handle)
	if err != nil {
		return fromOTC(err)
	}
	data := mail.Data{Username: u.Name, Code: code.Code, Link: a.link("recovery", code.LinkToken), ExpiresIn: code.ExpiresAt.Sub(a.cfg.Now()), Time: a.cfg.Now()}
	if err := a.send(ctx, mail.TemplateRecoveryCode, u.Email, data); err != nil {
		if errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrTooManyAttempts) {
			// A rejected address, or one that had its share of mail this
			// window, answers as an unknown account would (nothing sent):
			// a distinct answer would tell the account exists.
			return nil
		}
		return err
	}
	a.emit(Event{Type: EventRecoveryStarted, UserHandle: u.Handle, Username: u.Name})
	return nil
}

// ConfirmRecovery checks the mailed code and returns a recovery grant: it
// registers exactly one new passkey on this account
// (webauthnkit.RegistrationRequest.Grant), within Config.GrantTTL, and
// nothing else (no session, no removal of passkeys). It mails a
// recovery_started notice (best effort: a mail outage does not stop a
// user who just proved they read the mailbox).
//
// Errors: ErrInvalidCode (also for an unknown identifier, after the same
// work), ErrTooManyAttempts (the account's recovery only: passkey sign-in
// is untouched), ErrStore.
func (a *Accounts) ConfirmRecovery(ctx context.Context, identifier, code string) (string, webauthnkit.User, error) {
	canon := canonicalIdentifier(identifier)
	if len(identifier) > 512 {
		return "", webauthnkit.User{}, ErrInvalidCode
	}
	u, found, err := a.lookup(ctx, identifier)
	if err != nil {
		return "", webauthnkit.User{}, err
	}
	if !found || !recoverable(u) {
		err := a.cfg.Codes.Verify(ctx, otc.PurposeRecoverAccount, a.dummyAccount("recovery:"+canon), code)
		if err == nil {
			err = otc.ErrInvalidCode // a dummy code is never mailed
		}
		return "", webauthnkit.User{}, fromOTC(err)
	}
	if err := a.cfg.Codes.Verify(ctx, otc.PurposeRecoverAccount, u.Handle, code); err != nil {
		return "", webauthnkit.User{}, fromOTC(err)
	}
	return a.recoveryGrant(ctx, u, "email")
}

// ConfirmRecoveryLink is ConfirmRecovery for the token of the mailed link.
func (a *Accounts) ConfirmRecoveryLink(ctx context.Context, token string) (string, webauthnkit.User, error) {
	handle, err := a.cfg.Codes.VerifyLink(ctx, otc.PurposeRecoverAccount, token)
	if err != nil {
		return "", webauthnkit.User{}, fromOTC(err)
	}
	u, err := a.cfg.RP.UserByHandle(ctx, handle)
	if err != nil || !recoverable(u) {
		return "", webauthnkit.User{}, ErrInvalidCode
	}
	return a.recoveryGrant(ctx, u, "email")
}

func (a *Accounts) recoveryGrant(ctx context.Context, u webauthnkit.User, via string) (string, webauthnkit.User, error) {
	grant, err := a.cfg.RP.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{UserHandle: u.Handle, Purpose: GrantPurposeRecovery, TTL: a.cfg.GrantTTL})
	if err != nil {
		return "", webauthnkit.User{}, fromCore(err)
	}
	a.emit(Event{Type: EventRecoveryGranted, UserHandle: u.Handle, Username: u.Name})
	if err := a.Notify(ctx, u.Handle, KindRecoveryStarted, NotifyData{Device: via}); err != nil {
		a.cfg.Logger.WarnContext(ctx, "account: recovery_started notice not sent", "error", err)
	}
	return grant, u, nil
}

// CompleteRecovery is called after FinishRegistration: for a registration
// made with a recovery grant it mails recovery_completed (naming the new
// passkey) and emits EventRecoveryCompleted; otherwise it does nothing.
// Then show OldPasskeys and prompt the removal of the lost one.
func (a *Accounts) CompleteRecovery(ctx context.Context, reg *webauthnkit.Registration) error {
	if reg == nil || reg.GrantPurpose != GrantPurposeRecovery {
		return nil
	}
	a.emit(Event{Type: EventRecoveryCompleted, UserHandle: reg.User.Handle, Username: reg.User.Name})
	return a.Notify(ctx, reg.User.Handle, KindRecoveryCompleted, NotifyData{Device: reg.Credential.Name})
}

// Passkey is a passkey as listed for the removal prompt.
type Passkey struct {
	ID         []byte
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used to sign in
	// ProviderName names its authenticator or passkey provider ("Google
	// Password Manager"; webauthnkit.Credential.ProviderName), or "".
	ProviderName string
}

// OldPasskeys lists the account's passkeys other than keep (the one just
// registered), most recently used first, so the app can prompt removing the
// lost one (RelyingParty.RevokeCredential, which ends the account's
// sessions).
func (a *Accounts) OldPasskeys(ctx context.Context, handle, keep []byte) ([]Passkey, error) {
	creds, err := a.cfg.RP.ListCredentials(ctx, handle)
	if err != nil {
		return nil, fromCore(err)
	}
	var out []Passkey
	for _, c := range creds {
		if bytes.Equal(c.ID, keep) {
			continue
		}
		out = append(out, Passkey{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt, ProviderName: c.ProviderName})
	}
	for i := 1; i < len(out); i++ { // insertion sort: a handful of passkeys
		for j := i; j > 0 && out[j].LastUsedAt.After(out[j-1].LastUsedAt); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}
