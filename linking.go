package webauthnkit

import (
	"context"
	"time"
)

// Device linking: a new device (B, not signed in) gets a passkey of its own
// for an account by approval from a device that is signed in to it (A).
//
//  1. B calls StartLink (the HTTP adapter passes B's User-Agent). B shows
//     LinkStart.Code (typed, or in a QR code of the approval URL) and
//     LinkStart.MatchPhrase, and keeps LinkStart.PollToken.
//  2. A, signed in, sends the code: LookupLink binds the request to A's
//     account (the code works once: a second lookup, by anyone, fails) and
//     returns where the request comes from and its match phrase. The user
//     checks the phrase against B's screen.
//  3. A re-authenticates (BeginReauth/FinishReauth: user verification
//     required) and calls ApproveLink with the time of that
//     authentication, or DenyLink.
//  4. B polls with PollLink: pending, denied, expired, or approved with a
//     single-use registration grant (purpose LinkGrantPurpose) for A's
//     account; B registers its own passkey with RegistrationRequest.Grant
//     and is then signed in.
//
// All state lives in the ChallengeStore as MAC'd records (the format of
// ceremony records, ceremony_mac.go), under keyed hashes; nothing is added
// to the CredentialStore. Every state change takes a record with the
// store's atomic TakeCeremony (the compare-and-set): of concurrent lookups
// of one code exactly one wins; of concurrent approvals and denials of one
// request exactly one wins; B collects the decision exactly once.
//
// The code (NIST SP 800-63B-4 §4.1.2.2 "External Authenticator Binding",
// a binding code that B obtains and the user enters on the authenticated
// endpoint A): made by an approved random bit generator (crypto/rand);
// "usable only once" (the lookup takes it) and "valid for a maximum of 10
// minutes" (MaxLinkTTL); transferred manually or by a local out-of-band
// method (the QR code), never by email. It is stored only as a keyed hash
// (HMAC under a key derived from Config.Secret). §4.1.2.2 asks at least
// 40 bits when the subscriber also enters an identifier on the new
// endpoint, 112 bits otherwise. B enters no identifier here (B cannot name
// the account), and the code has LinkCodeBits (50) bits, not 112: a typed
// 23-character code would not be used. What makes 50 bits enough is the
// online-guessing bound instead of an offline one: a code lives at most 10
// minutes, is never checkable offline (keyed hash, key outside the store),
// and every signed-in account may make at most LinkLookupLimit lookups per
// LinkLookupWindow (right or wrong), on top of the HTTP adapter's per-IP
// limits. An attacker with n accounts guessing for the 10 minutes of a
// code hits one of L live codes with probability at most
// n·LinkLookupLimit·L/2^50 (about 10^-12 per account for L = 100). And a
// hit gains the attacker no access to anyone's account: it binds a
// stranger's new device to the attacker's own account.
//
// What the match phrase defends: that the request approved on A is the
// one on the screen of the device in the user's hand (a mistyped code
// that happens to name someone else's request, or a code guessed by an
// attacker, shows a different phrase). What it does not defend: an
// attacker who relays, in real time, the code and phrase of a request his
// own device made to a user who then approves it; the user sees the same
// phrase on the attacker's page. Against that, A shows where the request
// comes from (browser, OS, time: LinkRequest.Device, CreatedAt) and the
// application should tell the user never to approve a device they are not
// holding, and notify the account owner of every approval (an
// EventLinkApproved listener).

// Device-linking events (Config.OnEvent). None carries the code, the poll
// token, the grant or the match phrase.
const (
	// EventLinkStarted: a new device started a link request (no account
	// yet: UserHandle is empty).
	EventLinkStarted EventType = "link.started"
	// EventLinkApproved: the account UserHandle approved a request.
	EventLinkApproved EventType = "link.approved"
	// EventLinkDenied: the account UserHandle denied a request.
	EventLinkDenied EventType = "link.denied"
	// EventLinkExpired: a request expired undecided; reported once, when the
	// new device polls after the expiry (UserHandle is the account that had
	// looked the code up, if any). A request nobody polls again expires
	// silently.
	EventLinkExpired EventType = "link.expired"
)

