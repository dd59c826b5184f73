// Package httpadapter serves a webauthnkit.RelyingParty over plain net/http:
// JSON endpoints for registration, login and passkey management, an embedded
// JavaScript client (client.js), a built-in signed session cookie, and
// middleware that puts the signed-in user into the request context.
//
// Mount it under a prefix:
//
//	h, err := httpadapter.New(rp, httpadapter.Options{SessionSecret: secret})
//	mux.Handle("/passkeys/", http.StripPrefix("/passkeys", h))
//	mux.Handle("GET /.well-known/webauthn", h.WellKnown())
//	mux.Handle("/account", h.RequireUser(accountPage))
//
// and load the client in the page with
// <script src="/passkeys/client.js"></script>.
//
// Security defaults: ceremony and finish endpoints accept only POST with
// Content-Type application/json and an Origin that is one of the
// RelyingParty's origins (cross-site requests without Origin are refused by
// Sec-Fetch-Site); the ceremony ID travels in an HttpOnly, SameSite=Strict
// cookie and is consumed by the core exactly once; bodies are capped; every
// error is a JSON {"error", "message"} with a client-safe message; nothing
// secret (challenges, signatures, keys, cookie values) is logged. Requests
// are rate-limited per client address and endpoint class, with a global
// ceiling on begins that keeps the ceremony store from filling (RateLimit).
// The built-in session carries the account's session epoch, so sign-out and
// passkey removal end it on the server, copies included; it also has idle
// and absolute timeouts.
package httpadapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
)

// Defaults for Options.
const (
	DefaultSessionTTL   = 12 * time.Hour
	DefaultMaxBodyBytes = 64 << 10
	// MinSessionSecret is the minimum length of Options.SessionSecret.
	MinSessionSecret = 32
)

// Cookie names. The built-in session cookie is called
// SessionCookieSecure ("__Host-" prefix: Secure, Path=/, no Domain, so a
// sibling subdomain cannot plant one) on https and SessionCookieInsecure on
// http://localhost during development.
const (
	CeremonyCookie        = "webauthnkit_ceremony"
	SessionCookieSecure   = "__Host-webauthnkit_session"
	SessionCookieInsecure = "webauthnkit_session"
)

