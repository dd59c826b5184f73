package webauthnkit

import (
	"context"
	"errors"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Step-up re-authentication: a signed-in user proves again, with one of
// their own passkeys and user verification (PIN, biometric), that they are
// at the device, before a sensitive action (adding or removing a passkey,
// approving a new device, making recovery codes). The application keeps
// the time (Login.AuthenticatedAt) with its session and asks again when it
// is older than it accepts (DefaultReauthMaxAge); the HTTP adapter does
// this with RequireFreshAuth.
//
// A re-authentication ceremony is its own kind: it cannot be finished by
// FinishLogin (it would otherwise be a sign-in with user verification
// required), nor a login ceremony by FinishReauth.

// Re-authentication events (Config.OnEvent).
const (
	// EventReauthSucceeded: the account UserHandle re-authenticated.
	EventReauthSucceeded EventType = "reauth.succeeded"
	// EventReauthFailed: a re-authentication of UserHandle failed (Code
	// says why; CodeWrongUser: a passkey of another account was used).
	EventReauthFailed EventType = "reauth.failed"
)

// Re-authentication error codes.
const (
	// CodeReauthRequired: the action needs a user-verified authentication
	// more recent than the caller accepts (ApproveLink; the HTTP adapter's
	// RequireFreshAuth answers 403 with it).
	CodeReauthRequired Code = "reauth_required"
	// CodeWrongUser: FinishReauth got a passkey that is registered, but to
	// another account than the signed-in one.
	CodeWrongUser Code = "wrong_user"
	// CodeNoPasskey: BeginReauth for an account without passkeys (it must
	// re-authenticate the application's own way, a password).
	CodeNoPasskey Code = "no_passkey"
)

// Re-authentication sentinels, for errors.Is.
var (
	ErrReauthRequired = &Error{Code: CodeReauthRequired, Message: "confirm it's you: re-authenticate and try again"}
	ErrWrongUser      = &Error{Code: CodeWrongUser, Message: "this passkey belongs to another account"}
	ErrNoPasskey      = &Error{Code: CodeNoPasskey, Message: "this account has no passkey"}
)

// DefaultReauthMaxAge is how old a user-verified authentication may be for
// a sensitive action, unless the caller says otherwise (LinkApproval.MaxAge,
// the HTTP adapter's Options.FreshAuthMaxAge): 5 minutes.
const DefaultReauthMaxAge = 5 * time.Minute

const kindReauth = "reauth"

// BeginReauth starts a re-authentication of the signed-in account
// userHandle: the options list the account's passkeys
// (allowCredentials, second-factor-only ones included: with user
// verification they are two factors) and require user verification,
// whatever Config.UserVerification says.
//
// Errors: ErrInvalidRequest (no or too long user handle), ErrUserNotFound,
// ErrNoPasskey, ErrStoreUnavailable.
func (rp *RelyingParty) BeginReauth(ctx context.Context, userHandle []byte) (*Begin, error) {
	if len(userHandle) == 0 || len(userHandle) > MaxUserHandleLength {
		return nil, &Error{Code: CodeInvalidRequest, Message: "a user handle must have 1 to 64 bytes"}
	}
	u, err := rp.creds.GetUserByHandle(ctx, userHandle)
	if errors.Is(err, ErrNotFound) {
		return nil, &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	}
	if err != nil {
		return nil, rp.storeErr(ctx, "GetUserByHandle", err)
	}
	creds, err := rp.creds.ListCredentials(ctx, u.Handle)
	if err != nil {
		return nil, rp.storeErr(ctx, "ListCredentials", err)
	}
	if len(creds) == 0 {
		return nil, &Error{Code: CodeNoPasskey, Message: ErrNoPasskey.Message}
	}
	allow := make([]protocol.CredentialDescriptor, 0, len(creds))
	for _, c := range creds {
		allow = append(allow, descriptor(c.ID, c.Transports))
	}
	challenge, err := rp.newChallenge()
	if err != nil {
		return nil, err
	}
	assertion, session, err := rp.wa.BeginDiscoverableMediatedLogin(protocol.MediationDefault,
		webauthn.WithChallenge(challenge),
		webauthn.WithUserVerification(protocol.VerificationRequired),
		webauthn.WithAllowedCredentials(allow),
	)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
	st := &ceremonyState{Kind: kindReauth, ByUsername: true, ByHandle: true, UserHandle: u.Handle, User: &u}
	st.Session = *session
	st.Session.AllowedCredentialIDs = nil
	st.Expires = rp.cfg.Now().Add(rp.cfg.ChallengeTTL)
	return rp.finishBegin(ctx, st, assertion.Response, "")
}

// FinishReauth verifies the response to a BeginReauth ceremony for the
// signed-in account userHandle (the ceremony must have been begun for that
// same account, and the passkey must be one of its own) and returns the
// login, with Login.AuthenticatedAt the time to keep with the session.
// Like FinishLogin it writes back the sign counter and last-used time. The
// ceremony is consumed whatever the outcome.
//
// Errors: as FinishLogin, and ErrWrongUser (a passkey of another account,
// or a ceremony begun for another account), ErrUserVerificationRequired
// (the authenticator did not verify the user).
func (rp *RelyingParty) FinishReauth(ctx context.Context, userHandle []byte, ceremonyID string, body []byte) (*Login, error) {
	login, credID, err := rp.finishLogin(ctx, ceremonyID, body, kindReauth, userHandle)
	ev := Event{Type: EventReauthSucceeded, CredentialID: credID, UserHandle: userHandle}
	if err != nil {
		ev.Type, ev.Code, ev.Err = EventReauthFailed, ErrorCode(err), err
		rp.logFailure(ctx, "reauth", err)
	} else {
		ev.Username = login.User.Name
	}
	rp.emit(ctx, ev)
	return login, err
}

// FreshAuth reports whether an authentication at authenticatedAt is
// recent enough for maxAge (0: DefaultReauthMaxAge) by the configured
// clock. A zero authenticatedAt is never fresh.
func (rp *RelyingParty) FreshAuth(authenticatedAt time.Time, maxAge time.Duration) bool {
	if maxAge == 0 {
		maxAge = DefaultReauthMaxAge
	}
	if authenticatedAt.IsZero() || maxAge < 0 {
		return false
	}
	now := rp.cfg.Now()
	// A time in the future (clock skew between instances) counts as now,
	// but not by more than a minute.
	if authenticatedAt.After(now.Add(time.Minute)) {
		return false
	}
	return now.Sub(authenticatedAt) <= maxAge
}