// Device-linking error codes.
const (
	// CodeLinkNotFound: the code or link is unknown, already used (looked up,
	// approved, denied), expired, or bound to another account. One answer
	// for all of these.
	CodeLinkNotFound Code = "link_not_found"
	// CodeTooManyAttempts: the signed-in account made LinkLookupLimit code
	// lookups in the current LinkLookupWindow.
	CodeTooManyAttempts Code = "too_many_attempts"
)

// Device-linking sentinels, for errors.Is.
var (
	// ErrLinkNotFound is returned by LookupLink, ApproveLink and DenyLink
	// for a code or link that is unknown, used, expired or bound to another
	// account, and by PollLink for a malformed or forged poll token.
	ErrLinkNotFound = &Error{Code: CodeLinkNotFound, Message: "unknown, used or expired device link"}
	// ErrTooManyAttempts is returned by LookupLink when the account's
	// lookup budget is spent; retry after the window (at most
	// LinkLookupWindow).
	ErrTooManyAttempts = &Error{Code: CodeTooManyAttempts, Message: "too many attempts; try again later"}
)

const (
	// MaxLinkTTL is the longest a link request lives (NIST SP 800-63B-4
	// §4.1.2.2: a binding code is valid for at most 10 minutes), and
	// LinkStartRequest.TTL's default.
	MaxLinkTTL = 10 * time.Minute
	// LinkCodeLength is the number of characters of a link code (Crockford
	// base32: 0-9 and A-Z without I, L, O, U), shown as two groups of five
	// ("7KQ2M-XD94B"); LinkCodeBits its entropy.
	LinkCodeLength = 10
	LinkCodeBits   = 5 * LinkCodeLength
	// LinkLookupLimit is how many codes one signed-in account may look up
	// (right or wrong) per LinkLookupWindow.
	LinkLookupLimit  = 10
	LinkLookupWindow = 15 * time.Minute
	// LinkGrantPurpose is the Purpose of the registration grant an approved
	// link gives the new device (Registration.GrantPurpose).
	LinkGrantPurpose = "device_link"
	// LinkGrantTTL is how long that grant waits for BeginRegistration.
	LinkGrantTTL = 5 * time.Minute
)

// LinkStatus is the state of a link request as its new device sees it.
type LinkStatus string

const (
	LinkPending  LinkStatus = "pending"  // waiting for the signed-in device
	LinkApproved LinkStatus = "approved" // LinkPoll.Grant is set (once)
	LinkDenied   LinkStatus = "denied"   // final
	LinkExpired  LinkStatus = "expired"  // final: start again
)

// LinkStartRequest starts a link request on the new device.
type LinkStartRequest struct {
	// UserAgent is the new device's User-Agent header. Only the browser and
	// OS names parsed from it are kept (LinkDevice), to show on the
	// approving device; at most 1024 bytes are looked at.
	UserAgent string
	// TTL is how long the request may wait for approval. Default and
	// maximum MaxLinkTTL (10 minutes); at least 30 seconds.
	TTL time.Duration
}

// LinkDevice describes where a link request comes from, as parsed from
// its User-Agent ("" when not recognised). Shown on the approving device;
// a client can lie about it, so it is a hint for the user, not a check.
type LinkDevice struct {
	Browser string // "Chrome", "Safari", "Firefox", "Edge", ...
	OS      string // "Windows", "macOS", "iOS", "Android", "Linux", ...
}

