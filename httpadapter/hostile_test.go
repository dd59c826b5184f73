package httpadapter_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

func TestCookieAttributes(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	begin := b.post("/registration/begin", map[string]string{"username": "alice"})
	c := setCookies(begin.header)[httpadapter.CeremonyCookie]
	require.NotNil(t, c)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	assert.Equal(t, "/passkeys", c.Path)
	assert.False(t, c.Secure, "http://127.0.0.1 cannot have Secure cookies")
	assert.Equal(t, int(e.rp.ChallengeTTL()/time.Second)+1, c.MaxAge)
	assert.Empty(t, c.Domain)

	resp, err := b.dev.Register(b.publicKey(begin))
	require.NoError(t, err)
	r := b.post("/registration/finish", resp)
	require.Equal(t, http.StatusOK, r.status)
	cs := setCookies(r.header)
	assert.Equal(t, -1, cs[httpadapter.CeremonyCookie].MaxAge, "finish clears the ceremony cookie")
	assert.Equal(t, "/passkeys", cs[httpadapter.CeremonyCookie].Path)
	s := cs[httpadapter.SessionCookieInsecure]
	require.NotNil(t, s)
	assert.True(t, s.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, s.SameSite)
	assert.Equal(t, "/", s.Path)
	assert.False(t, s.Secure)
	// The cookie lives until the idle deadline; activity re-issues it.
	assert.Equal(t, int(httpadapter.DefaultSessionIdleTimeout.Seconds()), s.MaxAge)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
}

// TestSecureCookiesOnHTTPS runs a sign-up for https://example.com through
// the handler directly: cookies are Secure, the session cookie has the
// __Host- prefix, and an unprefixed session cookie (which a sibling
// subdomain could plant) is ignored.
func TestSecureCookiesOnHTTPS(t *testing.T) {
	store, err := memstore.New()
	require.NoError(t, err)
	defer store.Close()
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: "example.com", Origins: []string{"https://example.com"}, Credentials: store, Ceremonies: store})
	require.NoError(t, err)
	h, err := httpadapter.New(rp, httpadapter.Options{SessionSecret: testSecret})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/passkeys/", http.StripPrefix("/passkeys", h))

	post := func(path string, body []byte, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "https://example.com/passkeys"+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://example.com")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w
	}
	w := post("/registration/begin", []byte(`{"username":"alice"}`))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	ceremony := setCookies(w.Header())[httpadapter.CeremonyCookie]
	require.True(t, ceremony.Secure)
	require.Equal(t, "/passkeys", ceremony.Path)
	var begin struct{ PublicKey json.RawMessage }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &begin))
	resp, err := webauthntest.New().Register(begin.PublicKey)
	require.NoError(t, err)
	w = post("/registration/finish", resp, ceremony)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	cs := setCookies(w.Header())
	require.True(t, cs[httpadapter.CeremonyCookie].Secure)
	session := cs[httpadapter.SessionCookieSecure]
	require.NotNil(t, session)
	require.True(t, session.Secure)
	require.Equal(t, "/", session.Path)
	require.NotContains(t, cs, httpadapter.SessionCookieInsecure)

	get := func(c *http.Cookie) int {
		req := httptest.NewRequest(http.MethodGet, "https://example.com/passkeys/session", nil)
		req.AddCookie(c)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code
	}
	require.Equal(t, http.StatusOK, get(session))
	planted := *session
	planted.Name = httpadapter.SessionCookieInsecure
	require.Equal(t, http.StatusUnauthorized, get(&planted), "unprefixed cookie ignored on https")
}

