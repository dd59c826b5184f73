package app

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/webauthnkit/webauthnkit"
)

type accountData struct {
	TOTP    bool
	Upgrade bool // just signed in with a password: try an automatic passkey
	// Enrolment in progress (after "Set up"): what the user scans or types.
	QRCode          template.URL // a data: URL, made here
	Secret, Pending string
	// After an email change: the argument of signalCurrentUserDetails, so
	// passkey managers show the new name.
	Signal *userDetails
}

type userDetails struct {
	RPID        string `json:"rpId"`
	UserID      string `json:"userId"` // base64url user handle
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
}

func (a *App) accountPage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessionUser(r, stageFull)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	d := accountData{TOTP: u.TOTPSecret != nil, Upgrade: r.URL.Query().Get("upgrade") == "1"}
	if r.URL.Query().Get("changed") == "email" {
		d.Signal = &userDetails{RPID: a.rp.RPID(), UserID: base64.RawURLEncoding.EncodeToString(u.Handle), Name: u.Email, DisplayName: u.Email}
	}
	a.render(w, http.StatusOK, page{Name: "account", Email: u.Email, Data: d})
}

// changeEmail changes the app's email and the passkey account's name. The
// library's name is changed first: if the app's update then fails, the
// library's is put back. The two are not one transaction on purpose: an
// app transaction held open across a library call would wait for its own
// write lock (one SQLite file).
func (a *App) changeEmail(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessionUser(r, stageFull)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	p := page{Name: "account", Email: u.Email, Data: accountData{TOTP: u.TOTPSecret != nil}}
	email, _, ok := form(w, r)
	if !ok || !validEmail(email) {
		a.fail(w, http.StatusBadRequest, p, "bad_email", "Enter a valid email address.")
		return
	}
	ctx := r.Context()
	_, err := a.rp.UpdateUser(ctx, u.Handle, webauthnkit.UserUpdate{Name: email, DisplayName: email})
	hasAccount := !isUserNotFound(err)
	if err != nil && hasAccount {
		if errors.Is(err, webauthnkit.ErrUsernameTaken) {
			a.fail(w, http.StatusConflict, p, "email_taken", "This email cannot be used.")
			return
		}
		a.log.Error("change email: passkey account", "err", err)
		a.fail(w, http.StatusServiceUnavailable, p, "unavailable", "Try again later.")
		return
	}
	if err := a.setEmail(ctx, u.ID, email); err != nil {
		if hasAccount {
			_, _ = a.rp.UpdateUser(ctx, u.Handle, webauthnkit.UserUpdate{Name: u.Email, DisplayName: u.Email})
		}
		if errors.Is(err, errEmailTaken) {
			a.fail(w, http.StatusConflict, p, "email_taken", "This email cannot be used.")
			return
		}
		a.log.Error("change email", "err", err)
		a.fail(w, http.StatusServiceUnavailable, p, "unavailable", "Try again later.")
		return
	}
	http.Redirect(w, r, "/account?changed=email", http.StatusSeeOther)
}

// totpBegin shows a new secret as a QR code and as text. The pending
// secret, sealed for this user, travels in a hidden field until confirmed.
func (a *App) totpBegin(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessionUser(r, stageFull)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	e, err := a.totp.Begin(r.Context(), u.totpID(), u.Email)
	if err != nil {
		a.log.Error("TOTP enrolment", "err", err)
		a.fail(w, http.StatusInternalServerError, page{Name: "account", Email: u.Email}, "internal", "Something went wrong.")
		return
	}
	a.render(w, http.StatusOK, page{Name: "account", Email: u.Email, Data: accountData{
		TOTP:    u.TOTPSecret != nil,
		QRCode:  template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRCodePNG)),
		Secret:  groupsOf4(e.Secret),
		Pending: base64.RawURLEncoding.EncodeToString(e.Sealed),
	}})
}

// totpConfirm switches TOTP on once the user typed a code from the app.
func (a *App) totpConfirm(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessionUser(r, stageFull)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	p := page{Name: "account", Email: u.Email, Data: accountData{TOTP: u.TOTPSecret != nil}}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if r.ParseForm() != nil {
		a.fail(w, http.StatusBadRequest, p, "bad_form", "The form could not be read.")
		return
	}
	pending, err := base64.RawURLEncoding.DecodeString(r.PostFormValue("pending"))
	if err != nil {
		a.fail(w, http.StatusBadRequest, p, "bad_form", "The form could not be read.")
		return
	}
	sealed, err := a.totp.Confirm(r.Context(), pending, u.totpID(), r.PostFormValue("code"))
	if err != nil {
		status, code, msg := totpFailure(w, err)
		a.fail(w, status, p, code, msg+" Set up again.")
		return
	}
	if err := a.setTOTPSecret(r.Context(), u.ID, sealed); err != nil {
		a.fail(w, http.StatusServiceUnavailable, p, "unavailable", "Try again later.")
		return
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func (a *App) totpDisable(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessionUser(r, stageFull)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	if err := a.setTOTPSecret(r.Context(), u.ID, nil); err != nil {
		a.fail(w, http.StatusServiceUnavailable, page{Name: "account", Email: u.Email}, "unavailable", "Try again later.")
		return
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// deleteAccount deletes the user: the library's account first (its
// passkeys and sessions), so that no passkey outlives the app's user, then
// the app's row. A failure in between leaves an app user without passkeys,
// who can try again.
func (a *App) deleteAccount(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessionUser(r, stageFull)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	err := a.rp.DeleteUser(r.Context(), u.Handle)
	if err == nil || isUserNotFound(err) {
		err = a.deleteUser(r.Context(), u.ID)
	}
	if err != nil {
		a.log.Error("delete account", "err", err)
		a.fail(w, http.StatusServiceUnavailable, page{Name: "account", Email: u.Email}, "unavailable", "Try again later.")
		return
	}
	a.clearSession(w)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// groupsOf4 makes a base32 secret easier to type: "ABCD EFGH ...".
func groupsOf4(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

func isUserNotFound(err error) bool { return errors.Is(err, webauthnkit.ErrUserNotFound) }
