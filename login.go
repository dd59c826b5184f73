package webauthnkit

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// LoginRequest starts a login ceremony. With Username, the options list that
// user's credentials (allowCredentials). Without it, the login is
// discoverable (usernameless): the authenticator offers its passkeys for this
// RP and the user is found from the response.
type LoginRequest struct {
	Username string
	// UserHandle binds the login to one account, for a passkey as a second
	// factor after the application's own first factor (a password check):
	// the options list all of the account's passkeys, whatever their
	// attachment, second-factor-only ones (RegistrationRequest.
	// SecondFactorOnly) included, and only those are accepted. An unknown
	// handle, or an account without passkeys, gets a fake list as an
	// unknown Username does. Not with Username (ErrInvalidRequest).
	UserHandle []byte
	// UserVerification overrides Config.UserVerification for this ceremony
	// (empty: the Config's). With UserVerificationRequired a response
	// without the UV flag fails with ErrUserVerificationRequired.
	UserVerification UserVerification
	// Conditional asks for conditional mediation (passkey autofill on a
	// username field). The browser call must pass the returned Mediation.
	Conditional bool
}

// Login is the outcome of a successful FinishLogin.
type Login struct {
	User       User
	Credential Credential // as stored after this login
	// UserVerified: the authenticator verified the user (PIN, biometrics) in
	// this ceremony.
	UserVerified bool
	// Factors is how many authentication factors this login proves: 2 when
	// the authenticator verified the user (UserVerified: the passkey is
	// something the user has, the PIN or biometric something they know or
	// are), else 1 (possession only). An application that requires two
	// factors may skip its own second step (an OTP) after a passkey sign-in
	// with Factors == 2, and must check it (or UserVerified) before doing
	// so: with the default UserVerificationPreferred a security key without
	// a PIN signs in with UserVerified false, one factor only. After the
	// application's own password check (a login bound by
	// LoginRequest.UserHandle) the passkey is the second factor whatever
	// Factors says.
	Factors int
	// BackedUp: the credential is synced or backed up (BS flag).
	BackedUp bool
	// CloneSuspected: the sign counter went backwards and CounterFlag
	// accepted the login anyway.
	CloneSuspected bool
	// AuthenticatedAt is when the login was verified (Config.Now). Keep it
	// with the session as the time of the last authentication; with
	// UserVerified it is also a user-verified one, fresh enough for a
	// sensitive action for DefaultReauthMaxAge (see FinishReauth).
	AuthenticatedAt time.Time
	// CrossDevice: the browser reported the assertion as coming from a
	// roaming authenticator (authenticatorAttachment "cross-platform"): a
	// phone over the hybrid transport (QR code and Bluetooth) or a
	// security key. The passkey then stays on that other device, and this
	// device has none: passkeys.dev recommends offering to create a passkey
	// on this device right after such a sign-in ("Create a passkey on this
	// device?", a registration with RegistrationRequest.UserHandle).
	// False when the browser did not report the attachment.
	CrossDevice bool
}

// BeginLogin starts a login ceremony. For an unknown username or user
// handle, or one without passkeys, it answers exactly like for a real
// account (stable fake credential IDs), so accounts cannot be enumerated;
// the Finish fails as it does for a real account: ErrInvalidResponse for a
// response naming one of the listed IDs, ErrUnknownCredential for any other
// passkey.
//
// Second-factor-only passkeys are listed, and accepted, only by a login
// bound by UserHandle: a username is a first factor, so a username-first
// login neither lists nor accepts them, like a usernameless one.
//
// Errors: ErrInvalidRequest (malformed username, Username and UserHandle
// together, a UserHandle longer than 64 bytes, unknown UserVerification
// value), ErrStoreUnavailable.
func (rp *RelyingParty) BeginLogin(ctx context.Context, req LoginRequest) (*Begin, error) {
	uv, err := rp.ceremonyUV(req.UserVerification)
	if err != nil {
		return nil, err
	}
	byName := strings.TrimSpace(req.Username) != ""
	if byName && len(req.UserHandle) > 0 {
		return nil, &Error{Code: CodeInvalidRequest, Message: "set either Username or UserHandle, not both"}
	}
	if len(req.UserHandle) > MaxUserHandleLength {
		return nil, &Error{Code: CodeInvalidRequest, Message: "a user handle must have 1 to 64 bytes"}
	}
	challenge, err := rp.newChallenge()
	if err != nil {
		return nil, err
	}
	st := &ceremonyState{Kind: kindLogin}
	opts := []webauthn.LoginOption{
		webauthn.WithChallenge(challenge),
		webauthn.WithUserVerification(protocol.UserVerificationRequirement(uv)),
	}
	mediation := protocol.MediationDefault
	if req.Conditional {
		mediation = protocol.MediationConditional
	}
	if byName || len(req.UserHandle) > 0 {
		var (
			allow []protocol.CredentialDescriptor
			user  *User
		)
		if byName {
			name, err := NormalizeUsername(req.Username)
			if err != nil {
				return nil, err
			}
			allow, user, err = rp.allowList(ctx, name)
			if err != nil {
				return nil, err
			}
		} else {
			allow, user, err = rp.allowListByHandle(ctx, req.UserHandle)
			if err != nil {
				return nil, err
			}
			st.ByHandle = true
		}
		st.ByUsername = true
		if user != nil {
			st.UserHandle, st.User = user.Handle, user
		} else {
			st.FakeIDs = credentialIDs(allow)
		}
		opts = append(opts, webauthn.WithAllowedCredentials(allow))
	}
	// Bound logins are begun as discoverable ones with an allow list:
	// FinishLogin checks ownership against st.UserHandle itself.
	assertion, session, err := rp.wa.BeginDiscoverableMediatedLogin(mediation, opts...)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
	st.Session = *session
	st.Session.AllowedCredentialIDs = nil // not needed to finish; keeps the record small
	st.Expires = rp.cfg.Now().Add(rp.cfg.ChallengeTTL)
	return rp.finishBegin(ctx, st, assertion.Response, string(assertion.Mediation))
}

