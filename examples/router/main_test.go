package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/routertest"
	"github.com/webauthnkit/webauthnkit/memstore"
)

// server serves routes() on httptest and returns its URL and the request log.
func server(t *testing.T) (string, *bytes.Buffer) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	store, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: "localhost", Origins: []string{base}, Credentials: store, Ceremonies: store})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpadapter.New(rp, httpadapter.Options{SessionSecret: bytes.Repeat([]byte("s"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv.Config.Handler = routes(h, slog.New(slog.NewTextHandler(&logs, nil)))
	srv.Start()
	t.Cleanup(srv.Close)
	return base, &logs
}

func TestRoutes(t *testing.T) {
	base, logs := server(t)
	b := routertest.NewBrowser(t, base)

	// Method and pattern routing.
	status, _, hdr := b.Do("GET", "/passkeys/login/begin", nil)
	if status != http.StatusMethodNotAllowed || !strings.Contains(hdr.Get("Allow"), "POST") {
		t.Errorf("GET /passkeys/login/begin = %d (Allow %q), want 405 allowing POST", status, hdr.Get("Allow"))
	}
	b.Expect("GET", "/passkeys/nothing", nil, http.StatusNotFound)
	b.Expect("GET", "/.well-known/webauthn", nil, http.StatusNotFound) // no related origins configured

	// Sign-up and sign-in through the per-endpoint handlers.
	id := routertest.Journey(t, b)
	b.Expect("GET", "/passkeys/credentials", nil, http.StatusOK)
	routertest.LinkJourney(t, base)

	// The logging middleware saw every request, with its status.
	for _, want := range []string{
		"method=POST path=/passkeys/login/finish status=200",
		"method=GET path=/passkeys/login/begin status=405",
		"method=DELETE path=/passkeys/credentials/" + id + " status=409",
		"method=GET path=/api/me status=401",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}