// LinkStart is the new device's side of a started link request.
type LinkStart struct {
	// LinkID identifies the request (not secret; it does not authorise
	// anything by itself).
	LinkID string
	// PollToken is the new device's bearer secret for PollLink: keep it
	// there only (the HTTP adapter keeps it in an HttpOnly cookie). It
	// carries the request's expiry under a MAC.
	PollToken string
	// Code is the binding code to show (and to put in the approval URL of
	// the QR code): LinkCodeLength characters as two groups of five.
	// LookupLink accepts it in any case, with or without the hyphen or
	// spaces.
	Code string
	// MatchPhrase is shown on both devices, for the user to compare: three
	// short words.
	MatchPhrase string
	Device      LinkDevice
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// LinkRequest is what the approving device sees after LookupLink.
type LinkRequest struct {
	// LinkID names the request in ApproveLink and DenyLink.
	LinkID      string
	MatchPhrase string
	Device      LinkDevice
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// LinkApproval is an approval by the signed-in account.
type LinkApproval struct {
	// LinkID from LookupLink.
	LinkID string
	// UserHandle is the signed-in account on the approving device; it must
	// be the account that looked the code up.
	UserHandle []byte
	// AuthenticatedAt is when that account last authenticated with user
	// verification on the approving device: Login.AuthenticatedAt of a
	// FinishReauth (or of a login with Login.UserVerified). The HTTP
	// adapter passes the time its session carries.
	AuthenticatedAt time.Time
	// MaxAge is how old AuthenticatedAt may be. Default (0)
	// DefaultReauthMaxAge. Negative: no freshness check at all (the caller
	// disabled it deliberately, e.g. the HTTP adapter with a negative
	// Options.FreshAuthMaxAge); AuthenticatedAt is then ignored.
	MaxAge time.Duration
}

// LinkPoll is what the new device learns from PollLink.
type LinkPoll struct {
	Status LinkStatus
	// Grant, with LinkApproved only, is a single-use registration grant
	// (RegistrationRequest.Grant) for the approving account, valid
	// LinkGrantTTL; purpose LinkGrantPurpose. It is returned once: the
	// decision is consumed by the poll that returns it (later polls say
	// LinkExpired once the request's time is over, LinkPending before).
	Grant          string
	GrantExpiresAt time.Time
	// Username is the approving account's name, with LinkApproved, so the
	// new device can say which account it is joining.
	Username string
	// ExpiresAt is the request's expiry (from the poll token).
	ExpiresAt time.Time
}

// StartLink starts a link request for a new device that is not signed in.
// It needs no account: the account is the one of the device that looks
// the code up and approves. Unauthenticated callers can make many: rate
// limit it per client (the HTTP adapter does).
//
// Errors: ErrInvalidRequest (TTL out of range), ErrStoreUnavailable.
func (rp *RelyingParty) StartLink(ctx context.Context, req LinkStartRequest) (*LinkStart, error) {
	return nil, ErrInternal
}

// LookupLink finds the pending request with code for the signed-in account
// userHandle and binds it to that account: only that account can then
// approve or deny it, and the code is spent (a second lookup of it fails,
// whoever makes it). Each call counts against the account's lookup budget
// (LinkLookupLimit per LinkLookupWindow), right code or wrong, before the
// code is looked at.
//
// Errors: ErrLinkNotFound (unknown, used or expired code), ErrTooManyAttempts,
// ErrInvalidRequest (no user handle), ErrStoreUnavailable.
func (rp *RelyingParty) LookupLink(ctx context.Context, userHandle []byte, code string) (*LinkRequest, error) {
	return nil, ErrInternal
}

// ApproveLink approves the request a.LinkID, looked up by a.UserHandle,
// after checking that account's user-verified authentication is fresh
// (a.AuthenticatedAt within a.MaxAge; checked before anything is taken,
// so the user can re-authenticate and retry). The request is then spent:
// of concurrent ApproveLink and DenyLink calls exactly one succeeds, the
// others get ErrLinkNotFound. The new device's next poll gets a grant.
//
// Errors: ErrReauthRequired (authentication too old or zero),
// ErrLinkNotFound (unknown, decided or expired request, or looked up by
// another account), ErrInvalidRequest, ErrStoreUnavailable.
func (rp *RelyingParty) ApproveLink(ctx context.Context, a LinkApproval) error {
	return ErrInternal
}

// DenyLink denies the request linkID, looked up by userHandle. It needs no
// fresh authentication (denying gives nothing away). The new device's next
// poll says LinkDenied.
//
// Errors: ErrLinkNotFound, ErrInvalidRequest, ErrStoreUnavailable.
func (rp *RelyingParty) DenyLink(ctx context.Context, linkID string, userHandle []byte) error {
	return ErrInternal
}

// PollLink tells the new device holding pollToken what became of its
// request. Polling is cheap (at most two store calls); poll with backoff
// (e.g. every 2 seconds, slower after a minute).
//
// Errors: ErrLinkNotFound (malformed or forged token), ErrStoreUnavailable.
func (rp *RelyingParty) PollLink(ctx context.Context, pollToken string) (*LinkPoll, error) {
	return nil, ErrInternal
}
