package webauthnkit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"golang.org/x/text/unicode/norm"
)

// MaxResponseSize caps the authenticator response body accepted by
// FinishRegistration and FinishLogin. Real responses, attestation
// certificate chains included, stay far below it.
const MaxResponseSize = 64 << 10

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

// LoginRequest starts a login ceremony. With Username, the options list that
// user's credentials (allowCredentials). Without it, the login is
// discoverable (usernameless): the authenticator offers its passkeys for this
// RP and the user is found from the response.
type LoginRequest struct {
	Username string
	// Conditional asks for conditional mediation (passkey autofill on a
	// username field). The browser call must pass the returned Mediation.
	Conditional bool
}

// Begin is returned by BeginRegistration and BeginLogin.
type Begin struct {
	// CeremonyID identifies the ceremony; pass it to the Finish* call. It is
	// not secret from its own client but must be bound to it (the HTTP
	// adapter keeps it in an HttpOnly cookie).
	CeremonyID string
	// Options is the JSON object to pass, unchanged, to
	// PublicKeyCredential.parseCreationOptionsFromJSON (registration) or
	// parseRequestOptionsFromJSON (login): the PublicKeyCredential*OptionsJSON
	// dictionary of WebAuthn Level 3, with binary fields in base64url.
	Options json.RawMessage
	// Mediation is "conditional" for an autofill login, else empty. Pass it
	// as navigator.credentials.get({mediation, publicKey}).
	Mediation string
	// ExpiresAt is when the ceremony stops being accepted.
	ExpiresAt time.Time
}

// Registration is the outcome of a successful FinishRegistration.
type Registration struct {
	User       User
	Credential Credential
	// NewUser is true when the ceremony created the account.
	NewUser bool
}

// Login is the outcome of a successful FinishLogin.
type Login struct {
	User       User
	Credential Credential // as stored after this login
	// UserVerified: the authenticator verified the user (PIN, biometrics) in
	// this ceremony.
	UserVerified bool
	// BackedUp: the credential is synced or backed up (BS flag).
	BackedUp bool
	// CloneSuspected: the sign counter went backwards and CounterFlag
	// accepted the login anyway.
	CloneSuspected bool
}

const (
	kindRegistration = "registration"
	kindLogin        = "login"
)

// ceremonyState is what a ChallengeStore keeps between Begin* and Finish*.
// go-webauthn's SessionData is kept verbatim (rebuilding it by hand loses the
// record of requested extensions).
type ceremonyState struct {
	Kind    string               `json:"k"`
	Expires time.Time            `json:"e"`
	Session webauthn.SessionData `json:"s"`
	// UserHandle: registration: the (new or existing) account; login by
	// username: the account (nil when the name is unknown).
	UserHandle []byte `json:"u,omitempty"`
	// User is the account found by BeginLogin for a username-first login,
	// kept so FinishLogin needs no second lookup (one round trip less).
	User *User `json:"us,omitempty"`
	// Registration of a new account.
	NewName    string `json:"n,omitempty"`
	NewDisplay string `json:"d,omitempty"`
	NewUser    bool   `json:"nu,omitempty"`
	CredName   string `json:"cn,omitempty"`
	ByUsername bool   `json:"bu,omitempty"`
	// FakeIDs: login by an unknown username: the fake allow list shown, so
	// FinishLogin answers them as a real account would (enumeration.go).
	FakeIDs [][]byte `json:"f,omitempty"`
}

// waUser adapts an account to go-webauthn's User interface.
type waUser struct {
	handle      []byte
	name        string
	displayName string
	creds       []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                         { return u.handle }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.displayName }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func checkText(field, s string, required bool) error {
	if !utf8.ValidString(s) {
		return &Error{Code: CodeInvalidRequest, Message: field + " is not valid UTF-8"}
	}
	if required && s == "" {
		return &Error{Code: CodeInvalidRequest, Message: field + " is required"}
	}
	if utf8.RuneCountInString(s) > MaxNameLength {
		return &Error{Code: CodeInvalidRequest, Message: field + " is too long"}
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError || isBidiControl(r) || r == '\u2028' || r == '\u2029' {
			return &Error{Code: CodeInvalidRequest, Message: field + " contains control characters"}
		}
		// Invisible format characters (zero-width space, soft hyphen, ...)
		// would let "alice\u200b" pass for "alice". Display names keep the
		// zero-width joiner of emoji sequences.
		if required && unicode.Is(unicode.Cf, r) {
			return &Error{Code: CodeInvalidRequest, Message: field + " contains invisible characters"}
		}
	}
	return nil
}

