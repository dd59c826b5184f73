package httpadapter

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Defaults of Options.StoreTimeout and Options.MailTimeout.
const (
	// DefaultStoreTimeout bounds a request's work, store calls included:
	// a hung store (a paused server, a dead network path that still
	// accepts connections) answers 503 store_unavailable with Retry-After
	// after this long instead of holding the request. A login on a healthy
	// store takes a few milliseconds; 2 s leaves room for a slow moment
	// (a failover, a full pool) without letting a hang pile up requests.
	DefaultStoreTimeout = 2 * time.Second
	// DefaultMailTimeout is what the account-flow endpoints, which send
	// mail before they answer, get on top of StoreTimeout: the SMTP
	// sender's own default bound on one message (mail.DefaultSMTPTimeout).
	DefaultMailTimeout = 15 * time.Second
)

// checkTimeouts validates and defaults Options.StoreTimeout and
// Options.MailTimeout. Negative means no deadline.
func checkTimeouts(opts *Options) error {
	if opts.StoreTimeout == 0 {
		opts.StoreTimeout = DefaultStoreTimeout
	}
	if opts.MailTimeout == 0 {
		opts.MailTimeout = DefaultMailTimeout
	}
	if opts.StoreTimeout > 0 && opts.StoreTimeout < time.Millisecond {
		return fmt.Errorf("httpadapter: Options.StoreTimeout %v is too short (at least 1ms, or negative for none)", opts.StoreTimeout)
	}
	return nil
}

// deadlineFor returns how long a request of class may run (0: no
// deadline of the adapter's own).
func (h *Handler) deadlineFor(class endpointClass) time.Duration {
	d := h.opts.StoreTimeout
	if d <= 0 {
		return 0
	}
	if class == classAccount && h.opts.MailTimeout > 0 {
		d += h.opts.MailTimeout
	}
	return d
}

// withDeadline returns r with its context bounded by the deadline of
// class, and the function that releases it. The request's own context
// stays the parent: a client that goes away still cancels the work (499
// canceled, not an outage), and an earlier deadline of the caller's wins.
// The deadline counts from when the adapter first worked on the request: a
// request that LoadUser already looked up (waiting for a hung store) does
// not get a second full StoreTimeout at the endpoint.
func (h *Handler) withDeadline(r *http.Request, class endpointClass) (*http.Request, context.CancelFunc) {
	d := h.deadlineFor(class)
	if d <= 0 {
		return r, func() {}
	}
	start := time.Now()
	if s, ok := r.Context().Value(startKey{}).(time.Time); ok && s.Before(start) {
		start = s
	}
	ctx, cancel := context.WithDeadline(r.Context(), start.Add(d))
	return r.WithContext(ctx), cancel
}

// startKey is the context key of when the adapter began on a request
// (LoadUser, RequireUser), for withDeadline.
type startKey struct{}

// markStart records in r's context that the adapter began on it now,
// unless an earlier start is recorded.
func markStart(r *http.Request) *http.Request {
	if _, ok := r.Context().Value(startKey{}).(time.Time); ok {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), startKey{}, time.Now()))
}
