package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
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

type client struct {
	t    *testing.T
	url  string
	http *http.Client
}

func (c *client) do(method, path string, body []byte) (int, []byte, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.url+path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", c.url)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data, res.Header
}

func (c *client) must(method, path string, body []byte, want int) []byte {
	c.t.Helper()
	status, data, _ := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s = %d %s, want %d", method, path, status, data, want)
	}
	return data
}

func TestRoutes(t *testing.T) {
	base, logs := server(t)
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, url: base, http: &http.Client{Jar: jar}}

	// Method and pattern routing.
	c.must("GET", "/", nil, http.StatusOK)
	if js := c.must("GET", "/passkeys/client.js", nil, http.StatusOK); !bytes.Contains(js, []byte("window.webauthnkit")) {
		t.Error("client.js is not the client")
	}
	status, _, hdr := c.do("GET", "/passkeys/login/begin", nil)
	if status != http.StatusMethodNotAllowed || !strings.Contains(hdr.Get("Allow"), "POST") {
		t.Errorf("GET /passkeys/login/begin = %d (Allow %q), want 405 allowing POST", status, hdr.Get("Allow"))
	}
	c.must("GET", "/passkeys/nothing", nil, http.StatusNotFound)
	c.must("GET", "/.well-known/webauthn", nil, http.StatusNotFound) // no related origins configured
	if got := c.must("GET", "/api/me", nil, http.StatusUnauthorized); !bytes.Contains(got, []byte("not_signed_in")) {
		t.Errorf("/api/me signed out = %s, want not_signed_in", got)
	}

	// Sign up through the per-endpoint handlers.
	device := webauthntest.New(webauthntest.WithOrigin(base))
	begin := c.must("POST", "/passkeys/registration/begin", []byte(`{"username":"ada"}`), http.StatusOK)
	if u, _ := url.Parse(base + "/passkeys/registration/finish"); len(jar.Cookies(u)) != 1 || jar.Cookies(u)[0].Name != httpadapter.CeremonyCookie {
		t.Errorf("cookies for the finish endpoint after begin: %v, want the ceremony cookie", jar.Cookies(u))
	}
	if u, _ := url.Parse(base + "/api/me"); len(jar.Cookies(u)) != 0 {
		t.Errorf("the ceremony cookie leaks outside /passkeys: %v", jar.Cookies(u))
	}
	resp, err := device.Register(begin)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		Credential struct{ ID string } `json:"credential"`
	}
	if err := json.Unmarshal(c.must("POST", "/passkeys/registration/finish", resp, http.StatusOK), &reg); err != nil {
		t.Fatal(err)
	}
	if got := c.must("GET", "/api/me", nil, http.StatusOK); !bytes.Contains(got, []byte(`"name":"ada"`)) {
		t.Errorf("/api/me = %s, want ada", got)
	}

	// {id} routes: rename, then revoking the only passkey is refused.
	id := reg.Credential.ID
	if got := c.must("PATCH", "/passkeys/credentials/"+id, []byte(`{"name":"Laptop"}`), http.StatusOK); !bytes.Contains(got, []byte(`"name":"Laptop"`)) {
		t.Errorf("rename answered %s", got)
	}
	c.must("DELETE", "/passkeys/credentials/"+id, []byte(`{}`), http.StatusConflict)
	c.must("GET", "/passkeys/credentials", nil, http.StatusOK)

	// Sign out, sign in.
	c.must("POST", "/passkeys/logout", []byte(`{}`), http.StatusNoContent)
	c.must("GET", "/api/me", nil, http.StatusUnauthorized)
	resp, err = device.Login(c.must("POST", "/passkeys/login/begin", []byte(`{}`), http.StatusOK))
	if err != nil {
		t.Fatal(err)
	}
	c.must("POST", "/passkeys/login/finish", resp, http.StatusOK)
	c.must("GET", "/passkeys/session", nil, http.StatusOK)

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
