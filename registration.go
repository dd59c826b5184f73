package webauthnkit

import (
	"context"
	"errors"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// RegistrationRequest starts a registration ceremony.
//
// For a new account set Username (and optionally DisplayName); the library
// makes a random user handle. To add a passkey to an existing account set
// UserHandle instead (the app must have authenticated that user).
type RegistrationRequest struct {
	Username    string
	DisplayName string // default: Username
	UserHandle  []byte
	// CredentialName labels the new passkey (e.g. "Work laptop"). Optional.
	CredentialName string
}

// Registration is the outcome of a successful FinishRegistration.
type Registration struct {
	User       User
	Credential Credential
	// NewUser is true when the ceremony created the account.
	NewUser bool
}

// BeginRegistration starts registering a passkey, for a new account
// (req.Username) or an existing one (req.UserHandle).
//
// Errors: ErrInvalidRequest (bad name), ErrUsernameTaken (new account with
// a name in use), ErrUserNotFound (unknown UserHandle), ErrStoreUnavailable.
func (rp *RelyingParty) BeginRegistration(ctx context.Context, req RegistrationRequest) (*Begin, error) {
	credName, err := cleanText("credential name", req.CredentialName)
	if err != nil {
		return nil, err
	}
	st := &ceremonyState{Kind: kindRegistration, CredName: credName}
	var user waUser
	var exclusions []protocol.CredentialDescriptor
	if len(req.UserHandle) > 0 {
		if req.Username != "" {
			return nil, &Error{Code: CodeInvalidRequest, Message: "set either Username (new account) or UserHandle (existing account), not both"}
		}
		u, err := rp.creds.GetUserByHandle(ctx, req.UserHandle)
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
		for _, c := range creds {
			exclusions = append(exclusions, descriptor(c.ID, c.Transports))
		}
		user = waUser{handle: u.Handle, name: u.Name, displayName: u.DisplayName}
		st.SessionEpoch = u.SessionEpoch
	} else {
		name, err := NormalizeUsername(req.Username)
		if err != nil {
			return nil, err
		}
		display, err := cleanText("display name", req.DisplayName)
		if err != nil {
			return nil, err
		}
		if display == "" {
			if display, err = cleanText("display name", req.Username); err != nil {
				return nil, err
			}
		}
		_, err = rp.creds.GetUserByName(ctx, name)
		switch {
		case err == nil:
			return nil, &Error{Code: CodeUsernameTaken, Message: "this username is taken"}
		case !errors.Is(err, ErrNotFound):
			return nil, rp.storeErr(ctx, "GetUserByName", err)
		}
		handle, err := randomBytes(32)
		if err != nil {
			return nil, err
		}
		user = waUser{handle: handle, name: name, displayName: display}
		st.NewUser, st.NewName, st.NewDisplay = true, name, display
	}
	challenge, err := rp.newChallenge()
	if err != nil {
		return nil, err
	}
	creation, session, err := rp.wa.BeginRegistration(&user,
		webauthn.WithExclusions(exclusions),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
		webauthn.WithCredentialParameters(rp.credParams),
		withRegistrationChallenge(challenge),
	)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
	st.Session = *session
	st.UserHandle = user.handle
	st.Expires = rp.cfg.Now().Add(rp.cfg.ChallengeTTL)
	return rp.finishBegin(ctx, st, creation.Response, "")
}

func withRegistrationChallenge(c []byte) webauthn.RegistrationOption {
	return func(o *protocol.PublicKeyCredentialCreationOptions) error {
		o.Challenge = c
		return nil
	}
}

// FinishRegistration verifies the browser's credential.toJSON() for the
// ceremony and stores the new credential (and, for a sign-up, the account).
// The ceremony is consumed whatever the outcome.
//
// Errors: ErrCeremonyNotFound (unknown or already finished),
// ErrChallengeExpired, ErrWrongCeremony, ErrInvalidResponse and the more
// precise ErrChallengeMismatch, ErrOriginMismatch, ErrRPIDMismatch,
// ErrUserVerificationRequired; ErrCredentialExists (the credential is
// registered, to this or another account); ErrUsernameTaken (the name was
// taken since Begin); ErrUserNotFound (adding a passkey to an account
// deleted since Begin); ErrStoreUnavailable.
func (rp *RelyingParty) FinishRegistration(ctx context.Context, ceremonyID string, body []byte) (*Registration, error) {
	reg, st, err := rp.finishRegistration(ctx, ceremonyID, body)
	ev := Event{Type: EventRegistrationSucceeded}
	if st != nil {
		ev.UserHandle, ev.Username = st.UserHandle, st.NewName
	}
	if err != nil {
		ev.Type, ev.Code, ev.Err = EventRegistrationFailed, ErrorCode(err), err
		rp.logFailure(ctx, "registration", err)
	} else {
		ev.CredentialID, ev.Username = reg.Credential.ID, reg.User.Name
	}
	rp.emit(ctx, ev)
	return reg, err
}

func (rp *RelyingParty) finishRegistration(ctx context.Context, ceremonyID string, body []byte) (*Registration, *ceremonyState, error) {
	if len(body) > MaxResponseSize {
		return nil, nil, &Error{Code: CodeInvalidRequest, Message: "response too large"}
	}
	st, err := rp.takeCeremony(ctx, ceremonyID, kindRegistration)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, st, invalidResponse(err)
	}
	if err := rp.precheck(&parsed.Response.CollectedClientData, protocol.CreateCeremony, st, parsed.Response.AttestationObject.AuthData.RPIDHash, parsed.Response.AttestationObject.AuthData.Flags); err != nil {
		return nil, st, err
	}
	if err := rp.checkRegistrationKeys(parsed); err != nil {
		return nil, st, err
	}
	user := &waUser{handle: st.UserHandle, name: st.NewName, displayName: st.NewDisplay}
	cred, err := rp.wa.CreateCredential(user, st.Session, parsed)
	if err != nil {
		return nil, st, invalidResponse(err)
	}
	now := rp.cfg.Now().UTC()
	rec := Credential{
		ID:                cred.ID,
		UserHandle:        st.UserHandle,
		PublicKey:         cred.PublicKey,
		SignCount:         cred.Authenticator.SignCount,
		AAGUID:            cred.Authenticator.AAGUID,
		AttestationFormat: cred.AttestationFormat,
		UserPresent:       cred.Flags.UserPresent,
		UserVerified:      cred.Flags.UserVerified,
		BackupEligible:    cred.Flags.BackupEligible,
		BackupState:       cred.Flags.BackupState,
		Attachment:        string(cred.Authenticator.Attachment),
		Name:              st.CredName,
		CreatedAt:         now,
	}
	rec.Transports = knownTransports(cred.Transport)
	if rec.Name == "" {
		rec.Name = defaultCredentialName(rec)
	}
	// A passkey under an ID already registered is refused (WebAuthn §7.1
	// step 26; the store's unique index settles races). So is a fake ID of
	// a login by an unknown name, after the same read: accepting it would
	// tell that the name has no account (enumeration.go).
	_, err = rp.creds.GetCredential(ctx, rec.ID)
	switch {
	case err == nil || errors.Is(err, ErrNotFound) && rp.isFakeCredentialID(rec.ID):
		return nil, st, &Error{Code: CodeCredentialExists, Message: "this passkey is already registered", Err: ErrDuplicate}
	case !errors.Is(err, ErrNotFound):
		return nil, st, rp.storeErr(ctx, "GetCredential", err)
	}
	var u User
	if st.NewUser {
		u = User{Handle: st.UserHandle, Name: st.NewName, DisplayName: st.NewDisplay, CreatedAt: now}
		err = rp.creds.CreateUser(ctx, u, rec)
	} else {
		u, err = rp.creds.GetUserByHandle(ctx, st.UserHandle)
		if err == nil && u.SessionEpoch != st.SessionEpoch {
			// The account's sessions were ended since Begin (sign-out
			// everywhere, a passkey removed): so is a ceremony begun under
			// one of them, which a copied cookie could have started.
			return nil, st, &Error{Code: CodeCeremonyNotFound, Message: "the account's sessions ended since this ceremony began; sign in and start again"}
		}
		if err == nil {
			err = rp.creds.AddCredential(ctx, rec)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrCredentialExists):
		return nil, st, &Error{Code: CodeCredentialExists, Message: "this passkey is already registered", Err: err}
	case errors.Is(err, ErrUserExists):
		return nil, st, &Error{Code: CodeUsernameTaken, Message: "this username is taken", Err: err}
	case errors.Is(err, ErrNotFound):
		return nil, st, &Error{Code: CodeUserNotFound, Message: "the account no longer exists", Err: err}
	default:
		return nil, st, rp.storeErr(ctx, "CreateCredential", err)
	}
	return &Registration{User: u, Credential: rec, NewUser: st.NewUser}, st, nil
}

// knownTransports keeps the transport hints WebAuthn defines, once each:
// the list comes from the client and is echoed in later login options.
func knownTransports(in []protocol.AuthenticatorTransport) []string {
	var out []string
	for _, t := range in {
		switch t {
		case protocol.USB, protocol.NFC, protocol.BLE, protocol.SmartCard, protocol.Hybrid, protocol.Internal:
			if !slices.Contains(out, string(t)) {
				out = append(out, string(t))
			}
		}
	}
	return out
}

func defaultCredentialName(c Credential) string {
	switch {
	case c.BackupEligible:
		return "Synced passkey"
	case c.Attachment == "cross-platform":
		return "Security key"
	case c.Attachment == "platform":
		return "Device passkey"
	}
	return "Passkey"
}
