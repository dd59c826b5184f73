// Package routertest is the journey the router examples (examples/router,
// chi, echo, gin) run against the passkey adapter mounted at /passkeys,
// written once: each example's test adds only what is its router's own
// (its 405 answer, its middleware stopping the chain).
package routertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Browser sends what a browser's same-origin fetch sends: cookies, Origin on
// requests other than GET and HEAD, Sec-Fetch-Site, the JSON content type.
type Browser struct {
	t    *testing.T
	Base string         // the server's origin, e.g. http://127.0.0.1:41234
	Jar  *cookiejar.Jar // the browser's cookies
	http *http.Client
}

// NewBrowser returns a browser without cookies for the server at base.
func NewBrowser(t *testing.T, base string) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, Base: base, Jar: jar, http: &http.Client{Jar: jar}}
}

// Do sends a request and returns the status, body and header of the answer.
func (b *Browser) Do(method, path string, body []byte) (int, []byte, http.Header) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.Base+path, bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Origin", b.Base)
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

// Expect is Do, failing the test unless the status is want; it returns the
// body.
func (b *Browser) Expect(method, path string, body []byte, want int) []byte {
	b.t.Helper()
	status, data, _ := b.Do(method, path, body)
	if status != want {
		b.t.Fatalf("%s %s = %d %s, want %d", method, path, status, data, want)
	}
	return data
}

// Journey runs, with the signed-out browser b, everything the examples'
// users do: the page and client.js; /api/me refused (not_signed_in);
// requests from another site refused; sign-up of "ada" with the ceremony
// cookie scoped to /passkeys; /api/me; rename; revoking the only passkey
// refused (409); sign-out; a usernameless sign-in, which another browser
// without the ceremony cookie cannot finish; /api/me and /passkeys/session.
// It returns the passkey's credential ID.
func Journey(t *testing.T, b *Browser) (credentialID string) {
	t.Helper()
	base := b.Base
	b.Expect("GET", "/", nil, http.StatusOK)
	if js := b.Expect("GET", "/passkeys/client.js", nil, http.StatusOK); !bytes.Contains(js, []byte("window.webauthnkit")) {
		t.Error("client.js is not the client")
	}
	// Only the middleware's answer: the route must not run after it.
	if got := b.Expect("GET", "/api/me", nil, http.StatusUnauthorized); ErrorCode(got) != "not_signed_in" {
		t.Errorf("/api/me signed out = %s, want one not_signed_in error", got)
	}

	// The adapter's own checks still run behind the router.
	RefusedFromOtherSites(t, base)

	// Sign up: the ceremony cookie is scoped to the mount path.
	device := webauthntest.New(webauthntest.WithOrigin(base))
	begin := b.Expect("POST", "/passkeys/registration/begin", []byte(`{"username":"ada"}`), http.StatusOK)
	if u, _ := url.Parse(base + "/passkeys/registration/finish"); len(b.Jar.Cookies(u)) != 1 || b.Jar.Cookies(u)[0].Name != httpadapter.CeremonyCookie {
		t.Errorf("cookies for the finish endpoint after begin: %v, want the ceremony cookie", b.Jar.Cookies(u))
	}
	if u, _ := url.Parse(base + "/api/me"); len(b.Jar.Cookies(u)) != 0 {
		t.Errorf("the ceremony cookie leaks outside /passkeys: %v", b.Jar.Cookies(u))
	}
	resp, err := device.Register(begin)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		Credential struct{ ID string } `json:"credential"`
	}
	if err := json.Unmarshal(b.Expect("POST", "/passkeys/registration/finish", resp, http.StatusOK), &reg); err != nil {
		t.Fatal(err)
	}
	if got := b.Expect("GET", "/api/me", nil, http.StatusOK); !bytes.Contains(got, []byte(`"name":"ada"`)) {
		t.Errorf("/api/me after sign-up = %s, want ada", got)
	}

	// The {id} routes: rename answers the updated list; revoking the only
	// passkey is refused.
	if got := b.Expect("PATCH", "/passkeys/credentials/"+reg.Credential.ID, []byte(`{"name":"Laptop"}`), http.StatusOK); !bytes.Contains(got, []byte(`"name":"Laptop"`)) {
		t.Errorf("rename answered %s", got)
	}
	b.Expect("DELETE", "/passkeys/credentials/"+reg.Credential.ID, []byte(`{}`), http.StatusConflict)

	// Step-up re-authentication through the router (reauth/begin and
	// reauth/finish share the ceremony cookie's prefix).
	resp, err = device.Login(b.Expect("POST", "/passkeys/reauth/begin", []byte(`{}`), http.StatusOK))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Expect("POST", "/passkeys/reauth/finish", resp, http.StatusOK); !bytes.Contains(got, []byte(`"authenticatedAt"`)) {
		t.Errorf("reauth/finish answered %s", got)
	}

	// Sign out, then sign in with the passkey (usernameless).
	b.Expect("POST", "/passkeys/logout", []byte(`{}`), http.StatusNoContent)
	b.Expect("GET", "/api/me", nil, http.StatusUnauthorized)
	resp, err = device.Login(b.Expect("POST", "/passkeys/login/begin", []byte(`{}`), http.StatusOK))
	if err != nil {
		t.Fatal(err)
	}
	// Another browser without the ceremony cookie cannot finish it.
	if got := NewBrowser(t, base).Expect("POST", "/passkeys/login/finish", resp, http.StatusUnauthorized); !bytes.Contains(got, []byte(`"ceremony_not_found"`)) {
		t.Errorf("finish without the ceremony cookie answered %s", got)
	}
	b.Expect("POST", "/passkeys/login/finish", resp, http.StatusOK)
	if got := b.Expect("GET", "/api/me", nil, http.StatusOK); !bytes.Contains(got, []byte(`"name":"ada"`)) {
		t.Errorf("/api/me after sign-in = %s, want ada", got)
	}
	b.Expect("GET", "/passkeys/session", nil, http.StatusOK)
	return reg.Credential.ID
}

