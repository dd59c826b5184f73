package app

import (
	"net/http"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// newPasskeyHandler is the whole integration with the passkey adapter: the
// app's session says who is signed in, the app's users table says which
// library account belongs to whom (users.webauthn_handle), and a passkey
// sign-in ends in the app's own session.
func (a *App) newPasskeyHandler() (*httpadapter.Handler, error) {
	return httpadapter.New(a.rp, httpadapter.Options{
		// Signed in (full session): the user's WebAuthn handle. The
		// adapter's built-in session is not used.
		CurrentUser: func(r *http.Request) ([]byte, bool) {
			u, ok := a.sessionUser(r, stageFull)
			return u.Handle, ok
		},
		// A signed-in user's first passkey: the library account is created
		// with the app's handle before the ceremony, named by the email.
		AccountFor: func(r *http.Request) (webauthnkit.NewUser, bool) {
			u, ok := a.sessionUser(r, stageFull)
			return webauthnkit.NewUser{Handle: u.Handle, Name: u.Email, DisplayName: u.Email}, ok
		},
		// Password accepted, second factor owed: login/begin
		// {"secondFactor": true} is bound to this user's passkeys and
		// security keys, without a PIN prompt after the password.
		PendingSecondFactor: func(r *http.Request) ([]byte, bool) {
			u, ok := a.sessionUser(r, stagePending)
			return u.Handle, ok
		},
		SecondFactorUserVerification: webauthnkit.UserVerificationDiscouraged,
		// Accounts are made by the app's sign-up form (email + password).
		DisableSignUp: true,
		// Every account has a password: its last passkey may go.
		AllowRemoveLast: func(*http.Request, webauthnkit.User) bool { return true },
		OnLogin:         a.onPasskeyLogin,
	})
}

// onPasskeyLogin turns a passkey sign-in into the app's session.
//
//   - After the password (pending session of the same user): the passkey
//     is the second factor, whatever its user verification.
//   - Otherwise (passkey button, autofill): a user-verified passkey proves
//     two factors (Login.Factors == 2) and skips the second step; a key
//     without user verification is one factor, refused here.
func (a *App) onPasskeyLogin(w http.ResponseWriter, r *http.Request, l *webauthnkit.Login) error {
	u, err := a.userByHandle(r.Context(), l.User.Handle)
	if err != nil {
		a.log.Warn("passkey of a library account without app user", "err", err)
		return httpadapter.Refuse(http.StatusUnauthorized, "unknown_account", "this passkey belongs to no account")
	}
	if p, ok := a.sessionUser(r, stagePending); ok && p.ID == u.ID {
		a.setSession(w, u, stageFull)
		return nil
	}
	if l.Factors < 2 {
		return httpadapter.Refuse(http.StatusUnauthorized, "second_factor_only",
			"this key is a second factor: sign in with your password first")
	}
	a.setSession(w, u, stageFull)
	return nil
}