func TestContentType(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "application/jsonx", "text/json", "application/json;;"} {
		for _, path := range []string{"/registration/begin", "/registration/finish", "/login/begin", "/login/finish"} {
			hdr := map[string]string{"Content-Type": ct}
			if ct == "" {
				hdr["Content-Type"] = "-"
			}
			r := b.raw(http.MethodPost, b.base+path, []byte(`{}`), hdr)
			require.Equal(t, http.StatusUnsupportedMediaType, r.status, "%q %s: %s", ct, path, r)
			require.Equal(t, "unsupported_media_type", r.code())
		}
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8", "application/json;charset=\"utf-8\""} {
		r := b.raw(http.MethodPost, b.base+"/login/begin", []byte(`{}`), map[string]string{"Content-Type": ct})
		require.Equal(t, http.StatusOK, r.status, "%q: %s", ct, r)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	cases := []struct{ method, path, allow string }{
		{http.MethodGet, "/registration/begin", "POST"},
		{http.MethodPut, "/registration/finish", "POST"},
		{http.MethodGet, "/login/begin", "POST"},
		{http.MethodDelete, "/login/finish", "POST"},
		{http.MethodOptions, "/login/finish", "POST"},
		{http.MethodPost, "/credentials", "GET, HEAD"},
		{http.MethodPut, "/credentials/AAAA", "PATCH, DELETE"},
		{http.MethodGet, "/credentials/AAAA", "PATCH, DELETE"},
		{http.MethodPost, "/session", "GET, HEAD"},
		{http.MethodGet, "/logout", "POST"},
		{http.MethodPost, "/client.js", "GET, HEAD"},
		{http.MethodGet, "/link/start", "POST"},
		{http.MethodGet, "/link/poll", "POST"},
		{http.MethodGet, "/link/lookup", "POST"},
		{http.MethodPut, "/link/approve", "POST"},
		{http.MethodDelete, "/link/deny", "POST"},
	}
	for _, c := range cases {
		r := b.raw(c.method, b.base+c.path, nil, nil)
		require.Equal(t, http.StatusMethodNotAllowed, r.status, "%s %s: %s", c.method, c.path, r)
		require.Equal(t, c.allow, r.header.Get("Allow"), "%s %s", c.method, c.path)
		require.Equal(t, "method_not_allowed", r.code())
	}
	r := b.raw(http.MethodPost, e.srv.URL+"/.well-known/webauthn", nil, nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)

	r = b.raw(http.MethodGet, b.base+"/nope", nil, nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, "not_found", r.code())
	r = b.raw(http.MethodGet, b.base+"/", nil, nil)
	require.Equal(t, http.StatusNotFound, r.status)
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	big := append([]byte(`{"username":"`), bytes.Repeat([]byte("a"), httpadapter.DefaultMaxBodyBytes)...)
	big = append(big, `"}`...)
	for _, path := range []string{"/registration/begin", "/registration/finish", "/login/begin", "/login/finish"} {
		r := b.raw(http.MethodPost, b.base+path, big, map[string]string{"Content-Type": "application/json"})
		require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%s: %s", path, r)
		require.Equal(t, "request_too_large", r.code())
	}
	// Without Content-Length (chunked), the cap still holds.
	req, err := http.NewRequest(http.MethodPost, b.base+"/login/finish", io.MultiReader(bytes.NewReader(big)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", e.origin)
	res, err := b.c.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)

	// A smaller configured cap.
	small := newEnv(t, func(c *envConfig) { c.opts.MaxBodyBytes = 100 })
	sb := small.browser()
	r := sb.post("/login/begin", map[string]string{"username": strings.Repeat("b", 120)})
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	require.Equal(t, http.StatusOK, sb.post("/login/begin", map[string]string{"username": "b"}).status)
}

func TestCrossOrigin(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")
	id := credentialIDs(b.call(http.MethodGet, "/credentials", nil))[0]
	// A pending ceremony must survive cross-origin attempts on its finish.
	resp := b.loginResponse(map[string]any{})

	endpoints := []struct{ method, path, body string }{
		{http.MethodPost, "/registration/begin", `{"username":"x"}`},
		{http.MethodPost, "/registration/begin", `{}`},
		{http.MethodPost, "/registration/finish", `{}`},
		{http.MethodPost, "/login/begin", `{}`},
		{http.MethodPost, "/login/finish", string(resp)},
		{http.MethodPatch, "/credentials/" + id, `{"name":"pwned"}`},
		{http.MethodDelete, "/credentials/" + id, `{}`},
		{http.MethodPost, "/logout", `{}`},
		{http.MethodGet, "/session", ``},
		{http.MethodGet, "/credentials", ``},
		{http.MethodPost, "/link/start", `{}`},
		{http.MethodPost, "/link/poll", `{}`},
		{http.MethodPost, "/link/lookup", `{"code":"AAAAA-AAAAA"}`},
		{http.MethodPost, "/link/approve", `{"linkId":"x"}`},
		{http.MethodPost, "/link/deny", `{"linkId":"x"}`},
	}
	bad := []map[string]string{
		{"Origin": "https://evil.example"},
		{"Origin": "null"},
		{"Origin": "http://127.0.0.1:1"},
		{"Origin": "http://localhost"},
		{"Origin": e.origin + ".evil.example"},
	}
	for _, ep := range endpoints {
		for _, hdr := range bad {
			h := map[string]string{"Content-Type": "application/json"}
			for k, v := range hdr {
				h[k] = v
			}
			req, err := http.NewRequest(ep.method, b.base+ep.path, strings.NewReader(ep.body))
			require.NoError(t, err)
			for k, v := range h {
				req.Header.Set(k, v)
			}
			res, err := b.c.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			require.Equal(t, http.StatusForbidden, res.StatusCode, "%s %s %v: %s", ep.method, ep.path, hdr, body)
			require.Contains(t, string(body), `"forbidden_origin"`)
			require.Empty(t, res.Header.Values("Set-Cookie"), "a refused request changes no cookie")
		}
		if ep.method == http.MethodGet {
			continue
		}
		for _, site := range []string{"cross-site", "same-site"} {
			r := b.raw(ep.method, b.base+ep.path, []byte(ep.body), map[string]string{"Origin": "-", "Sec-Fetch-Site": site, "Content-Type": "application/json"})
			require.Equal(t, http.StatusForbidden, r.status, "%s %s %s: %s", ep.method, ep.path, site, r)
		}
	}
	// Nothing changed: the passkey is still there under its name, alice is
	// still signed in, and the pending login finishes.
	r := b.call(http.MethodGet, "/credentials", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.NotEqual(t, "pwned", r.json["credentials"].([]any)[0].(map[string]any)["name"])
	r = b.post("/login/finish", resp)
	require.Equal(t, http.StatusOK, r.status, r.String())

	// Same-origin fetches without Origin (Sec-Fetch-Site only), and
	// non-browser clients (neither header), are served.
	for _, site := range []string{"same-origin", "none", "-"} {
		r := b.raw(http.MethodPost, b.base+"/login/begin", []byte(`{}`), map[string]string{"Origin": "-", "Sec-Fetch-Site": site, "Content-Type": "application/json"})
		require.Equal(t, http.StatusOK, r.status, "%s: %s", site, r)
	}
	// Origin is compared case-insensitively (browsers send it lower-case).
	r = b.raw(http.MethodPost, b.base+"/login/begin", []byte(`{}`), map[string]string{"Origin": strings.ToUpper(e.origin), "Content-Type": "application/json"})
	require.Equal(t, http.StatusOK, r.status)
}

// garbage are malformed bodies for every JSON endpoint.
func garbage(validReg, validLogin []byte) map[string][]byte {
	enc := base64.RawURLEncoding.EncodeToString
	cd := func(s string) string { return enc([]byte(s)) }
	nested := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	return map[string][]byte{
		"empty":                  {},
		"whitespace":             []byte("  \n\t "),
		"not JSON":               []byte("hello"),
		"JSON array":             []byte(`[1,2,3]`),
		"JSON null":              []byte(`null`),
		"JSON string":            []byte(`"public-key"`),
		"JSON number":            []byte(`42`),
		"truncated object":       []byte(`{"id":`),
		"unterminated":           []byte(`{"id":"AAAA","response":{"clientDataJSON":"`),
		"huge number":            []byte(`{"id": 1e999999, "username": 1e999999}`),
		"huge integer":           []byte(`{"rawId": 123456789012345678901234567890123456789, "conditional": 99999999999999999999}`),
		"wrong types":            []byte(`{"id": 5, "rawId": [1], "type": {}, "response": "x", "username": true, "name": [], "conditional": "yes"}`),
		"invalid UTF-8":          []byte("{\"username\":\"\xff\xfe\",\"name\":\"\xc0\"}"),
		"BOM":                    append([]byte("\xef\xbb\xbf"), `{}`...),
		"deep nesting":           []byte(nested),
		"trailing data":          append(append([]byte{}, validLogin...), []byte(`{"x":1}`)...),
		"truncated registration": validReg[:len(validReg)/2],
		"truncated login":        validLogin[:len(validLogin)/2],
		"base64 garbage":         []byte(`{"id":"!!!","rawId":"@@@","type":"public-key","response":{"clientDataJSON":"***","authenticatorData":"$$$","signature":"%%%","attestationObject":"^^^"}}`),
		"base64 of junk":         []byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"AAAA","authenticatorData":"AAAA","signature":"AAAA","attestationObject":"AAAA","userHandle":"AAAA"}}`),
		"clientData wrong types": []byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"` +
			cd(`{"type":5,"challenge":{},"origin":[]}`) + `","authenticatorData":"AAAA","signature":"AAAA","attestationObject":"AAAA"}}`),
		"CBOR length bomb": []byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"` +
			cd(`{"type":"webauthn.create","challenge":"AAAA","origin":"http://x"}`) + `","attestationObject":"` +
			enc([]byte{0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x63, 'f', 'm', 't'}) + `"}}`),
		"CBOR nesting": []byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"` +
			cd(`{"type":"webauthn.create","challenge":"AAAA","origin":"http://x"}`) + `","attestationObject":"` +
			enc(bytes.Repeat([]byte{0x81}, 100000)) + `"}}`),
		"unknown fields":        []byte(`{"username":"x","admin":true}`),
		"huge string field":     []byte(`{"username":"` + strings.Repeat("ü", 20000) + `","name":"` + strings.Repeat("x", 5000) + `"}`),
		"control chars":         []byte(`{"username":"a\u0000b","displayName":"\u001b[31m","name":"\u202e"}`),
		"registration as login": validReg,
		"login as registration": validLogin,
	}
}

