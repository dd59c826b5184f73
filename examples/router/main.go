// Command router mounts webauthnkit's HTTP adapter endpoint by endpoint on
// Go's http.ServeMux with method and pattern routes (Go 1.22+), the way
// handlers are mounted in a router framework such as chi, echo or gin: each
// endpoint is its own http.HandlerFunc, and the adapter's LoadUser and
// RequireUser are ordinary middleware.
//
//	go run ./examples/router
//
// then open http://localhost:8081. Everything is kept in memory.
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

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// routes mounts the adapter's endpoints and the app's own routes.
func routes(h *httpadapter.Handler, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()

	// The passkey endpoints, one route each.
	mux.Handle("POST /passkeys/registration/begin", h.BeginRegistration())
	mux.Handle("POST /passkeys/registration/finish", h.FinishRegistration())
	mux.Handle("POST /passkeys/login/begin", h.BeginLogin())
	mux.Handle("POST /passkeys/login/finish", h.FinishLogin())
	mux.Handle("GET /passkeys/credentials", h.ListCredentials())
	mux.Handle("PATCH /passkeys/credentials/{id}", h.RenameCredential())
	mux.Handle("DELETE /passkeys/credentials/{id}", h.RevokeCredential())
	mux.Handle("GET /passkeys/session", h.Session())
	mux.Handle("POST /passkeys/logout", h.Logout())
	mux.Handle("POST /passkeys/reauth/begin", h.BeginReauth())
	mux.Handle("POST /passkeys/reauth/finish", h.FinishReauth())
	// Device linking (docs/device-linking.md).
	mux.Handle("POST /passkeys/link/start", h.StartLink())
	mux.Handle("POST /passkeys/link/poll", h.PollLink())
	mux.Handle("POST /passkeys/link/lookup", h.LookupLink())
	mux.Handle("POST /passkeys/link/approve", h.ApproveLink())
	mux.Handle("POST /passkeys/link/deny", h.DenyLink())
	mux.Handle("GET /passkeys/client.js", h.ClientJS())
	mux.Handle("GET /.well-known/webauthn", h.WellKnown())

	// The app: a page, and an API that needs a signed-in user.
	mux.HandleFunc("GET /{$}", home)
	mux.Handle("GET /api/me", h.RequireUser(http.HandlerFunc(me)))

	// Middleware, outermost first: request log, then the signed-in user.
	return logging(log, h.LoadUser(mux))
}

// me answers who is signed in (RequireUser guarantees someone is).
func me(w http.ResponseWriter, r *http.Request) {
	u, _ := httpadapter.UserFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"name": u.Name, "displayName": u.DisplayName})
}

// logging logs one line per request, with the status and the user if any.
func logging(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"took", time.Since(start).Round(time.Microsecond))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, homePage)
}

// homePage is deliberately bare: see examples/passkeys for a real UI.
const homePage = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Passkeys on ServeMux</title>
<script src="/passkeys/client.js"></script>
<main>
  <h1>Passkeys on <code>http.ServeMux</code></h1>
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

func main() {
	addr := flag.String("addr", "localhost:8081", "listen `address`")
	origin := flag.String("origin", "http://localhost:8081", "`origin` of the page")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	store, err := memstore.New()
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	defer store.Close()
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "localhost",
		Origins:     []string{*origin},
		Credentials: store,
		Ceremonies:  store,
	})
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	secret := make([]byte, 32) // random per start: restarting signs everyone out
	_, _ = rand.Read(secret)
	h, err := httpadapter.New(rp, httpadapter.Options{SessionSecret: secret, Logger: log})
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	log.Info("listening on " + *origin)
	srv := &http.Server{Addr: *addr, Handler: routes(h, log), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
}
