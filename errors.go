package webauthnkit

import (
	"errors"
	"strings"
)

// Code is a stable, client-safe error code.
type Code string

const (
	CodeInvalidRequest           Code = "invalid_request"            // malformed input from the caller
	CodeInvalidResponse          Code = "invalid_response"           // authenticator response malformed or failed verification
	CodeCeremonyNotFound         Code = "ceremony_not_found"         // unknown, already finished, or expired in the store
	CodeChallengeExpired         Code = "challenge_expired"          // ceremony found but past its TTL
	CodeWrongCeremony            Code = "wrong_ceremony"             // registration finished as login or the reverse
	CodeChallengeMismatch        Code = "challenge_mismatch"         // response signed another challenge
	CodeOriginMismatch           Code = "origin_mismatch"            // response from an origin not allowed
	CodeRPIDMismatch             Code = "rp_id_mismatch"             // response scoped to another RP ID
	CodeUserVerificationRequired Code = "user_verification_required" // UV required but not performed
	CodeUnknownCredential        Code = "unknown_credential"         // credential not registered (or not this user's)
	CodeCounterRegression        Code = "counter_regression"         // sign counter did not increase
	CodeCredentialExists         Code = "credential_exists"          // credential ID already registered
	CodeUsernameTaken            Code = "username_taken"             // sign-up with a name in use
	CodeEmailTaken               Code = "email_taken"                // an email address another account has
	CodeUserExists               Code = "user_exists"                // store: a user with this name or handle exists
	CodeDuplicate                Code = "duplicate"                  // store: a unique key exists (parent of the two above)
	CodeUserNotFound             Code = "user_not_found"             // management call for an unknown user
	CodeLastCredential           Code = "last_credential"            // removing the only passkey without allowing it
	CodeNotFound                 Code = "not_found"                  // RelyingParty: no such passkey in the account; store: no such user, credential or ceremony
	CodeConflict                 Code = "conflict"                   // store: a compare-and-set lost to a concurrent update
	CodeStoreUnavailable         Code = "store_unavailable"          // a store could not be reached or timed out
	CodeCanceled                 Code = "canceled"                   // the caller's context was canceled
	CodeInternal                 Code = "internal"                   // anything else; details in the log
)

// Error is the error type returned by RelyingParty methods, and the type of
// every Err* sentinel. Code and Message are safe to show to clients; the
// wrapped cause (Err: a store's error, go-webauthn's detail) may hold
// developer detail and belongs in logs only. Error() reads
// "webauthnkit: <code>: <message>[: <cause>]"; for CodeInvalidResponse the
// cause is only a log-safe summary (go-webauthn's error type and a bounded
// description with encoded values removed, never the response, challenge
// or keys).
type Error struct {
	Code    Code
	Message string
	Err     error
	// UnknownCredentialID is set, with CodeUnknownCredential, when the
	// response's credential is registered to no account at all (not when it
	// belongs to another one). Clients may then call
	// PublicKeyCredential.signalUnknownCredential so the user's passkey
	// provider hides it.
	UnknownCredentialID []byte
}

