// Command gin mounts webauthnkit's HTTP adapter in the gin framework
// (github.com/gin-gonic/gin), endpoint by endpoint: each endpoint is wrapped
// with gin.WrapH, the adapter's middleware runs as gin middleware that puts
// the user into the gin.Context (LoadUser, RequireUser in webauthngin.go),
// and routes read it with CurrentUser(c).
//
//	go run ./examples/gin
//
// then open http://localhost:8084. Everything is kept in memory.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// routes mounts the adapter's endpoints and the app's own routes.
func routes(h *httpadapter.Handler) *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true // 405 with Allow, as the adapter answers
	r.Use(gin.Recovery())
	r.Use(LoadUser(h)) // the signed-in user, if any, for every route

	g := r.Group("/passkeys")
	g.POST("/registration/begin", gin.WrapH(h.BeginRegistration()))
	g.POST("/registration/finish", gin.WrapH(h.FinishRegistration()))
	g.POST("/login/begin", gin.WrapH(h.BeginLogin()))
	g.POST("/login/finish", gin.WrapH(h.FinishLogin()))
	g.GET("/credentials", gin.WrapH(h.ListCredentials()))
	g.PATCH("/credentials/:id", gin.WrapH(h.RenameCredential()))
	g.DELETE("/credentials/:id", gin.WrapH(h.RevokeCredential()))
	g.GET("/session", gin.WrapH(h.Session()))
	g.POST("/logout", gin.WrapH(h.Logout()))
	g.POST("/reauth/begin", gin.WrapH(h.BeginReauth()))
	g.POST("/reauth/finish", gin.WrapH(h.FinishReauth()))
	g.POST("/link/start", gin.WrapH(h.StartLink()))
	g.POST("/link/poll", gin.WrapH(h.PollLink()))
	g.POST("/link/lookup", gin.WrapH(h.LookupLink()))
	g.POST("/link/approve", gin.WrapH(h.ApproveLink()))
	g.POST("/link/deny", gin.WrapH(h.DenyLink()))
	g.GET("/client.js", gin.WrapH(h.ClientJS()))
	r.GET("/.well-known/webauthn", gin.WrapH(h.WellKnown()))

	// The app: a page, and an API that needs a signed-in user.
	r.GET("/", home)
	r.GET("/api/me", RequireUser(h), me)
	return r
}

// me answers who is signed in (RequireUser guarantees someone is).
func me(c *gin.Context) {
	u, _ := CurrentUser(c)
	c.JSON(http.StatusOK, gin.H{"name": u.Name, "displayName": u.DisplayName})
}

func home(c *gin.Context) {
	c.Data(http.StatusOK, "text/html; charset=utf-8", fmt.Appendf(nil, homePage, "gin"))
}

func main() {
	addr := flag.String("addr", "localhost:8084", "listen `address`")
	origin := flag.String("origin", "http://localhost:8084", "`origin` of the page")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	gin.SetMode(gin.ReleaseMode)

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
