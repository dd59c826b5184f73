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

// Sign-up flow (a), the default: verify the address first, then register
// the first passkey with a grant for a new account carrying that verified
// address. Nobody can create an account on an address they do not read,
// so nobody can pre-hijack the account of its owner (register first with
// the victim's address, wait for the victim to "recover" into an account
// the attacker still holds a passkey of). docs/recovery.md.

// PurposeSignUp is the otc purpose of sign-up codes (bound to the address).
const PurposeSignUp otc.Purpose = "sign_up"

// GrantPurposeSignUp and GrantPurposeRecovery are the grant purposes
// (webauthnkit.Registration.GrantPurpose) of the two flows.
const (
	GrantPurposeSignUp   = "sign_up"
	GrantPurposeRecovery = "recovery"
)

func (a *Accounts) signUpAccount(email string) []byte {
	return keyed(a.nameKey, []byte("sign-up"), []byte(email))
}

// StartSignUp mails a code (and link) to email for a new account named
// username. The answer is the same whether the address already belongs to
// a verified account: then nothing is sent (the same store work is done
// for a dummy account), so the caller learns nothing and the owner is not
// spammed; the owner signs in or recovers instead. An address held by an
// unverified account (flow b) is treated as free: its real owner may take
// it (ConfirmSignUp removes it from the other account). Every answer
// takes at least Config.MinStartDuration.
//
// Errors: ErrInvalidArgument (address), webauthnkit.ErrInvalidRequest or
// ErrUsernameTaken (username: names are public at sign-up anyway),
// ErrTooManyAttempts, ErrMailUnavailable (nothing usable is left: the
// pending sign-up is withdrawn, so the undelivered code confirms nothing),
// ErrStore.
func (a *Accounts) StartSignUp(ctx context.Context, email, username string) error {
	defer a.padFrom(ctx, time.Now())
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	name, err := webauthnkit.NormalizeUsername(username)
	if err != nil {
		return err
	}
	if _, err := a.claim(ctx, "start", []byte("e:"+email), a.cfg.StartsPerAccount); err != nil {
		return err
	}
	if _, err := a.cfg.Users.GetUserByName(ctx, name); err == nil {
		return webauthnkit.ErrUsernameTaken
	} else if !errors.Is(err, webauthnkit.ErrNotFound) {
		return with(ErrStore, err)
	}
	holder, err := a.cfg.Users.GetUserByEmail(ctx, email)
	switch {
	case err == nil && !holder.EmailVerifiedAt.IsZero():
		// Equal work, nothing sent: a code for a dummy account.
		if _, err := a.cfg.Codes.Issue(ctx, PurposeSignUp, a.dummyAccount("sign-up:"+email)); err != nil {
			return fromOTC(err)
		}
		if _, err := a.claim(ctx, "mail", []byte(email), a.cfg.MailsPerAddress); err != nil {
			return err
		}
		a.cfg.Logger.InfoContext(ctx, "account: sign-up for a verified address; nothing sent")
		return nil
	case err != nil && !errors.Is(err, webauthnkit.ErrNotFound):
		return with(ErrStore, err)
	}
	account := a.signUpAccount(email)
	code, err := a.cfg.Codes.Issue(ctx, PurposeSignUp, account)
	if err != nil {
		return fromOTC(err)
	}
	if err := a.putPending(ctx, "sign-up", account, pending{Email: email, Username: name}, code.ExpiresAt); err != nil {
		return err
	}
	data := mail.Data{Username: name, Code: code.Code, Link: a.link("signup", code.LinkToken), ExpiresIn: code.ExpiresAt.Sub(a.cfg.Now()), Time: a.cfg.Now()}
	if err := a.send(ctx, mail.TemplateVerifyEmail, email, data); err != nil {
		// Withdraw: without its pending record the code confirms nothing.
		_, _ = a.takePending(ctx, "sign-up", account)
		return err
	}
	a.emit(Event{Type: EventSignUpStarted, Username: name})
	return nil
}

