package totp

import (
	"strconv"
	"time"
)

// Code is a stable, client-safe error code.
type Code string

const (
	CodeInvalidCode     Code = "invalid_code"      // wrong, malformed or expired code
	CodeCodeReused      Code = "code_reused"       // a correct code that was already used
	CodeTooManyAttempts Code = "too_many_attempts" // the user's attempt budget is spent for now
	CodeSealedValue     Code = "sealed_value"      // a sealed secret that cannot be opened
	CodeEnrollExpired   Code = "enroll_expired"    // a pending enrolment older than Config.PendingTTL
	CodeInvalidArgument Code = "invalid_argument"  // the caller passed an unusable argument
	CodeStore           Code = "store"             // the ChallengeStore failed
	CodeInternal        Code = "internal"          // randomness or encoding failed
)

// Error is the error type of this package. Code and Message are safe to show
// to clients; Err, when set, is a developer cause (a store error) for logs.
// No error text ever contains a secret, a code or a sealed value.
type Error struct {
	Code    Code
	Message string
	// RetryAfter is set with CodeTooManyAttempts: how long until the user's
	// attempt budget is renewed.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	s := "totp: " + string(e.Code)
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
	// ErrInvalidCode: the code is not Config.Digits ASCII digits, or matches
	// no time step within the skew. The HTTP answer is 401 (or 400 for a
	// malformed code); say "wrong code", nothing more.
	ErrInvalidCode = &Error{Code: CodeInvalidCode, Message: "wrong code"}
	// ErrCodeReused: the code is right but this user already used the code
	// of that time step (RFC 6238 §5.2: each OTP is accepted once). The user
	// waits for the next code.
	ErrCodeReused = &Error{Code: CodeCodeReused, Message: "this code was already used; wait for the next one"}
	// ErrTooManyAttempts: the user spent Config.MaxAttempts within the
	// current Config.AttemptWindow. Answer 429 with Retry-After.
	ErrTooManyAttempts = &Error{Code: CodeTooManyAttempts, Message: "too many attempts"}
	// ErrSealedValue: a sealed secret was tampered with, sealed for another
	// user or purpose, sealed under a key ID not in Config.Keys, or is too
	// long. Fail closed: the second factor is not passed.
	ErrSealedValue = &Error{Code: CodeSealedValue, Message: "the sealed secret cannot be opened"}
	// ErrEnrollExpired: Confirm got a pending enrolment older than
	// Config.PendingTTL. Start again with Begin.
	ErrEnrollExpired = &Error{Code: CodeEnrollExpired, Message: "the enrolment expired; start again"}
	// ErrInvalidArgument: an empty or oversized user ID or account name.
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument, Message: "invalid argument"}
	// ErrStore: the ChallengeStore failed; the cause is wrapped (and matches
	// webauthnkit.ErrStoreUnavailable when the store said so). Fail closed.
	ErrStore = &Error{Code: CodeStore, Message: "the replay store failed"}
	// ErrInternal: the system's random source or an encoder failed.
	ErrInternal = &Error{Code: CodeInternal, Message: "internal error"}
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