// Options configures a Handler. The zero value is usable with a
// SessionSecret (built-in session) or a CurrentUser function (the app's own
// session).
type Options struct {
	// CurrentUser tells the adapter who is signed in (user handle), for adding
	// a passkey and for credential management. Nil: the adapter's own signed
	// session cookie is used (then SessionSecret is required).
	CurrentUser func(r *http.Request) (userHandle []byte, ok bool)

	// AccountFor gives the library account to create for the signed-in app
	// user (CurrentUser) who has none yet, so that "signed in, no passkey
	// yet" can add a first passkey with registration/begin {}. It is called
	// before the ceremony begins, so the passkey is always stored linked to
	// the app's user. NewUser.Handle empty means the CurrentUser handle;
	// another handle is refused (500). Nil (default): such a user gets 200
	// with an empty list from GET credentials but 403 no_account from
	// registration/begin.
	AccountFor func(r *http.Request) (webauthnkit.NewUser, bool)

	// PendingSecondFactor names the user who passed the app's first factor
	// (a password) and now owes a second one: login/begin
	// {"secondFactor": true} starts a login bound to that user. Nil
	// (default): such a request answers 401 not_signed_in.
	PendingSecondFactor func(r *http.Request) (userHandle []byte, ok bool)
	// SecondFactorUserVerification is the user verification asked for in
	// a second-factor login and in the registration of a second-factor key
	// (webauthnkit.UserVerificationDiscouraged: no PIN prompt after the
	// password, PIN-less security keys can be enrolled). Default "":
	// Config.UserVerification.
	SecondFactorUserVerification webauthnkit.UserVerification

	// AllowUserUpdate lets signed-in users change their library name and
	// display name with PATCH user. Default: allowed with the built-in
	// session, refused (404) when CurrentUser is set: an app that owns its
	// users changes the library's name itself (RelyingParty.UpdateUser)
	// when its own record changes, and a user must not be able to take
	// another person's email as their passkey name.
	AllowUserUpdate *bool

	// DisableSignUp refuses registration/begin with a username (new
	// accounts) with 403 signup_disabled; signed-in users still add
	// passkeys. Default false (sign-up open).
	DisableSignUp bool

	// AllowRemoveLast says whether user may remove their last passkey (an
	// account with a password can still sign in). Nil (default): never;
	// the store refuses it atomically (409 last_credential).
	AllowRemoveLast func(r *http.Request, user webauthnkit.User) bool

	// OnLogin / OnRegister are called after a successful login /
	// registration, before the JSON response is written, so the app can issue
	// its own session. An error made by Refuse is answered with its status
	// and code; any other error with 500 {"error":"internal"}. Either way the
	// built-in session cookie is withdrawn if it was being set, and a
	// refused registration is undone (see Refuse). With the built-in session
	// the adapter has already set its cookie when the hook runs.
	OnLogin    func(w http.ResponseWriter, r *http.Request, login *webauthnkit.Login) error
	OnRegister func(w http.ResponseWriter, r *http.Request, reg *webauthnkit.Registration) error

	// SessionSecret is the HMAC-SHA256 key of the built-in session cookie, at
	// least 32 bytes (use 32 random bytes kept in your secret store; rotating
	// it signs everyone out). Required when CurrentUser is nil.
	SessionSecret []byte
	// SessionTTL is the absolute lifetime of the built-in session, from
	// sign-in. Default 12h.
	SessionTTL time.Duration
	// MaxBodyBytes caps request bodies (413 above). Default 64 KiB.
	MaxBodyBytes int64
	// RelatedOrigins are served at /.well-known/webauthn (WellKnown): the
	// other origins allowed to use this RP ID (WebAuthn related origin
	// requests). Default (nil): the RelyingParty's RelatedOrigins
	// (webauthnkit.Config.RelatedOrigins), which is where they belong, since
	// ceremonies from them verify only if the RelyingParty accepts them.
	// When set, each must be one of the RelyingParty's origins (rp.Origins()).
	RelatedOrigins []string
	// RateLimit limits requests per client and endpoint class; on by
	// default (see RateLimit for the numbers and why).
	RateLimit RateLimit
	// SessionIdleTimeout ends a built-in session after this long without a
	// request that checks it (the adapter's endpoints, LoadUser,
	// RequireUser). Activity re-issues the cookie once a quarter of it has
	// passed. Default DefaultSessionIdleTimeout (1h); a value above
	// SessionTTL leaves only the absolute limit.
	SessionIdleTimeout time.Duration
	// Accounts serves the email and recovery flows (package account):
	// signup/start, signup/confirm, recovery/start, recovery/confirm,
	// recovery/code, recovery/codes, email, email/verify, and
	// registration/begin {"grant"}; after a recovery registration the
	// adapter calls Accounts.CompleteRecovery and signs the user in (the
	// built-in session; with CurrentUser, sign in from OnRegister when
	// Registration.GrantPurpose is account.GrantPurposeRecovery). Nil
	// (default): those endpoints answer 404. Mail notices of passkey
	// changes are the app's choice: webauthnkit.Config.OnEvent =
	// hook.OnEvent with an account.EventHook (docs/integration-hooks.md).
	Accounts *account.Accounts

	// StoreTimeout is the deadline of each request's work: the adapter
	// runs every endpoint (and the user lookup of LoadUser and
	// RequireUser) under a context that ends this long after the endpoint
	// starts, so the core's and the account flows' store calls, and hooks
	// that use the request's context, end by then. A store that hangs
	// (a paused server, a network path that swallows packets) is answered
	// 503 store_unavailable with Retry-After instead of holding the request
	// and its connection; a client that goes away is still 499 canceled,
	// not an outage. Give the store clients timeouts of the same order and
	// let them honour the context (docs/operations.md). Default
	// DefaultStoreTimeout (2s); negative: no deadline of the adapter's own
	// (the request's context only).
	StoreTimeout time.Duration
	// MailTimeout is added to StoreTimeout for the account-flow endpoints
	// (Options.Accounts), which send mail before they answer. Default
	// DefaultMailTimeout (15s, the SMTP sender's own default); negative:
	// StoreTimeout alone.
	MailTimeout time.Duration
	// LinkURL is the device-linking approval page of the signed-in device
	// (docs/device-linking.md): link/start puts it, with "#code=<code>"
	// appended, in the QR code. A path is taken on the origin of the new
	// device's request; an absolute URL as it is. Default "/link"
	// (DefaultLinkURL). On approval the adapter mails a device_linked
	// notice through Accounts, when set. The new device's passkey (grant
	// purpose webauthnkit.LinkGrantPurpose) signs it in with the built-in
	// session; with CurrentUser, sign it in from OnRegister.
	LinkURL string

	// FreshAuthMaxAge is how recent the session's last user-verified
	// authentication must be for the sensitive endpoints: adding a passkey
	// to an account that has one (registration/begin when signed in),
	// removing a passkey (DELETE credentials/{id}), replacing the recovery
	// codes (POST recovery/codes), changing the email address of an account
	// that has a passkey (POST email: a verified address recovers the
	// account) and approving a device (device linking). Older: 403
	// {"error":"reauth_required"}, which
	// client.js answers by re-authenticating (reauth/begin, reauth/finish)
	// and retrying once. Default (0) DefaultFreshAuthMaxAge (5 minutes);
	// negative turns these checks off. With CurrentUser the time comes
	// from AuthenticatedAt; without it the checks are off (the adapter
	// cannot know when your user last authenticated), except approving a
	// device, which then fails closed: always 403 reauth_required (set
	// AuthenticatedAt, or a negative FreshAuthMaxAge to opt out).
	FreshAuthMaxAge time.Duration
	// AuthenticatedAt, with CurrentUser, returns when the signed-in user
	// last authenticated with user verification (zero: unknown, never
	// fresh). Record Login.AuthenticatedAt in your session from OnLogin
	// (when Login.UserVerified) and from OnReauth. Ignored with the
	// built-in session, whose cookie carries the time.
	AuthenticatedAt func(r *http.Request) time.Time
	// OnReauth is called after a successful reauth/finish, before the JSON
	// response is written (errors as for OnLogin). With the built-in
	// session the adapter has already re-issued its cookie with the new
	// time; with CurrentUser, record login.AuthenticatedAt here.
	OnReauth func(w http.ResponseWriter, r *http.Request, login *webauthnkit.Login) error

	// Logger receives diagnostics (never challenges, signatures, keys or
	// cookie values). Default: discard.
	Logger *slog.Logger
}