// ConfirmSignUp checks the code mailed by StartSignUp and returns a grant
// (webauthnkit.RegistrationRequest.Grant) that registers the first passkey
// of a new account with this address, verified. Single use; lives
// Config.GrantTTL.
//
// Errors: ErrInvalidCode (wrong, expired, used, or no sign-up for this
// address), ErrTooManyAttempts, webauthnkit.ErrUsernameTaken (the name
// was taken meanwhile: start again), ErrStore.
func (a *Accounts) ConfirmSignUp(ctx context.Context, email, code string) (string, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return "", ErrInvalidCode
	}
	account := a.signUpAccount(email)
	if err := a.cfg.Codes.Verify(ctx, PurposeSignUp, account, code); err != nil {
		return "", fromOTC(err)
	}
	return a.signUpGrant(ctx, account)
}

// ConfirmSignUpLink is ConfirmSignUp for the token of the mailed link.
func (a *Accounts) ConfirmSignUpLink(ctx context.Context, token string) (string, error) {
	account, err := a.cfg.Codes.VerifyLink(ctx, PurposeSignUp, token)
	if err != nil {
		return "", fromOTC(err)
	}
	return a.signUpGrant(ctx, account)
}

func (a *Accounts) signUpGrant(ctx context.Context, account []byte) (string, error) {
	p, err := a.takePending(ctx, "sign-up", account)
	if err != nil {
		return "", err
	}
	holder, err := a.cfg.Users.GetUserByEmail(ctx, p.Email)
	switch {
	case err == nil && !holder.EmailVerifiedAt.IsZero():
		return "", ErrInvalidCode
	case err == nil:
		// The real owner proved the address: an unverified claim on it by
		// another account (flow b, perhaps a squatter) ends.
		if _, err := a.cfg.RP.SetEmail(ctx, holder.Handle, "", false); err != nil && !errors.Is(err, webauthnkit.ErrUserNotFound) {
			return "", fromCore(err)
		}
	case !errors.Is(err, webauthnkit.ErrNotFound):
		return "", with(ErrStore, err)
	}
	grant, err := a.cfg.RP.IssueRegistrationGrant(ctx, webauthnkit.GrantRequest{
		Username: p.Username, Email: p.Email, EmailVerified: true, Purpose: GrantPurposeSignUp, TTL: a.cfg.GrantTTL,
	})
	if err != nil {
		return "", fromCore(err)
	}
	a.emit(Event{Type: EventSignUpConfirmed, Username: p.Username})
	return grant, nil
}

// Flow (b), register then verify: the account is created by an ordinary
// registration, the app sets its address unverified
// (RelyingParty.SetEmail with verified false) and calls
// SendEmailVerification; until ConfirmEmail the app should limit the
// account (no recovery by email, no mail beyond the code). The owner of
// the address can still take it with flow (a).

func (a *Accounts) verifyAccount(handle []byte, email string) []byte {
	return keyed(a.nameKey, []byte("verify"), handle, []byte(email))
}

// SendEmailVerification mails a code for the signed-in account's current,
// unverified address. The code is bound to that address: changing it
// makes the code useless. Nothing is sent for an address already
// verified. Errors: webauthnkit.ErrUserNotFound, ErrNoEmail,
// ErrTooManyAttempts, ErrMailUnavailable (the undelivered code is
// withdrawn with its pending record), ErrStore.
func (a *Accounts) SendEmailVerification(ctx context.Context, handle []byte) error {
	u, err := a.cfg.RP.UserByHandle(ctx, handle)
	if err != nil {
		return fromCore(err)
	}
	if u.Email == "" {
		return ErrNoEmail
	}
	if !u.EmailVerifiedAt.IsZero() {
		return nil
	}
	account := a.verifyAccount(u.Handle, u.Email)
	code, err := a.cfg.Codes.Issue(ctx, otc.PurposeVerifyEmail, account)
	if err != nil {
		return fromOTC(err)
	}
	if err := a.putPending(ctx, "verify", account, pending{Email: u.Email, Handle: u.Handle}, code.ExpiresAt); err != nil {
		return err
	}
	data := mail.Data{Username: u.Name, Code: code.Code, Link: a.link("email", code.LinkToken), ExpiresIn: code.ExpiresAt.Sub(a.cfg.Now()), Time: a.cfg.Now()}
	if err := a.send(ctx, mail.TemplateVerifyEmail, u.Email, data); err != nil {
		_, _ = a.takePending(ctx, "verify", account)
		return err
	}
	return nil
}