// isBidiControl reports the explicit bidirectional formatting characters,
// which can make a name display as another ("\u202eecila").
func isBidiControl(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f' || r == '\u061c'
}

func cleanText(field, s string) (string, error) {
	s = norm.NFC.String(strings.TrimSpace(s))
	return s, checkText(field, s, false)
}

// storeErr turns a store error into an *Error for callers.
func (rp *RelyingParty) storeErr(ctx context.Context, op string, err error) error {
	// A client that went away is not a store outage: no warning, and its
	// own code. A deadline that passed is (a slow or hung store).
	if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		return &Error{Code: CodeCanceled, Message: "request canceled", Err: err}
	}
	if errors.Is(err, ErrStoreUnavailable) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		rp.log.WarnContext(ctx, "webauthnkit: store unavailable", "op", op, "err", err)
		return &Error{Code: CodeStoreUnavailable, Message: "storage is temporarily unavailable", Err: err}
	}
	rp.log.ErrorContext(ctx, "webauthnkit: store error", "op", op, "err", err)
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}

func (rp *RelyingParty) newChallenge() ([]byte, error) {
	c, err := rp.cfg.NewChallenge()
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "challenge generation failed", Err: err}
	}
	if len(c) < protocol.MinimumChallengeLength {
		return nil, &Error{Code: CodeInternal, Message: "challenge shorter than 16 bytes"}
	}
	return c, nil
}