// Handler serves the passkey endpoints. Build it with New; it is safe for
// concurrent use.
//
// Relative to where it is mounted
// (mux.Handle("/passkeys/", http.StripPrefix("/passkeys", h))):
//
//	POST   registration/begin   {"username","displayName","name"} sign-up, or {} / {"name"} (signed in: add a passkey),
//	                            {"secondFactor": true} (a second-factor-only key), {"conditional": true} (automatic upgrade)
//	POST   registration/finish  body: credential.toJSON()
//	POST   login/begin          {"username"} or {} (usernameless); {"conditional": true} for autofill;
//	                            {"secondFactor": true}: bound to Options.PendingSecondFactor's user
//	POST   login/finish         body: credential.toJSON()
//	GET    credentials          signed-in user's passkeys
//	PATCH  credentials/{id}     {"name": "..."} (id = base64url credential ID) -> the updated list
//	DELETE credentials/{id}     no body or {}, Content-Type application/json -> the updated list
//	GET    session              {"user": {...}, "passkeys": n} or 401
//	PATCH  user                 {"name","displayName"} -> {"user", "signal"} (signed-in user)
//	POST   logout               {} or {"everywhere": true} or no body: signs out (204); see below
//	GET    client.js            the JS client (ETag, Cache-Control)
//	POST   reauth/begin         {} (signed in): re-authentication options (the account's passkeys, user verification required)
//	POST   reauth/finish        body: credential.toJSON() -> {"user","authenticatedAt"}; the session records the time
//
// Adding a passkey to an account that has one, removing a passkey,
// replacing the recovery codes and approving a device answer 403
// {"error":"reauth_required"} when the
// session's last user-verified authentication is older than
// Options.FreshAuthMaxAge (stepup.go).
//
// With Options.Accounts (else 404), the email and recovery flows:
//
//	POST   registration/begin   {"grant"}: a passkey for the account a grant names (sign-up or recovery)
//	POST   signup/start         {"email","username"} -> 202 {} (the same whether or not they are taken)
//	POST   signup/confirm       {"email","code"} or {"token"} -> {"grant"}
//	POST   recovery/start       {"identifier"} (username or email) -> 202 {} (the same for unknown accounts)
//	POST   recovery/confirm     {"identifier","code"} or {"token"} -> {"grant"}
//	POST   recovery/code        {"username","code"} (a recovery code) -> {"grant"}
//	POST   recovery/codes       {} (signed in) -> {"codes": [...]}, shown once; replaces the old set
//	GET    recovery/codes       (signed in) -> {"left": n}
//	POST   email                {"email"} (signed in): set it, unverified, and mail a code -> 202 {}
//	POST   email/verify         {"code"} (signed in) or {"token"} -> {"user","email","emailVerified"}
//
// Device linking (docs/device-linking.md; the new device B is signed out,
// the approving device A signed in):
//
//	POST   link/start           {} (B) -> {linkId, code, phrase, approvalUrl, qrCode, expiresAt, interval}
//	POST   link/poll            {} (B) -> {status} ("pending", "denied", "expired"), or "approved"
//	                            with {grant, username}: registration/begin {"grant"} signs B in
//	POST   link/lookup          {"code"} (A) -> {linkId, phrase, browser, os, createdAt, expiresAt}
//	POST   link/approve         {"linkId"} (A, fresh sign-in, else 403 reauth_required) -> {}
//	POST   link/deny            {"linkId"} (A) -> {}
//
// Sessions: with the built-in session, logout ends every session of the
// account, in every browser: the cookie holds no per-session state on the
// server, so a sign-out cannot single out one browser, and it must not leave
// a copied cookie valid. {"everywhere": true} states this explicitly and
// means the same. Removing a passkey ends the account's sessions too; the
// browser that removed it gets a fresh cookie and stays signed in. Apps
// that want per-device sign-out keep their own session store and pass
// CurrentUser; then logout does nothing unless "everywhere" is true (it
// then ends the account's SessionEpoch, for apps that check it).
//
// Routing looks at the last path segments, so the handler also works when
// mounted without StripPrefix.
type Handler struct {
	rp      *webauthnkit.RelyingParty
	now     func() time.Time // the RelyingParty's clock
	opts    Options
	log     *slog.Logger
	origins map[string]bool
	// sharedLimiterLogged: UnixNano of the last RateLimit.Shared failure logged.
	sharedLimiterLogged atomic.Int64
	originList          string // the origins, space-separated, for the log of a refused request
	devOrigins          bool   // some origin is http://localhost or a loopback IP
	rpID                string
	ceremonyTTL         time.Duration
	maxBody             int64
	sessionTTL          time.Duration
	idleTimeout         time.Duration
	wellKnown           []byte // nil: no related origins
	routes              map[string]route
	limiter             *rateLimiter // nil: disabled
	// freshAuthMaxAge is Options.FreshAuthMaxAge with its default;
	// negative: off.
	freshAuthMaxAge time.Duration
}