func TestGarbageBodies(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	validReg := b.registerResponse(map[string]string{"username": "template"})
	validLogin := func() []byte {
		dev := e.browser()
		dev.mustSignUp("someone")
		return dev.loginResponse(map[string]any{})
	}()
	signedIn := e.browser()
	signedIn.mustSignUp("alice")
	id := credentialIDs(signedIn.call(http.MethodGet, "/credentials", nil))[0]

	for name, body := range garbage(validReg, validLogin) {
		t.Run(name, func(t *testing.T) {
			check := func(who *browser, method, path string) {
				t.Helper()
				r := who.raw(method, who.base+path, body, map[string]string{"Content-Type": "application/json"})
				require.GreaterOrEqual(t, r.status, 400, "%s %s: %s", method, path, r)
				require.Less(t, r.status, 500, "%s %s: %s", method, path, r)
			}
			for _, who := range []*browser{b, signedIn} {
				if name != "login as registration" && name != "registration as login" {
					check(who, http.MethodPost, "/registration/begin")
					check(who, http.MethodPost, "/login/begin")
				}
				// Finish with a live ceremony, so the body reaches the parser.
				require.Equal(t, http.StatusOK, who.post("/registration/begin", map[string]string{"username": "g" + strings.ReplaceAll(strings.ToLower(name), " ", "")}).status)
				check(who, http.MethodPost, "/registration/finish")
				require.Equal(t, http.StatusOK, who.post("/login/begin", map[string]any{}).status)
				check(who, http.MethodPost, "/login/finish")
			}
			if name != "empty" && name != "whitespace" {
				check(signedIn, http.MethodDelete, "/credentials/"+id)
			}
			check(signedIn, http.MethodPatch, "/credentials/"+id)
		})
	}
	// Still serving, and nothing was damaged.
	r := signedIn.call(http.MethodGet, "/credentials", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, []string{id}, credentialIDs(r))
	fresh := e.browser()
	fresh.mustSignUp("after")
	require.Equal(t, http.StatusOK, fresh.login(map[string]string{"username": "after"}).status)
}

