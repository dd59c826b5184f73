package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// The app's own session: a signed (HMAC-SHA256), HttpOnly cookie. It is not
// the passkey adapter's built-in session; the adapter asks this one who is
// signed in (Options.CurrentUser).
const (
	sessionCookie = "existing_session"
	// A password that passed leaves a short "second factor pending"
	// session; only a full session opens the account.
	pendingTTL = 5 * time.Minute
	sessionTTL = 12 * time.Hour
)

type stage string

const (
	stagePending stage = "pending" // password OK, second factor owed
	stageFull    stage = "full"    // signed in
)

type session struct {
	UserID  int64 `json:"u"`
	Epoch   int64 `json:"e"` // users.session_epoch when issued
	Stage   stage `json:"s"`
	Expires int64 `json:"x"` // unix seconds
}

func (a *App) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, a.keys.session)
	m.Write(payload)
	return m.Sum(nil)
}

func (a *App) setSession(w http.ResponseWriter, u user, st stage) {
	ttl := sessionTTL
	if st == stagePending {
		ttl = pendingTTL
	}
	payload, _ := json.Marshal(session{UserID: u.ID, Epoch: u.SessionEpoch, Stage: st, Expires: a.now().Add(ttl).Unix()})
	b64 := base64.RawURLEncoding.EncodeToString
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: b64(payload) + "." + b64(a.sign(payload)),
		Path: "/", HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
		MaxAge: int(ttl.Seconds()),
	})
}

func (a *App) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// sessionUser returns the user of a valid session in stage st: signature,
// expiry and the user's session epoch (sign-out) are checked.
func (a *App) sessionUser(r *http.Request, st stage) (user, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) > 512 {
		return user{}, false
	}
	p64, s64, ok := strings.Cut(c.Value, ".")
	if !ok {
		return user{}, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sig, err2 := base64.RawURLEncoding.DecodeString(s64)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, a.sign(payload)) {
		return user{}, false
	}
	var s session
	if json.Unmarshal(payload, &s) != nil || s.Stage != st || a.now().Unix() >= s.Expires {
		return user{}, false
	}
	u, err := a.userByID(r.Context(), s.UserID)
	if err != nil || u.SessionEpoch != s.Epoch {
		return user{}, false
	}
	return u, true
}