// route is one endpoint: its handler and allowed methods.
type route struct {
	class   endpointClass // rate-limit budget
	methods []string      // first is the canonical one
	serve   func(w http.ResponseWriter, r *http.Request)
}

// New returns a Handler serving rp. It fails if Options are invalid: no
// CurrentUser and a SessionSecret shorter than 32 bytes, a negative
// SessionTTL or MaxBodyBytes, a StoreTimeout below 1ms, a LinkURL or a
// RelatedOrigins entry that is malformed or not one of the RelyingParty's
// origins.
func New(rp *webauthnkit.RelyingParty, opts Options) (*Handler, error) {
	if rp == nil {
		return nil, errors.New("httpadapter: New: RelyingParty is nil")
	}
	if opts.CurrentUser == nil && len(opts.SessionSecret) < MinSessionSecret {
		return nil, fmt.Errorf("httpadapter: Options.SessionSecret must be at least %d bytes when Options.CurrentUser is nil (got %d); use 32 random bytes from your secret store, or set CurrentUser to use your own session", MinSessionSecret, len(opts.SessionSecret))
	}
	if opts.SessionSecret != nil && len(opts.SessionSecret) < MinSessionSecret {
		return nil, fmt.Errorf("httpadapter: Options.SessionSecret must be at least %d bytes (got %d)", MinSessionSecret, len(opts.SessionSecret))
	}
	if opts.SessionTTL < 0 {
		return nil, fmt.Errorf("httpadapter: Options.SessionTTL must not be negative (got %v)", opts.SessionTTL)
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.SessionIdleTimeout < 0 {
		return nil, fmt.Errorf("httpadapter: Options.SessionIdleTimeout must not be negative (got %v)", opts.SessionIdleTimeout)
	}
	if opts.SessionIdleTimeout == 0 {
		opts.SessionIdleTimeout = DefaultSessionIdleTimeout
	}
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("httpadapter: Options.MaxBodyBytes must not be negative (got %d)", opts.MaxBodyBytes)
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if err := checkTimeouts(&opts); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FreshAuthMaxAge == 0 {
		opts.FreshAuthMaxAge = DefaultFreshAuthMaxAge
	}
	// Copy what the caller could mutate later.
	opts.SessionSecret = append([]byte(nil), opts.SessionSecret...)

	origins := rp.Origins()
	h := &Handler{
		rp:          rp,
		now:         rp.Now,
		opts:        opts,
		log:         opts.Logger,
		origins:     make(map[string]bool, len(origins)),
		rpID:        rp.RPID(),
		ceremonyTTL: rp.ChallengeTTL(),
		maxBody:     opts.MaxBodyBytes,
		sessionTTL:  opts.SessionTTL,
		idleTimeout: opts.SessionIdleTimeout,

		freshAuthMaxAge: opts.FreshAuthMaxAge,
	}
	h.originList = strings.Join(origins, " ")
	for _, o := range origins {
		h.origins[strings.ToLower(o)] = true
		if u, err := url.Parse(o); err == nil && u.Scheme == "http" && isLoopback(u.Hostname()) {
			h.devOrigins = true
		}
	}
	lim, err := newRateLimiter(opts.RateLimit, h.ceremonyTTL, h.now)
	if err != nil {
		return nil, err
	}
	h.limiter = lim
	if lim != nil {
		lim.sharedFailed = h.logSharedLimiterFailure
	}
	related := opts.RelatedOrigins
	if related == nil {
		related = rp.RelatedOrigins()
	}
	if len(related) > 0 {
		wk, err := relatedOriginsDocument(related, h.origins)
		if err != nil {
			return nil, err
		}
		h.wellKnown = wk
	}
	h.routes = map[string]route{
		"registration/begin":  {classBegin, []string{http.MethodPost}, h.beginRegistration},
		"registration/finish": {classFinish, []string{http.MethodPost}, h.finishRegistration},
		"login/begin":         {classBegin, []string{http.MethodPost}, h.beginLogin},
		"login/finish":        {classFinish, []string{http.MethodPost}, h.finishLogin},
		"credentials":         {classManage, []string{http.MethodGet, http.MethodHead}, h.listCredentials},
		"session":             {classManage, []string{http.MethodGet, http.MethodHead}, h.session},
		"logout":              {classManage, []string{http.MethodPost}, h.logout},
		"user":                {classManage, []string{http.MethodPatch}, h.updateUser},
		"client.js":           {classNone, []string{http.MethodGet, http.MethodHead}, h.clientJS},
		"reauth/begin":        {classBegin, []string{http.MethodPost}, h.beginReauth},
		"reauth/finish":       {classFinish, []string{http.MethodPost}, h.finishReauth},
	}
	h.accountRoutes()
	if err := h.linkRoutes(); err != nil {
		return nil, err
	}
	return h, nil
}

// ServeHTTP routes to the endpoints listed on Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.guard(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.Split(strings.TrimSuffix(r.URL.Path, "/"), "/")
		n := len(segs)
		var key string
		if n >= 2 {
			key = segs[n-2] + "/" + segs[n-1]
		}
		if rt, ok := h.routes[key]; ok {
			h.dispatch(w, r, rt)
			return
		}
		if n >= 2 && segs[n-2] == "credentials" && segs[n-1] != "" {
			h.credential(w, r)
			return
		}
		if rt, ok := h.routes[segs[n-1]]; ok {
			h.dispatch(w, r, rt)
			return
		}
		writeError(w, http.StatusNotFound, webauthnkit.CodeNotFound, "no such endpoint")
	})(w, r)
}

