package httpadapter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// The built-in session cookie value is
// base64url(signedIn || refreshed || epoch || authAt || handle || mac):
// signedIn and refreshed are 8-byte big-endian Unix seconds (the sign-in,
// and the last time the cookie was issued), epoch the account's
// User.SessionEpoch when it was issued (8 bytes), authAt the Unix seconds of
// the session's last user-verified authentication (a sign-in with user
// verification, or a re-authentication: see RequireFreshAuth; 0 for none),
// handle the user handle (1 to 64 bytes), and
// mac = HMAC-SHA256(SessionSecret, label || the rest).
//
// A session is valid while the MAC checks, now < signedIn + SessionTTL
// (absolute), now < refreshed + SessionIdleTimeout (idle), and epoch equals
// the account's current SessionEpoch. The user is loaded from the store on
// every use anyway (a deleted account is signed out at once), so the epoch
// check costs no extra round trip. Ending the account's sessions
// (RelyingParty.EndSessions: sign-out, removing a passkey) increments the
// epoch, which invalidates every copy of every cookie issued before.
//
// The label names the format: cookies of an older format fail the MAC,
// except the previous one (v2, without authAt), still accepted so that an
// upgrade signs nobody out: such a session has no user-verified
// authentication on record, so its first sensitive action asks for a
// re-authentication (fails closed), which then re-issues it as v3.
const (
	sessionLabel       = "webauthnkit session v3\x00"
	sessionLabelV2     = "webauthnkit session v2\x00"
	sessionHeader      = 8 + 8 + 8 + 8
	sessionHeaderV2    = 8 + 8 + 8
	maxHandleLength    = 64
	maxSessionCookie   = 4 + (sessionHeader+maxHandleLength+sha256.Size)*4/3
	sessionRefreshPart = 4 // re-issue after a quarter of the idle timeout
)

// DefaultSessionIdleTimeout is the default of Options.SessionIdleTimeout.
// Signing in again with a passkey is one touch, so a short idle timeout
// costs users little, while it ends a forgotten session on a shared
// computer. An hour keeps a user who reads a long page signed in; set 30
// minutes for NIST SP 800-63B AAL2 (rev. 3: 30 minutes idle, 12 hours
// absolute, the SessionTTL default).
const DefaultSessionIdleTimeout = time.Hour

// session is a verified built-in session cookie, or (builtin false) the
// app's own session through Options.CurrentUser.
type session struct {
	handle    []byte
	builtin   bool
	signedIn  time.Time
	refreshed time.Time
	epoch     uint64
	// authAt is the last user-verified authentication of this session
	// (zero: none on record). With CurrentUser it comes from
	// Options.AuthenticatedAt.
	authAt time.Time
}

func (h *Handler) sessionMAC(payload []byte) []byte {
	return h.sessionMACLabel(sessionLabel, payload)
}

func (h *Handler) sessionMACLabel(label string, payload []byte) []byte {
	m := hmac.New(sha256.New, h.opts.SessionSecret)
	m.Write([]byte(label))
	m.Write(payload)
	return m.Sum(nil)
}

// sessionValue returns the signed cookie value of s.
func (h *Handler) sessionValue(s session) string {
	payload := make([]byte, sessionHeader, sessionHeader+len(s.handle)+sha256.Size)
	binary.BigEndian.PutUint64(payload[0:], uint64(s.signedIn.Unix()))
	binary.BigEndian.PutUint64(payload[8:], uint64(s.refreshed.Unix()))
	binary.BigEndian.PutUint64(payload[16:], s.epoch)
	if !s.authAt.IsZero() {
		binary.BigEndian.PutUint64(payload[24:], uint64(s.authAt.Unix()))
	}
	payload = append(payload, s.handle...)
	payload = append(payload, h.sessionMAC(payload)...)
	return base64.RawURLEncoding.EncodeToString(payload)
}

