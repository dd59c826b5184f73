package httpadapter

import (
	"fmt"
	"net/http"

	"github.com/webauthnkit/webauthnkit"
)

// Refuse returns an error that a hook (Options.OnLogin, OnRegister) returns
// to refuse the sign-in or the new passkey with a client error: the
// response is status (a 4xx) with {"error": code, "message": message}, and
// the built-in session cookie, if it was being set, is withdrawn. message
// reaches the client: keep it free of secrets. A status outside 400–499 or
// an empty code makes an ordinary error (answered 500).
//
// A refused registration is undone: a new account is deleted, a passkey
// added to an existing account is removed again (RevokeCredential with
// force, which ends that account's other sessions; the refused browser's
// built-in session is re-issued), and the response carries
// the unknownCredential signal so the JS client asks the passkey manager to
// forget it.
//
//	OnLogin: func(w http.ResponseWriter, r *http.Request, l *webauthnkit.Login) error {
//		if banned(l.User.Handle) {
//			return httpadapter.Refuse(http.StatusForbidden, "account_locked", "this account is locked")
//		}
//		return nil
//	},
func Refuse(status int, code, message string) error {
	if status < 400 || status > 499 || code == "" || !safeCode(code) {
		return fmt.Errorf("httpadapter: Refuse(%d, %q): the status must be a 4xx and the code made of a-z, 0-9 and _", status, code)
	}
	if message == "" {
		message = http.StatusText(status)
	}
	return &httpError{status: status, code: webauthnkit.Code(code), msg: message}
}

// safeCode reports whether code is a plain machine-readable error code.
func safeCode(code string) bool {
	if len(code) > 64 {
		return false
	}
	for _, c := range code {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
