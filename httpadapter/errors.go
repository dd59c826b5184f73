package httpadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
)

// Error codes of the adapter's own refusals, in the "error" field of a JSON
// error response beside the webauthnkit.Code values of the core (an unknown
// endpoint or passkey ID is webauthnkit.CodeNotFound, 404). docs/errors.md
// lists them all with their HTTP status and what a client should do.
const (
	CodeNotSignedIn          webauthnkit.Code = "not_signed_in"          // 401: no valid session
	CodeForbiddenOrigin      webauthnkit.Code = "forbidden_origin"       // 403: Origin not allowed, or a cross-site request
	CodeMethodNotAllowed     webauthnkit.Code = "method_not_allowed"     // 405
	CodeRequestTooLarge      webauthnkit.Code = "request_too_large"      // 413: body above Options.MaxBodyBytes
	CodeUnsupportedMediaType webauthnkit.Code = "unsupported_media_type" // 415: not Content-Type: application/json
	CodeRateLimited          webauthnkit.Code = "rate_limited"           // 429: see RateLimit
	CodeSignUpDisabled       webauthnkit.Code = "signup_disabled"        // 403: Options.DisableSignUp
	CodeNoAccount            webauthnkit.Code = "no_account"             // 403: signed in, no library account, no Options.AccountFor
)

// RetryAfterSeconds is the Retry-After sent with 503 store_unavailable.
const RetryAfterSeconds = 5

// RetryAfterBudgetSeconds is the Retry-After sent with a 429 of the core
// (webauthnkit.ErrTooManyAttempts: the device-link lookup budget, which
// refills at the end of its webauthnkit.LinkLookupWindow).
const RetryAfterBudgetSeconds = 60

// errorBody is the JSON of every error response.
type errorBody struct {
	Error   string  `json:"error"`
	Message string  `json:"message"`
	Signal  *signal `json:"signal,omitempty"`
}

type signal struct {
	UnknownCredential  *unknownCredentialSignal  `json:"unknownCredential,omitempty"`
	CurrentUserDetails *currentUserDetailsSignal `json:"currentUserDetails,omitempty"`
}

// currentUserDetailsSignal is the argument of
// PublicKeyCredential.signalCurrentUserDetails.
type currentUserDetailsSignal struct {
	RPID        string `json:"rpId"`
	UserID      string `json:"userId"` // base64url user handle
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
}

type unknownCredentialSignal struct {
	RPID         string `json:"rpId"`
	CredentialID string `json:"credentialId"`
}

// StatusClientClosedRequest is the status logged for a request whose client
// went away before it finished (webauthnkit.CodeCanceled), as nginx does: a
// 4xx, not an outage. The client no longer reads it.
const StatusClientClosedRequest = 499

// statusOf maps a core error code to an HTTP status (the table in
// docs/errors.md).
func statusOf(code webauthnkit.Code) int {
	switch code {
	case webauthnkit.CodeInvalidRequest, webauthnkit.CodeInvalidGrant, webauthnkit.CodeLinkPhraseMismatch:
		return http.StatusBadRequest
	case webauthnkit.CodeInvalidResponse,
		webauthnkit.CodeCeremonyNotFound,
		webauthnkit.CodeChallengeExpired,
		webauthnkit.CodeWrongCeremony,
		webauthnkit.CodeChallengeMismatch,
		webauthnkit.CodeOriginMismatch,
		webauthnkit.CodeRPIDMismatch,
		webauthnkit.CodeUserVerificationRequired,
		webauthnkit.CodeUnknownCredential,
		webauthnkit.CodeCounterRegression,
		webauthnkit.CodeUserNotFound:
		return http.StatusUnauthorized
	case webauthnkit.CodeCredentialQuarantined:
		return http.StatusForbidden
	case webauthnkit.CodeNotFound:
		return http.StatusNotFound
	case webauthnkit.CodeAttestationRefused:
		return http.StatusForbidden
	case webauthnkit.CodeCredentialExists,
		webauthnkit.CodeUsernameTaken,
		webauthnkit.CodeEmailTaken,
		webauthnkit.CodeUserExists,
		webauthnkit.CodeDuplicate,
		webauthnkit.CodeConflict,
		webauthnkit.CodeLastCredential:
		return http.StatusConflict
	case webauthnkit.CodeReauthRequired:
		return http.StatusForbidden
	case webauthnkit.CodeWrongUser:
		return http.StatusUnauthorized
	case webauthnkit.CodeNoPasskey:
		return http.StatusConflict
	case webauthnkit.CodeLinkNotFound:
		return http.StatusNotFound
	case webauthnkit.CodeTooManyAttempts:
		return http.StatusTooManyRequests
	case webauthnkit.CodeStoreUnavailable:
		return http.StatusServiceUnavailable
	case webauthnkit.CodeCanceled:
		return StatusClientClosedRequest
	}
	return http.StatusInternalServerError
}

// fail writes err as a JSON error. *webauthnkit.Error messages are
// client-safe by contract; anything else becomes 500 "internal error". The
// wrapped cause is logged for 5xx only (4xx are the client's problem and the
// core already logs failed ceremonies without secrets).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.failWith(w, r, err, nil)
}

func (h *Handler) failWith(w http.ResponseWriter, r *http.Request, err error, sig *signal) {
	writeErrorTo(h.log, w, r, err, sig)
}

// WriteError answers err as the adapter's endpoints do, for apps writing
// their own: an *webauthnkit.Error gets its status (docs/errors.md) and
// {"error": code, "message": its client-safe message}; an error made by
// Refuse its status and code; anything else 500 {"error":"internal"}
// (logged to slog.Default; the message never reaches the client).
//
//	b, err := rp.BeginLogin(r.Context(), webauthnkit.LoginRequest{UserHandle: h})
//	if err != nil {
//		httpadapter.WriteError(w, r, err)
//		return
//	}
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeErrorTo(slog.Default(), w, r, err, nil)
}

