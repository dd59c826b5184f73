// Package audit writes one structured log line per security event of
// webauthnkit, its account flows and the HTTP adapter's rate limit, on
// log/slog, for a SIEM. It depends on the standard library, this module
// and golang.org/x/time/rate only (no OpenTelemetry).
//
// The field names are stable (docs/monitoring.md has the schema). A line
// never holds a challenge, signature, key, code, token, grant, session
// cookie, email address or error text: go-webauthn's error texts may quote
// the challenge, so only the error's code is written. The account is
// named by its user handle (random bytes, base64url), a pseudonym the
// application's database resolves; the sign-in name, often an email
// address, is written only with Options.IncludeUsername.
//
//	al := audit.NewJSON(os.Stdout, audit.Options{})
//	webauthnkit.Config{..., OnEvent: al.OnEvent}
//	account.Config{..., OnEvent: al.OnAccountEvent}
//	httpadapter.RateLimit{..., OnRefused: al.OnRateLimited}
package audit

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// Message is the "msg" of every audit line, to tell them from other logs
// sharing the stream.
const Message = "webauthnkit.audit"

// EventRateLimited is the "event" of a request refused by the rate limit.
const EventRateLimited = "http.rate_limited"

// The field names. Fields that do not apply to an event are left out.
const (
	FieldEvent        = "event"         // event type, e.g. "login.failed"
	FieldOutcome      = "outcome"       // "success" or "failure"
	FieldCode         = "code"          // webauthnkit error code, on failures
	FieldUserHandle   = "user_handle"   // base64url, no padding
	FieldUsername     = "username"      // only with Options.IncludeUsername
	FieldCredentialID = "credential_id" // base64url, no padding
	FieldDurationMS   = "duration_ms"   // a ceremony's Finish, milliseconds
	FieldKind         = "kind"          // account.notified: the notice sent
	FieldClass        = "class"         // http.rate_limited: endpoint class
	FieldBudget       = "budget"        // http.rate_limited: "client" or "global"
	FieldClientIP     = "client_ip"     // http.rate_limited: the client address
	FieldSuppressed   = "suppressed"    // http.rate_limited: refusals not written before this line
)

// DefaultRateLimitedLines is the default of Options.RateLimitedLines.
const DefaultRateLimitedLines = 10

// maxCredentialID is WebAuthn's bound on credential IDs: a longer one (a
// hostile client's invention) is not written.
const maxCredentialID = 1023

// Options configures a Logger.
type Options struct {
	// IncludeUsername adds the account's sign-in name (FieldUsername) when
	// the event has it. Default false: names are often email addresses,
	// personal data that a log kept for months should not spread; the user
	// handle identifies the account for whoever may look it up.
	IncludeUsername bool
	// ContextAttrs, if set, adds fields taken from the event's context to
	// the core's events, e.g. a request ID or the client address your
	// middleware stored there. Their names must not clash with the Field*
	// names, and they must not be secrets. Default nil.
	ContextAttrs func(context.Context) []slog.Attr
	// RateLimitedLines caps the http.rate_limited lines (OnRateLimited) at
	// this many a second, with bursts of ten times as many: a flood is the
	// one event a client can make at line rate, and one line per refused
	// request would let it fill the disk. The refusals not written are
	// counted in the next line's "suppressed" field (and all of them in
	// webauthnotel's metric). Default DefaultRateLimitedLines (10);
	// negative: no cap.
	RateLimitedLines float64
}

// Logger writes audit lines. Safe for concurrent use (as its handler is).
type Logger struct {
	h          slog.Handler
	opts       Options
	refusals   *rate.Limiter // nil: no cap
	suppressed atomic.Int64
}

// New writes audit lines to h at levels Info (success) and Warn (failure).
func New(h slog.Handler, opts Options) *Logger {
	l := &Logger{h: h, opts: opts}
	if n := opts.RateLimitedLines; n >= 0 {
		if n == 0 {
			n = DefaultRateLimitedLines
		}
		l.refusals = rate.NewLimiter(rate.Limit(n), max(int(10*n), 1))
	}
	return l
}

// NewJSON writes audit lines to w as JSON, one object per line, with the
// standard "time" (RFC 3339, the event's time), "level" and "msg" fields.
func NewJSON(w io.Writer, opts Options) *Logger {
	return New(slog.NewJSONHandler(w, nil), opts)
}