// credential dispatches PATCH and DELETE on credentials/{id}.
func (h *Handler) credential(w http.ResponseWriter, r *http.Request) {
	if !h.admit(w, r, classManage) {
		return
	}
	r, cancel := h.withDeadline(r, classManage)
	defer cancel()
	switch r.Method {
	case http.MethodPatch:
		h.renameCredential(w, r)
	case http.MethodDelete:
		h.revokeCredential(w, r)
	default:
		methodNotAllowed(w, http.MethodPatch, http.MethodDelete)
	}
}

func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.admit(w, r, rt.class) {
		return
	}
	r, cancel := h.withDeadline(r, rt.class)
	defer cancel()
	for _, m := range rt.methods {
		if r.Method == m {
			rt.serve(w, r)
			return
		}
	}
	methodNotAllowed(w, rt.methods...)
}

// endpoint wraps one route as a standalone handler for routers.
func (h *Handler) endpoint(name string) http.HandlerFunc {
	rt := h.routes[name]
	return h.guard(func(w http.ResponseWriter, r *http.Request) { h.dispatch(w, r, rt) })
}

// BeginRegistration serves POST registration/begin on its own, for routers.
func (h *Handler) BeginRegistration() http.HandlerFunc { return h.endpoint("registration/begin") }

// FinishRegistration serves POST registration/finish on its own.
func (h *Handler) FinishRegistration() http.HandlerFunc { return h.endpoint("registration/finish") }