func writeErrorTo(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error, sig *signal) {
	if clientGone(r, err) {
		// The client went away (its context canceled, not a deadline that
		// passed): whatever failed after that is not an outage.
		log.DebugContext(r.Context(), "httpadapter: request canceled by the client", "path", r.URL.Path)
		writeError(w, StatusClientClosedRequest, webauthnkit.CodeCanceled, "request canceled")
		return
	}
	var he *httpError
	if errors.As(err, &he) {
		writeJSONError(w, he.status, errorBody{Error: string(he.code), Message: he.msg, Signal: sig})
		return
	}
	var ae *account.Error
	if errors.As(err, &ae) {
		writeAccountError(log, w, r, ae)
		return
	}
	var e *webauthnkit.Error
	if !errors.As(err, &e) {
		log.ErrorContext(r.Context(), "httpadapter: internal error", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, webauthnkit.CodeInternal, "internal error")
		return
	}
	status := statusOf(e.Code)
	msg := e.Message
	switch {
	case status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		log.WarnContext(r.Context(), "httpadapter: store unavailable", "path", r.URL.Path, "code", string(e.Code))
	case status == http.StatusTooManyRequests:
		// A core budget (device-link code lookups) that refills within its
		// window; the message says when.
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterBudgetSeconds))
	case status >= 500:
		// e.Error() gives verification causes only as a log-safe summary;
		// store causes help operators.
		log.ErrorContext(r.Context(), "httpadapter: internal error", "path", r.URL.Path, "err", e.Error())
		msg = "internal error"
	default:
		log.DebugContext(r.Context(), "httpadapter: request failed", "path", r.URL.Path, "code", string(e.Code))
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	writeJSONError(w, status, errorBody{Error: string(e.Code), Message: msg, Signal: sig})
}

// clientGone reports whether err, which would be answered 5xx, came after
// the client canceled the request (the account flows report a canceled
// store call as a store failure; the core already says canceled).
func clientGone(r *http.Request, err error) bool {
	if !errors.Is(r.Context().Err(), context.Canceled) {
		return false
	}
	var he *httpError
	return !errors.As(err, &he)
}

// httpError is an HTTP-level failure detected by the adapter itself.
type httpError struct {
	status int
	code   webauthnkit.Code
	msg    string
}

func (e *httpError) Error() string { return "httpadapter: " + string(e.code) + ": " + e.msg }

func errNotSignedIn() error {
	return &httpError{http.StatusUnauthorized, CodeNotSignedIn, "sign in first"}
}

func badRequest(msg string) error {
	return &httpError{http.StatusBadRequest, webauthnkit.CodeInvalidRequest, msg}
}

func writeError(w http.ResponseWriter, status int, code webauthnkit.Code, msg string) {
	writeJSONError(w, status, errorBody{Error: string(code), Message: msg})
}

func writeJSONError(w http.ResponseWriter, status int, body errorBody) {
	data, err := marshalJSON(body)
	if err != nil { // cannot happen: plain strings
		data = []byte(`{"error":"internal","message":"internal error"}`)
		status = http.StatusInternalServerError
	}
	writeJSONBytes(w, status, data)
}

func methodNotAllowed(w http.ResponseWriter, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use "+strings.Join(allowed, " or "))
}

// writeJSON writes v with status. API responses are never cached.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	data, err := marshalJSON(v)
	if err != nil {
		return err
	}
	writeJSONBytes(w, status, data)
	return nil
}

func writeJSONBytes(w http.ResponseWriter, status int, data []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// marshalJSON is json.Marshal without HTML escaping and with a newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// guard is the outermost wrapper of every endpoint: it recovers from panics
// (logging the stack, answering 500 JSON) as a last resort. No client input
// is meant to reach it; the tests check that.
func (h *Handler) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rw := &trackingWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.ErrorContext(r.Context(), "httpadapter: panic serving request",
				"method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !rw.wrote {
				writeError(rw, http.StatusInternalServerError, webauthnkit.CodeInternal, "internal error")
			}
		}()
		next(rw, r)
	}
}

// trackingWriter records whether the response was started.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// accountStatus maps an account error code to its HTTP status
// (docs/errors.md).
func accountStatus(code account.ErrorCode) int {
	switch code {
	case account.CodeInvalidCode, account.CodeInvalidArgument:
		return http.StatusBadRequest
	case account.CodeNoEmail:
		return http.StatusConflict
	case account.CodeTooManyAttempts, account.CodeRateLimited:
		return http.StatusTooManyRequests
	case account.CodeMailUnavailable, account.CodeStore:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeAccountError answers an *account.Error: its code and client-safe
// message, Retry-After on 429 and 503 (at least one second).
func writeAccountError(log *slog.Logger, w http.ResponseWriter, r *http.Request, e *account.Error) {
	status := accountStatus(e.Code)
	msg := e.Message
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = RetryAfterSeconds
		}
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	switch {
	case status == http.StatusServiceUnavailable:
		// The cause names the failing mail server or store, never a code.
		log.WarnContext(r.Context(), "httpadapter: account flow unavailable", "path", r.URL.Path, "code", string(e.Code), "err", e.Err)
	case status >= 500:
		log.ErrorContext(r.Context(), "httpadapter: internal error", "path", r.URL.Path, "code", string(e.Code))
		msg = "internal error"
	default:
		log.DebugContext(r.Context(), "httpadapter: request failed", "path", r.URL.Path, "code", string(e.Code))
	}
	writeJSONError(w, status, errorBody{Error: string(e.Code), Message: msg})
}
