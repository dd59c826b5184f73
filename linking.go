package webauthnkit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Device linking: a new device (B, not signed in) gets a passkey of its own
// for an account by approval from a device that is signed in to it (A).
//
//  1. B calls StartLink (the HTTP adapter passes B's User-Agent). B shows
//     LinkStart.Code (typed, or in a QR code of the approval URL) and
//     LinkStart.MatchPhrase, and keeps LinkStart.PollToken.
//  2. A, signed in, sends the code: LookupLink binds the request to A's
//     account (the code works once: a second lookup, by anyone, fails) and
//     returns where the request comes from, but not the match phrase: A
//     never shows it.
//  3. The user types on A the words B shows (number matching, as
//     authenticator apps do it), A re-authenticates
//     (BeginReauth/FinishReauth: user verification required) and calls
//     ApproveLink with the typed words and the time of that
//     authentication, or DenyLink. Wrong words deny the request (one
//     guess).
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
// request exactly one wins; B collects the decision exactly once. A
// decision and the expiry race on the expiry marker: a decision takes it,
// the poll that reports the expiry replaces it by a tombstone, so an
// approval that took the request a moment before it expired either wins
// (B's polls wait for it) or fails, never both "expired" and "approved".
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
// limits. The 10 minutes of a code overlap at most two windows, so an
// attacker with n accounts hits one of L live codes with probability at
// most n·2·LinkLookupLimit·L/2^50 per 10 minutes (about 2·10^-12 per
// account for L = 100 live requests). And a hit gains the attacker no
// access to anyone's account: it binds a stranger's new device to the
// attacker's own account (the stranger's own approving device then finds
// the code spent, which the demo reports as link_not_found).
//
// What typing the match phrase defends: the approval needs the words on
// the screen of the new device, which only whoever holds that device can
// read. A victim tricked into opening an attacker's approval link (the
// code alone binds the attacker's request to the victim's account) cannot
// approve it without the words on the attacker's screen, so the attacker
// must also get the victim to type words the attacker dictates, a
// stronger social-engineering step than "click Approve"; a mistyped or
// guessed code names a request whose words the user does not have. One
// wrong guess denies the request. What it does not defend: a real-time
// phishing operator who talks the victim through it (reads out the
// words); against that, A shows where the request comes from (browser,
// OS, time: LinkRequest.Device, CreatedAt), the application should tell
// the user never to approve a device they are not holding, and notify the
// account owner of every approval (an EventLinkApproved listener).

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
	// new device polls after the expiry (no UserHandle: the request may
	// never have been looked up). A request nobody polls again expires
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
	// CodeLinkPhraseMismatch: the words typed on the approving device are
	// not the new device's match phrase; the request is denied.
	CodeLinkPhraseMismatch Code = "link_phrase_mismatch"
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
	// ErrLinkPhraseMismatch is returned by ApproveLink when
	// LinkApproval.MatchPhrase is not the request's match phrase. The
	// request is then denied (the new device's poll says LinkDenied; a
	// second ApproveLink gets ErrLinkNotFound): start again on the new
	// device.
	ErrLinkPhraseMismatch = &Error{Code: CodeLinkPhraseMismatch, Message: "the words do not match the new device's; the request was cancelled"}
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
	LinkDenied   LinkStatus = "denied"   // final (also: approved, then the account's sessions ended)
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
	// MatchPhrase is three short words to show on the new device only: the
	// user types them on the approving device (LinkApproval.MatchPhrase).
	// Not a secret from the user, but never shown on the approving device.
	MatchPhrase string
	Device      LinkDevice
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// LinkRequest is what the approving device sees after LookupLink. It has
// no match phrase: the user must read it on the new device and type it
// (LinkApproval.MatchPhrase).
type LinkRequest struct {
	// LinkID names the request in ApproveLink and DenyLink.
	LinkID    string
	Device    LinkDevice
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LinkApproval is an approval by the signed-in account.
type LinkApproval struct {
	// LinkID from LookupLink.
	LinkID string
	// MatchPhrase is what the user typed on the approving device: the words
	// the new device shows (LinkStart.MatchPhrase). Required. Compared
	// without regard to case, with any run of spaces or hyphens between
	// words as one space, in constant time. Wrong words deny the request
	// (ErrLinkPhraseMismatch): one guess.
	MatchPhrase string
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
	// LinkGrantTTL; purpose LinkGrantPurpose. Ending the account's sessions
	// (EndSessions: sign out everywhere, a passkey removed) after the
	// approval cancels it: the poll says LinkDenied, or BeginRegistration
	// refuses the grant (ErrInvalidGrant). It is returned once: the
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
// limit it per client (the HTTP adapter does). Two store writes.
//
// Errors: ErrInvalidRequest (TTL out of range), ErrStoreUnavailable.
func (rp *RelyingParty) StartLink(ctx context.Context, req LinkStartRequest) (*LinkStart, error) {
	ttl := req.TTL
	if ttl == 0 {
		ttl = MaxLinkTTL
	}
	if ttl < minLinkTTL || ttl > MaxLinkTTL {
		return nil, &Error{Code: CodeInvalidRequest, Message: "a link request lives 30s to 10 minutes"}
	}
	now := rp.cfg.Now()
	expires := now.Add(ttl)
	rawID, err := randomBytes(16)
	if err != nil {
		return nil, err
	}
	secret, err := randomBytes(32)
	if err != nil {
		return nil, err
	}
	phrase, err := newMatchPhrase()
	if err != nil {
		return nil, err
	}
	device := parseUserAgent(req.UserAgent)
	rec := &linkRecord{
		Kind:        linkKindCode,
		Expires:     expires,
		LinkID:      base64.RawURLEncoding.EncodeToString(rawID),
		Decision:    decisionID(secret),
		Phrase:      phrase,
		Browser:     device.Browser,
		OS:          device.OS,
		Created:     now,
		LinkExpires: expires,
	}
	// A live code drawn twice (2^-50 per pair) is drawn again.
	var code string
	for attempt := 0; ; attempt++ {
		if code, err = newLinkCode(); err != nil {
			return nil, err
		}
		err = rp.putLinkRecord(ctx, linkCodeKey(code), rec)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrDuplicate) || attempt == 2 {
			return nil, rp.storeErr(ctx, "PutCeremony", err)
		}
	}
	// The marker that lets the first poll after the expiry report it once.
	marker := &linkRecord{Kind: linkKindExpiry, Expires: expires.Add(LinkGrantTTL), LinkExpires: expires, LinkID: rec.LinkID}
	if err := rp.putLinkRecord(ctx, linkExpiryKey(rec.Decision), marker); err != nil {
		return nil, rp.storeErr(ctx, "PutCeremony", err)
	}
	rp.emit(ctx, Event{Type: EventLinkStarted})
	return &LinkStart{
		LinkID:      rec.LinkID,
		PollToken:   rp.pollToken(expires, secret),
		Code:        code[:LinkCodeLength/2] + "-" + code[LinkCodeLength/2:],
		MatchPhrase: phrase,
		Device:      device,
		CreatedAt:   now,
		ExpiresAt:   expires,
	}, nil
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
	if err := checkLinkHandle(userHandle); err != nil {
		return nil, err
	}
	if err := rp.spendLookup(ctx, userHandle); err != nil {
		return nil, err
	}
	norm, ok := normalizeLinkCode(code)
	if !ok {
		return nil, ErrLinkNotFound
	}
	rec, err := rp.takeLinkRecord(ctx, linkCodeKey(norm), linkKindCode)
	if err != nil {
		return nil, err
	}
	pending := *rec
	rec.Kind, rec.UserHandle = linkKindBound, bytes.Clone(userHandle)
	err = rp.putLinkRecord(ctx, linkBoundKey(rec.LinkID, userHandle), rec)
	if errors.Is(err, ErrDuplicate) {
		// This account's earlier lookup of this request committed but its
		// answer was lost (the code was then put back): the request is
		// bound to this account already.
		err = nil
	}
	if err != nil {
		// Put the code back (best effort) so that a store hiccup does not
		// lose the request: the lookup failed, the code stays usable.
		if perr := rp.putLinkRecord(ctx, linkCodeKey(norm), &pending); perr != nil {
			rp.log.WarnContext(ctx, "webauthnkit: could not restore a link code after a failed lookup", "err", perr)
		}
		return nil, rp.storeErr(ctx, "PutCeremony", err)
	}
	return &LinkRequest{
		LinkID:    rec.LinkID,
		Device:    LinkDevice{Browser: rec.Browser, OS: rec.OS},
		CreatedAt: rec.Created,
		ExpiresAt: rec.LinkExpires,
	}, nil
}

// ApproveLink approves the request a.LinkID, looked up by a.UserHandle,
// after checking that a.MatchPhrase is given and that account's
// user-verified authentication is fresh (a.AuthenticatedAt within
// a.MaxAge); both are checked before anything is taken, so the user can
// type the words or re-authenticate and retry. The request is then spent:
// of concurrent ApproveLink and DenyLink calls exactly one succeeds, the
// others get ErrLinkNotFound. With the right words the new device's next
// poll gets a grant; with wrong words the request is denied, exactly as
// by DenyLink (EventLinkDenied; the poll says LinkDenied), and
// ApproveLink returns ErrLinkPhraseMismatch.
//
// Errors: ErrInvalidRequest (no match phrase, or no user handle; nothing
// spent), ErrReauthRequired (authentication too old or zero),
// ErrLinkPhraseMismatch (the request is denied), ErrLinkNotFound
// (unknown, decided or expired request, or looked up by another account),
// ErrUserNotFound, ErrStoreUnavailable.
func (rp *RelyingParty) ApproveLink(ctx context.Context, a LinkApproval) error {
	if err := checkLinkHandle(a.UserHandle); err != nil {
		return err
	}
	if strings.TrimSpace(a.MatchPhrase) == "" {
		return &Error{Code: CodeInvalidRequest, Message: "type the words shown on the new device"}
	}
	if a.MaxAge >= 0 && !rp.FreshAuth(a.AuthenticatedAt, a.MaxAge) {
		return &Error{Code: CodeReauthRequired, Message: ErrReauthRequired.Message}
	}
	if !validLinkID(a.LinkID) {
		return ErrLinkNotFound
	}
	u, err := rp.UserByHandle(ctx, a.UserHandle)
	if err != nil {
		return err
	}
	return rp.decideLink(ctx, a.LinkID, &u, LinkApproved, a.MatchPhrase)
}

// DenyLink denies the request linkID, looked up by userHandle. It needs no
// fresh authentication (denying gives nothing away). The new device's next
// poll says LinkDenied.
//
// Errors: ErrLinkNotFound, ErrInvalidRequest, ErrStoreUnavailable.
func (rp *RelyingParty) DenyLink(ctx context.Context, linkID string, userHandle []byte) error {
	if err := checkLinkHandle(userHandle); err != nil {
		return err
	}
	if !validLinkID(linkID) {
		return ErrLinkNotFound
	}
	return rp.decideLink(ctx, linkID, &User{Handle: userHandle}, LinkDenied, "")
}

// decideLink takes the request bound to u (the compare-and-set: one
// decision wins) and puts the decision where the new device's poll takes
// it. An approval whose typed phrase is not the request's becomes a
// denial, and then returns ErrLinkPhraseMismatch.
func (rp *RelyingParty) decideLink(ctx context.Context, linkID string, u *User, status LinkStatus, phrase string) error {
	rec, err := rp.takeLinkRecord(ctx, linkBoundKey(linkID, u.Handle), linkKindBound)
	if err != nil {
		return err
	}
	var result error
	if status == LinkApproved && !matchPhraseEqual(phrase, rec.Phrase) {
		status, result = LinkDenied, ErrLinkPhraseMismatch
		u = &User{Handle: u.Handle}
	}
	// The expiry marker is the compare-and-set between this decision and
	// the expiry: the poll that reports the expiry replaces it by a
	// tombstone (linkKindOver), so a decision that finds no open marker
	// lost to the expiry (the request, taken just before it expired, is
	// not put back); one that takes it won, and polls after the expiry
	// wait for the decision instead of reporting "expired".
	marker, err := rp.takeLinkRecordOf(ctx, linkExpiryKey(rec.Decision), linkKindExpiry, linkKindOver)
	if err == nil && marker.Kind == linkKindOver {
		rp.putBack(ctx, linkExpiryKey(rec.Decision), marker)
		err = ErrLinkNotFound
	}
	if err != nil {
		if !errors.Is(err, ErrLinkNotFound) {
			rp.restoreBound(ctx, linkID, u.Handle, rec)
		}
		return err
	}
	now := rp.cfg.Now()
	dec := &linkRecord{
		Kind:        linkKindDecision,
		Expires:     now.Add(LinkGrantTTL),
		LinkID:      rec.LinkID,
		Status:      string(status),
		LinkExpires: rec.LinkExpires,
	}
	ev := Event{Type: EventLinkDenied, UserHandle: bytes.Clone(u.Handle)}
	if status == LinkApproved {
		dec.UserHandle, dec.Username = bytes.Clone(u.Handle), u.Name
		dec.Epoch, dec.EpochSet = u.SessionEpoch, true
		ev.Type, ev.Username = EventLinkApproved, u.Name
	}
	if err := rp.putLinkRecord(ctx, linkDecisionKey(rec.Decision), dec); err != nil {
		if rp.undoDecision(ctx, linkID, u.Handle, rec, marker) {
			// It had committed, and the new device collected it: decided.
			rp.emit(ctx, ev)
			return result
		}
		return rp.storeErr(ctx, "PutCeremony", err)
	}
	rp.emit(ctx, ev)
	return result
}

// undoDecision runs after the decision's write reported a failure, which
// may have committed anyway (a timeout after the commit): the caller is
// told it failed, so the decision must not stay. It takes the decision
// back, then puts the expiry marker and the request back so that the user
// can retry. It reports true when the decision had committed and the new
// device had already collected it (the collecting poll left a tombstone
// where the marker goes): the decision stands. When the store cannot say,
// nothing is put back: the request stays spent (start again), never
// decided twice.
func (rp *RelyingParty) undoDecision(ctx context.Context, linkID string, handle []byte, rec, marker *linkRecord) bool {
	_, err := rp.takeLinkRecord(ctx, linkDecisionKey(rec.Decision), linkKindDecision)
	if err != nil && !errors.Is(err, ErrLinkNotFound) {
		rp.log.WarnContext(ctx, "webauthnkit: a link decision may have been written; the request is not put back", "err", err)
		return false
	}
	err = rp.putLinkRecord(ctx, linkExpiryKey(rec.Decision), marker)
	if errors.Is(err, ErrDuplicate) {
		return true
	}
	if err != nil {
		rp.log.WarnContext(ctx, "webauthnkit: could not restore a link expiry marker after a failed decision; the request is not put back", "err", err)
		return false
	}
	rp.restoreBound(ctx, linkID, handle, rec)
	return false
}

// putBack puts a record taken only to be looked at back (best effort).
func (rp *RelyingParty) putBack(ctx context.Context, key string, rec *linkRecord) {
	if perr := rp.putLinkRecord(ctx, key, rec); perr != nil {
		rp.log.WarnContext(ctx, "webauthnkit: could not put a link record back", "kind", rec.Kind, "err", perr)
	}
}

// restoreBound puts a taken request back after a failed decision (best
// effort), so that the user can retry.
func (rp *RelyingParty) restoreBound(ctx context.Context, linkID string, handle []byte, rec *linkRecord) {
	if perr := rp.putLinkRecord(ctx, linkBoundKey(linkID, handle), rec); perr != nil {
		rp.log.WarnContext(ctx, "webauthnkit: could not restore a link request after a failed decision", "err", perr)
	}
}

// PollLink tells the new device holding pollToken what became of its
// request. Polling is cheap (one store call while pending); poll with
// backoff (e.g. every 2 seconds, slower after a minute).
//
// Errors: ErrLinkNotFound (malformed or forged token), ErrStoreUnavailable,
// and for an approval the errors of IssueRegistrationGrant (the decision
// is then kept for the next poll when possible).
func (rp *RelyingParty) PollLink(ctx context.Context, pollToken string) (*LinkPoll, error) {
	expires, secret, ok := rp.parsePollToken(pollToken)
	if !ok {
		return nil, ErrLinkNotFound
	}
	now := rp.cfg.Now()
	out := &LinkPoll{Status: LinkExpired, ExpiresAt: expires}
	if !now.Before(expires.Add(LinkGrantTTL)) {
		return out, nil // no decision can be left
	}
	decision := decisionID(secret)
	dec, err := rp.takeLinkRecord(ctx, linkDecisionKey(decision), linkKindDecision)
	switch {
	case err == nil:
		// Decided (the decision took the expiry marker): a tombstone in
		// its place, so that polls after the expiry say "expired", not
		// "pending" (no decision on its way). Best effort.
		rp.putBack(ctx, linkExpiryKey(decision), &linkRecord{Kind: linkKindOver, Expires: expires.Add(LinkGrantTTL)})
		if dec.Status != string(LinkApproved) {
			out.Status = LinkDenied
			return out, nil
		}
		ttl := LinkGrantTTL
		var epoch *uint64
		if dec.EpochSet {
			epoch = &dec.Epoch
		}
		grant, err := rp.issueGrant(ctx, GrantRequest{UserHandle: dec.UserHandle, Purpose: LinkGrantPurpose, TTL: ttl}, epoch)
		if errors.Is(err, errSessionsEnded) {
			// The account's sessions ended since the approval (sign out
			// everywhere, a passkey removed): its owner took it back.
			out.Status = LinkDenied
			return out, nil
		}
		if err != nil {
			// Keep the decision for the next poll (only this device takes
			// it), unless the account is gone.
			if !errors.Is(err, ErrUserNotFound) {
				if perr := rp.putLinkRecord(ctx, linkDecisionKey(decision), dec); perr != nil {
					rp.log.WarnContext(ctx, "webauthnkit: could not keep a link decision", "err", perr)
				}
			}
			return nil, err
		}
		out.Status, out.Grant, out.GrantExpiresAt, out.Username = LinkApproved, grant, now.Add(ttl), dec.Username
		return out, nil
	case !errors.Is(err, ErrLinkNotFound):
		return nil, err
	}
	if now.Before(expires) {
		out.Status = LinkPending
		return out, nil
	}
	// After the expiry, no decision: the first poll to take the open
	// marker reports the expiry and leaves a tombstone (a decision still
	// under way then fails: decideLink); a tombstone (expiry reported, or
	// decision collected) is put back and says "expired".
	marker, err := rp.takeLinkRecordOf(ctx, linkExpiryKey(decision), linkKindExpiry, linkKindOver)
	switch {
	case err == nil:
		if marker.Kind == linkKindExpiry {
			rp.emit(ctx, Event{Type: EventLinkExpired})
			marker = &linkRecord{Kind: linkKindOver, Expires: expires.Add(LinkGrantTTL)}
		}
		rp.putBack(ctx, linkExpiryKey(decision), marker)
	case !errors.Is(err, ErrLinkNotFound):
		return nil, err
	default:
		// No marker: a decision took it before the expiry and its record
		// is being written (the next poll gets it). Not "expired": the
		// decision is the outcome.
		out.Status = LinkPending
	}
	return out, nil
}

const (
	minLinkTTL = 30 * time.Second
	// Record kinds (linkRecord.Kind): a record of one kind is never
	// accepted as another (the MAC binds the key, the kind is checked).
	linkKindCode     = "link-code"     // pending, under the code's keyed hash
	linkKindBound    = "link-bound"    // looked up, under link ID + account
	linkKindDecision = "link-decision" // approved/denied, under the decision ID
	linkKindExpiry   = "link-expiry"   // open: neither decided nor reported expired
	linkKindOver     = "link-over"     // tombstone of the marker: expiry reported, or decision collected
	linkKindLookup   = "link-lookup"   // one spent lookup of an account
	maxLinkIDLen     = 64
	pollTokenVersion = 1
	pollTokenLen     = 1 + 8 + 32 + ceremonyMACSize
)

// linkRecord is a device-linking record in the ChallengeStore, sealed like
// a ceremony record (sealCeremony) under its key. It never holds the code,
// the poll token's secret (only its SHA-256, the decision ID) or a grant.
type linkRecord struct {
	Kind        string    `json:"k"`
	Expires     time.Time `json:"e"`
	LinkID      string    `json:"l,omitempty"`
	Decision    string    `json:"d,omitempty"`
	Phrase      string    `json:"p,omitempty"`
	Browser     string    `json:"b,omitempty"`
	OS          string    `json:"o,omitempty"`
	Created     time.Time `json:"c,omitzero"`
	LinkExpires time.Time `json:"le,omitzero"`
	UserHandle  []byte    `json:"u,omitempty"`
	Username    string    `json:"n,omitempty"`
	Status      string    `json:"s,omitempty"`
	// Epoch: an approval's User.SessionEpoch (EpochSet): ending the
	// account's sessions before the new device registers cancels it.
	Epoch    uint64 `json:"ep,omitempty"`
	EpochSet bool   `json:"es,omitempty"`
	// Nonce makes every lookup-slot record unique (a store may take a put
	// of identical data for its own retry: store.go).
	Nonce []byte `json:"x,omitempty"`
}

// Store keys. They go through ceremonyStoreID (a keyed hash), so the store
// sees neither codes nor link IDs nor handles; the "link/" prefix keeps
// them apart from ceremony IDs (random base64url, no '/'), and
// takeCeremony refuses an ID from the client that is not base64url
// (validCeremonyID), so no ceremony ID or grant can name a link record.
func linkCodeKey(code string) string { return "link/code/" + code }

func linkBoundKey(linkID string, handle []byte) string {
	return "link/bound/" + linkID + "/" + base64.RawURLEncoding.EncodeToString(handle)
}

func linkDecisionKey(decision string) string { return "link/decision/" + decision }

func linkExpiryKey(decision string) string { return "link/expiry/" + decision }

func linkLookupKey(handle []byte, window int64, slot int) string {
	return "link/lookup/" + base64.RawURLEncoding.EncodeToString(handle) + "/" + strconv.FormatInt(window, 10) + "/" + strconv.Itoa(slot)
}

// decisionID names the decision of the request whose poll secret is
// secret: only the holder of the poll token can compute it.
func decisionID(secret []byte) string {
	sum := sha256.Sum256(secret)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (rp *RelyingParty) putLinkRecord(ctx context.Context, key string, rec *linkRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return &Error{Code: CodeInternal, Message: "internal error", Err: err}
	}
	return rp.cers.PutCeremony(ctx, rp.ceremonyStoreID(key), rp.sealCeremony(key, data), rec.Expires)
}

// takeLinkRecord takes the record under key (once). Absent, forged, of
// another kind or expired: ErrLinkNotFound.
func (rp *RelyingParty) takeLinkRecord(ctx context.Context, key, kind string) (*linkRecord, error) {
	return rp.takeLinkRecordOf(ctx, key, kind, kind)
}

// takeLinkRecordOf is takeLinkRecord accepting either of two kinds.
func (rp *RelyingParty) takeLinkRecordOf(ctx context.Context, key, kind, orKind string) (*linkRecord, error) {
	raw, err := rp.cers.TakeCeremony(ctx, rp.ceremonyStoreID(key))
	if errors.Is(err, ErrNotFound) {
		return nil, &Error{Code: CodeLinkNotFound, Message: ErrLinkNotFound.Message, Err: err}
	}
	if err != nil {
		return nil, rp.storeErr(ctx, "TakeCeremony", err)
	}
	data, ok := rp.openCeremony(ctx, key, raw)
	if !ok {
		return nil, ErrLinkNotFound
	}
	rec := new(linkRecord)
	if err := json.Unmarshal(data, rec); err != nil || (rec.Kind != kind && rec.Kind != orKind) || !rp.cfg.Now().Before(rec.Expires) {
		return nil, ErrLinkNotFound
	}
	return rec, nil
}

// spendLookup claims one of the account's LinkLookupLimit lookup slots of
// the current window: PutCeremony is an atomic claim (ErrDuplicate when
// taken), so concurrent lookups never get more than the limit between
// them. The i-th lookup of a window costs i puts, and a refused one
// LinkLookupLimit (the adapter's per-client rate limit bounds how often a
// session can ask).
func (rp *RelyingParty) spendLookup(ctx context.Context, handle []byte) error {
	now := rp.cfg.Now()
	secs := int64(LinkLookupWindow / time.Second)
	window := now.Unix() / secs
	end := time.Unix((window+1)*secs, 0)
	nonce, err := randomBytes(16)
	if err != nil {
		return err
	}
	rec := &linkRecord{Kind: linkKindLookup, Expires: end, Nonce: nonce}
	for slot := range LinkLookupLimit {
		err := rp.putLinkRecord(ctx, linkLookupKey(handle, window, slot), rec)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrDuplicate) {
			return rp.storeErr(ctx, "PutCeremony", err)
		}
	}
	return &Error{Code: CodeTooManyAttempts, Message: "too many device codes tried; try again in " + end.Sub(now).Round(time.Minute).String()}
}

