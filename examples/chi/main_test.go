package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/webauthnkit/webauthnkit/internal/routertest"
)

// TestChiCeremonies drives a real server built from routes() through
// routertest.Journey (sign-up and sign-in with the software authenticator,
// the {id} routes, the protected route, with the headers a browser sends on
// a same-origin fetch), after what is chi's own: chi's 405 answer.
func TestChiCeremonies(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	h, closeStore, err := newAdapter(base, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	srv.Config.Handler = routes(h)
	srv.Start()
	t.Cleanup(srv.Close)

	b := routertest.NewBrowser(t, base)
	if status, _, hdr := b.Do("GET", "/passkeys/login/begin", nil); status != http.StatusMethodNotAllowed || hdr.Get("Allow") != "POST" {
		t.Errorf("GET /passkeys/login/begin = %d (Allow %q), want chi's 405 allowing POST", status, hdr.Get("Allow"))
	}
	routertest.Journey(t, b)
	routertest.LinkJourney(t, b.Base)
}
