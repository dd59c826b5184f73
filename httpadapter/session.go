package httpadapter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// The built-in session cookie value is base64url(expiry || handle || mac):
// expiry is 8 bytes big-endian Unix seconds, handle the user handle (1 to 64
// bytes), mac = HMAC-SHA256(SessionSecret, label || expiry || handle). The
// session is stateless: logout clears the cookie in this browser, and a copy
// stays valid until it expires (SessionTTL). The user is loaded from the
// store on every use, so a deleted account is signed out at once.
const (
	sessionLabel     = "webauthnkit session v1\x00"
	maxHandleLength  = 64
	maxSessionCookie = 4 + (8+maxHandleLength+sha256.Size)*4/3
)

func (h *Handler) sessionMAC(payload []byte) []byte {
	m := hmac.New(sha256.New, h.opts.SessionSecret)
	m.Write([]byte(sessionLabel))
	m.Write(payload)
	return m.Sum(nil)
}

// sessionValue returns the signed cookie value for handle until expires.
func (h *Handler) sessionValue(handle []byte, expires time.Time) string {
	payload := make([]byte, 8, 8+len(handle)+sha256.Size)
	binary.BigEndian.PutUint64(payload, uint64(expires.Unix()))
	payload = append(payload, handle...)
	payload = append(payload, h.sessionMAC(payload)...)
	return base64.RawURLEncoding.EncodeToString(payload)
}

// parseSession verifies a cookie value and returns its user handle.
func (h *Handler) parseSession(value string, now time.Time) ([]byte, bool) {
	if len(value) == 0 || len(value) > maxSessionCookie {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < 8+1+sha256.Size || len(raw) > 8+maxHandleLength+sha256.Size {
		return nil, false
	}
	payload, mac := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if !hmac.Equal(mac, h.sessionMAC(payload)) {
		return nil, false
	}
	exp := binary.BigEndian.Uint64(payload[:8])
	if exp > uint64(1<<62) || !now.Before(time.Unix(int64(exp), 0)) {
		return nil, false
	}
	return payload[8:], true
}

// sessionCookieName is the built-in session cookie's name for r.
func (h *Handler) sessionCookieName(r *http.Request) string {
	if h.insecure(r) {
		return SessionCookieInsecure
	}
	return SessionCookieSecure
}

// setSession issues the built-in session cookie. It returns the Set-Cookie
// line so that a failing hook can withdraw it.
func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, handle []byte) string {
	expires := h.now().Add(h.sessionTTL)
	c := &http.Cookie{
		Name:     h.sessionCookieName(r),
		Value:    h.sessionValue(handle, expires),
		Path:     "/",
		MaxAge:   int(h.sessionTTL / time.Second),
		HttpOnly: true,
		Secure:   !h.insecure(r),
		SameSite: http.SameSiteLaxMode,
	}
	line := c.String()
	w.Header().Add("Set-Cookie", line)
	return line
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

// currentHandle returns the signed-in user's handle: from
// Options.CurrentUser, or from the built-in session cookie. The "__Host-"
// cookie is always looked at; the unprefixed one only for a development
// request on http://localhost (elsewhere a sibling subdomain could plant it).
func (h *Handler) currentHandle(r *http.Request) ([]byte, bool) {
	if h.opts.CurrentUser != nil {
		handle, ok := h.opts.CurrentUser(r)
		if !ok || len(handle) == 0 || len(handle) > maxHandleLength {
			return nil, false
		}
		return handle, true
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
			if handle, ok := h.parseSession(c.Value, now); ok {
				return handle, true
			}
		}
	}
	return nil, false
}

// signedInUser loads the signed-in user. Errors: not_signed_in (no valid
// session, or the account no longer exists), store_unavailable.
func (h *Handler) signedInUser(r *http.Request) (webauthnkit.User, error) {
	handle, ok := h.currentHandle(r)
	if !ok {
		return webauthnkit.User{}, errNotSignedIn()
	}
	u, err := h.rp.UserByHandle(r.Context(), handle)
	if errors.Is(err, webauthnkit.ErrUserNotFound) {
		return webauthnkit.User{}, errNotSignedIn()
	}
	if err != nil {
		return webauthnkit.User{}, err
	}
	return u, nil
}