// BeginLogin serves POST login/begin on its own.
func (h *Handler) BeginLogin() http.HandlerFunc { return h.endpoint("login/begin") }

// FinishLogin serves POST login/finish on its own.
func (h *Handler) FinishLogin() http.HandlerFunc { return h.endpoint("login/finish") }

// ListCredentials serves GET credentials on its own.
func (h *Handler) ListCredentials() http.HandlerFunc { return h.endpoint("credentials") }

// Session serves GET session on its own.
func (h *Handler) Session() http.HandlerFunc { return h.endpoint("session") }

// UpdateUser serves PATCH user on its own.
func (h *Handler) UpdateUser() http.HandlerFunc { return h.endpoint("user") }

// Logout serves POST logout on its own.
func (h *Handler) Logout() http.HandlerFunc { return h.endpoint("logout") }

// ClientJS serves the JavaScript client on its own.
func (h *Handler) ClientJS() http.HandlerFunc { return h.endpoint("client.js") }

// RenameCredential serves PATCH credentials/{id} on its own. The id is
// r.PathValue("id") when the route has that wildcard, else the last path
// segment.
func (h *Handler) RenameCredential() http.HandlerFunc {
	return h.guard(func(w http.ResponseWriter, r *http.Request) {
		if !h.admit(w, r, classManage) {
			return
		}
		if r.Method != http.MethodPatch {
			methodNotAllowed(w, http.MethodPatch)
			return
		}
		r, cancel := h.withDeadline(r, classManage)
		defer cancel()
		h.renameCredential(w, r)
	})
}

