package otc

import (
	"strconv"
	"time"
)

// ErrorCode is a stable, client-safe error code.
type ErrorCode string

const (
	CodeInvalidCode     ErrorCode = "invalid_code"      // wrong, malformed, expired, replaced or used code or link
	CodeTooManyAttempts ErrorCode = "too_many_attempts" // the account's attempt budget for the purpose is spent for now
	CodeBusy            ErrorCode = "busy"              // concurrent Issue calls for one account kept colliding
	CodeInvalidArgument ErrorCode = "invalid_argument"  // the caller passed an unusable purpose or account
	CodeStore           ErrorCode = "store"             // the ChallengeStore failed
)

// Error is the error type of this package. Code and Message are safe to show
// to clients; Err, when set, is a developer cause (a store error) for logs.
// No error text ever contains a code, a link token, a hash or an account.
type Error struct {
	Code    ErrorCode
	Message string
	// RetryAfter is set with CodeTooManyAttempts: how long until the
	// account's attempt window for the purpose ends.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	s := "otc: " + string(e.Code)
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

// Is reports whether target is an *Error with the same Code, so the
// sentinels below work with errors.Is. A store failure also matches the
// store's own sentinel (webauthnkit.ErrStoreUnavailable) through Unwrap.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is. Use errors.As with *Error to read RetryAfter.
var (
	// ErrInvalidCode: the code is malformed or wrong, or no live code exists
	// (never issued, expired, replaced by a newer Issue, already used, dead
	// after MaxAttemptsPerCode, or held by a concurrent verification). One
	// answer for all of these: telling "expired" from "wrong" would tell a
	// guesser which accounts have a live code. Answer 400/401 "wrong or
	// expired code; request a new one".
	ErrInvalidCode = &Error{Code: CodeInvalidCode, Message: "wrong or expired code"}
	// ErrTooManyAttempts: Config.MaxAttemptsPerAccount wrong attempts were
	// made for this purpose and account within Config.AccountWindow. Only
	// this purpose is throttled (not the account's passkey sign-in).
	// Answer 429 with Retry-After.
	ErrTooManyAttempts = &Error{Code: CodeTooManyAttempts, Message: "too many attempts"}
	// ErrBusy: Issue for one purpose and account lost the race to other
	// concurrent Issue calls several times in a row. Try again.
	ErrBusy = &Error{Code: CodeBusy, Message: "another code is being issued; try again"}
	// ErrInvalidArgument: a purpose outside [a-z0-9_] or 1 to MaxPurposeLen
	// bytes, or an account outside 1 to MaxAccountLen bytes.
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument, Message: "invalid argument"}
	// ErrStore: the ChallengeStore failed; the cause is wrapped (and matches
	// webauthnkit.ErrStoreUnavailable when the store said so). Fail closed:
	// no code is issued or accepted. Answer 503.
	ErrStore = &Error{Code: CodeStore, Message: "the code store failed"}
)

// wrap returns a copy of sentinel with a cause.
func wrap(sentinel *Error, cause error) *Error {
	e := *sentinel
	e.Err = cause
	return &e
}

// invalidArgument returns ErrInvalidArgument with a message naming what was
// wrong (never its value).
func invalidArgument(msg string) *Error {
	e := *ErrInvalidArgument
	e.Message = msg
	return &e
}
