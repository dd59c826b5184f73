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
	"testing"

	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// TestChiCeremonies drives a real server built from routes(): sign-up and
// sign-in with the software authenticator, the {id} routes, and the
// protected route reading the user from the request context, with the
// headers a browser sends on a same-origin fetch.
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

	b := newBrowser(t, base)
	b.expect("GET", "/", nil, http.StatusOK)
	if js := b.expect("GET", "/passkeys/client.js", nil, http.StatusOK); !bytes.Contains(js, []byte("window.webauthnkit")) {
		t.Error("client.js is not the client")
	}
	// Only the middleware's answer: the route must not run after it.
	if got := b.expect("GET", "/api/me", nil, http.StatusUnauthorized); errorCode(got) != "not_signed_in" {
		t.Errorf("/api/me signed out = %s, want one not_signed_in error", got)
	}
	if status, _, hdr := b.do("GET", "/passkeys/login/begin", nil); status != http.StatusMethodNotAllowed || hdr.Get("Allow") != "POST" {
		t.Errorf("GET /passkeys/login/begin = %d (Allow %q), want chi's 405 allowing POST", status, hdr.Get("Allow"))
	}

	// The adapter's own checks still run behind the router.
	refusedThroughRouter(t, base)

	// Sign up: the ceremony cookie is scoped to the mount path.
	device := webauthntest.New(webauthntest.WithOrigin(base))
	begin := b.expect("POST", "/passkeys/registration/begin", []byte(`{"username":"ada"}`), http.StatusOK)
	if u, _ := url.Parse(base + "/passkeys/registration/finish"); len(b.jar.Cookies(u)) != 1 || b.jar.Cookies(u)[0].Name != httpadapter.CeremonyCookie {
		t.Errorf("cookies for the finish endpoint after begin: %v, want the ceremony cookie", b.jar.Cookies(u))
	}
	if u, _ := url.Parse(base + "/api/me"); len(b.jar.Cookies(u)) != 0 {
		t.Errorf("the ceremony cookie leaks outside /passkeys: %v", b.jar.Cookies(u))
	}
	resp, err := device.Register(begin)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		Credential struct{ ID string } `json:"credential"`
	}
	if err := json.Unmarshal(b.expect("POST", "/passkeys/registration/finish", resp, http.StatusOK), &reg); err != nil {
		t.Fatal(err)
	}
	if got := b.expect("GET", "/api/me", nil, http.StatusOK); !bytes.Contains(got, []byte(`"name":"ada"`)) {
		t.Errorf("/api/me after sign-up = %s, want ada", got)
	}

	// chi's {id}: rename answers the updated list; revoking the only
	// passkey is refused.
	if got := b.expect("PATCH", "/passkeys/credentials/"+reg.Credential.ID, []byte(`{"name":"Laptop"}`), http.StatusOK); !bytes.Contains(got, []byte(`"name":"Laptop"`)) {
		t.Errorf("rename answered %s", got)
	}
	b.expect("DELETE", "/passkeys/credentials/"+reg.Credential.ID, []byte(`{}`), http.StatusConflict)

	// Sign out, then sign in with the passkey (usernameless).
	b.expect("POST", "/passkeys/logout", []byte(`{}`), http.StatusNoContent)
	b.expect("GET", "/api/me", nil, http.StatusUnauthorized)
	resp, err = device.Login(b.expect("POST", "/passkeys/login/begin", []byte(`{}`), http.StatusOK))
	if err != nil {
		t.Fatal(err)
	}
	// Another browser without the ceremony cookie cannot finish it.
	if got := newBrowser(t, base).expect("POST", "/passkeys/login/finish", resp, http.StatusUnauthorized); !bytes.Contains(got, []byte(`"ceremony_not_found"`)) {
		t.Errorf("finish without the ceremony cookie answered %s", got)
	}
	b.expect("POST", "/passkeys/login/finish", resp, http.StatusOK)
	if got := b.expect("GET", "/api/me", nil, http.StatusOK); !bytes.Contains(got, []byte(`"name":"ada"`)) {
		t.Errorf("/api/me after sign-in = %s, want ada", got)
	}
	b.expect("GET", "/passkeys/session", nil, http.StatusOK)
}

// refusedThroughRouter sends requests a browser would send from another
// site, or a form post, and expects the adapter to refuse them.
func refusedThroughRouter(t *testing.T, base string) {
	t.Helper()
	for _, tc := range []struct {
		name    string
		header  http.Header
		want    int
		errCode string
	}{
		{"foreign Origin", http.Header{"Origin": {"https://evil.example"}, "Content-Type": {"application/json"}}, http.StatusForbidden, "forbidden_origin"},
		{"cross-site without Origin", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Content-Type": {"application/json"}}, http.StatusForbidden, "forbidden_origin"},
		{"form post", http.Header{"Origin": {base}, "Content-Type": {"text/plain"}}, http.StatusUnsupportedMediaType, "unsupported_media_type"},
	} {
		req, _ := http.NewRequest("POST", base+"/passkeys/login/begin", bytes.NewReader([]byte(`{}`)))
		req.Header = tc.header
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want || !bytes.Contains(body, []byte(`"`+tc.errCode+`"`)) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, res.StatusCode, body, tc.want, tc.errCode)
		}
	}
}

// errorCode returns the "error" of an adapter's JSON error body, "" if
// the body is anything else (trailing data included).
func errorCode(body []byte) string {
	var e struct{ Error string }
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error
}

// browser sends what a browser's same-origin fetch sends: cookies, Origin
// on requests with a body, Sec-Fetch-Site, JSON content type.
type browser struct {
	t    *testing.T
	base string
	jar  *cookiejar.Jar
	http *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, jar: jar, http: &http.Client{Jar: jar}}
}

func (b *browser) do(method, path string, body []byte) (int, []byte, http.Header) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Origin", b.base)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data, res.Header
}

func (b *browser) expect(method, path string, body []byte, want int) []byte {
	b.t.Helper()
	status, data, _ := b.do(method, path, body)
	if status != want {
		b.t.Fatalf("%s %s = %d %s, want %d", method, path, status, data, want)
	}
	return data
}