// parseSession verifies a cookie value and its absolute and idle lifetimes.
// The epoch is checked by the caller, against the loaded user.
func (h *Handler) parseSession(value string, now time.Time) (session, bool) {
	if len(value) == 0 || len(value) > maxSessionCookie {
		return session{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < sessionHeaderV2+1+sha256.Size || len(raw) > sessionHeader+maxHandleLength+sha256.Size {
		return session{}, false
	}
	payload, mac := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	header := sessionHeader
	switch {
	case len(payload) >= sessionHeader+1 && hmac.Equal(mac, h.sessionMAC(payload)):
	case len(payload) <= sessionHeaderV2+maxHandleLength && hmac.Equal(mac, h.sessionMACLabel(sessionLabelV2, payload)):
		header = sessionHeaderV2 // no authAt on record
	default:
		return session{}, false
	}
	signedIn := binary.BigEndian.Uint64(payload[0:])
	refreshed := binary.BigEndian.Uint64(payload[8:])
	var authAt uint64
	if header == sessionHeader {
		authAt = binary.BigEndian.Uint64(payload[24:])
	}
	if signedIn > 1<<40 || refreshed > 1<<40 || refreshed < signedIn || authAt > 1<<40 {
		return session{}, false
	}
	s := session{
		handle:    payload[header:],
		builtin:   true,
		signedIn:  time.Unix(int64(signedIn), 0),
		refreshed: time.Unix(int64(refreshed), 0),
		epoch:     binary.BigEndian.Uint64(payload[16:]),
	}
	if authAt != 0 {
		s.authAt = time.Unix(int64(authAt), 0)
	}
	if !now.Before(s.signedIn.Add(h.sessionTTL)) || !now.Before(s.refreshed.Add(h.idleTimeout)) {
		return session{}, false
	}
	return s, true
}

// sessionCookieName is the built-in session cookie's name for r.
func (h *Handler) sessionCookieName(r *http.Request) string {
	if h.insecure(r) {
		return SessionCookieInsecure
	}
	return SessionCookieSecure
}

// setSession issues the built-in session cookie for a new sign-in of u;
// authAt is the time of its user-verified authentication (zero: the
// sign-in did not verify the user). It returns the Set-Cookie line so that
// a failing hook can withdraw it.
func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, u webauthnkit.User, authAt time.Time) string {
	now := h.now()
	return h.issueSession(w, r, session{handle: u.Handle, builtin: true, signedIn: now, refreshed: now, epoch: u.SessionEpoch, authAt: authAt})
}

// issueSession sets the cookie of s. It lives until the earlier of the
// absolute and the idle deadline; the server checks both anyway.
func (h *Handler) issueSession(w http.ResponseWriter, r *http.Request, s session) string {
	now := h.now()
	maxAge := min(s.signedIn.Add(h.sessionTTL).Sub(now), s.refreshed.Add(h.idleTimeout).Sub(now))
	c := &http.Cookie{
		Name:     h.sessionCookieName(r),
		Value:    h.sessionValue(s),
		Path:     "/",
		MaxAge:   max(int(maxAge/time.Second), 1),
		HttpOnly: true,
		Secure:   !h.insecure(r),
		SameSite: http.SameSiteLaxMode,
	}
	line := c.String()
	// A cookie re-issued earlier in this response (a refresh before a
	// passkey removal) is replaced, not followed by a second one.
	hd := w.Header()
	kept := hd["Set-Cookie"][:0:0]
	for _, l := range hd["Set-Cookie"] {
		if !strings.HasPrefix(l, c.Name+"=") {
			kept = append(kept, l)
		}
	}
	hd["Set-Cookie"] = append(kept, line)
	return line
}

// refreshSession re-issues the cookie of an active session once a quarter
// of the idle timeout has passed since it was issued, so that activity
// keeps the session alive without a Set-Cookie on every response.
func (h *Handler) refreshSession(w http.ResponseWriter, r *http.Request, s session) {
	if w == nil || !s.builtin {
		return
	}
	now := h.now()
	if now.Sub(s.refreshed) <= h.idleTimeout/sessionRefreshPart {
		return
	}
	s.refreshed = now
	h.issueSession(w, r, s)
}

// withdrawCookie removes a Set-Cookie line added earlier in this response.
func withdrawCookie(w http.ResponseWriter, line string) {
	lines := w.Header().Values("Set-Cookie")
	kept := lines[:0:0]
	for _, l := range lines {
		if l != line {
			kept = append(kept, l)
		}
	}
	w.Header()["Set-Cookie"] = kept
}

// clearSession deletes the built-in session cookie (both names, so that a
// change between http://localhost and https during development leaves
// nothing behind).
func (h *Handler) clearSession(w http.ResponseWriter, r *http.Request) {
	secure := !h.insecure(r)
	http.SetCookie(w, &http.Cookie{Name: SessionCookieSecure, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: SessionCookieInsecure, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

// currentSession returns the signed-in session: from Options.CurrentUser,
// or from the built-in session cookie. The "__Host-" cookie is always
// looked at; the unprefixed one only for a development request on
// http://localhost (elsewhere a sibling subdomain could plant it).
func (h *Handler) currentSession(r *http.Request) (session, bool) {
	if h.opts.CurrentUser != nil {
		handle, ok := h.opts.CurrentUser(r)
		if !ok || len(handle) == 0 || len(handle) > maxHandleLength {
			return session{}, false
		}
		s := session{handle: handle}
		if h.opts.AuthenticatedAt != nil {
			s.authAt = h.opts.AuthenticatedAt(r)
		}
		return s, true
	}
	now := h.now()
	names := []string{SessionCookieSecure}
	if h.insecure(r) {
		names = append(names, SessionCookieInsecure)
	}
	for _, name := range names {
		// Several cookies with one name can arrive (other paths or domains);
		// any validly signed one will do.
		for _, c := range r.CookiesNamed(name) {
			if s, ok := h.parseSession(c.Value, now); ok {
				return s, true
			}
		}
	}
	return session{}, false
}

// signedInUser loads the signed-in user and, for the built-in session,
// checks that its epoch is current and re-issues the cookie when due (w nil:
// never). Errors: not_signed_in (no valid session, sessions ended, or the
// account no longer exists), store_unavailable.
func (h *Handler) signedInUser(w http.ResponseWriter, r *http.Request) (webauthnkit.User, session, error) {
	s, ok := h.currentSession(r)
	if !ok {
		return webauthnkit.User{}, session{}, errNotSignedIn()
	}
	u, err := h.rp.UserByHandle(r.Context(), s.handle)
	if errors.Is(err, webauthnkit.ErrUserNotFound) {
		return webauthnkit.User{}, session{}, errNotSignedIn()
	}
	if err != nil {
		return webauthnkit.User{}, session{}, err
	}
	if s.builtin && s.epoch != u.SessionEpoch {
		return webauthnkit.User{}, session{}, errNotSignedIn()
	}
	h.refreshSession(w, r, s)
	return u, s, nil
}

// SignOut signs the request's user out. With the built-in session it ends
// every session of the account (RelyingParty.EndSessions: the cookie keeps
// no per-session state on the server, so this browser's session cannot be
// ended alone) and clears the cookie; a copied cookie stops working too.
// With Options.CurrentUser (the app's own session) it does nothing: sign out
// in your session layer. An error (store unavailable) means the sessions
// may not have ended; the cookie is cleared in any case.
func (h *Handler) SignOut(w http.ResponseWriter, r *http.Request) error {
	if h.opts.CurrentUser != nil {
		return nil
	}
	return h.SignOutEverywhere(w, r)
}

// SignOutEverywhere ends every session of the signed-in account
// (RelyingParty.EndSessions) and clears the built-in session cookie. With
// Options.CurrentUser it ends the account's epoch too; your sessions honour
// it if they record User.SessionEpoch at sign-in and compare it with the
// user loaded on each request (LoadUser gives it). Without a valid session
// it only clears the cookie. Errors: store unavailable.
func (h *Handler) SignOutEverywhere(w http.ResponseWriter, r *http.Request) error {
	if h.opts.CurrentUser == nil {
		h.clearSession(w, r)
	}
	u, _, err := h.signedInUser(nil, r)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) { // not signed in: nothing to end
			return nil
		}
		return err
	}
	if _, err := h.rp.EndSessions(r.Context(), u.Handle); err != nil && !errors.Is(err, webauthnkit.ErrUserNotFound) {
		return err
	}
	return nil
}
