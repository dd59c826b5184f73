package httpadapter

import (
	"context"
	"net/http"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// Step-up re-authentication over HTTP.
//
// The session remembers its last user-verified authentication: the
// built-in cookie carries it (session.go), set by a sign-in whose
// authenticator verified the user (Login.UserVerified; a registration that
// signs in counts when its passkey was created with user verification) and
// by reauth/finish. With Options.CurrentUser the application keeps it
// (Options.AuthenticatedAt, Options.OnReauth).
//
// Sensitive endpoints (adding a passkey to an account that has one,
// removing a passkey, replacing the recovery codes, approving a device)
// answer
// 403 {"error":"reauth_required"} when that time is older than
// Options.FreshAuthMaxAge; client.js then runs the re-authentication
// ceremony (reauth/begin, reauth/finish: a passkey of the signed-in
// account, user verification required) and retries the call once.
// RequireFreshAuth does the same for the application's own routes.

// DefaultFreshAuthMaxAge is Options.FreshAuthMaxAge's default:
// webauthnkit.DefaultReauthMaxAge (5 minutes).
const DefaultFreshAuthMaxAge = webauthnkit.DefaultReauthMaxAge

// CodeReauthRequired is the "error" of the 403 answered when an action
// needs a more recent user-verified authentication
// (webauthnkit.CodeReauthRequired).
const CodeReauthRequired = webauthnkit.CodeReauthRequired

func errReauthRequired() error {
	return &httpError{http.StatusForbidden, CodeReauthRequired, webauthnkit.ErrReauthRequired.Message}
}

// reauthResponse answers reauth/finish.
type reauthResponse struct {
	User userJSON `json:"user"`
	// AuthenticatedAt is the new time of the session's last user-verified
	// authentication.
	AuthenticatedAt time.Time `json:"authenticatedAt"`
}

// freshAuthOn reports whether the built-in endpoints check fresh
// authentication: Options.FreshAuthMaxAge is not negative and the adapter
// can know the time (its own session, or Options.AuthenticatedAt).
func (h *Handler) freshAuthOn() bool {
	return h.freshAuthMaxAge > 0 && (h.opts.CurrentUser == nil || h.opts.AuthenticatedAt != nil)
}

// freshAuthFor returns what to pass to the core for an action that needs a
// fresh authentication (webauthnkit.LinkApproval.AuthenticatedAt and
// MaxAge): the session's time and Options.FreshAuthMaxAge, or a negative
// max age when Options.FreshAuthMaxAge is negative (the documented
// opt-out). For the device-link approval endpoint, which fails closed:
// with Options.CurrentUser and no Options.AuthenticatedAt the time is
// unknown (zero), so the approval is refused (403 reauth_required), as
// RequireFreshAuth does, rather than skipping the step-up.
func (h *Handler) freshAuthFor(s session) (time.Time, time.Duration) {
	if h.freshAuthMaxAge <= 0 {
		return time.Time{}, -1
	}
	return s.authAt, h.freshAuthMaxAge
}

// checkFreshAuth answers nil when the session's user-verified
// authentication is recent enough for a sensitive built-in endpoint (or
// the check is off), else the 403 reauth_required error.
func (h *Handler) checkFreshAuth(s session) error {
	if !h.freshAuthOn() || h.rp.FreshAuth(s.authAt, h.freshAuthMaxAge) {
		return nil
	}
	return errReauthRequired()
}

// RequireFreshAuth returns middleware for the application's own sensitive
// routes: like RequireUser (401 not_signed_in without a session; the user
// in the context for UserFromContext), and 403
// {"error":"reauth_required"} when the session's last user-verified
// authentication is older than maxAge (0: Options.FreshAuthMaxAge, or
// DefaultFreshAuthMaxAge when that is negative). client.js (wk.fetch, for the
// application's own JSON routes) answers that 403 by re-authenticating and
// retrying once. It always checks, whatever Options.FreshAuthMaxAge says; with
// Options.CurrentUser it needs Options.AuthenticatedAt (without it every
// request is refused: the time is unknown).
func (h *Handler) RequireFreshAuth(maxAge time.Duration) func(http.Handler) http.Handler {
	if maxAge <= 0 {
		maxAge = h.freshAuthMaxAge
		if maxAge <= 0 {
			maxAge = DefaultFreshAuthMaxAge
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, s, found, err := h.signedInAccount(w, r)
			if err == nil && !found {
				err = errReauthRequired() // no account: no passkey to re-authenticate with
			}
			if err == nil && !h.rp.FreshAuth(s.authAt, maxAge) {
				err = errReauthRequired()
			}
			if err != nil {
				h.fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, u)))
		})
	}
}

// BeginReauth serves POST reauth/begin on its own, for routers.
func (h *Handler) BeginReauth() http.HandlerFunc { return h.endpoint("reauth/begin") }

// FinishReauth serves POST reauth/finish on its own.
func (h *Handler) FinishReauth() http.HandlerFunc { return h.endpoint("reauth/finish") }

// beginReauth starts a re-authentication of the signed-in account: {} ->
// {"publicKey"} as login/begin. 401 not_signed_in without a session; 409
// no_passkey for an account without passkeys (re-authenticate it the
// application's own way).
func (h *Handler) beginReauth(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct{}
	if err := decodeObject(body, &req, true); err != nil {
		h.fail(w, r, err)
		return
	}
	u, _, found, err := h.signedInAccount(w, r)
	if err == nil && !found {
		err = webauthnkit.ErrNoPasskey
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := h.rp.BeginReauth(r.Context(), u.Handle)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.setCeremony(w, r, "reauth/begin", b)
	h.respond(w, r, beginResponse{PublicKey: b.Options})
}

// finishReauth verifies the re-authentication (credential.toJSON()) for
// the signed-in account and records its time in the session: the built-in
// cookie is re-issued; with CurrentUser, Options.OnReauth records it.
func (h *Handler) finishReauth(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := h.takeCeremony(w, r, "reauth/finish")
	u, s, found, err := h.signedInAccount(w, r)
	if err == nil && !found {
		err = webauthnkit.ErrNoPasskey
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	login, err := h.rp.FinishReauth(r.Context(), u.Handle, id, body)
	if err != nil {
		h.failWith(w, r, err, h.unknownCredentialSignal(err))
		return
	}
	var cookie string
	if s.builtin {
		s.authAt, s.refreshed = login.AuthenticatedAt, h.now()
		cookie = h.issueSession(w, r, s)
	}
	if h.opts.OnReauth != nil {
		if err := h.opts.OnReauth(w, r, login); err != nil {
			h.hookFailed(w, r, "OnReauth", err, cookie, nil)
			return
		}
	}
	h.respond(w, r, reauthResponse{User: newUserJSON(login.User), AuthenticatedAt: login.AuthenticatedAt.UTC()})
}

// needsFreshAuthToAdd reports the 403 for adding a passkey to u, or
// another way in (a new email address, which can recover the account):
// only when the check is on, the session is not fresh, and the account
// already has a passkey to re-authenticate with (a first passkey, or the
// address of an account without one, is added without).
func (h *Handler) needsFreshAuthToAdd(r *http.Request, u webauthnkit.User, s session) error {
	if err := h.checkFreshAuth(s); err == nil {
		return nil
	}
	creds, err := h.rp.ListCredentials(r.Context(), u.Handle)
	if err != nil {
		return err
	}
	if len(creds) == 0 {
		return nil
	}
	return errReauthRequired()
}
