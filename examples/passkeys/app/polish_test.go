package app_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// fetchStatic GETs path with the given request headers, without Go's
// transparent gzip, and returns the response and its raw body.
func fetchStatic(t *testing.T, a *testApp, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// TestStaticCachedAndCompressed: /static files come gzipped when accepted,
// with an ETag and a Cache-Control that lets a browser keep them, and a
// revalidation answers 304 without a body (they were sent uncompressed,
// no-cache and without ETag: downloaded again on every view).
func TestStaticCachedAndCompressed(t *testing.T) {
	a := start(t, app.Config{})
	for _, path := range []string{"/static/app.js", "/static/app.css"} {
		plain, plainBody := fetchStatic(t, a, path, nil)
		if plain.StatusCode != http.StatusOK || plain.Header.Get("Content-Encoding") != "" {
			t.Fatalf("GET %s = %d, encoding %q; want 200 identity", path, plain.StatusCode, plain.Header.Get("Content-Encoding"))
		}
		cc := plain.Header.Get("Cache-Control")
		if !strings.Contains(cc, "max-age=") || strings.Contains(cc, "no-cache") || strings.Contains(cc, "no-store") {
			t.Errorf("GET %s: Cache-Control %q, want a max-age", path, cc)
		}
		etag := plain.Header.Get("ETag")
		if etag == "" || !strings.HasPrefix(etag, `"`) {
			t.Fatalf("GET %s: ETag %q, want a strong ETag", path, etag)
		}

		gz, gzBody := fetchStatic(t, a, path, map[string]string{"Accept-Encoding": "br, gzip"})
		if gz.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(gz.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("GET %s with gzip: encoding %q, Vary %q", path, gz.Header.Get("Content-Encoding"), gz.Header.Get("Vary"))
		}
		if len(gzBody) >= len(plainBody)/2 {
			t.Errorf("GET %s: gzip %d bytes for %d plain", path, len(gzBody), len(plainBody))
		}
		zr, err := gzip.NewReader(bytes.NewReader(gzBody))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, _ := io.ReadAll(zr)
		if !bytes.Equal(unzipped, plainBody) {
			t.Errorf("GET %s: the gzip body is not the file", path)
		}
		if gz.Header.Get("ETag") == etag {
			t.Errorf("GET %s: the gzip and identity bodies share the ETag %s", path, etag)
		}

		for _, tag := range []string{etag, gz.Header.Get("ETag"), `"x", ` + etag} {
			res, body := fetchStatic(t, a, path, map[string]string{"If-None-Match": tag, "Accept-Encoding": "gzip"})
			if res.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("GET %s If-None-Match %s = %d with %d bytes, want 304 empty", path, tag, res.StatusCode, len(body))
			}
		}
		if res, _ := fetchStatic(t, a, path, map[string]string{"If-None-Match": `"other"`}); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s with a stale ETag = %d, want 200", path, res.StatusCode)
		}
		if res, _ := fetchStatic(t, a, path, map[string]string{"Accept-Encoding": "gzip;q=0"}); res.Header.Get("Content-Encoding") != "" {
			t.Errorf("GET %s with gzip;q=0 came gzipped", path)
		}
	}
	if res, body := fetchStatic(t, a, "/static/nope.js", nil); res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "<!doctype html>") {
		t.Errorf("GET /static/nope.js = %d, want the HTML 404 page", res.StatusCode)
	}
}

// TestPasskeysPathIsAPage: /passkeys and /passkeys/ (where the adapter's
// JSON endpoints live) lead to the passkeys page, not to a JSON 404.
func TestPasskeysPathIsAPage(t *testing.T) {
	a := start(t, app.Config{})
	b := newBrowser(t, a)
	for _, path := range []string{"/passkeys", "/passkeys/"} {
		if status, body, loc := b.get(path); status != http.StatusSeeOther || loc != "/account" {
			t.Errorf("GET %s = %d to %q: %.80s; want 303 to /account", path, status, loc, body)
		}
	}
	if status, _, _ := b.get("/passkeys/client.js"); status != http.StatusOK {
		t.Errorf("GET /passkeys/client.js = %d: the adapter is no longer reached", status)
	}
}

// TestOnlyPasskeyRemoveDisabled: the Remove button of an account's only
// passkey is disabled with the reason next to it; with two, both are enabled.
func TestOnlyPasskeyRemoveDisabled(t *testing.T) {
	a := start(t, app.Config{})
	b := newBrowser(t, a)
	b.signUp("alice", "Alice")
	page := b.accountPage()
	if !strings.Contains(page, `disabled aria-describedby="only-passkey"`) || !strings.Contains(page, `id="only-passkey"`) || !strings.Contains(page, "only passkey") {
		t.Errorf("the only passkey's Remove is not disabled with its reason:\n%s", page)
	}
	b.device = webauthntest.New(webauthntest.WithOrigin(a.URL))
	resp, err := b.device.Register(b.api("registration/begin", []byte(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	b.api("registration/finish", resp)
	if page := b.accountPage(); strings.Contains(page, "disabled") || strings.Contains(page, "only-passkey") {
		t.Error("with two passkeys a Remove is still disabled")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestEventsNameUserAndCredential: the demo's log names the user (name and
// handle) and the passkey of every event, failed sign-ins included, with the
// code, and never a secret.
func TestEventsNameUserAndCredential(t *testing.T) {
	logs := &lockedBuffer{}
	a := start(t, app.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	b := newBrowser(t, a)
	b.signUp("alice", "Alice")
	cred := b.device.Credentials()[0]
	credID := base64.RawURLEncoding.EncodeToString(cred.ID)
	handle := base64.RawURLEncoding.EncodeToString(cred.UserHandle)

	resp, err := b.device.Login(b.api("login/begin", []byte(`{"username":"alice"}`)), webauthntest.BadSignature())
	if err != nil {
		t.Fatal(err)
	}
	if status, body, _ := b.do(http.MethodPost, "/passkeys/login/finish", "application/json", resp, a.URL); status != http.StatusUnauthorized {
		t.Fatalf("login with a bad signature = %d %s", status, body)
	}

	var signUp, failed string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "event=registration.succeeded") {
			signUp = line
		}
		if strings.Contains(line, "event=login.failed") {
			failed = line
		}
	}
	for name, line := range map[string]string{"sign-up": signUp, "failed sign-in": failed} {
		for _, want := range []string{"user=alice", "userHandle=" + handle, "credential=" + credID} {
			if !strings.Contains(line, want) {
				t.Errorf("%s event %q lacks %s", name, line, want)
			}
		}
	}
	if !strings.Contains(failed, "code=invalid_response") || !strings.Contains(failed, "level=WARN") {
		t.Errorf("failed sign-in event %q: want WARN with code=invalid_response", failed)
	}
	if strings.Contains(logs.String(), "challenge=") || strings.Contains(logs.String(), "signature=") {
		t.Errorf("a secret in the log:\n%s", logs.String())
	}
}
