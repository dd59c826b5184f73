// Command chi mounts webauthnkit's HTTP adapter in the chi router
// (github.com/go-chi/chi/v5), endpoint by endpoint. chi routes plain
// http.Handlers and keeps values in the request context, so nothing needs
// wrapping: the adapter's handlers are routes, LoadUser and RequireUser are
// chi middleware, and httpadapter.UserFromContext(r.Context()) is the
// accessor. chi sets r.PathValue for {id}, which the credential routes read.
//
//	go run ./examples/chi
//
// then open http://localhost:8082. Everything is kept in memory.
package main

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// routes mounts the adapter's endpoints and the app's own routes.
func routes(h *httpadapter.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(h.LoadUser) // the signed-in user, if any, for every route

	r.Route("/passkeys", func(r chi.Router) {
		r.Post("/registration/begin", h.BeginRegistration())
		r.Post("/registration/finish", h.FinishRegistration())
		r.Post("/login/begin", h.BeginLogin())
		r.Post("/login/finish", h.FinishLogin())
		r.Get("/credentials", h.ListCredentials())
		r.Patch("/credentials/{id}", h.RenameCredential())
		r.Delete("/credentials/{id}", h.RevokeCredential())
		r.Get("/session", h.Session())
		r.Post("/logout", h.Logout())
		r.Post("/reauth/begin", h.BeginReauth())
		r.Post("/reauth/finish", h.FinishReauth())
		r.Post("/link/start", h.StartLink())
		r.Post("/link/poll", h.PollLink())
		r.Post("/link/lookup", h.LookupLink())
		r.Post("/link/approve", h.ApproveLink())
		r.Post("/link/deny", h.DenyLink())
		r.Get("/client.js", h.ClientJS())
	})
	r.Method(http.MethodGet, "/.well-known/webauthn", h.WellKnown())

	// The app: a page, and an API that needs a signed-in user.
	r.Get("/", home)
	r.With(h.RequireUser).Get("/api/me", me)
	return r
}

// me answers who is signed in (RequireUser guarantees someone is).
func me(w http.ResponseWriter, r *http.Request) {
	u, _ := httpadapter.UserFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"name": u.Name, "displayName": u.DisplayName})
}

func home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, homePage, "chi")
}

func main() {
	addr := flag.String("addr", "localhost:8082", "listen `address`")
	origin := flag.String("origin", "http://localhost:8082", "`origin` of the page")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	h, closeStore, err := newAdapter(*origin, log)
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	defer closeStore()
	log.Info("listening on " + *origin)
	srv := &http.Server{Addr: *addr, Handler: routes(h), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
}

// newAdapter builds the RelyingParty on an in-memory store and its HTTP
// adapter with a session secret that is random per start (restarting signs
// everyone out).
func newAdapter(origin string, log *slog.Logger) (*httpadapter.Handler, func(), error) {
	store, err := memstore.New()
	if err != nil {
		return nil, nil, err
	}
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "localhost",
		Origins:     []string{origin},
		Credentials: store,
		Ceremonies:  store,
	})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	h, err := httpadapter.New(rp, httpadapter.Options{SessionSecret: secret, Logger: log})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return h, func() { store.Close() }, nil
}

// homePage is deliberately bare (%s: the router's name): see
// examples/passkeys for a real UI.
const homePage = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Passkeys on %[1]s</title>
<script src="/passkeys/client.js"></script>
<main>
  <h1>Passkeys on %[1]s</h1>
  <p id="who">…</p>
  <label>Username <input id="username" autocomplete="username webauthn"></label>
  <button id="signup">Sign up</button> <button id="signin">Sign in with a passkey</button>
  <button id="signout">Sign out</button>
  <p id="error" role="alert"></p>
</main>
<script>
const wk = webauthnkit.client({ base: "/passkeys" });
const $ = (id) => document.getElementById(id);
async function refresh() {
  const r = await fetch("/api/me");
  $("who").textContent = r.ok ? "Signed in as " + (await r.json()).name : "Not signed in";
}
function act(f) {
  return async () => {
    $("error").textContent = "";
    try { await f(); } catch (e) { $("error").textContent = e.code + ": " + e.message; }
    refresh();
  };
}
$("signup").onclick = act(() => wk.register({ username: $("username").value }));
$("signin").onclick = act(() => wk.login());
$("signout").onclick = act(() => wk.logout());
refresh();
</script>
</html>
`