// ConfirmEmail marks the account's address verified if code is the one
// mailed to it. Errors: ErrInvalidCode, ErrTooManyAttempts, ErrStore.
func (a *Accounts) ConfirmEmail(ctx context.Context, handle []byte, code string) (webauthnkit.User, error) {
	u, err := a.cfg.RP.UserByHandle(ctx, handle)
	if err != nil || u.Email == "" {
		return webauthnkit.User{}, ErrInvalidCode
	}
	account := a.verifyAccount(u.Handle, u.Email)
	if err := a.cfg.Codes.Verify(ctx, otc.PurposeVerifyEmail, account, code); err != nil {
		return webauthnkit.User{}, fromOTC(err)
	}
	return a.markVerified(ctx, account)
}

// ConfirmEmailLink is ConfirmEmail for the token of the mailed link, opened
// by someone who is not signed in to the account. Clicking it proves the
// mailbox, not the passkeys: in flow (b) anyone may register an account
// with somebody else's address and then wait for its owner to verify it
// (a pre-hijacked account). So the account's passkeys, all registered
// before the address was proven, are removed (which ends its sessions),
// and its owner signs in again by recovery with the now verified address.
// A signed-in owner uses ConfirmEmailLinkAs, which keeps them.
// Errors: ErrInvalidCode, ErrStore.
func (a *Accounts) ConfirmEmailLink(ctx context.Context, token string) (webauthnkit.User, error) {
	account, err := a.cfg.Codes.VerifyLink(ctx, otc.PurposeVerifyEmail, token)
	if err != nil {
		return webauthnkit.User{}, fromOTC(err)
	}
	u, err := a.markVerified(ctx, account)
	if err != nil {
		return webauthnkit.User{}, err
	}
	creds, err := a.cfg.RP.ListCredentials(ctx, u.Handle)
	if err != nil {
		return webauthnkit.User{}, fromCore(err)
	}
	for _, c := range creds {
		if err := a.cfg.RP.RevokeCredential(ctx, u.Handle, c.ID, true); err != nil && !errors.Is(err, webauthnkit.ErrNotFound) {
			return webauthnkit.User{}, fromCore(err)
		}
	}
	if len(creds) > 0 {
		a.emit(Event{Type: EventUnprovenPasskeysRemoved, UserHandle: u.Handle, Username: u.Name})
	}
	return a.cfg.RP.UserByHandle(ctx, u.Handle)
}

// ConfirmEmailLinkAs is ConfirmEmailLink for the signed-in account handle:
// the token must be the one mailed for that account's current address
// (else ErrInvalidCode), and the passkeys stay, since whoever holds the
// session holds one of them and now the mailbox too.
func (a *Accounts) ConfirmEmailLinkAs(ctx context.Context, handle []byte, token string) (webauthnkit.User, error) {
	u, err := a.cfg.RP.UserByHandle(ctx, handle)
	if err != nil || u.Email == "" {
		return webauthnkit.User{}, ErrInvalidCode
	}
	account, err := a.cfg.Codes.VerifyLink(ctx, otc.PurposeVerifyEmail, token)
	if err != nil {
		return webauthnkit.User{}, fromOTC(err)
	}
	if !bytes.Equal(account, a.verifyAccount(u.Handle, u.Email)) {
		return webauthnkit.User{}, ErrInvalidCode
	}
	return a.markVerified(ctx, account)
}

func (a *Accounts) markVerified(ctx context.Context, account []byte) (webauthnkit.User, error) {
	p, err := a.takePending(ctx, "verify", account)
	if err != nil {
		return webauthnkit.User{}, err
	}
	u, err := a.cfg.RP.UserByHandle(ctx, p.Handle)
	if err != nil || u.Email != p.Email {
		return webauthnkit.User{}, ErrInvalidCode
	}
	u, err = a.cfg.RP.SetEmail(ctx, u.Handle, u.Email, true)
	if errors.Is(err, webauthnkit.ErrUserNotFound) {
		return webauthnkit.User{}, ErrInvalidCode
	}
	if err != nil {
		return webauthnkit.User{}, fromCore(err)
	}
	a.emit(Event{Type: EventEmailVerified, UserHandle: u.Handle, Username: u.Name})
	return u, nil
}