// allowList returns the credential descriptors for name and the account,
// or a fake descriptor and nil for an unknown name or an account without
// passkeys usable after a username (second-factor-only ones are not). Both
// paths make the same store calls.
func (rp *RelyingParty) allowList(ctx context.Context, name string) ([]protocol.CredentialDescriptor, *User, error) {
	// Both fakes are made for every name, so a real name costs as much CPU
	// as an unknown one.
	fakeHandle, fakeList := rp.fakeUserHandle(name), rp.fakeAllowList(name)
	u, err := rp.creds.GetUserByName(ctx, name)
	lookup := u.Handle
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		lookup = fakeHandle // same round trip as for a real account
	default:
		return nil, nil, rp.storeErr(ctx, "GetUserByName", err)
	}
	creds, err := rp.creds.ListCredentials(ctx, lookup)
	if err != nil {
		return nil, nil, rp.storeErr(ctx, "ListCredentials", err)
	}
	allow := make([]protocol.CredentialDescriptor, 0, len(creds))
	for _, c := range creds {
		if !c.SecondFactorOnly {
			allow = append(allow, descriptor(c.ID, c.Transports))
		}
	}
	if u.Handle == nil || len(allow) == 0 {
		return fakeList, nil, nil
	}
	return allow, &u, nil
}

// allowListByHandle is allowList for a login bound by user handle: every
// passkey of the account, second-factor-only ones included; for an unknown
// handle or an account without passkeys a fake list keyed by the handle.
// Both paths make the same store calls (GetUserByHandle, ListCredentials).
func (rp *RelyingParty) allowListByHandle(ctx context.Context, handle []byte) ([]protocol.CredentialDescriptor, *User, error) {
	fakeList := rp.fakeAllowListByHandle(handle)
	u, err := rp.creds.GetUserByHandle(ctx, handle)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		u = User{}
	default:
		return nil, nil, rp.storeErr(ctx, "GetUserByHandle", err)
	}
	// The unknown handle itself is looked up: it has no credentials.
	creds, err := rp.creds.ListCredentials(ctx, handle)
	if err != nil {
		return nil, nil, rp.storeErr(ctx, "ListCredentials", err)
	}
	if u.Handle == nil || len(creds) == 0 {
		return fakeList, nil, nil
	}
	allow := make([]protocol.CredentialDescriptor, 0, len(creds))
	for _, c := range creds {
		allow = append(allow, descriptor(c.ID, c.Transports))
	}
	return allow, &u, nil
}

// FinishLogin verifies the browser's credential.toJSON() for the ceremony,
// writes back the sign counter, backup state and last-used time, and returns
// the signed-in user. The ceremony is consumed whatever the outcome.
//
// Errors: ErrCeremonyNotFound, ErrChallengeExpired, ErrWrongCeremony,
// ErrInvalidResponse (and ErrChallengeMismatch, ErrOriginMismatch,
// ErrRPIDMismatch, ErrUserVerificationRequired), ErrUnknownCredential (not
// registered, or not the named user's, or its user handle names another
// account), ErrCounterRegression (with CounterReject), ErrStoreUnavailable.
func (rp *RelyingParty) FinishLogin(ctx context.Context, ceremonyID string, body []byte) (*Login, error) {
	login, credID, err := rp.finishLogin(ctx, ceremonyID, body, kindLogin, nil)
	ev := Event{Type: EventLoginSucceeded, CredentialID: credID}
	if err != nil {
		ev.Type, ev.Code, ev.Err = EventLoginFailed, ErrorCode(err), err
		rp.logFailure(ctx, "login", err)
	} else {
		ev.UserHandle, ev.Username = login.User.Handle, login.User.Name
	}
	rp.emit(ctx, ev)
	return login, err
}

