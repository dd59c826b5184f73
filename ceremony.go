package webauthnkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// randomBytes reads n bytes from crypto/rand.
func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, &Error{Code: CodeInternal, Message: "random source failed", Err: err}
	}
	return b, nil
}

// MaxResponseSize caps the authenticator response body accepted by
// FinishRegistration and FinishLogin. Real responses, attestation
// certificate chains included, stay far below it.
const MaxResponseSize = 64 << 10

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

const (
	kindRegistration = "registration"
	kindLogin        = "login"
)

// ceremonyState is what a ChallengeStore keeps between Begin* and Finish*.
// go-webauthn's SessionData is kept verbatim (rebuilding it by hand loses the
// record of requested extensions). It is stored in the binary form of
// ceremony_codec.go; the JSON tags name the fields of the earlier JSON form,
// still read. A new field must be added to the codec (a test checks).
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
	// SecondFactorOnly: registration of a second-factor passkey.
	SecondFactorOnly bool `json:"sf,omitempty"`
	// ByUsername: a login bound to one account, by username or (with
	// ByHandle) by user handle: the credential must be that account's.
	ByUsername bool `json:"bu,omitempty"`
	// ByHandle: a login bound by user handle (LoginRequest.UserHandle),
	// the only kind that accepts second-factor-only passkeys.
	ByHandle bool `json:"bh,omitempty"`
	// FakeIDs: login by an unknown username: the fake allow list shown, so
	// FinishLogin answers them as a real account would (enumeration.go).
	FakeIDs [][]byte `json:"f,omitempty"`
	// SessionEpoch: adding a passkey to an existing account: the account's
	// User.SessionEpoch at Begin. Ending its sessions ends the ceremony too.
	// A grant with EpochBound (a device link's) has the epoch of its
	// approval: ending the account's sessions since voids the grant.
	SessionEpoch uint64 `json:"ep,omitempty"`
	EpochBound   bool   `json:"eb,omitempty"`
	// Grants (grants.go), and registrations begun with one: the grant's
	// purpose, and the email of a new account.
	GrantPurpose     string `json:"gp,omitempty"`
	NewEmail         string `json:"em,omitempty"`
	NewEmailVerified bool   `json:"ev,omitempty"`
}

// waUser adapts an account to go-webauthn's User interface.
type waUser struct {
	handle      []byte
	name        string
	displayName string
	creds       []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte { return u.handle }

func (u *waUser) WebAuthnName() string { return u.name }

func (u *waUser) WebAuthnDisplayName() string { return u.displayName }

func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// storeErr turns a store error into an *Error for callers.
func (rp *RelyingParty) storeErr(ctx context.Context, op string, err error) error {
	// A client that went away is not a store outage: no warning, and its
	// own code. A deadline that passed is (a slow or hung store).
	if errors.Is(err, context.Canceled) {
		return &Error{Code: CodeCanceled, Message: "request canceled", Err: err}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The store did not say why; keep both, so errors.Is finds
		// context.Canceled as ErrCanceled's documentation promises.
		return &Error{Code: CodeCanceled, Message: "request canceled", Err: fmt.Errorf("%w: %w", ctx.Err(), err)}
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
	data, err := encodeCeremony(st)
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
	if !validCeremonyID(id) {
		return nil, &Error{Code: CodeCeremonyNotFound, Message: "unknown or finished ceremony"}
	}
	data, err := rp.cers.TakeCeremony(ctx, rp.ceremonyStoreID(id))
	if errors.Is(err, ErrNotFound) {
		return nil, &Error{Code: CodeCeremonyNotFound, Message: "unknown, finished or expired ceremony; start again", Err: err}
	}
	if err != nil {
		return nil, rp.storeErr(ctx, "TakeCeremony", err)
	}
	data, ok := rp.openCeremony(ctx, id, data)
	if !ok {
		return nil, &Error{Code: CodeCeremonyNotFound, Message: "unknown, finished or expired ceremony; start again"}
	}
	st, err := decodeCeremony(data)
	if err != nil {
		// Sealed by a server holding the secret, yet unreadable: a bug,
		// or a newer version's format (a downgrade with ceremonies in
		// flight). Fails closed.
		rp.log.ErrorContext(ctx, "webauthnkit: ceremony record cannot be decoded", "err", err)
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

// validCeremonyID reports whether id can be one that putCeremony made
// (base64url, at most 128 characters). The ID comes from the client (a
// cookie, a grant in a JSON body); the device-linking records share the
// store and the keys under names with a '/' ("link/lookup/..."), which
// a client must not be able to name: it would take them (spent lookup
// slots given back, pending codes probed or destroyed).
func validCeremonyID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
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

func descriptor(id []byte, transports []string) protocol.CredentialDescriptor {
	d := protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: id}
	for _, t := range transports {
		d.Transport = append(d.Transport, protocol.AuthenticatorTransport(t))
	}
	return d
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
	// An origin byte for byte equal to a configured one is one that
	// IsOriginInHaystack accepts (it compares parsed URLs, or the strings
	// when they do not parse), without parsing two URLs per response.
	if !slices.Contains(rp.wa.Config.RPOrigins, cd.Origin) &&
		!protocol.IsOriginInHaystack(cd.Origin, rp.wa.Config.RPOrigins) && !protocol.IsOpaqueOriginInHaystack(cd.Origin, rp.wa.Config.RPOpaqueOrigins) {
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
// go-webauthn's DevInfo is dropped where it can echo the challenge, and
// its texts, which echo client input (an attestation format's name, a
// token binding status), are bounded printable ASCII with encoded values
// scrubbed (safeText, as in (*Error).Error()).
func (rp *RelyingParty) logFailure(ctx context.Context, ceremony string, err error) {
	attrs := []any{"ceremony", ceremony, "code", string(ErrorCode(err))}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		attrs = append(attrs, "type", safeText(pe.Type), "details", safeText(pe.Details))
		if pe.DevInfo != "" && !strings.Contains(pe.Details, "challenge") {
			attrs = append(attrs, "devinfo", safeText(pe.DevInfo))
		}
	} else {
		attrs = append(attrs, "err", err.Error())
	}
	rp.log.InfoContext(ctx, "webauthnkit: ceremony failed", attrs...)
}
