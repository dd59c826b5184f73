package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/webauthnkit/webauthnkit/internal/routertest"
)

// TestGinCeremonies drives a real server built from routes() through
// routertest.Journey (sign-up and sign-in with the software authenticator,
// the {id} routes, the protected route, with the headers a browser sends on
// a same-origin fetch), after what is gin's own: RequireUser stopping the chain and gin's 405 answer.
func TestGinCeremonies(t *testing.T) {
	gin.SetMode(gin.TestMode)
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	h, closeStore, err := newAdapter(base, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	// A protected route with a side effect: RequireUser must stop the chain.
	var protectedRan atomic.Bool
	engine := routes(h)
	engine.POST("/test/protected", RequireUser(h), func(c *gin.Context) {
		protectedRan.Store(true)
		c.Status(http.StatusNoContent)
	})
	srv.Config.Handler = engine
	srv.Start()
	t.Cleanup(srv.Close)

	b := routertest.NewBrowser(t, base)
	b.Expect("POST", "/test/protected", []byte(`{}`), http.StatusUnauthorized)
	if protectedRan.Load() {
		t.Error("the protected route ran for a signed-out request")
	}
	if status, _, hdr := b.Do("GET", "/passkeys/login/begin", nil); status != http.StatusMethodNotAllowed || !strings.Contains(hdr.Get("Allow"), "POST") {
		t.Errorf("GET /passkeys/login/begin = %d (Allow %q), want gin's 405 allowing POST", status, hdr.Get("Allow"))
	}
	routertest.Journey(t, b)
	routertest.LinkJourney(t, b.Base)
}