// finishLogin finishes a ceremony of kind (kindLogin, kindReauth). A
// re-authentication (signedIn set) must have been begun for signedIn and
// be answered by one of its passkeys: another account's is ErrWrongUser.
func (rp *RelyingParty) finishLogin(ctx context.Context, ceremonyID string, body []byte, kind string, signedIn []byte) (*Login, []byte, error) {
	if len(body) > MaxResponseSize {
		return nil, nil, &Error{Code: CodeInvalidRequest, Message: "response too large"}
	}
	st, err := rp.takeCeremony(ctx, ceremonyID, kind)
	if err != nil {
		return nil, nil, err
	}
	reauth := kind == kindReauth
	if reauth && (len(signedIn) == 0 || !bytes.Equal(st.UserHandle, signedIn)) {
		// A ceremony begun for another account (a session that changed
		// between Begin and Finish).
		return nil, nil, &Error{Code: CodeWrongUser, Message: "this re-authentication was started for another account"}
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, nil, invalidResponse(err)
	}
	authData := &parsed.Response.AuthenticatorData
	if err := rp.precheck(&parsed.Response.CollectedClientData, protocol.AssertCeremony, st, authData.RPIDHash, authData.Flags); err != nil {
		return nil, parsed.RawID, err
	}
	unknown := &Error{Code: CodeUnknownCredential, Message: "this passkey is not registered"}
	// Discoverable: a store that reads the credential with its owner saves
	// the GetUserByHandle round trip at the end. Not by username: an
	// unknown name must make the same calls as a real one.
	var (
		stored Credential
		owner  *User
		getOp  = "GetCredential"
	)
	// The store's declaration decides (New refused one declaring the
	// method without having it).
	if g, ok := rp.creds.(CredentialUserGetter); ok && rp.creds.Features().CredentialWithUser && !st.ByUsername {
		getOp = "GetCredentialWithUser"
		var u User
		if stored, u, err = g.GetCredentialWithUser(ctx, parsed.RawID); err == nil {
			owner = &u
		}
	} else {
		stored, err = rp.creds.GetCredential(ctx, parsed.RawID)
	}
	if errors.Is(err, ErrNotFound) {
		if err := rp.fakeCredentialFailure(st, parsed); err != nil {
			return nil, parsed.RawID, err
		}
		return nil, parsed.RawID, &Error{Code: CodeUnknownCredential, Message: unknown.Message, Err: err, UnknownCredentialID: parsed.RawID}
	}
	if err != nil {
		return nil, parsed.RawID, rp.storeErr(ctx, getOp, err)
	}
	// Login by username: the credential must be that account's (for an
	// unknown name st.UserHandle is nil, so nothing matches, after the same
	// store call as for a real account). Discoverable:
	// the user handle in the response, when present, must be the owner's
	// (some hybrid authenticators omit it: the credential ID then decides).
	if st.ByUsername && !bytes.Equal(stored.UserHandle, st.UserHandle) {
		if reauth {
			return nil, parsed.RawID, &Error{Code: CodeWrongUser, Message: ErrWrongUser.Message}
		}
		return nil, parsed.RawID, unknown
	}
	if uh := parsed.Response.UserHandle; len(uh) > 0 && !bytes.Equal(uh, stored.UserHandle) {
		return nil, parsed.RawID, unknown
	}
	// A second-factor-only passkey proves nothing without the first factor
	// the application checked before a login bound by handle. Refused as
	// unknown_credential, without UnknownCredentialID (the passkey is
	// registered: a client must not ask the provider to hide it), and
	// before the signature check (no verification work for a refusal).
	if stored.SecondFactorOnly && !st.ByHandle {
		return nil, parsed.RawID, &Error{Code: CodeUnknownCredential, Message: "this passkey is a second factor: sign in with your password first"}
	}
	if err := rp.checkStoredKey(ctx, &stored); err != nil {
		return nil, parsed.RawID, err
	}
	session := st.Session
	session.UserID = stored.UserHandle
	wuser := &waUser{handle: stored.UserHandle, creds: []webauthn.Credential{toWebAuthn(&stored)}}
	if _, err := rp.wa.ValidateLogin(wuser, session, parsed); err != nil {
		return nil, parsed.RawID, invalidResponse(err)
	}
	newCount := authData.Counter
	use := CredentialUse{
		SignCount:      newCount,
		BackupState:    authData.Flags.HasBackupState(),
		UserVerified:   stored.UserVerified || authData.Flags.HasUserVerified(),
		LastUsedAt:     rp.cfg.Now().UTC(),
		CloneSuspected: stored.CloneSuspected,
	}
	// Compare-and-set, re-evaluating the counter against what a concurrent
	// login with the same credential may have written meanwhile.
	regressed := false
	for attempt := 0; ; attempt++ {
		if regressed = counterRegressed(stored.SignCount, newCount); regressed {
			rp.emit(ctx, Event{Type: EventCounterRegression, UserHandle: stored.UserHandle, CredentialID: stored.ID})
			rp.log.WarnContext(ctx, "webauthnkit: sign counter did not increase (possible cloned authenticator)",
				"stored", stored.SignCount, "received", newCount)
			if rp.cfg.CounterPolicy == CounterReject {
				return nil, parsed.RawID, &Error{Code: CodeCounterRegression, Message: "this passkey's signature counter went backwards; it may have been cloned"}
			}
			use.CloneSuspected = true
			use.SignCount = stored.SignCount // never move the counter backwards
		}
		err = rp.creds.UpdateCredentialUse(ctx, stored.ID, stored.SignCount, use)
		if err == nil {
			break
		}
		if errors.Is(err, ErrNotFound) { // revoked meanwhile
			return nil, parsed.RawID, &Error{Code: CodeUnknownCredential, Message: unknown.Message, Err: err, UnknownCredentialID: parsed.RawID}
		}
		if !errors.Is(err, ErrConflict) || attempt == 3 {
			return nil, parsed.RawID, rp.storeErr(ctx, "UpdateCredentialUse", err)
		}
		if stored, err = rp.creds.GetCredential(ctx, stored.ID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, parsed.RawID, &Error{Code: CodeUnknownCredential, Message: unknown.Message, Err: err}
			}
			return nil, parsed.RawID, rp.storeErr(ctx, "GetCredential", err)
		}
		use.SignCount = newCount
		use.CloneSuspected = use.CloneSuspected || stored.CloneSuspected
	}
	var user User
	switch {
	case st.User != nil:
		// Found at BeginLogin; had the account been deleted since, its
		// credential would be gone and GetCredential would have failed.
		user = *st.User
	case owner != nil:
		// Read with the credential (the same reasoning applies).
		user = *owner
	default:
		user, err = rp.creds.GetUserByHandle(ctx, stored.UserHandle)
		if errors.Is(err, ErrNotFound) { // account deleted meanwhile
			return nil, parsed.RawID, &Error{Code: CodeUnknownCredential, Message: unknown.Message, Err: err}
		}
		if err != nil {
			return nil, parsed.RawID, rp.storeErr(ctx, "GetUserByHandle", err)
		}
	}
	stored.SignCount, stored.BackupState, stored.UserVerified = use.SignCount, use.BackupState, use.UserVerified
	stored.LastUsedAt, stored.CloneSuspected = use.LastUsedAt, use.CloneSuspected
	return &Login{
		User:            user,
		Credential:      stored,
		UserVerified:    authData.Flags.HasUserVerified(),
		Factors:         factors(authData.Flags),
		BackedUp:        use.BackupState,
		CloneSuspected:  regressed,
		AuthenticatedAt: use.LastUsedAt,
		CrossDevice:     parsed.AuthenticatorAttachment == protocol.CrossPlatform,
	}, parsed.RawID, nil
}

// factors is Login.Factors: possession, plus the user verification the
// authenticator performed.
func factors(flags protocol.AuthenticatorFlags) int {
	if flags.HasUserVerified() {
		return 2
	}
	return 1
}

// counterRegressed applies WebAuthn §6.1.1: a counter that does not increase
// signals a possible clone, except 0 → 0 (authenticators without a counter).
func counterRegressed(stored, received uint32) bool {
	if stored == 0 && received == 0 {
		return false
	}
	return received <= stored
}

func toWebAuthn(c *Credential) webauthn.Credential {
	var flags protocol.AuthenticatorFlags
	if c.UserPresent {
		flags |= protocol.FlagUserPresent
	}
	if c.UserVerified {
		flags |= protocol.FlagUserVerified
	}
	if c.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if c.BackupState {
		flags |= protocol.FlagBackupState
	}
	return webauthn.Credential{
		ID:                c.ID,
		PublicKey:         c.PublicKey,
		AttestationFormat: c.AttestationFormat,
		Flags:             webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{
			AAGUID:     c.AAGUID,
			SignCount:  c.SignCount,
			Attachment: protocol.AuthenticatorAttachment(c.Attachment),
		},
	}
}
