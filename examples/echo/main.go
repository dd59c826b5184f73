// Command echo mounts webauthnkit's HTTP adapter in the echo framework
// (github.com/labstack/echo/v4), endpoint by endpoint: each endpoint is
// wrapped with echo.WrapHandler, the adapter's middleware with
// echo.WrapMiddleware (LoadUser, RequireUser in webauthnecho.go), and routes
// read the signed-in user with CurrentUser(c).
//
//	go run ./examples/echo
//
// then open http://localhost:8083. Everything is kept in memory.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// routes mounts the adapter's endpoints and the app's own routes.
func routes(h *httpadapter.Handler) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Use(middleware.Recover())
	e.Use(LoadUser(h)) // the signed-in user, if any, for every route

	g := e.Group("/passkeys")
	g.POST("/registration/begin", echo.WrapHandler(h.BeginRegistration()))
	g.POST("/registration/finish", echo.WrapHandler(h.FinishRegistration()))
	g.POST("/login/begin", echo.WrapHandler(h.BeginLogin()))
	g.POST("/login/finish", echo.WrapHandler(h.FinishLogin()))
	g.GET("/credentials", echo.WrapHandler(h.ListCredentials()))
	g.PATCH("/credentials/:id", echo.WrapHandler(h.RenameCredential()))
	g.DELETE("/credentials/:id", echo.WrapHandler(h.RevokeCredential()))
	g.GET("/session", echo.WrapHandler(h.Session()))
	g.POST("/logout", echo.WrapHandler(h.Logout()))
	g.POST("/reauth/begin", echo.WrapHandler(h.BeginReauth()))
	g.POST("/reauth/finish", echo.WrapHandler(h.FinishReauth()))
	g.POST("/link/start", echo.WrapHandler(h.StartLink()))
	g.POST("/link/poll", echo.WrapHandler(h.PollLink()))
	g.POST("/link/lookup", echo.WrapHandler(h.LookupLink()))
	g.POST("/link/approve", echo.WrapHandler(h.ApproveLink()))
	g.POST("/link/deny", echo.WrapHandler(h.DenyLink()))
	g.GET("/client.js", echo.WrapHandler(h.ClientJS()))
	e.GET("/.well-known/webauthn", echo.WrapHandler(h.WellKnown()))

	// The app: a page, and an API that needs a signed-in user.
	e.GET("/", home)
	e.GET("/api/me", me, RequireUser(h))
	return e
}

// me answers who is signed in (RequireUser guarantees someone is).
func me(c echo.Context) error {
	u, _ := CurrentUser(c)
	return c.JSON(http.StatusOK, map[string]string{"name": u.Name, "displayName": u.DisplayName})
}

func home(c echo.Context) error {
	return c.HTML(http.StatusOK, fmt.Sprintf(homePage, "echo"))
}

func main() {
	addr := flag.String("addr", "localhost:8083", "listen `address`")
	origin := flag.String("origin", "http://localhost:8083", "`origin` of the page")
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
