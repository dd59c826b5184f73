package httpadapter_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// An existing app: its session says who is signed in, its user ID is the
// WebAuthn user handle, and the adapter creates the library account when
// the user adds a first passkey.
func ExampleOptions_existingApp() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID: "localhost", Origins: []string{"http://localhost:8080"},
		Credentials: store, Ceremonies: store,
	})
	if err != nil {
		log.Fatal(err)
	}
	// Stand-ins for the app's session and users table.
	appSession := func(r *http.Request) (userID string, ok bool) {
		c, err := r.Cookie("app_session")
		if err != nil {
			return "", false
		}
		return c.Value, true
	}
	email := map[string]string{"u42": "alice@example.com"}
	hasPassword := func(userID string) bool { return true }

	passkeys, err := httpadapter.New(rp, httpadapter.Options{
		CurrentUser: func(r *http.Request) ([]byte, bool) {
			id, ok := appSession(r)
			return []byte(id), ok
		},
		AccountFor: func(r *http.Request) (webauthnkit.NewUser, bool) {
			id, ok := appSession(r)
			return webauthnkit.NewUser{Name: email[id], DisplayName: "Alice"}, ok
		},
		DisableSignUp: true, // accounts are made by the app's own sign-up
		AllowRemoveLast: func(r *http.Request, u webauthnkit.User) bool {
			return hasPassword(string(u.Handle))
		},
		OnLogin: func(w http.ResponseWriter, r *http.Request, l *webauthnkit.Login) error {
			if string(l.User.Handle) == "locked" {
				return httpadapter.Refuse(http.StatusForbidden, "account_locked", "this account is locked")
			}
			http.SetCookie(w, &http.Cookie{Name: "app_session", Value: string(l.User.Handle), HttpOnly: true})
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	req := httptest.NewRequest("GET", "http://localhost:8080/session", nil)
	req.AddCookie(&http.Cookie{Name: "app_session", Value: "u42"})
	w := httptest.NewRecorder()
	passkeys.ServeHTTP(w, req)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 200 {"user":{"handle":"dTQy","name":"alice@example.com","displayName":"Alice"},"passkeys":0}
}

// WriteError answers errors of an app's own endpoint as the adapter does.
func ExampleWriteError() {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/mfa/finish", nil)
	httpadapter.WriteError(w, r, webauthnkit.ErrCeremonyNotFound)
	fmt.Print(w.Code, " ", w.Body.String())

	w = httptest.NewRecorder()
	httpadapter.WriteError(w, r, errors.New("database down"))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 401 {"error":"ceremony_not_found","message":"unknown, finished or expired ceremony"}
	// 500 {"error":"internal","message":"internal error"}
}

// SameOrigin protects an app's own JSON endpoint against cross-site
// requests.
func ExampleSameOrigin() {
	protect := httpadapter.SameOrigin("https://example.com")
	h := protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))

	for _, origin := range []string{"https://example.com", "https://evil.example"} {
		r := httptest.NewRequest("POST", "https://example.com/mfa/begin", strings.NewReader("{}"))
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200 ok
	// 403 {"error":"forbidden_origin","message":"requests from this origin are not allowed"}
}