// RevokeCredential serves DELETE credentials/{id} on its own (id as for
// RenameCredential).
func (h *Handler) RevokeCredential() http.HandlerFunc {
	return h.guard(func(w http.ResponseWriter, r *http.Request) {
		if !h.admit(w, r, classManage) {
			return
		}
		if r.Method != http.MethodDelete {
			methodNotAllowed(w, http.MethodDelete)
			return
		}
		r, cancel := h.withDeadline(r, classManage)
		defer cancel()
		h.revokeCredential(w, r)
	})
}

// WellKnown serves GET /.well-known/webauthn (mount it at the site root):
// {"origins": [...]} as application/json when there are related origins
// (Options.RelatedOrigins, by default webauthnkit.Config.RelatedOrigins),
// 404 otherwise.
func (h *Handler) WellKnown() http.Handler {
	return h.guard(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, http.MethodGet, http.MethodHead)
			return
		}
		if h.wellKnown == nil {
			writeError(w, http.StatusNotFound, webauthnkit.CodeNotFound, "no related origins are configured")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(h.wellKnown)
	})
}

// relatedOriginsDocument validates origins and returns the JSON of
// /.well-known/webauthn. Each must be one of accepted (the RelyingParty's
// origins, lower case): listing one whose ceremonies fail helps nobody.
func relatedOriginsDocument(origins []string, accepted map[string]bool) ([]byte, error) {
	clean := make([]string, 0, len(origins))
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("httpadapter: Options.RelatedOrigins: %q is not an origin like https://example.com", o)
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopback(u.Hostname()):
		default:
			return nil, fmt.Errorf("httpadapter: Options.RelatedOrigins: %q must use https", o)
		}
		o := u.Scheme + "://" + strings.ToLower(u.Host)
		if p := u.Port(); u.Scheme == "https" && p == "443" || u.Scheme == "http" && p == "80" {
			o = strings.TrimSuffix(o, ":"+p)
		}
		if !accepted[o] {
			return nil, fmt.Errorf("httpadapter: Options.RelatedOrigins: %q is not one of the RelyingParty's origins, so its ceremonies would fail: list it in webauthnkit Config.RelatedOrigins (and leave Options.RelatedOrigins unset)", o)
		}
		if !slices.Contains(clean, o) {
			clean = append(clean, o)
		}
	}
	return marshalJSON(struct {
		Origins []string `json:"origins"`
	}{clean})
}

// ctxKey is the unexported context key type of UserFromContext.
type ctxKey struct{}

// UserFromContext returns the user put into ctx by LoadUser or RequireUser.
func UserFromContext(ctx context.Context) (webauthnkit.User, bool) {
	u, ok := ctx.Value(ctxKey{}).(webauthnkit.User)
	return u, ok
}

// LoadUser puts the signed-in user (if any) into the request context, for
// UserFromContext. Requests without a valid session pass through without a
// user; so do requests whose user cannot be loaded because the store is
// unavailable (the failure is logged).
func (h *Handler) LoadUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := UserFromContext(r.Context()); !ok {
			r = markStart(r)
			if u, _, err := h.signedInUserBounded(w, r); err == nil {
				r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, u))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// RequireUser is LoadUser that answers 401 {"error":"not_signed_in"} when
// nobody is signed in (503 store_unavailable when the user cannot be loaded).
func (h *Handler) RequireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := UserFromContext(r.Context()); !ok {
			r = markStart(r)
			u, _, err := h.signedInUserBounded(w, r)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, u))
		}
		next.ServeHTTP(w, r)
	})
}

// signedInUserBounded is signedInUser under the adapter's deadline, for the
// middlewares: only the lookup is bounded, not the app's handler after it.
func (h *Handler) signedInUserBounded(w http.ResponseWriter, r *http.Request) (webauthnkit.User, session, error) {
	br, cancel := h.withDeadline(r, classManage)
	defer cancel()
	return h.signedInUser(w, br)
}