func checkLinkHandle(h []byte) error {
	if len(h) == 0 || len(h) > MaxUserHandleLength {
		return &Error{Code: CodeInvalidRequest, Message: "a user handle must have 1 to 64 bytes"}
	}
	return nil
}

func validLinkID(id string) bool {
	if id == "" || len(id) > maxLinkIDLen {
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

// pollToken is base64url(version || expires (Unix seconds, 8 bytes) ||
// secret (32) || tag): the tag is the ceremony MAC with a record key no
// record uses, so a token cannot pass for a record or the reverse.
func (rp *RelyingParty) pollToken(expires time.Time, secret []byte) string {
	b := make([]byte, 0, pollTokenLen)
	b = append(b, pollTokenVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(expires.Unix()))
	b = append(b, secret...)
	b = append(b, rp.ceremonyTag("link/poll-token", b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (rp *RelyingParty) parsePollToken(tok string) (time.Time, []byte, bool) {
	if len(tok) != base64.RawURLEncoding.EncodedLen(pollTokenLen) {
		return time.Time{}, nil, false
	}
	// Strict: one spelling per token (no variants in the unused bits).
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != pollTokenLen || b[0] != pollTokenVersion {
		return time.Time{}, nil, false
	}
	body, tag := b[:len(b)-ceremonyMACSize], b[len(b)-ceremonyMACSize:]
	if !hmac.Equal(tag, rp.ceremonyTag("link/poll-token", body)) {
		return time.Time{}, nil, false
	}
	secs := binary.BigEndian.Uint64(body[1:9])
	if secs > 1<<40 {
		return time.Time{}, nil, false
	}
	return time.Unix(int64(secs), 0), body[9:], true
}

// crockford is Crockford's base32 alphabet: no I, L, O, U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newLinkCode draws LinkCodeLength uniform Crockford base32 characters (5
// bits of one random byte each: 32 divides 256, so no bias).
func newLinkCode() (string, error) {
	b, err := randomBytes(LinkCodeLength)
	if err != nil {
		return "", err
	}
	for i := range b {
		b[i] = crockford[b[i]&31]
	}
	return string(b), nil
}

// normalizeLinkCode accepts a code as typed: any case, hyphens and spaces
// anywhere, O for 0 and I or L for 1 (Crockford's decoding).
func normalizeLinkCode(s string) (string, bool) {
	if len(s) > 4*LinkCodeLength {
		return "", false
	}
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		switch {
		case c == '-' || c == ' ':
			continue
		case c == 'O':
			c = '0'
		case c == 'I' || c == 'L':
			c = '1'
		case c > 0x7f || !strings.ContainsRune(crockford, c):
			return "", false
		}
		b.WriteRune(c)
	}
	if b.Len() != LinkCodeLength {
		return "", false
	}
	return b.String(), true
}

// matchWords are the words of a match phrase: short, common, distinct in
// sound and spelling. 64 words, three per phrase: 18 bits, enough for a
// comparison by eye (it is not a secret).
var matchWords = [64]string{
	"amber", "anchor", "apple", "arrow", "bamboo", "basket", "beacon", "berry",
	"bison", "breeze", "cactus", "candle", "canyon", "cedar", "cherry", "cloud",
	"comet", "coral", "cotton", "crystal", "daisy", "delta", "dolphin", "eagle",
	"ember", "falcon", "feather", "forest", "garden", "glacier", "harbor", "hazel",
	"island", "jasmine", "jungle", "kettle", "lantern", "lemon", "mango", "maple",
	"marble", "meadow", "meteor", "noodle", "ocean", "olive", "orchid", "otter",
	"panda", "pebble", "pepper", "piano", "planet", "quartz", "rabbit", "river",
	"rocket", "saddle", "silver", "spruce", "sunset", "tiger", "tulip", "walnut",
}

// maxMatchPhraseInput bounds a typed phrase before it is normalised (three
// words of at most 7 letters: 23 bytes; room for stray spaces).
const maxMatchPhraseInput = 256

// normalizeMatchPhrase lowercases typed words and joins them with one
// space, whatever whitespace or hyphens stood between them.
func normalizeMatchPhrase(s string) string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == '-' || unicode.IsSpace(r) })
	return strings.Join(words, " ")
}

// matchPhraseEqual compares a typed phrase with the request's, in constant
// time (fixed-size digests: neither the length nor the first differing
// byte shows in the time taken).
func matchPhraseEqual(typed, phrase string) bool {
	if len(typed) > maxMatchPhraseInput || phrase == "" {
		return false
	}
	a := sha256.Sum256([]byte(normalizeMatchPhrase(typed)))
	b := sha256.Sum256([]byte(normalizeMatchPhrase(phrase)))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func newMatchPhrase() (string, error) {
	b, err := randomBytes(3)
	if err != nil {
		return "", err
	}
	return matchWords[b[0]&63] + " " + matchWords[b[1]&63] + " " + matchWords[b[2]&63], nil
}

// parseUserAgent names the browser and OS of a User-Agent header (names
// only, no versions; "" when not recognised). Order matters: Edge and
// Opera also say Chrome and Safari; iPadOS may say Macintosh; Android says
// Linux.
func parseUserAgent(ua string) LinkDevice {
	if len(ua) > 1024 {
		ua = ua[:1024]
	}
	var d LinkDevice
	has := func(s string) bool { return strings.Contains(ua, s) }
	switch {
	case has("Edg/") || has("EdgA/") || has("EdgiOS/"):
		d.Browser = "Edge"
	case has("OPR/") || has("Opera"):
		d.Browser = "Opera"
	case has("SamsungBrowser/"):
		d.Browser = "Samsung Internet"
	case has("Firefox/") || has("FxiOS/"):
		d.Browser = "Firefox"
	case has("CriOS/") || has("Chrome/"):
		d.Browser = "Chrome"
	case has("Chromium/"):
		d.Browser = "Chromium"
	case has("Safari/") && has("Version/"):
		d.Browser = "Safari"
	}
	switch {
	case has("iPhone") || has("iPod"):
		d.OS = "iOS"
	case has("iPad"):
		d.OS = "iPadOS"
	case has("Android"):
		d.OS = "Android"
	case has("Windows"):
		d.OS = "Windows"
	case has("CrOS"):
		d.OS = "ChromeOS"
	case has("Macintosh") || has("Mac OS X"):
		d.OS = "macOS"
	case has("Linux"):
		d.OS = "Linux"
	}
	return d
}