// RefusedFromOtherSites sends requests a browser would send from another
// site, or a form post, and expects the adapter to refuse them.
func RefusedFromOtherSites(t *testing.T, base string) {
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

// ErrorCode returns the "error" of an adapter's JSON error body, "" if the
// body is anything else (trailing data included).
func ErrorCode(body []byte) string {
	var e struct{ Error string }
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error
}

// LinkJourney runs device linking through the router (the link/* routes
// mounted one by one under /passkeys): a signed-in browser approves a new
// one, whose poll-token cookie is scoped to /passkeys; the new browser
// registers its own passkey with the grant and is signed in (/api/me).
func LinkJourney(t *testing.T, base string) {
	t.Helper()
	a, b := NewBrowser(t, base), NewBrowser(t, base)
	device := webauthntest.New(webauthntest.WithOrigin(base))
	resp, err := device.Register(a.Expect("POST", "/passkeys/registration/begin", []byte(`{"username":"lin"}`), http.StatusOK))
	if err != nil {
		t.Fatal(err)
	}
	a.Expect("POST", "/passkeys/registration/finish", resp, http.StatusOK)

	var start struct{ Code, LinkID, Phrase string }
	if err := json.Unmarshal(b.Expect("POST", "/passkeys/link/start", []byte(`{}`), http.StatusOK), &start); err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(base + "/passkeys/link/poll"); len(b.Jar.Cookies(u)) != 1 || b.Jar.Cookies(u)[0].Name != httpadapter.LinkCookie {
		t.Errorf("cookies for link/poll after link/start: %v, want the poll-token cookie", b.Jar.Cookies(u))
	}
	if u, _ := url.Parse(base + "/api/me"); len(b.Jar.Cookies(u)) != 0 {
		t.Errorf("the poll-token cookie leaks outside /passkeys: %v", b.Jar.Cookies(u))
	}
	a.Expect("POST", "/passkeys/link/lookup", []byte(`{"code":"`+start.Code+`"}`), http.StatusOK)
	a.Expect("POST", "/passkeys/link/approve", []byte(`{"linkId":"`+start.LinkID+`","phrase":"`+start.Phrase+`"}`), http.StatusOK)
	var poll struct{ Status, Grant string }
	if err := json.Unmarshal(b.Expect("POST", "/passkeys/link/poll", []byte(`{}`), http.StatusOK), &poll); err != nil {
		t.Fatal(err)
	}
	if poll.Status != "approved" || poll.Grant == "" {
		t.Fatalf("poll after approval: %+v", poll)
	}
	newDevice := webauthntest.New(webauthntest.WithOrigin(base))
	resp, err = newDevice.Register(b.Expect("POST", "/passkeys/registration/begin", []byte(`{"grant":"`+poll.Grant+`"}`), http.StatusOK))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Expect("POST", "/passkeys/registration/finish", resp, http.StatusOK); !bytes.Contains(got, []byte(`"linked":true`)) {
		t.Errorf("registration with the link grant answered %s", got)
	}
	if got := b.Expect("GET", "/api/me", nil, http.StatusOK); !bytes.Contains(got, []byte(`"name":"lin"`)) {
		t.Errorf("/api/me on the new device = %s, want lin", got)
	}
}
