package webauthnkit

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// MaxEmailLength is the longest address NormalizeEmail accepts, in bytes:
// the 254 of a forward path (RFC 5321 §4.5.3.1.3) less its angle brackets.
// MaxEmailLocalLength bounds the part before the "@" (RFC 5321 §4.5.3.1.1).
const (
	MaxEmailLength      = 254
	MaxEmailLocalLength = 64
)

// emailLookup converts a domain to its ASCII (A-label) form as a browser
// resolving it would (UTS #46 mapping, IDNA2008 validation, the bidi rule),
// so that "bücher.example" and "xn--bcher-kva.example" are one address.
var emailLookup = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.StrictDomainName(true))

// NormalizeEmail returns the canonical form of an email address as stored
// (User.Email), or ErrInvalidRequest.
//
// The address is trimmed and must be a bare address: net/mail.ParseAddress
// must read exactly it, so a display name ("Bob <bob@example.com>"), a
// comment, a quoted local part or a domain literal ("[192.0.2.1]") is
// refused. The domain is converted to ASCII with IDNA (UTS #46 lookup
// mapping). The whole address is then lower-cased, the local part
// included: RFC 5321 lets a server treat "Bob" and "bob" as two
// mailboxes, but hardly any does, and two accounts differing only in the
// case of an address would let one be taken over through the other's
// mailbox. A non-ASCII local part (RFC 6531) is NFC-normalised.
//
// Control, bidirectional-formatting and invisible characters (zero-width
// space, soft hyphen, Hangul filler, variation selectors) are refused
// anywhere. The result has at most MaxEmailLength bytes, its local part at
// most MaxEmailLocalLength. Error messages never repeat the address.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalidEmail("an email address is required")
	}
	// Bound the work on hostile input before parsing and IDNA: neither
	// shrinks an address to a quarter of its length.
	if len(s) > 4*MaxEmailLength {
		return "", invalidEmail("the email address is too long")
	}
	if !utf8.ValidString(s) {
		return "", invalidEmail("the email address is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) || unicode.Is(unicode.Cf, r) ||
			unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r) ||
			unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			return "", invalidEmail("the email address contains spaces, control or invisible characters")
		}
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", invalidEmail("not a bare email address (name@domain)")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || strings.HasPrefix(domain, "[") {
		return "", invalidEmail("not a bare email address (name@domain)")
	}
	ascii, err := emailLookup.ToASCII(domain)
	if err != nil || ascii == "" {
		return "", invalidEmail("the email address has an invalid domain")
	}
	local = norm.NFC.String(strings.ToLower(local))
	out := local + "@" + strings.ToLower(ascii)
	switch {
	case len(local) > MaxEmailLocalLength:
		return "", invalidEmail("the part of the email address before the @ is too long")
	case len(out) > MaxEmailLength:
		return "", invalidEmail("the email address is too long")
	}
	return out, nil
}

func invalidEmail(msg string) error {
	return &Error{Code: CodeInvalidRequest, Message: msg}
}

// normalizeOptionalEmail is NormalizeEmail with "" (after trimming) meaning
// no address.
func normalizeOptionalEmail(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	return NormalizeEmail(s)
}

// SetEmail sets, changes or (with an empty email) removes the email address
// of the account with this handle, and returns the account as stored. The
// address is normalised (NormalizeEmail). verified says that its owner has
// just proved they receive mail there (a code or link sent to it was used):
// EmailVerifiedAt is then now, or kept if this very address was verified
// already; otherwise the address is stored unverified. The old address is
// free for other accounts afterwards.
//
// It emits EventEmailChanged when something changed. The event carries the
// account's handle only, never an address: both are personal data, and the
// application that called SetEmail knows them.
//
// Of two concurrent SetEmail calls of two accounts with the same free
// address exactly one succeeds.
//
// Errors: ErrInvalidRequest (a malformed address, or verified with no
// address), ErrEmailTaken (another account has the address; nothing
// changes), ErrUserNotFound, ErrStoreUnavailable.
func (rp *RelyingParty) SetEmail(ctx context.Context, handle []byte, email string, verified bool) (User, error) {
	email, err := normalizeOptionalEmail(email)
	if err != nil {
		return User{}, err
	}
	if email == "" && verified {
		return User{}, invalidEmail("an empty email address cannot be verified")
	}
	u, err := rp.UserByHandle(ctx, handle)
	if err != nil {
		return User{}, err
	}
	verifiedAt := u.EmailVerifiedAt
	switch {
	case !verified:
		verifiedAt = time.Time{}
	case email != u.Email || verifiedAt.IsZero():
		verifiedAt = rp.cfg.Now().UTC()
	}
	if email == u.Email && verifiedAt.Equal(u.EmailVerifiedAt) {
		return u, nil
	}
	err = rp.creds.SetEmail(ctx, u.Handle, email, verifiedAt)
	switch {
	case errors.Is(err, ErrUserExists):
		return User{}, &Error{Code: CodeEmailTaken, Message: ErrEmailTaken.Message, Err: err}
	case errors.Is(err, ErrNotFound): // deleted meanwhile
		return User{}, &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	case err != nil:
		return User{}, rp.storeErr(ctx, "SetEmail", err)
	}
	u.Email, u.EmailVerifiedAt = email, verifiedAt
	rp.emit(ctx, Event{Type: EventEmailChanged, UserHandle: u.Handle})
	return u, nil
}

// UserByEmail returns the account with this email address (normalised
// first, NormalizeEmail), or ErrUserNotFound. It tells whether an address
// has an account: answer clients that may not know it (a recovery form)
// the same whether it does or not.
//
// Errors: ErrInvalidRequest (a malformed address), ErrUserNotFound,
// ErrStoreUnavailable.
func (rp *RelyingParty) UserByEmail(ctx context.Context, email string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, err := rp.creds.GetUserByEmail(ctx, email)
	switch {
	case errors.Is(err, ErrNotFound):
		return User{}, &Error{Code: CodeUserNotFound, Message: "unknown user", Err: err}
	case err != nil:
		return User{}, rp.storeErr(ctx, "GetUserByEmail", err)
	}
	return u, nil
}
