package webauthnkit

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// RegistrationRequest starts a registration ceremony.
//
// For a new account set Username (and optionally DisplayName); the library
// makes a random user handle. To add a passkey to an existing account set
// UserHandle instead (the app must have authenticated that user); the
// account may have no passkey yet (CreateUser).
type RegistrationRequest struct {
	Username    string
	DisplayName string // default: Username, cut to MaxDisplayNameLength
	UserHandle  []byte
	// CredentialName labels the new passkey (e.g. "Work laptop"). Optional.
	// Default: the authenticator's name (RelyingParty.AuthenticatorName,
	// e.g. "YubiKey 5 Series with NFC") when its AAGUID is known, else
	// "Synced passkey", "Security key", "Device passkey" or "Passkey".
	CredentialName string
	// Conditional asks for conditional create (automatic passkey upgrade
	// after a password sign-in): the browser call must pass the returned
	// Begin.Mediation, and the response may lack user presence (UP=false),
	// which is accepted for this ceremony only. Needs UserHandle.
	Conditional bool
	// SecondFactorOnly registers the passkey as a second factor (e.g. a
	// security key without PIN, after the application's password check):
	// Credential.SecondFactorOnly is stored, and the passkey is then
	// accepted only by a login bound to its account (LoginRequest.UserHandle),
	// never by a usernameless or username-first login. Only with UserHandle.
	// The ceremony asks for a non-discoverable credential (residentKey
	// "discouraged") and, unless UserVerification or
	// Config.UserVerification says "required", for no user verification
	// ("discouraged": no PIN prompt for a second factor).
	SecondFactorOnly bool
	// UserVerification overrides Config.UserVerification for this ceremony
	// (empty: the Config's; see SecondFactorOnly). With
	// UserVerificationRequired a response without the UV flag fails with
	// ErrUserVerificationRequired.
	UserVerification UserVerification
	// Grant, from IssueRegistrationGrant, authorises this registration
	// without a session: it names the account (an existing one, or a new
	// one with its name and email), so Username and UserHandle stay empty.
	// BeginRegistration consumes it (single use) after checking the rest
	// of the request; a failed ceremony needs a new grant.
	Grant string
}

// Registration is the outcome of a successful FinishRegistration.
type Registration struct {
	User       User
	Credential Credential
	// NewUser is true when the ceremony created the account.
	NewUser bool
	// GrantPurpose is GrantRequest.Purpose when the ceremony was begun with
	// a grant ("" otherwise).
	GrantPurpose string
	// Attestation is the attestation policy's verdict (nil with
	// AttestationOff).
	Attestation *AttestationResult
}