// OnEvent writes ev: use it as webauthnkit.Config.OnEvent, or call it from
// yours. Ceremony failures, counter regressions and failed or refused
// steps are written at level Warn with outcome "failure".
func (l *Logger) OnEvent(ctx context.Context, ev webauthnkit.Event) {
	failure := ev.Code != "" || ev.Type == webauthnkit.EventLoginFailed ||
		ev.Type == webauthnkit.EventRegistrationFailed || ev.Type == webauthnkit.EventCounterRegression
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String(FieldEvent, string(ev.Type)), outcome(failure))
	if ev.Code != "" {
		attrs = append(attrs, slog.String(FieldCode, string(ev.Code)))
	}
	attrs = l.account(attrs, ev.UserHandle, ev.Username)
	if n := len(ev.CredentialID); n > 0 && n <= maxCredentialID {
		attrs = append(attrs, slog.String(FieldCredentialID, base64.RawURLEncoding.EncodeToString(ev.CredentialID)))
	}
	if ev.Duration > 0 {
		attrs = append(attrs, slog.Float64(FieldDurationMS, float64(ev.Duration.Microseconds())/1000))
	}
	if l.opts.ContextAttrs != nil {
		attrs = append(attrs, l.opts.ContextAttrs(ctx)...)
	}
	l.write(ctx, ev.Time, failure, attrs)
}

// OnAccountEvent writes an account event (account.Config.OnEvent), at
// level Info with outcome "success": each is a step that happened.
func (l *Logger) OnAccountEvent(ev account.Event) {
	attrs := make([]slog.Attr, 0, 5)
	attrs = append(attrs, slog.String(FieldEvent, string(ev.Type)), outcome(false))
	attrs = l.account(attrs, ev.UserHandle, ev.Username)
	if ev.Kind != "" {
		attrs = append(attrs, slog.String(FieldKind, string(ev.Kind)))
	}
	l.write(context.Background(), ev.Time, false, attrs)
}

// OnRateLimited writes a request refused by the rate limit, at level Warn:
// use it as httpadapter.RateLimit.OnRefused. It writes the client address
// the limiter counted (client_ip; absent when RateLimit.Key counted the
// request), which is personal data under some laws: keep the log as
// your retention policy says. Options.RateLimitedLines caps these lines
// (a flood would write one per refused request); the metrics (package
// webauthnotel) count every refusal.
func (l *Logger) OnRateLimited(r *http.Request, ref httpadapter.Refusal) {
	if l.refusals != nil && !l.refusals.Allow() {
		l.suppressed.Add(1)
		return
	}
	budget := "client"
	if ref.Global {
		budget = "global"
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String(FieldEvent, EventRateLimited), outcome(true),
		slog.String(FieldCode, "rate_limited"),
		slog.String(FieldClass, ref.Class), slog.String(FieldBudget, budget))
	if ref.Client.IsValid() {
		attrs = append(attrs, slog.String(FieldClientIP, ref.Client.String()))
	}
	if n := l.suppressed.Swap(0); n > 0 {
		attrs = append(attrs, slog.Int64(FieldSuppressed, n))
	}
	l.write(r.Context(), time.Now(), true, attrs)
}

func outcome(failure bool) slog.Attr {
	if failure {
		return slog.String(FieldOutcome, "failure")
	}
	return slog.String(FieldOutcome, "success")
}

func (l *Logger) account(attrs []slog.Attr, handle []byte, name string) []slog.Attr {
	if len(handle) > 0 {
		attrs = append(attrs, slog.String(FieldUserHandle, base64.RawURLEncoding.EncodeToString(handle)))
	}
	if l.opts.IncludeUsername && name != "" {
		attrs = append(attrs, slog.String(FieldUsername, name))
	}
	return attrs
}

func (l *Logger) write(ctx context.Context, at time.Time, failure bool, attrs []slog.Attr) {
	level := slog.LevelInfo
	if failure {
		level = slog.LevelWarn
	}
	if !l.h.Enabled(ctx, level) {
		return
	}
	if at.IsZero() {
		at = time.Now()
	}
	r := slog.NewRecord(at, level, Message, 0)
	r.AddAttrs(attrs...)
	_ = l.h.Handle(ctx, r) // an audit sink that fails has nowhere to report to
}
