package account

import (
	"errors"
	"strconv"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/mail"
	"github.com/webauthnkit/webauthnkit/otc"
)

// ErrorCode is a stable, client-safe error code.
type ErrorCode string

const (
	CodeInvalidCode     ErrorCode = "invalid_code"      // wrong, expired, used or unknown code; unknown account
	CodeTooManyAttempts ErrorCode = "too_many_attempts" // a budget is spent for now: retry after RetryAfter
	CodeMailUnavailable ErrorCode = "mail_unavailable"  // the mail could not be sent now: retry later
	CodeRateLimited     ErrorCode = "rate_limited"      // a notice was not sent: the address got enough mail
	CodeInvalidArgument ErrorCode = "invalid_argument"  // malformed input (address, name, kind)
	CodeNoEmail         ErrorCode = "no_email"          // the (signed-in) account has no email to verify
	CodeStore           ErrorCode = "store"             // a store failed; fail closed
)

// Error is the error type of this package. Code and Message are client-safe;
// Err is the cause (for logs and errors.Is: mail.ErrUnavailable, otc and
// webauthnkit sentinels). No Error carries a code, token, grant or address.
type Error struct {
	Code       ErrorCode
	Message    string
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	s := "account: " + string(e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += " (retry after " + strconv.Itoa(int(e.RetryAfter.Round(time.Second)/time.Second)) + "s)"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error with the same Code (the sentinels below).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is; errors.As with *Error reads RetryAfter.
var (
	// ErrInvalidCode: one answer for a wrong, expired, used or replaced
	// code, an unknown account, and a code of another account.
	ErrInvalidCode = &Error{Code: CodeInvalidCode, Message: "wrong or expired code"}
	// ErrTooManyAttempts: answer 429 with RetryAfter. Only the flow is
	// throttled, never the account's passkey sign-in.
	ErrTooManyAttempts = &Error{Code: CodeTooManyAttempts, Message: "too many attempts"}
	// ErrMailUnavailable also matches mail.ErrUnavailable: answer 503 with
	// RetryAfter. Nothing usable was left behind (docs/recovery.md).
	ErrMailUnavailable = &Error{Code: CodeMailUnavailable, Message: "the mail could not be sent; try again later"}
	// ErrRateLimited: Notify did not send, the address had its share.
	ErrRateLimited = &Error{Code: CodeRateLimited, Message: "too many mails to this address"}
	// ErrInvalidArgument: malformed address, username or kind.
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument, Message: "invalid argument"}
	// ErrNoEmail: SendEmailVerification for an account without an email.
	ErrNoEmail = &Error{Code: CodeNoEmail, Message: "the account has no email address"}
	// ErrStore: a store failed (the cause is wrapped); answer 503.
	ErrStore = &Error{Code: CodeStore, Message: "the store failed"}
)

// mailRetryAfter is the retry hint of ErrMailUnavailable.
const mailRetryAfter = time.Minute

func with(sentinel *Error, cause error) *Error {
	e := *sentinel
	e.Err = cause
	return &e
}

func invalidArgument(msg string) *Error {
	e := *ErrInvalidArgument
	e.Message = msg
	return &e
}

// fromOTC maps an otc error to this package's, keeping it as the cause.
func fromOTC(err error) error {
	var oe *otc.Error
	if !errors.As(err, &oe) {
		return with(ErrStore, err)
	}
	switch oe.Code {
	case otc.CodeInvalidCode:
		return with(ErrInvalidCode, err)
	case otc.CodeTooManyAttempts:
		e := with(ErrTooManyAttempts, err)
		e.RetryAfter = oe.RetryAfter
		return e
	case otc.CodeInvalidArgument:
		return with(ErrInvalidArgument, err)
	default:
		return with(ErrStore, err)
	}
}

// fromCore maps a core error: a store outage becomes ErrStore (wrapping
// it, so webauthnkit.ErrStoreUnavailable still matches); the core's
// client errors (ErrUserNotFound, ErrUsernameTaken, ...) pass through.
func fromCore(err error) error {
	switch webauthnkit.ErrorCode(err) {
	case webauthnkit.CodeStoreUnavailable, webauthnkit.CodeCanceled, webauthnkit.CodeInternal:
		return with(ErrStore, err)
	}
	return err
}

// fromMail maps a send failure; only ErrUnavailable is retryable.
func fromMail(err error) error {
	if errors.Is(err, mail.ErrUnavailable) {
		e := with(ErrMailUnavailable, err)
		e.RetryAfter = mailRetryAfter
		return e
	}
	return with(ErrInvalidArgument, err)
}