// BeginRegistration starts registering a passkey, for a new account
// (req.Username) or an existing one (req.UserHandle).
//
// Errors: ErrInvalidRequest (bad name, unknown UserVerification value,
// SecondFactorOnly without UserHandle), ErrUsernameTaken (new account with
// a name in use), ErrUserNotFound (unknown UserHandle), ErrStoreUnavailable.
func (rp *RelyingParty) BeginRegistration(ctx context.Context, req RegistrationRequest) (*Begin, error) {
	credName, err := cleanText("credential name", req.CredentialName)
	if err != nil {
		return nil, err
	}
	uv, err := rp.ceremonyUV(req.UserVerification)
	if err != nil {
		return nil, err
	}
	selection := rp.wa.Config.AuthenticatorSelection
	selection.UserVerification = protocol.UserVerificationRequirement(uv)
	if req.SecondFactorOnly {
		if len(req.UserHandle) == 0 {
			return nil, &Error{Code: CodeInvalidRequest, Message: "a second-factor passkey is added to an existing account: set UserHandle"}
		}
		// A second factor is looked up by the allow list of a bound login:
		// it need not take a resident-key slot on a security key.
		notRequired := false
		selection.RequireResidentKey = &notRequired
		selection.ResidentKey = protocol.ResidentKeyRequirementDiscouraged
		if req.UserVerification == "" && uv != UserVerificationRequired {
			selection.UserVerification = protocol.VerificationDiscouraged
		}
	}
	st := &ceremonyState{Kind: kindRegistration, CredName: credName, SecondFactorOnly: req.SecondFactorOnly}
	mediation := protocol.MediationDefault
	if req.Conditional {
		if len(req.UserHandle) == 0 {
			return nil, &Error{Code: CodeInvalidRequest, Message: "conditional registration is for an existing account (UserHandle)"}
		}
		mediation = protocol.MediationConditional
	}
	var grantEpoch *ceremonyState // a grant bound to the account's session epoch
	if req.Grant != "" {
		if req.Username != "" || len(req.UserHandle) > 0 || req.DisplayName != "" {
			return nil, &Error{Code: CodeInvalidRequest, Message: "a grant names the account: leave Username, DisplayName and UserHandle empty"}
		}
		g, err := rp.takeGrant(ctx, req.Grant)
		if err != nil {
			return nil, err
		}
		grantEpoch = g
		st.GrantPurpose, st.NewEmail, st.NewEmailVerified = g.GrantPurpose, g.NewEmail, g.NewEmailVerified
		req.UserHandle, req.Username, req.DisplayName = g.UserHandle, g.NewName, g.NewDisplay
	}
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
		if grantEpoch != nil && grantEpoch.EpochBound && grantEpoch.SessionEpoch != u.SessionEpoch {
			// A device link's grant: the account's sessions ended since
			// the approval (its owner took it back).
			return nil, &Error{Code: CodeInvalidGrant, Message: ErrInvalidGrant.Message}
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
			if display, err = defaultDisplayName(req.Username); err != nil {
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
	// go-webauthn records the mediation in the session and relaxes the
	// user presence check of FinishRegistration for a conditional one only.
	creation, session, err := rp.wa.BeginMediatedRegistration(&user, mediation,
		webauthn.WithExclusions(exclusions),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
		webauthn.WithCredentialParameters(rp.credParams),
		webauthn.WithAuthenticatorSelection(selection),
		withRegistrationChallenge(challenge),
	)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
	st.Session = *session
	st.UserHandle = user.handle
	st.Expires = rp.cfg.Now().Add(rp.cfg.ChallengeTTL)
	return rp.finishBegin(ctx, st, creation.Response, string(creation.Mediation))
}

// ceremonyUV returns the user verification of one ceremony: override if
// set (validated), else Config.UserVerification.
func (rp *RelyingParty) ceremonyUV(override UserVerification) (UserVerification, error) {
	switch override {
	case "":
		return rp.cfg.UserVerification, nil
	case UserVerificationRequired, UserVerificationPreferred, UserVerificationDiscouraged:
		return override, nil
	}
	return "", &Error{Code: CodeInvalidRequest, Message: "unknown user verification requirement (required, preferred or discouraged)"}
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
// deleted since Begin); ErrAttestationRefused (AttestationEnforce refused
// the authenticator); ErrStoreUnavailable.
func (rp *RelyingParty) FinishRegistration(ctx context.Context, ceremonyID string, body []byte) (*Registration, error) {
	start := time.Now()
	reg, st, err := rp.finishRegistration(ctx, ceremonyID, body)
	ev := Event{Type: EventRegistrationSucceeded, Duration: time.Since(start)}
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
	attResult, err := rp.applyAttestationPolicy(ctx, st, cred.ID, cred.AttestationFormat, cred.Authenticator.AAGUID, cred.Attestation.Object)
	if err != nil {
		return nil, st, err
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
		SecondFactorOnly:  st.SecondFactorOnly,
	}
	rec.Transports = knownTransports(cred.Transport)
	keepAttestation(&rec, parsed)
	if attResult != nil {
		// The registration's verdict is the audit state's starting point.
		rec.AttestationTrust, rec.AttestationCheckedAt = cutText(string(attResult.Trust), MaxAuditTextLength), now
	}
	if rec.Name == "" {
		rec.Name = rp.AuthenticatorName(rec.AAGUID) // "YubiKey 5 Series with NFC"
	}
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
		var epoch uint64
		if epoch, err = initialSessionEpoch(); err != nil {
			return nil, st, err
		}
		u = User{Handle: st.UserHandle, Name: st.NewName, DisplayName: st.NewDisplay, CreatedAt: now, SessionEpoch: epoch, Email: st.NewEmail}
		if st.NewEmailVerified {
			u.EmailVerifiedAt = now
		}
		err = rp.creds.CreateUser(ctx, u, &rec)
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
	case errors.Is(err, ErrUserExists) && st.NewEmail != "":
		// A grant's new account has an email: tell which is taken.
		return nil, st, rp.whichUserExists(ctx, u, false, err)
	case errors.Is(err, ErrUserExists):
		return nil, st, &Error{Code: CodeUsernameTaken, Message: "this username is taken", Err: err}
	case errors.Is(err, ErrNotFound):
		return nil, st, &Error{Code: CodeUserNotFound, Message: "the account no longer exists", Err: err}
	default:
		return nil, st, rp.storeErr(ctx, "CreateCredential", err)
	}
	return &Registration{User: u, Credential: rp.withProviderName(rec), NewUser: st.NewUser, GrantPurpose: st.GrantPurpose, Attestation: attResult}, st, nil
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
