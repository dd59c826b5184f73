package webauthnkit

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// Registration grants let a passkey be registered without a signed-in
// session, exactly once: the proof of control came from elsewhere (a code
// sent to a verified email address, a recovery code). Package account
// issues them after sign-up verification and account recovery.
//
// A grant is a ChallengeStore record like a ceremony (same MAC, same
// hashed store key, Kind "grant"), so it needs nothing new from the store:
// BeginRegistration takes it with the store's atomic TakeCeremony, hence
// one registration ceremony per grant however many requests race. A
// ceremony that then fails or is abandoned needs a new grant: a grant is
// never put back (putting back would let two ceremonies share it).

// CodeInvalidGrant: the grant is unknown, used, expired, or malformed.
const CodeInvalidGrant Code = "invalid_grant"

// ErrInvalidGrant is returned by BeginRegistration for a grant that is
// unknown, already used, expired or forged. One answer for all of these.
var ErrInvalidGrant = &Error{Code: CodeInvalidGrant, Message: "unknown, used or expired grant"}

const (
	kindGrant = "grant"
	// DefaultGrantTTL is GrantRequest.TTL's default.
	DefaultGrantTTL = 15 * time.Minute
	// MaxGrantTTL bounds GrantRequest.TTL.
	MaxGrantTTL = time.Hour
	// maxGrantLen bounds a grant string before any store call (IDs are 43
	// characters).
	maxGrantLen = 128
)

// GrantRequest describes what a registration grant allows: one passkey for
// the existing account UserHandle (recovery), or one passkey creating a new
// account named Username with Email (verify-first sign-up). Exactly one of
// UserHandle and Username is set.
type GrantRequest struct {
	// UserHandle: the existing account the passkey is added to.
	UserHandle []byte
	// Username, DisplayName: the new account (as RegistrationRequest).
	Username    string
	DisplayName string
	// Email is stored on the new account (NormalizeEmail). With
	// EmailVerified its EmailVerifiedAt is the registration time. Only with
	// Username.
	Email         string
	EmailVerified bool
	// Purpose is a label echoed in Registration.GrantPurpose (for example
	// "sign_up", "recovery"), so the app knows what the ceremony was for.
	// At most 32 bytes of [a-z0-9_]; optional.
	Purpose string
	// TTL is how long the grant may wait for BeginRegistration. Default
	// DefaultGrantTTL (15 minutes); at most MaxGrantTTL.
	TTL time.Duration
}

// IssueRegistrationGrant returns a single-use grant for
// RegistrationRequest.Grant. It checks the account exists (UserHandle) or
// the name is free (Username) now; BeginRegistration checks again. The
// grant is a bearer secret (256 random bits): hand it only to the client
// that proved control, never log it.
//
// Errors: ErrInvalidRequest, ErrUserNotFound, ErrUsernameTaken,
// ErrEmailTaken, ErrStoreUnavailable.
func (rp *RelyingParty) IssueRegistrationGrant(ctx context.Context, req GrantRequest) (string, error) {
	return rp.issueGrant(ctx, req, nil)
}

// errSessionsEnded: issueGrant for an epoch the account has left.
var errSessionsEnded = errors.New("webauthnkit: the account's sessions ended")

// issueGrant is IssueRegistrationGrant; with epoch (an existing account
// only) the grant is bound to that User.SessionEpoch: refused now
// (errSessionsEnded) when the account's epoch differs, and void at
// BeginRegistration when it changes before.
func (rp *RelyingParty) issueGrant(ctx context.Context, req GrantRequest, epoch *uint64) (string, error) {
	if (len(req.UserHandle) > 0) == (req.Username != "") {
		return "", &Error{Code: CodeInvalidRequest, Message: "a grant is for an existing account (UserHandle) or a new one (Username)"}
	}
	if err := checkGrantPurpose(req.Purpose); err != nil {
		return "", err
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = DefaultGrantTTL
	}
	if ttl < time.Second || ttl > MaxGrantTTL {
		return "", &Error{Code: CodeInvalidRequest, Message: "a grant lives 1s to 1h"}
	}
	st := &ceremonyState{Kind: kindGrant, GrantPurpose: req.Purpose, Expires: rp.cfg.Now().Add(ttl)}
	if len(req.UserHandle) > 0 {
		if req.Email != "" || req.EmailVerified || req.DisplayName != "" {
			return "", &Error{Code: CodeInvalidRequest, Message: "Email and DisplayName are for a new account"}
		}
		if len(req.UserHandle) > MaxUserHandleLength {
			return "", &Error{Code: CodeInvalidRequest, Message: "a user handle must have 1 to 64 bytes"}
		}
		u, err := rp.UserByHandle(ctx, req.UserHandle)
		if err != nil {
			return "", err
		}
		if epoch != nil {
			if u.SessionEpoch != *epoch {
				return "", errSessionsEnded
			}
			st.SessionEpoch, st.EpochBound = *epoch, true
		}
		st.UserHandle = bytes.Clone(u.Handle)
	} else {
		name, err := NormalizeUsername(req.Username)
		if err != nil {
			return "", err
		}
		display, err := cleanText("display name", req.DisplayName)
		if err != nil {
			return "", err
		}
		email, err := normalizeOptionalEmail(req.Email)
		if err != nil {
			return "", err
		}
		if req.EmailVerified && email == "" {
			return "", &Error{Code: CodeInvalidRequest, Message: "EmailVerified needs Email"}
		}
		_, err = rp.creds.GetUserByName(ctx, name)
		switch {
		case err == nil:
			return "", &Error{Code: CodeUsernameTaken, Message: "this username is taken"}
		case !errors.Is(err, ErrNotFound):
			return "", rp.storeErr(ctx, "GetUserByName", err)
		}
		if email != "" {
			_, err = rp.creds.GetUserByEmail(ctx, email)
			switch {
			case err == nil:
				return "", &Error{Code: CodeEmailTaken, Message: ErrEmailTaken.Message}
			case !errors.Is(err, ErrNotFound):
				return "", rp.storeErr(ctx, "GetUserByEmail", err)
			}
		}
		st.NewName, st.NewDisplay = name, display
		st.NewEmail, st.NewEmailVerified = email, req.EmailVerified
	}
	return rp.putCeremony(ctx, st)
}

func checkGrantPurpose(p string) error {
	if len(p) > 32 {
		return &Error{Code: CodeInvalidRequest, Message: "a grant purpose has at most 32 bytes"}
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return &Error{Code: CodeInvalidRequest, Message: "a grant purpose is [a-z0-9_]"}
		}
	}
	return nil
}

// takeGrant consumes grant (once) and returns what it allows.
func (rp *RelyingParty) takeGrant(ctx context.Context, grant string) (*ceremonyState, error) {
	if len(grant) > maxGrantLen {
		return nil, ErrInvalidGrant
	}
	st, err := rp.takeCeremony(ctx, grant, kindGrant)
	if err != nil {
		if code := ErrorCode(err); code == CodeStoreUnavailable || code == CodeCanceled || code == CodeInternal {
			return nil, err
		}
		return nil, &Error{Code: CodeInvalidGrant, Message: ErrInvalidGrant.Message, Err: err}
	}
	return st, nil
}
