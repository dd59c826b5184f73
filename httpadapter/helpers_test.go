package httpadapter_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

type envConfig struct {
	opts       httpadapter.Options
	rpCfg      func(*webauthnkit.Config)
	mount      func(mux *http.ServeMux, h *httpadapter.Handler)
	noSession  bool // do not set SessionSecret
	allowPanic bool // the test makes app code panic on purpose
	// realLimits: use opts.RateLimit as given. Otherwise the budgets are
	// raised so far that tests sending many requests from one address (the
	// frozen test clock never refills a bucket) are not limited.
	realLimits bool
	storeOpts  []memstore.Option // besides the test clock
	// accounts, if set, builds Options.Accounts once the RP exists.
	accounts func(e *env) *account.Accounts
	// backend, if set, is the store instead of memstore (storeOpts are
	// then ignored): sqlstore or redisstore from internal/backendtest.
	backend *backendtest.Backend
}

// env is a real HTTP server running the adapter over memstore (behind the
// fault injector), with a fake clock and captured logs.
type env struct {
	t      testing.TB
	srv    *httptest.Server
	origin string
	rp     *webauthnkit.RelyingParty
	h      *httpadapter.Handler
	store  *storewrap.Store // fault injector around the memstore
	clock  *clock
	logs   *testenv.SyncBuffer
}

func newEnv(t testing.TB, cfgs ...func(*envConfig)) *env {
	t.Helper()
	var ec envConfig
	for _, c := range cfgs {
		c(&ec)
	}
	e := &env{
		t:     t,
		clock: &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		logs:  &testenv.SyncBuffer{},
	}
	if ec.backend != nil {
		st := ec.backend.Open(t, e.clock.Now)
		e.store = storewrap.New(st, st)
	} else {
		mem, err := memstore.New(append([]memstore.Option{memstore.WithClock(e.clock.Now)}, ec.storeOpts...)...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = mem.Close() })
		e.store = storewrap.New(mem, mem)
	}
	var handler atomic.Pointer[http.Handler]
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.origin = e.srv.URL

	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := webauthnkit.Config{
		RPID:        "localhost",
		RPName:      "Test",
		Origins:     []string{e.origin},
		Credentials: e.store,
		Ceremonies:  e.store,
		Now:         e.clock.Now,
		Logger:      logger,
	}
	if ec.rpCfg != nil {
		ec.rpCfg(&cfg)
	}
	rp, err := webauthnkit.New(cfg)
	require.NoError(t, err)
	e.rp = rp
	opts := ec.opts
	if !ec.noSession && opts.SessionSecret == nil {
		opts.SessionSecret = testSecret
	}
	opts.Logger = logger
	if !ec.realLimits {
		huge := httpadapter.Rate{PerSecond: 1, Burst: 1 << 30}
		opts.RateLimit.Begin, opts.RateLimit.Finish, opts.RateLimit.Manage, opts.RateLimit.Account = huge, huge, huge, huge
		opts.RateLimit.Link = huge
		opts.RateLimit.CeremoniesInFlight = 1 << 40
	}
	if ec.accounts != nil {
		opts.Accounts = ec.accounts(e)
	}
	h, err := httpadapter.New(rp, opts)
	require.NoError(t, err)
	e.h = h

	mux := http.NewServeMux()
	if ec.mount != nil {
		ec.mount(mux, h)
	} else {
		mux.Handle("/passkeys/", http.StripPrefix("/passkeys", h))
		mux.Handle("/.well-known/webauthn", h.WellKnown())
		mux.Handle("/me", h.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok := httpadapter.UserFromContext(r.Context())
			if !ok {
				http.Error(w, "no user in context", http.StatusTeapot)
				return
			}
			fmt.Fprintf(w, "hello %s", u.Name)
		})))
		mux.Handle("/maybe", h.LoadUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, ok := httpadapter.UserFromContext(r.Context()); ok {
				fmt.Fprintf(w, "user %s", u.Name)
				return
			}
			fmt.Fprint(w, "anonymous")
		})))
	}
	var hh http.Handler = mux
	handler.Store(&hh)

	// No client input may reach the panic handler.
	t.Cleanup(func() {
		if !ec.allowPanic && strings.Contains(e.logs.String(), "panic serving request") {
			t.Errorf("a request reached the panic handler:\n%s", e.logs.String())
		}
	})
	return e
}

// browser is an HTTP client with a cookie jar that sends Origin on
// non-GET requests, as a browser's fetch does, and holds a virtual
// authenticator.
type browser struct {
	t      testing.TB
	e      *env
	c      *http.Client
	jar    *cookiejar.Jar
	base   string
	dev    *webauthntest.Authenticator
	header http.Header // extra headers on every request
}

