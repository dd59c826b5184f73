package app

import (
	"errors"
	"net"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/webauthnkit/webauthnkit/totp"
)

const (
	minPasswordLen    = 8
	maxPasswordLen    = 72 // bcrypt's limit
	maxEmailLen       = 254
	maxFormBytes      = 8 << 10
	defaultBcryptCost = 12
	// Wrong passwords per email address and window (guessing one account),
	// and per client address (trying many accounts; each try costs a
	// bcrypt of CPU).
	maxPasswordFailures          = 10
	maxPasswordFailuresPerClient = 100
)

// page is what every template gets.
type page struct {
	Name      string // body[data-page]
	Email     string // signed-in user, or the email typed
	Error     string
	ErrorCode string
	Status    string
	Data      any
}

func (a *App) render(w http.ResponseWriter, status int, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Scripts from this origin only (the TOTP QR code is a data: image).
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	if err := a.pages.ExecuteTemplate(w, p.Name+".html", p); err != nil {
		a.log.Error("render", "page", p.Name, "err", err)
	}
}

func (a *App) fail(w http.ResponseWriter, status int, p page, code, msg string) {
	p.ErrorCode, p.Error = code, msg
	a.render(w, status, p)
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.sessionUser(r, stageFull); ok {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func (a *App) script(w http.ResponseWriter, r *http.Request) {
	http.ServeFileFS(w, r, files, "templates/app.js")
}

// form parses a small urlencoded form and returns the trimmed email and
// the password.
func form(w http.ResponseWriter, r *http.Request) (email, password string, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if r.ParseForm() != nil {
		return "", "", false
	}
	return strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password"), true
}

func validEmail(email string) bool {
	if len(email) > maxEmailLen {
		return false
	}
	a, err := mail.ParseAddress(email)
	return err == nil && a.Address == email
}

func (a *App) signUpPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, page{Name: "signup"})
}

func (a *App) signUp(w http.ResponseWriter, r *http.Request) {
	p := page{Name: "signup"}
	email, password, ok := form(w, r)
	p.Email = email
	switch {
	case !ok:
		a.fail(w, http.StatusBadRequest, p, "bad_form", "The form could not be read.")
		return
	case !validEmail(email):
		a.fail(w, http.StatusBadRequest, p, "bad_email", "Enter a valid email address.")
		return
	case len(password) < minPasswordLen || len(password) > maxPasswordLen:
		a.fail(w, http.StatusBadRequest, p, "bad_password", "The password must be 8 to 72 characters long.")
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.bcryptCost)
	if err != nil {
		a.fail(w, http.StatusInternalServerError, p, "internal", "Something went wrong.")
		return
	}
	u, err := a.createUser(r.Context(), email, hash)
	if errors.Is(err, errEmailTaken) {
		// Without email verification a sign-up form cannot hide that an
		// address has an account; an app that verifies emails would say
		// "check your inbox" in both cases.
		a.fail(w, http.StatusConflict, p, "email_taken", "This email already has an account: sign in instead.")
		return
	}
	if err != nil {
		a.log.Error("sign-up", "err", err)
		a.fail(w, http.StatusInternalServerError, p, "internal", "Something went wrong.")
		return
	}
	a.setSession(w, u, stageFull)
	http.Redirect(w, r, "/account?upgrade=1", http.StatusSeeOther)
}

func (a *App) signInPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, page{Name: "signin"})
}