// putCeremony stores st under a fresh random ID.
func (rp *RelyingParty) putCeremony(ctx context.Context, st *ceremonyState) (string, error) {
	raw, err := randomBytes(32)
	if err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	data, err := json.Marshal(st)
	if err != nil {
		return "", &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
	if err := rp.cers.PutCeremony(ctx, rp.ceremonyStoreID(id), rp.sealCeremony(id, data), st.Expires); err != nil {
		return "", rp.storeErr(ctx, "PutCeremony", err)
	}
	return id, nil
}

// takeCeremony consumes the ceremony id (exactly once) and checks its kind
// and expiry.
func (rp *RelyingParty) takeCeremony(ctx context.Context, id, kind string) (*ceremonyState, error) {
	if id == "" || len(id) > 128 {
		return nil, &Error{Code: CodeCeremonyNotFound, Message: "unknown or finished ceremony"}
	}
	data, err := rp.cers.TakeCeremony(ctx, rp.ceremonyStoreID(id))
	if errors.Is(err, ErrNotFound) {
		return nil, &Error{Code: CodeCeremonyNotFound, Message: "unknown, finished or expired ceremony; start again"}
	}
	if err != nil {
		return nil, rp.storeErr(ctx, "TakeCeremony", err)
	}
	data, ok := rp.openCeremony(ctx, id, data)
	if !ok {
		return nil, &Error{Code: CodeCeremonyNotFound, Message: "unknown, finished or expired ceremony; start again"}
	}
	st := new(ceremonyState)
	if err := json.Unmarshal(data, st); err != nil {
		return nil, &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
	if st.Kind != kind {
		return nil, &Error{Code: CodeWrongCeremony, Message: "this ceremony is a " + st.Kind + ", not a " + kind}
	}
	if !rp.cfg.Now().Before(st.Expires) {
		return nil, &Error{Code: CodeChallengeExpired, Message: "the ceremony expired; start again"}
	}
	return st, nil
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

func (rp *RelyingParty) finishBegin(ctx context.Context, st *ceremonyState, options any, mediation string) (*Begin, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
	id, err := rp.putCeremony(ctx, st)
	if err != nil {
		return nil, err
	}
	return &Begin{CeremonyID: id, Options: opts, Mediation: mediation, ExpiresAt: st.Expires}, nil
}

func withRegistrationChallenge(c []byte) webauthn.RegistrationOption {
	return func(o *protocol.PublicKeyCredentialCreationOptions) error {
		o.Challenge = c
		return nil
	}
}

func descriptor(id []byte, transports []string) protocol.CredentialDescriptor {
	d := protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: id}
	for _, t := range transports {
		d.Transport = append(d.Transport, protocol.AuthenticatorTransport(t))
	}
	return d
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
// taken since Begin); ErrStoreUnavailable.
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
	var u User
	if st.NewUser {
		u = User{Handle: st.UserHandle, Name: st.NewName, DisplayName: st.NewDisplay, CreatedAt: now}
		err = rp.creds.CreateUser(ctx, u, rec)
	} else {
		u, err = rp.creds.GetUserByHandle(ctx, st.UserHandle)
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

// precheck compares the parts of a response that have a precise error code
// before go-webauthn verifies everything (again) with generic errors. It
// never logs the challenge.
func (rp *RelyingParty) precheck(cd *protocol.CollectedClientData, ceremony protocol.CeremonyType, st *ceremonyState, rpIDHash []byte, flags protocol.AuthenticatorFlags) error {
	if cd.Type != ceremony {
		return &Error{Code: CodeWrongCeremony, Message: "the response is for another kind of ceremony"}
	}
	if cd.Challenge != st.Session.Challenge {
		return &Error{Code: CodeChallengeMismatch, Message: "the response does not answer this ceremony's challenge"}
	}
	if !protocol.IsOriginInHaystack(cd.Origin, rp.wa.Config.RPOrigins) && !protocol.IsOpaqueOriginInHaystack(cd.Origin, rp.wa.Config.RPOpaqueOrigins) {
		return &Error{Code: CodeOriginMismatch, Message: "the response comes from an origin that is not allowed"}
	}
	want := sha256.Sum256([]byte(rp.cfg.RPID))
	if !bytes.Equal(rpIDHash, want[:]) {
		return &Error{Code: CodeRPIDMismatch, Message: "the response is scoped to another relying party"}
	}
	if st.Session.UserVerification == protocol.VerificationRequired && !flags.HasUserVerified() {
		return &Error{Code: CodeUserVerificationRequired, Message: "user verification (PIN or biometrics) is required"}
	}
	return nil
}

func invalidResponse(err error) error {
	var unknown *protocol.ErrorUnknownCredential
	if errors.As(err, &unknown) {
		return &Error{Code: CodeUnknownCredential, Message: "this passkey is not registered", Err: err}
	}
	return &Error{Code: CodeInvalidResponse, Message: "the authenticator response could not be verified", Err: err}
}

// logFailure logs a failed ceremony without challenges, signatures or keys:
// go-webauthn's DevInfo is dropped where it can echo the challenge.
func (rp *RelyingParty) logFailure(ctx context.Context, ceremony string, err error) {
	attrs := []any{"ceremony", ceremony, "code", string(ErrorCode(err))}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		attrs = append(attrs, "type", pe.Type, "details", pe.Details)
		if pe.DevInfo != "" && !strings.Contains(pe.Details, "challenge") {
			attrs = append(attrs, "devinfo", pe.DevInfo)
		}
	} else {
		attrs = append(attrs, "err", err.Error())
	}
	rp.log.InfoContext(ctx, "webauthnkit: ceremony failed", attrs...)
}

// BeginLogin starts a login ceremony. For an unknown username, or one
// without passkeys, it answers exactly like for a real account (stable fake
// credential IDs), so usernames cannot be enumerated; the Finish fails as it
// does for a real account: ErrInvalidResponse for a response naming one of
// the listed IDs, ErrUnknownCredential for any other passkey.
//
// Errors: ErrInvalidRequest (malformed username), ErrStoreUnavailable.
func (rp *RelyingParty) BeginLogin(ctx context.Context, req LoginRequest) (*Begin, error) {
	challenge, err := rp.newChallenge()
	if err != nil {
		return nil, err
	}
	st := &ceremonyState{Kind: kindLogin}
	opts := []webauthn.LoginOption{webauthn.WithChallenge(challenge)}
	mediation := protocol.MediationDefault
	if req.Conditional {
		mediation = protocol.MediationConditional
	}
	if strings.TrimSpace(req.Username) != "" {
		name, err := NormalizeUsername(req.Username)
		if err != nil {
			return nil, err
		}
		allow, user, err := rp.allowList(ctx, name)
		if err != nil {
			return nil, err
		}
		st.ByUsername = true
		if user != nil {
			st.UserHandle, st.User = user.Handle, user
		} else {
			st.FakeIDs = credentialIDs(allow)
		}
		opts = append(opts, webauthn.WithAllowedCredentials(allow))
	}
	// Username-first logins are begun as discoverable ones with an allow
	// list: FinishLogin checks ownership against st.UserHandle itself.
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
// passkeys. Both paths make the same store calls.
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
	login, credID, err := rp.finishLogin(ctx, ceremonyID, body)
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

func (rp *RelyingParty) finishLogin(ctx context.Context, ceremonyID string, body []byte) (*Login, []byte, error) {
	if len(body) > MaxResponseSize {
		return nil, nil, &Error{Code: CodeInvalidRequest, Message: "response too large"}
	}
	st, err := rp.takeCeremony(ctx, ceremonyID, kindLogin)
	if err != nil {
		return nil, nil, err
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
		return nil, parsed.RawID, &Error{Code: CodeUnknownCredential, Message: unknown.Message, UnknownCredentialID: parsed.RawID}
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
		return nil, parsed.RawID, unknown
	}
	if uh := parsed.Response.UserHandle; len(uh) > 0 && !bytes.Equal(uh, stored.UserHandle) {
		return nil, parsed.RawID, unknown
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
			return nil, parsed.RawID, &Error{Code: CodeUnknownCredential, Message: unknown.Message, UnknownCredentialID: parsed.RawID}
		}
		if !errors.Is(err, ErrConflict) || attempt == 3 {
			return nil, parsed.RawID, rp.storeErr(ctx, "UpdateCredentialUse", err)
		}
		if stored, err = rp.creds.GetCredential(ctx, stored.ID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, parsed.RawID, unknown
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
		if errors.Is(err, ErrNotFound) {
			return nil, parsed.RawID, unknown // account deleted meanwhile
		}
		if err != nil {
			return nil, parsed.RawID, rp.storeErr(ctx, "GetUserByHandle", err)
		}
	}
	stored.SignCount, stored.BackupState, stored.UserVerified = use.SignCount, use.BackupState, use.UserVerified
	stored.LastUsedAt, stored.CloneSuspected = use.LastUsedAt, use.CloneSuspected
	return &Login{
		User:           user,
		Credential:     stored,
		UserVerified:   authData.Flags.HasUserVerified(),
		BackedUp:       use.BackupState,
		CloneSuspected: regressed,
	}, parsed.RawID, nil
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

// UserByHandle returns the account with this handle, or ErrUserNotFound.
func (rp *RelyingParty) UserByHandle(ctx context.Context, handle []byte) (User, error) {
	u, err := rp.creds.GetUserByHandle(ctx, handle)
	if errors.Is(err, ErrNotFound) {
		return User{}, &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	}
	if err != nil {
		return User{}, rp.storeErr(ctx, "GetUserByHandle", err)
	}
	return u, nil
}

// ListCredentials returns the passkeys of an account, oldest first.
func (rp *RelyingParty) ListCredentials(ctx context.Context, userHandle []byte) ([]Credential, error) {
	creds, err := rp.creds.ListCredentials(ctx, userHandle)
	if err != nil {
		return nil, rp.storeErr(ctx, "ListCredentials", err)
	}
	return creds, nil
}

// RenameCredential sets the user-given name of one of the account's
// passkeys. Errors: ErrInvalidRequest (name too long, control characters),
// ErrNotFound (unknown, or another account's), ErrStoreUnavailable.
func (rp *RelyingParty) RenameCredential(ctx context.Context, userHandle, credentialID []byte, name string) error {
	name, err := cleanText("credential name", name)
	if err != nil {
		return err
	}
	err = rp.creds.RenameCredential(ctx, userHandle, credentialID, name)
	if errors.Is(err, ErrNotFound) {
		return &Error{Code: CodeNotFound, Message: "no such passkey", Err: err}
	}
	if err != nil {
		return rp.storeErr(ctx, "RenameCredential", err)
	}
	rp.emit(ctx, Event{Type: EventCredentialRenamed, UserHandle: userHandle, CredentialID: credentialID})
	return nil
}

// RevokeCredential deletes one of the account's passkeys and ends every
// session of the account (a session opened with the removed passkey must
// not outlive it). It refuses to delete the last one (ErrLastCredential),
// which would lock the user out, unless force is true. The store makes that
// check and the delete as one atomic step: of concurrent revokes of an
// account's last two passkeys, one fails with ErrLastCredential.
//
// Sessions are ended before the delete, so a failure between the two can
// only end sessions needlessly, never leave a removed passkey's sessions
// alive. The delete can still be refused after that when another revoke
// won the race; the usual refusal of an only passkey is answered earlier,
// from the list of passkeys, without ending anything.
//
// Errors: ErrNotFound, ErrLastCredential, ErrStoreUnavailable.
func (rp *RelyingParty) RevokeCredential(ctx context.Context, userHandle, credentialID []byte, force bool) error {
	notFound := &Error{Code: CodeNotFound, Message: "no such passkey"}
	lastOne := &Error{Code: CodeLastCredential, Message: "this is the account's only passkey; add another before removing it"}
	// Ownership first, so nobody ends the sessions of an account by naming
	// a passkey it does not own.
	creds, err := rp.creds.ListCredentials(ctx, userHandle)
	if err != nil {
		return rp.storeErr(ctx, "ListCredentials", err)
	}
	if !slices.ContainsFunc(creds, func(c Credential) bool { return bytes.Equal(c.ID, credentialID) }) {
		return notFound
	}
	if len(creds) == 1 && !force {
		return lastOne
	}
	if _, err := rp.endSessions(ctx, userHandle); err != nil {
		if errors.Is(err, ErrUserNotFound) { // account deleted meanwhile
			return notFound
		}
		return err
	}
	err = rp.creds.DeleteCredential(ctx, userHandle, credentialID, force)
	switch {
	case errors.Is(err, ErrNotFound):
		return notFound
	case errors.Is(err, ErrLastCredential):
		return lastOne
	case err != nil:
		return rp.storeErr(ctx, "DeleteCredential", err)
	}
	rp.emit(ctx, Event{Type: EventCredentialRevoked, UserHandle: userHandle, CredentialID: credentialID})
	return nil
}

// EndSessions ends every session of the account ("sign out everywhere"):
// it increments the account's User.SessionEpoch and returns the new value.
// A session layer records the epoch a session was issued under
// (Login.User.SessionEpoch) and refuses it once the account's current epoch
// (UserByHandle) differs. Errors: ErrUserNotFound, ErrStoreUnavailable.
func (rp *RelyingParty) EndSessions(ctx context.Context, userHandle []byte) (uint64, error) {
	return rp.endSessions(ctx, userHandle)
}

func (rp *RelyingParty) endSessions(ctx context.Context, userHandle []byte) (uint64, error) {
	epoch, err := rp.creds.EndSessions(ctx, userHandle)
	if errors.Is(err, ErrNotFound) {
		return 0, &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	}
	if err != nil {
		return 0, rp.storeErr(ctx, "EndSessions", err)
	}
	rp.emit(ctx, Event{Type: EventSessionsEnded, UserHandle: userHandle})
	return epoch, nil
}

// DeleteUser deletes an account and all its passkeys.
func (rp *RelyingParty) DeleteUser(ctx context.Context, userHandle []byte) error {
	err := rp.creds.DeleteUser(ctx, userHandle)
	if errors.Is(err, ErrNotFound) {
		return &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	}
	if err != nil {
		return rp.storeErr(ctx, "DeleteUser", err)
	}
	rp.emit(ctx, Event{Type: EventUserDeleted, UserHandle: userHandle})
	return nil
}
