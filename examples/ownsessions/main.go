// Command ownsessions adds passkeys to an app that already has users and
// its own sessions (README: "Adding passkeys to an existing app").
//
// webauthnkit keeps its own user record for each account with passkeys,
// keyed by a random user handle. The app keeps its users, its user IDs and
// its session cookie, plus one new table mapping its user ID to that handle,
// filled when a user adds a first passkey:
//
//	CREATE TABLE passkey_users (
//	    user_id TEXT  PRIMARY KEY REFERENCES users(id),
//	    handle  BYTEA NOT NULL UNIQUE -- webauthnkit's user handle
//	);
//
// Signing in with a passkey returns the handle; the app looks up its user
// and starts its own session in OnLogin. Here every table is a map.
//
//	go run ./examples/ownsessions   # then open http://localhost:8082
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"sync"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// user is a row of the app's existing users table.
type user struct {
	ID, Email, Password string // the password stands for your existing sign-in
}

type app struct {
	mu       sync.Mutex
	users    map[string]user   // by email
	sessions map[string]string // session token -> user ID (your existing sessions)
	handles  map[string][]byte // passkey_users: user ID -> webauthnkit user handle
	owners   map[string]string // passkey_users, the other way: handle -> user ID
}

func main() {
	h, err := newApp("http://localhost:8082", slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	log.Println("listening on http://localhost:8082 (sign in as alice@example.com / password)")
	log.Fatal(http.ListenAndServe("localhost:8082", h))
}

func newApp(origin string, logger *slog.Logger) (http.Handler, error) {
	store, err := memstore.New() // your sqlstore or redisstore in production
	if err != nil {
		return nil, err
	}
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID: "localhost", Origins: []string{origin},
		Credentials: store, Ceremonies: store, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	a := &app{
		users:    map[string]user{"alice@example.com": {ID: "42", Email: "alice@example.com", Password: "password"}},
		sessions: map[string]string{}, handles: map[string][]byte{}, owners: map[string]string{},
	}
	passkeys, err := httpadapter.New(rp, httpadapter.Options{
		// Your session says who is signed in: the adapter's own session is off.
		CurrentUser: func(r *http.Request) ([]byte, bool) {
			u, ok := a.sessionUser(r)
			if !ok {
				return nil, false
			}
			return a.handleOf(u.ID)
		},
		// The first passkey created a webauthnkit user: remember its handle.
		OnRegister: func(w http.ResponseWriter, r *http.Request, reg *webauthnkit.Registration) error {
			if !reg.NewUser {
				return nil
			}
			u, ok := a.sessionUser(r)
			if !ok || !a.link(u.ID, reg.User.Handle) { // signed out meanwhile, or a second tab won
				_ = rp.DeleteUser(r.Context(), reg.User.Handle)
				return errors.New("ownsessions: first passkey of no signed-in user")
			}
			return nil
		},
		// A passkey sign-in names a webauthnkit user: start your own session.
		OnLogin: func(w http.ResponseWriter, r *http.Request, login *webauthnkit.Login) error {
			id, ok := a.ownerOf(login.User.Handle)
			if !ok {
				return errors.New("ownsessions: passkey of no app user")
			}
			a.startSession(w, id)
			return nil
		},
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	adapter := http.StripPrefix("/passkeys", passkeys)

	mux := http.NewServeMux()
	mux.Handle("/passkeys/", adapter)
	// Passkeys are added only by a signed-in user, and the first one creates
	// the webauthnkit user named after the account: the body is the app's,
	// never the client's (no sign-up with a name of the client's choice).
	mux.HandleFunc("POST /passkeys/registration/begin", func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.sessionUser(r)
		if !ok {
			w.Header().Set("Content-Type", "application/json") // as the adapter answers
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"not_signed_in","message":"sign in first"}`)
			return
		}
		body := []byte(`{}`) // signed in to webauthnkit through CurrentUser: add a passkey
		if _, linked := a.handleOf(u.ID); !linked {
			body, _ = json.Marshal(map[string]string{"username": u.Email})
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		adapter.ServeHTTP(w, r)
	})
	mux.HandleFunc("POST /password-login", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		u, ok := a.users[r.FormValue("email")]
		a.mu.Unlock()
		if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(r.FormValue("password"))) != 1 {
			http.Error(w, "wrong email or password", http.StatusUnauthorized)
			return
		}
		a.startSession(w, u.ID)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.sessionUser(r)
		if !ok {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "signed in as %s (user %s)", u.Email, u.ID)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	return mux, nil
}

func (a *app) startSession(w http.ResponseWriter, userID string) {
	token := rand.Text()
	a.mu.Lock()
	a.sessions[token] = userID
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "app_session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (a *app) sessionUser(r *http.Request) (user, bool) {
	c, err := r.Cookie("app_session")
	if err != nil {
		return user{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.sessions[c.Value]
	for _, u := range a.users {
		if ok && u.ID == id {
			return u, true
		}
	}
	return user{}, false
}

func (a *app) handleOf(userID string) ([]byte, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h, ok := a.handles[userID]
	return h, ok
}

func (a *app) ownerOf(handle []byte) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.owners[string(handle)]
	return id, ok
}

// link inserts the passkey_users row; false if the user has one already.
func (a *app) link(userID string, handle []byte) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.handles[userID]; dup {
		return false
	}
	a.handles[userID], a.owners[string(handle)] = handle, userID
	return true
}

const page = `<!doctype html>
<form method="post" action="/password-login">
  <input name="email" autocomplete="username" value="alice@example.com">
  <input name="password" type="password" autocomplete="current-password">
  <button>Sign in with password</button>
</form>
<button id="add">Add a passkey (signed in)</button> <button id="signin">Sign in with a passkey</button>
<script src="/passkeys/client.js"></script>
<script>
  const wk = webauthnkit.client({ base: "/passkeys" });
  const done = () => location.assign("/me"), fail = (e) => alert(e.message);
  add.onclick = () => wk.register({}).then(done, fail); // the server picks the name
  signin.onclick = () => wk.login().then(done, fail);
</script>`