func TestSessionCookieTampering(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustSignUp("alice")
	good := b.cookie(httpadapter.SessionCookieInsecure).Value
	raw, err := base64.RawURLEncoding.DecodeString(good)
	require.NoError(t, err)

	flip := func(i int) string {
		c := append([]byte{}, raw...)
		c[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(c)
	}
	other := e.browser()
	other.mustSignUp("bob")
	bobRaw, _ := base64.RawURLEncoding.DecodeString(other.cookie(httpadapter.SessionCookieInsecure).Value)
	// alice's MAC on bob's payload.
	spliced := append(append([]byte{}, bobRaw[:len(bobRaw)-32]...), raw[len(raw)-32:]...)

	bad := map[string]string{
		"flipped expiry": flip(0),
		"flipped handle": flip(10),
		"flipped mac":    flip(len(raw) - 1),
		"truncated":      good[:len(good)-4],
		"extended":       good + "AAAA",
		"empty":          "",
		"not base64":     "!!!!",
		"padded":         good + "==",
		"spliced":        base64.RawURLEncoding.EncodeToString(spliced),
		"mac only":       base64.RawURLEncoding.EncodeToString(raw[len(raw)-32:]),
		"huge":           strings.Repeat("A", 4000),
		"random":         base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 72)),
	}
	for name, v := range bad {
		t.Run(name, func(t *testing.T) {
			tb := e.browser()
			tb.setCookie(httpadapter.SessionCookieInsecure, v, "/")
			r := tb.call(http.MethodGet, "/session", nil)
			require.Equal(t, http.StatusUnauthorized, r.status, r.String())
			require.Equal(t, "not_signed_in", r.code())
			require.Equal(t, http.StatusUnauthorized, tb.raw(http.MethodGet, e.srv.URL+"/me", nil, nil).status)
			require.Equal(t, http.StatusUnauthorized, tb.post("/registration/begin", map[string]any{}).status)
		})
	}

	// The untouched cookie works in another browser (it is a bearer token)...
	tb := e.browser()
	tb.setCookie(httpadapter.SessionCookieInsecure, good, "/")
	require.Equal(t, http.StatusOK, tb.call(http.MethodGet, "/session", nil).status)
	// ...until it expires.
	e.clock.Advance(12*time.Hour + time.Second)
	r := tb.call(http.MethodGet, "/session", nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/credentials", nil).status)

	// A cookie signed with another secret is refused.
	e2 := newEnv(t, func(c *envConfig) { c.opts.SessionSecret = bytes.Repeat([]byte{1}, 32) })
	tb2 := e2.browser()
	tb2.setCookie(httpadapter.SessionCookieInsecure, good, "/")
	require.Equal(t, http.StatusUnauthorized, tb2.call(http.MethodGet, "/session", nil).status)
}