func (e *env) browser(opts ...webauthntest.Option) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	opts = append([]webauthntest.Option{webauthntest.WithOrigin(e.origin)}, opts...)
	return &browser{
		t:      e.t,
		e:      e,
		c:      &http.Client{Jar: jar, Timeout: 30 * time.Second},
		jar:    jar,
		base:   e.srv.URL + "/passkeys",
		dev:    webauthntest.New(opts...),
		header: http.Header{},
	}
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r *response) code() string {
	s, _ := r.json["error"].(string)
	return s
}

func (r *response) String() string {
	return fmt.Sprintf("%d %s", r.status, r.body)
}

// raw sends a request with exactly the given body and headers (plus the
// browser's Origin on non-GET, unless headers set Origin to "-").
func (b *browser) raw(method, url string, body []byte, hdr map[string]string) *response {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(b.t, err)
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Origin", b.e.origin)
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	for k, v := range hdr {
		if v == "-" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	out := &response{status: res.StatusCode, header: res.Header, body: data}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(data) > 0 {
		require.NoError(b.t, json.Unmarshal(data, &out.json), "response: %s", data)
	}
	if res.StatusCode >= 400 && res.StatusCode != http.StatusNotModified && method != http.MethodHead {
		// Every error is JSON with a code and a message.
		require.NotEmpty(b.t, out.code(), "error without code: %s", data)
		require.NotEmpty(b.t, out.json["message"], "error without message: %s", data)
	}
	return out
}

// call sends JSON (or nothing when v is nil) to path under the mount.
func (b *browser) call(method, path string, v any) *response {
	b.t.Helper()
	var body []byte
	hdr := map[string]string{}
	if v != nil {
		switch x := v.(type) {
		case []byte:
			body = x
		case string:
			body = []byte(x)
		default:
			var err error
			body, err = json.Marshal(v)
			require.NoError(b.t, err)
		}
		hdr["Content-Type"] = "application/json"
	}
	return b.raw(method, b.base+path, body, hdr)
}

func (b *browser) post(path string, v any) *response { return b.call(http.MethodPost, path, v) }

// publicKey extracts the options from a begin response.
func (b *browser) publicKey(r *response) []byte {
	b.t.Helper()
	require.Equal(b.t, http.StatusOK, r.status, "begin: %s", r)
	var w struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	require.NoError(b.t, json.Unmarshal(r.body, &w))
	require.NotEmpty(b.t, w.PublicKey)
	return w.PublicKey
}

// registerResponse runs registration/begin with req and returns the
// authenticator's answer (not yet posted).
func (b *browser) registerResponse(req any, opts ...webauthntest.CallOption) []byte {
	b.t.Helper()
	resp, err := b.dev.Register(b.publicKey(b.post("/registration/begin", req)), opts...)
	require.NoError(b.t, err)
	return resp
}

func (b *browser) signUp(name string) *response {
	b.t.Helper()
	return b.post("/registration/finish", b.registerResponse(map[string]string{"username": name, "displayName": strings.ToUpper(name)}))
}

func (b *browser) mustSignUp(name string) *response {
	b.t.Helper()
	r := b.signUp(name)
	require.Equal(b.t, http.StatusOK, r.status, "sign-up: %s", r)
	return r
}

// loginResponse runs login/begin with req and returns the authenticator's
// answer.
func (b *browser) loginResponse(req any, opts ...webauthntest.CallOption) []byte {
	b.t.Helper()
	resp, err := b.dev.Login(b.publicKey(b.post("/login/begin", req)), opts...)
	require.NoError(b.t, err)
	return resp
}

func (b *browser) login(req any, opts ...webauthntest.CallOption) *response {
	b.t.Helper()
	return b.post("/login/finish", b.loginResponse(req, opts...))
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base + "/login/finish")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// setCookie puts a cookie into the jar as the server would have.
func (b *browser) setCookie(name, value, path string) {
	u, _ := url.Parse(b.e.srv.URL + path)
	b.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: path}})
}

// setCookies parses the Set-Cookie lines of a response.
func setCookies(h http.Header) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		out[c.Name] = c
	}
	return out
}

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// field walks a decoded JSON object: field(m, "user", "name").
func field(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[p]
	}
	return v
}

func credentialIDs(r *response) []string {
	var ids []string
	list, _ := r.json["credentials"].([]any)
	for _, c := range list {
		ids = append(ids, c.(map[string]any)["id"].(string))
	}
	return ids
}
