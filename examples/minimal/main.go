// Command minimal is the smallest complete passkey app: the program shown in
// the README. Users and passkeys live in SQLite, ceremonies in memory.
//
//	go run ./examples/minimal   # then open http://localhost:8080
//
// Open it at http://localhost:8080 exactly: passkeys are bound to the
// origin, so a page at http://127.0.0.1:8080 is refused (403
// forbidden_origin, logged with the origin received and the one expected).
package main

import (
	"context"
	"crypto/rand"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

func main() {
	db, err := sqlitedb.Open("minimal.db")
	if err != nil {
		log.Fatal(err)
	}
	if err := sqlstore.Migrate(context.Background(), db, sqlstore.SQLite); err != nil {
		log.Fatal(err)
	}
	users, err := sqlstore.New(db, sqlstore.SQLite)
	if err != nil {
		log.Fatal(err)
	}
	ceremonies, err := memstore.New() // one process: in-memory ceremonies are enough
	if err != nil {
		log.Fatal(err)
	}

	// 64 random bytes kept in a 0600 file (in production: your secret
	// store). A database may be shared by several processes, so webauthnkit
	// needs a stable secret with it; the session cookie is signed with the
	// other half.
	secret := stableSecret("minimal.secret")

	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "localhost",
		RPName:      "Minimal",
		Origins:     []string{"http://localhost:8080"},
		Credentials: users,
		Ceremonies:  ceremonies,
		Secret:      secret[:32],
		Logger:      slog.Default(), // failed ceremonies, with their reason
	})
	if err != nil {
		log.Fatal(err)
	}
	passkeys, err := httpadapter.New(rp, httpadapter.Options{
		SessionSecret: secret[32:],
		Logger:        slog.Default(), // refused requests, with their reason
	}) // rate limiting on by default
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/passkeys/", http.StripPrefix("/passkeys", passkeys))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	})
	mux.Handle("GET /me", passkeys.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := httpadapter.UserFromContext(r.Context())
		w.Write([]byte("signed in as " + user.Name))
	})))
	log.Println("listening on http://localhost:8080")
	log.Fatal(http.ListenAndServe("localhost:8080", mux))
}

// stableSecret reads 64 secret bytes from path, creating the file (mode
// 0600) on first use.
func stableSecret(path string) []byte {
	if b, err := os.ReadFile(path); err == nil && len(b) == 64 {
		return b
	}
	b := make([]byte, 64)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		log.Fatal(err)
	}
	return b
}

const page = `<!doctype html>
<input id="username" autocomplete="username webauthn" placeholder="username">
<button id="signup">Sign up</button> <button id="signin">Sign in</button>
<script src="/passkeys/client.js"></script>
<script>
  const wk = webauthnkit.client({ base: "/passkeys" });
  const done = () => location.assign("/me"), fail = (e) => alert(e.message);
  wk.autofill({ onLogin: done }); // passkeys offered in the username field's autofill
  signup.onclick = () => wk.register({ username: username.value }).then(done, fail);
  signin.onclick = () => wk.login().then(done, fail); // usernameless
</script>`