// signIn checks the password. The answer to a wrong password and to an
// unknown email is the same, and takes as long (one bcrypt either way).
func (a *App) signIn(w http.ResponseWriter, r *http.Request) {
	p := page{Name: "signin"}
	email, password, ok := form(w, r)
	p.Email = email
	if !ok || len(email) > maxEmailLen || len(password) > maxPasswordLen {
		a.fail(w, http.StatusBadRequest, p, "bad_form", "Wrong email or password.")
		return
	}
	key, client := strings.ToLower(email), clientAddr(r)
	retry, blocked := a.limiter.blocked(key)
	if !blocked {
		retry, blocked = a.ipLimiter.blocked(client)
	}
	if blocked {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		a.fail(w, http.StatusTooManyRequests, p, "rate_limited", "Too many attempts: try again later.")
		return
	}
	u, err := a.userByEmail(r.Context(), email)
	// An unknown email is compared against a hash of the same cost, so
	// that it takes as long as a wrong password.
	hash := a.dummyHash
	if err == nil {
		hash = u.PasswordHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		a.limiter.fail(key)
		a.ipLimiter.fail(client)
		a.fail(w, http.StatusUnauthorized, p, "wrong_password", "Wrong email or password.")
		return
	}
	passkeys, err := a.rp.ListCredentials(r.Context(), u.Handle)
	if err != nil && !isUserNotFound(err) {
		a.log.Error("sign-in: list passkeys", "err", err)
		a.fail(w, http.StatusServiceUnavailable, p, "unavailable", "Sign-in is unavailable, try again.")
		return
	}
	if len(passkeys) > 0 || u.TOTPSecret != nil {
		a.setSession(w, u, stagePending)
		http.Redirect(w, r, "/signin/second", http.StatusSeeOther)
		return
	}
	a.setSession(w, u, stageFull)
	// No second factor yet: offer a passkey (automatic upgrade).
	http.Redirect(w, r, "/account?upgrade=1", http.StatusSeeOther)
}

// clientAddr is the client's IP address. Behind a reverse proxy, take it
// from the proxy's header instead (only from a proxy you trust).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type secondFactorData struct {
	TOTP, Passkey bool
}

func (a *App) secondFactorData(r *http.Request, u user) secondFactorData {
	passkeys, _ := a.rp.ListCredentials(r.Context(), u.Handle)
	return secondFactorData{TOTP: u.TOTPSecret != nil, Passkey: len(passkeys) > 0}
}

func (a *App) secondFactorPage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessionUser(r, stagePending)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	a.render(w, http.StatusOK, page{Name: "second", Email: u.Email, Data: a.secondFactorData(r, u)})
}

// secondFactorTOTP checks an authenticator app's code. Package totp
// accepts each code once and limits attempts per user (5 per 15 minutes),
// across every instance sharing the store.
func (a *App) secondFactorTOTP(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessionUser(r, stagePending)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	p := page{Name: "second", Email: u.Email, Data: a.secondFactorData(r, u)}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if r.ParseForm() != nil || u.TOTPSecret == nil {
		a.fail(w, http.StatusBadRequest, p, "bad_form", "The form could not be read.")
		return
	}
	err := a.totp.Verify(r.Context(), u.TOTPSecret, u.totpID(), r.PostFormValue("code"))
	if err == nil {
		a.setSession(w, u, stageFull)
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	status, code, msg := totpFailure(w, err)
	if errors.Is(err, totp.ErrSealedValue) {
		a.log.Error("TOTP secret does not open for its user", "user", u.ID)
	}
	a.fail(w, status, p, code, msg)
}

// totpFailure maps a totp error to the answer (see docs/totp.md).
func totpFailure(w http.ResponseWriter, err error) (status int, code, msg string) {
	var te *totp.Error
	switch {
	case errors.Is(err, totp.ErrCodeReused):
		return http.StatusUnauthorized, "code_reused", "This code was used already: wait for the next one."
	case errors.Is(err, totp.ErrTooManyAttempts) && errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds())+1))
		return http.StatusTooManyRequests, "rate_limited", "Too many wrong codes: try again later."
	case errors.Is(err, totp.ErrInvalidCode), errors.Is(err, totp.ErrSealedValue):
		return http.StatusUnauthorized, "wrong_code", "Wrong code."
	case errors.Is(err, totp.ErrEnrollExpired):
		return http.StatusBadRequest, "expired", "This enrolment expired: start again."
	default:
		return http.StatusServiceUnavailable, "unavailable", "Codes cannot be checked now, try again."
	}
}

// signOut ends every session of the user (the session epoch: a signed
// cookie has no per-browser state on the server to end alone, and a copied
// cookie must not outlive the sign-out), then clears the cookie. Leaving
// the second step only clears the cookie: someone who knows the password
// but not the second factor must not be able to sign the user out
// everywhere.
func (a *App) signOut(w http.ResponseWriter, r *http.Request) {
	if u, ok := a.sessionUser(r, stageFull); ok {
		if err := a.bumpSessionEpoch(r.Context(), u.ID); err != nil {
			a.log.Error("sign-out", "err", err)
		}
	}
	a.clearSession(w)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