func (e *Error) Error() string {
	s := "webauthnkit: " + string(e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err == nil {
		return s
	}
	if c, ok := e.Err.(*Error); ok && c.isSentinel() {
		// A bare sentinel cause (ErrUserExists's ErrDuplicate, a store's
		// plain ErrNotFound) adds nothing to the text; errors.Is still
		// finds it.
		return s
	}
	if e.Code == CodeInvalidResponse {
		// Verification causes may echo client input (go-webauthn's DevInfo
		// holds the expected and received challenge): only a whitelisted
		// summary goes into the text (see causeSummary).
		if sum := causeSummary(e.Err); sum != "" {
			return s + ": " + sum
		}
		return s
	}
	cause := e.Err.Error()
	// A store's error usually wraps the sentinel with this very code
	// ("sqlstore: GetUserByName: webauthnkit: store_unavailable: storage is
	// temporarily unavailable: dial tcp ..."): say code and message once.
	if leaf := sameCodeSentinel(e.Err, e.Code); leaf != nil {
		text := leaf.Error()
		cause = strings.Replace(cause, text+": ", "", 1)
		cause = strings.TrimSuffix(strings.TrimSuffix(cause, text), ": ")
	}
	return s + ": " + cause
}

// isSentinel reports whether e carries no cause other than *Error values
// (a sentinel, possibly linked to its parent like ErrUserExists).
func (e *Error) isSentinel() bool {
	for e.Err != nil {
		next, ok := e.Err.(*Error)
		if !ok {
			return false
		}
		e = next
	}
	return true
}

// sameCodeSentinel finds, in err's chain, a sentinel with code.
func sameCodeSentinel(err error, code Code) *Error {
	for err != nil {
		if e, ok := err.(*Error); ok && e.Code == code && e.isSentinel() {
			return e
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if e := sameCodeSentinel(inner, code); e != nil {
					return e
				}
			}
			return nil
		default:
			return nil
		}
	}
	return nil
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code, so the Err*
// sentinels work with errors.Is whatever the Message or cause.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is. Each matches any *Error with the same Code, so
// one name reaches an error through every layer: a store returns (a
// wrapping of) ErrNotFound, the RelyingParty returns an *Error with
// CodeNotFound that wraps it, and the HTTP adapter answers 404
// {"error":"not_found"}; errors.Is(err, ErrNotFound) holds at each step.
// The table in docs/errors.md gives each sentinel's HTTP status and what an
// application should do.
var (
	ErrInvalidRequest           = &Error{Code: CodeInvalidRequest, Message: "invalid request"}
	ErrInvalidResponse          = &Error{Code: CodeInvalidResponse, Message: "the authenticator response could not be verified"}
	ErrCeremonyNotFound         = &Error{Code: CodeCeremonyNotFound, Message: "unknown, finished or expired ceremony"}
	ErrChallengeExpired         = &Error{Code: CodeChallengeExpired, Message: "the ceremony expired"}
	ErrWrongCeremony            = &Error{Code: CodeWrongCeremony, Message: "wrong ceremony kind"}
	ErrChallengeMismatch        = &Error{Code: CodeChallengeMismatch, Message: "challenge mismatch"}
	ErrOriginMismatch           = &Error{Code: CodeOriginMismatch, Message: "origin not allowed"}
	ErrRPIDMismatch             = &Error{Code: CodeRPIDMismatch, Message: "RP ID mismatch"}
	ErrUserVerificationRequired = &Error{Code: CodeUserVerificationRequired, Message: "user verification required"}
	ErrUnknownCredential        = &Error{Code: CodeUnknownCredential, Message: "this passkey is not registered"}
	ErrCounterRegression        = &Error{Code: CodeCounterRegression, Message: "signature counter went backwards"}
	ErrUsernameTaken            = &Error{Code: CodeUsernameTaken, Message: "this username is taken"}
	ErrEmailTaken               = &Error{Code: CodeEmailTaken, Message: "this email address belongs to another account"}
	ErrUserNotFound             = &Error{Code: CodeUserNotFound, Message: "unknown user"}
	ErrInternal                 = &Error{Code: CodeInternal, Message: "internal error"}

	// Returned by stores too (the store contract in store.go says when).

	// ErrNotFound: the user, credential or ceremony does not exist (or, for
	// a ceremony, was already taken or has expired).
	ErrNotFound = &Error{Code: CodeNotFound, Message: "not found"}
	// ErrDuplicate: a unique key already exists. Stores return one of the
	// two more precise errors below, both of which match ErrDuplicate.
	ErrDuplicate = &Error{Code: CodeDuplicate, Message: "already exists"}
	// ErrUserExists: a user with the same name or handle already exists.
	// errors.Is(ErrUserExists, ErrDuplicate) is true. The RelyingParty
	// answers a taken name with ErrUsernameTaken (which wraps it).
	ErrUserExists = &Error{Code: CodeUserExists, Message: "user already exists", Err: ErrDuplicate}
	// ErrCredentialExists: a credential with the same ID is already stored,
	// whichever user owns it. errors.Is(ErrCredentialExists, ErrDuplicate)
	// is true.
	ErrCredentialExists = &Error{Code: CodeCredentialExists, Message: "credential already exists", Err: ErrDuplicate}
	// ErrConflict: a compare-and-set found a value other than the expected
	// one (another login updated the credential first). FinishLogin retries;
	// only after four lost attempts in a row does it fail, with ErrInternal
	// wrapping it.
	ErrConflict = &Error{Code: CodeConflict, Message: "concurrent update conflict"}
	// ErrLastCredential: removing the account's only passkey was not
	// allowed (DeleteCredential with allowLast false, RevokeCredential
	// without force).
	ErrLastCredential = &Error{Code: CodeLastCredential, Message: "this is the account's only passkey"}
	// ErrStoreUnavailable: the store could not be reached (connection
	// refused or lost, timeout). Stores wrap the cause:
	// fmt.Errorf("...: %w: %w", ErrStoreUnavailable, cause). The HTTP
	// adapter answers 503. The same call may succeed once the store is back;
	// stores must recover by themselves.
	ErrStoreUnavailable = &Error{Code: CodeStoreUnavailable, Message: "storage is temporarily unavailable"}
	// ErrCanceled: the caller's context was canceled before the call
	// finished (the client went away); it wraps context.Canceled.
	ErrCanceled = &Error{Code: CodeCanceled, Message: "request canceled"}
)

// ErrorCode returns the Code of the outermost *Error in err's chain (the
// code the HTTP adapter sends), else CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