func TestClientJS(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	r := b.call(http.MethodGet, "/client.js", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "text/javascript; charset=utf-8", r.header.Get("Content-Type"))
	require.Equal(t, "public, max-age=3600", r.header.Get("Cache-Control"))
	require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
	etag := r.header.Get("ETag")
	require.Regexp(t, `^"[0-9a-f]{32}"$`, etag)
	require.Contains(t, string(r.body), "global.webauthnkit = Object.freeze(")

	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r := b.raw(http.MethodGet, b.base+"/client.js", nil, map[string]string{"If-None-Match": inm})
		require.Equal(t, http.StatusNotModified, r.status, inm)
		require.Empty(t, r.body)
		require.Equal(t, etag, r.header.Get("ETag"))
	}
	r = b.raw(http.MethodGet, b.base+"/client.js", nil, map[string]string{"If-None-Match": `"stale"`})
	require.Equal(t, http.StatusOK, r.status)
	r = b.raw(http.MethodHead, b.base+"/client.js", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Empty(t, r.body)
}

func TestClientJSSyntax(t *testing.T) {
	node := nodeBinary(t)
	out, err := exec.Command(node, "--check", filepath.Join(".", "client.js")).CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// The well-known document is the RelyingParty's Config.RelatedOrigins: the
// origins whose ceremonies verify (TestRelatedOriginCeremonies in the core).
func TestWellKnown(t *testing.T) {
	e := newEnv(t, func(c *envConfig) {
		c.rpCfg = func(cfg *webauthnkit.Config) {
			cfg.RelatedOrigins = []string{"https://example.co.uk", "https://EXAMPLE.de"}
		}
	})
	b := e.browser()
	r := b.raw(http.MethodGet, e.srv.URL+"/.well-known/webauthn", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.JSONEq(t, `{"origins":["https://example.co.uk","https://example.de"]}`, string(r.body))
	var doc struct{ Origins []string }
	require.NoError(t, json.Unmarshal(r.body, &doc))
	require.Equal(t, e.rp.RelatedOrigins(), doc.Origins, "served list = the config's")

	// Options.RelatedOrigins may narrow it to origins the RP accepts.
	narrow := newEnv(t, func(c *envConfig) {
		c.rpCfg = func(cfg *webauthnkit.Config) {
			cfg.RelatedOrigins = []string{"https://example.co.uk", "https://example.de"}
		}
		c.opts.RelatedOrigins = []string{"https://example.de"}
	})
	r = narrow.browser().raw(http.MethodGet, narrow.srv.URL+"/.well-known/webauthn", nil, nil)
	require.JSONEq(t, `{"origins":["https://example.de"]}`, string(r.body))

	none := newEnv(t)
	r = none.browser().raw(http.MethodGet, none.srv.URL+"/.well-known/webauthn", nil, nil)
	require.Equal(t, http.StatusNotFound, r.status)
}

func TestMiddleware(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	r := b.raw(http.MethodGet, e.srv.URL+"/me", nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "not_signed_in", r.code())
	require.Equal(t, "anonymous", string(b.raw(http.MethodGet, e.srv.URL+"/maybe", nil, nil).body))

	b.mustSignUp("alice")
	require.Equal(t, "hello alice", string(b.raw(http.MethodGet, e.srv.URL+"/me", nil, nil).body))
	require.Equal(t, "user alice", string(b.raw(http.MethodGet, e.srv.URL+"/maybe", nil, nil).body))

	// SignOut from app code.
	w := httptest.NewRecorder()
	require.NoError(t, e.h.SignOut(w, httptest.NewRequest(http.MethodPost, e.srv.URL+"/app/logout", nil)))
	cs := setCookies(w.Header())
	require.Equal(t, -1, cs[httpadapter.SessionCookieInsecure].MaxAge)
	require.Equal(t, -1, cs[httpadapter.SessionCookieSecure].MaxAge)

	// LoadUser then RequireUser loads once; a user in the context is kept.
	_, ok := httpadapter.UserFromContext(context.Background())
	require.False(t, ok)
}

// TestNoSecretsInLogs runs successful and failing ceremonies with debug
// logging and checks that no challenge, cookie value, signature or key
// material appears in the logs.
func TestNoSecretsInLogs(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	var secrets []string
	collect := func(r *response) {
		if c, _ := field(r.json, "publicKey", "challenge").(string); c != "" {
			secrets = append(secrets, c)
		}
		for _, c := range r.header.Values("Set-Cookie") {
			if v := strings.SplitN(strings.SplitN(c, ";", 2)[0], "=", 2)[1]; len(v) > 8 {
				secrets = append(secrets, v)
			}
		}
	}
	responseSecrets := func(resp []byte) {
		var v struct {
			Response map[string]any `json:"response"`
		}
		require.NoError(t, json.Unmarshal(resp, &v))
		for _, k := range []string{"signature", "attestationObject", "publicKey", "authenticatorData"} {
			if s, _ := v.Response[k].(string); s != "" {
				secrets = append(secrets, s)
			}
		}
	}
	begin := b.post("/registration/begin", map[string]string{"username": "alice"})
	collect(begin)
	resp, err := b.dev.Register(b.publicKey(begin))
	require.NoError(t, err)
	responseSecrets(resp)
	r := b.post("/registration/finish", resp)
	require.Equal(t, http.StatusOK, r.status)
	collect(r)

	for _, opt := range []webauthntest.CallOption{nil, webauthntest.BadSignature(), webauthntest.WrongChallenge(), webauthntest.WrongOrigin("https://evil.example"), webauthntest.WrongType()} {
		begin := b.post("/login/begin", map[string]string{"username": "alice"})
		collect(begin)
		resp, err := b.dev.Login(b.publicKey(begin), opt)
		require.NoError(t, err)
		responseSecrets(resp)
		collect(b.post("/login/finish", resp))
	}
	// A tampered session cookie is not logged either.
	tb := e.browser()
	tb.setCookie(httpadapter.SessionCookieInsecure, "tampered-session-value-xyz", "/")
	tb.call(http.MethodGet, "/session", nil)
	secrets = append(secrets, "tampered-session-value-xyz")

	logs := e.logs.String()
	require.NotEmpty(t, logs, "the test must produce logs to be meaningful")
	require.Greater(t, len(secrets), 10)
	for _, s := range secrets {
		require.NotContains(t, logs, s)
	}
}

// TestJSClientWithNode runs client.js in Node (testdata/client_harness.js)
// against this server, with navigator.credentials stubbed by webauthntest
// devices served under /test/device/{name}/{create|get}: both the native
// JSON path (parse*OptionsFromJSON, toJSON) and the manual base64url
// fallback must produce responses the server accepts.
func TestJSClientWithNode(t *testing.T) {
	node := nodeBinary(t)
	var mu sync.Mutex
	devices := map[string]*webauthntest.Authenticator{}
	var origin string // set under mu once the server runs
	e := newEnv(t, func(c *envConfig) {
		c.mount = func(mux *http.ServeMux, h *httpadapter.Handler) {
			mux.Handle("/passkeys/", http.StripPrefix("/passkeys", h))
			mux.HandleFunc("POST /test/device/{name}/{kind}", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				dev := devices[r.PathValue("name")]
				if dev == nil {
					dev = webauthntest.New(webauthntest.WithOrigin(origin))
					devices[r.PathValue("name")] = dev
				}
				mu.Unlock()
				opts, _ := io.ReadAll(r.Body)
				var resp []byte
				var err error
				if r.PathValue("kind") == "create" {
					resp, err = dev.Register(opts)
				} else {
					resp, err = dev.Login(opts)
				}
				if err != nil {
					name := "UnknownError"
					for _, s := range []error{webauthntest.ErrInvalidState, webauthntest.ErrNotAllowed, webauthntest.ErrNotSupported} {
						if errors.Is(err, s) {
							name = s.Error()
						}
					}
					w.WriteHeader(http.StatusBadRequest)
					_ = json.NewEncoder(w).Encode(map[string]string{"name": name, "message": err.Error()})
					return
				}
				_, _ = w.Write(resp)
			})
		}
	})
	mu.Lock()
	origin = e.origin
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, filepath.Join("testdata", "client_harness.js"), "client.js", e.srv.URL).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "ok fallback")
	require.Contains(t, string(out), "ok native")
	require.Contains(t, string(out), "ok errors")
}
