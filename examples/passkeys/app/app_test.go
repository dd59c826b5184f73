package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

var (
	postgresDSN = testenv.PostgresDSN()
	mysqlDSN    = testenv.MySQLDSN()
	redisAddr   = testenv.RedisAddr()
)

// testApp is the app served by httptest on http://127.0.0.1:<port>.
type testApp struct {
	URL    string
	srv    *httptest.Server
	closer io.Closer
}

// start serves the app built from cfg (Origins set to the server's URL).
func start(t *testing.T, cfg app.Config) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	a := &testApp{URL: "http://" + srv.Listener.Addr().String(), srv: srv}
	cfg.Origins = []string{a.URL}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h, closer, err := app.New(cfg)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	a.closer = closer
	t.Cleanup(a.stop)
	return a
}

func (a *testApp) stop() {
	a.srv.Close()
	_ = a.closer.Close()
}

// browser is an HTTP client with a cookie jar and a software
// authenticator, doing what the pages' JavaScript does.
type browser struct {
	t      *testing.T
	app    *testApp
	client *http.Client
	device *webauthntest.Authenticator
}

func newBrowser(t *testing.T, a *testApp) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{
		t:   t,
		app: a,
		client: &http.Client{
			Jar:           jar,
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		device: webauthntest.New(webauthntest.WithOrigin(a.URL)),
	}
}

// do sends a request as a same-origin page would and returns the status,
// the body and the Location header.
func (b *browser) do(method, path, contentType string, body []byte, origin string) (int, string, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.app.URL+path, bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data), res.Header.Get("Location")
}

func (b *browser) get(path string) (int, string, string) {
	b.t.Helper()
	return b.do(http.MethodGet, path, "", nil, "")
}

// api posts JSON to the adapter and fails unless it answers 200.
func (b *browser) api(path string, body []byte) []byte {
	b.t.Helper()
	status, data, _ := b.do(http.MethodPost, "/passkeys/"+path, "application/json", body, b.app.URL)
	if status != http.StatusOK {
		b.t.Fatalf("POST /passkeys/%s = %d %s", path, status, data)
	}
	return []byte(data)
}

func (b *browser) signUp(username, displayName string) {
	b.t.Helper()
	req, _ := json.Marshal(map[string]string{"username": username, "displayName": displayName})
	resp, err := b.device.Register(b.api("registration/begin", req))
	if err != nil {
		b.t.Fatal(err)
	}
	b.api("registration/finish", resp)
}

func (b *browser) signIn(username string) {
	b.t.Helper()
	req := []byte(`{}`)
	if username != "" {
		req, _ = json.Marshal(map[string]string{"username": username})
	}
	resp, err := b.device.Login(b.api("login/begin", req))
	if err != nil {
		b.t.Fatal(err)
	}
	b.api("login/finish", resp)
}

func (b *browser) signOut() {
	b.t.Helper()
	status, _, loc := b.do(http.MethodPost, "/signout", "application/x-www-form-urlencoded", nil, b.app.URL)
	if status != http.StatusSeeOther || loc != "/?notice=signedout" {
		b.t.Fatalf("POST /signout = %d to %q, want 303 to /?notice=signedout", status, loc)
	}
}

// accountPage returns the account page, failing unless it is served.
func (b *browser) accountPage() string {
	b.t.Helper()
	status, body, loc := b.get("/account")
	if status != http.StatusOK {
		b.t.Fatalf("GET /account = %d (to %q), want 200", status, loc)
	}
	return body
}

func (b *browser) wantSignedOut() {
	b.t.Helper()
	if status, _, loc := b.get("/account"); status != http.StatusSeeOther || loc != "/" {
		b.t.Fatalf("GET /account = %d to %q, want 303 to /", status, loc)
	}
}

// journey is what every configuration must support: sign up, see the
// account page, sign out, sign in both ways, add a passkey.
func journey(t *testing.T, a *testApp) {
	b := newBrowser(t, a)
	b.wantSignedOut()
	b.signUp("Alice", "Alice Liddell")
	page := b.accountPage()
	for _, want := range []string{"Alice Liddell", "@alice", "1 passkey", "This device only", "Not used yet"} {
		if !strings.Contains(page, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	b.signOut()
	b.wantSignedOut()
	b.signIn("alice")
	if page := b.accountPage(); !strings.Contains(page, "Last used just now") {
		t.Error("account page does not show the sign-in as last use")
	}
	b.signOut()
	b.signIn("")
	b.accountPage()

	// A second passkey (a synced one) for the signed-in account.
	b.device = webauthntest.New(webauthntest.WithOrigin(a.URL), webauthntest.SyncedPasskey())
	resp, err := b.device.Register(b.api("registration/begin", []byte(`{"name":"Phone"}`)))
	if err != nil {
		t.Fatal(err)
	}
	b.api("registration/finish", resp)
	page = b.accountPage()
	for _, want := range []string{"2 passkeys", "Phone", "Synced"} {
		if !strings.Contains(page, want) {
			t.Errorf("account page lacks %q after adding a passkey", want)
		}
	}

	// Someone else cannot take the name.
	other := newBrowser(t, a)
	req := []byte(`{"username":"ALICE"}`)
	if status, body, _ := other.do(http.MethodPost, "/passkeys/registration/begin", "application/json", req, a.URL); status != http.StatusConflict || !strings.Contains(body, "username_taken") {
		t.Errorf("sign-up with a taken name = %d %s, want 409 username_taken", status, body)
	}
}

func TestJourneyMemory(t *testing.T) {
	journey(t, start(t, app.Config{}))
}

func TestJourneySQLite(t *testing.T) {
	dir := t.TempDir()
	journey(t, start(t, app.Config{SQLitePath: filepath.Join(dir, "passkeys.db"), SessionSecretFile: filepath.Join(dir, "secret"), WebauthnSecretFile: filepath.Join(dir, "webauthn-secret")}))
}

// uniquePrefix keeps this test's tables and keys apart from others sharing
// the server.
func uniquePrefix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "pkexample_" + hex.EncodeToString(b) + "_"
}

func sqlServer(t *testing.T, name, driver, dsn string, dialect sqlstore.Dialect) (prefix string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		addr := testenv.PostgresAddr(dsn) // the address, not the DSN: it may hold a password
		if driver == "mysql" {
			addr = testenv.MySQLAddr(dsn)
		}
		testenv.Unavailable(t, name, addr, err, "bash scripts/services.sh")
	}
	prefix = uniquePrefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sqlstore.MigrateDown(ctx, db, dialect, sqlstore.WithTablePrefix(prefix)); err != nil {
			t.Errorf("dropping the %s tables: %v", prefix, err)
		}
		db.Close()
	})
	return prefix
}

func TestJourneyPostgres(t *testing.T) {
	prefix := sqlServer(t, "PostgreSQL", "pgx", postgresDSN, sqlstore.Postgres)
	journey(t, start(t, app.Config{PostgresDSN: postgresDSN, StorePrefix: prefix, WebauthnSecret: testWebauthnSecret}))
}

func TestJourneyMySQL(t *testing.T) {
	prefix := sqlServer(t, "MariaDB/MySQL", "mysql", mysqlDSN, sqlstore.MySQL)
	journey(t, start(t, app.Config{MySQLDSN: mysqlDSN, StorePrefix: prefix, WebauthnSecret: testWebauthnSecret}))
}

func TestJourneyRedisCeremonies(t *testing.T) {
	testenv.RequireRedis(t)
	journey(t, start(t, app.Config{RedisAddr: redisAddr, StorePrefix: uniquePrefix(), WebauthnSecret: testWebauthnSecret}))
}

// A redis:// URL works as well as host:port.
func TestJourneyRedisURL(t *testing.T) {
	testenv.RequireRedis(t)
	journey(t, start(t, app.Config{RedisAddr: "redis://" + redisAddr + "/0", StorePrefix: uniquePrefix(), WebauthnSecret: testWebauthnSecret}))
}

func TestPages(t *testing.T) {
	a := start(t, app.Config{})
	b := newBrowser(t, a)
	for _, c := range []struct {
		path, want string
		status     int
	}{
		{"/", `autocomplete="username webauthn"`, http.StatusOK},
		{"/", `id="passkey-signin"`, http.StatusOK},
		{"/", `role="alert" aria-live="assertive"`, http.StatusOK},
		{"/signup", `id="signup-form"`, http.StatusOK},
		{"/static/app.css", ":focus-visible", http.StatusOK},
		{"/static/app.js", "unknown_credential", http.StatusOK},
		{"/passkeys/client.js", "window.webauthnkit", http.StatusOK},
		{"/nowhere", "nothing at this address", http.StatusNotFound},
		{"/?notice=signedout", "You’re signed out.", http.StatusOK},
	} {
		status, body, _ := b.get(c.path)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("GET %s = %d, want %d with %q", c.path, status, c.status, c.want)
		}
	}
	// Notices are fixed messages, never text from the URL.
	if _, body, _ := b.get("/?notice=%3Cscript%3Ealert(1)%3C/script%3E"); strings.Contains(body, "alert(1)") {
		t.Error("the notice parameter is reflected into the page")
	}

	res, err := http.Get(a.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
}

// Nothing in the pages may come from another origin.
func TestNoExternalResources(t *testing.T) {
	a := start(t, app.Config{})
	b := newBrowser(t, a)
	b.signUp("alice", "")
	pages := map[string]string{"/account": b.accountPage()}
	b.signOut()
	for _, path := range []string{"/", "/signup", "/static/app.css", "/static/app.js"} {
		_, pages[path], _ = b.get(path)
	}
	for path, body := range pages {
		for _, bad := range []string{"http://", "https://", "//fonts.", "@import"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
}

func TestSignOutRefusesCrossSite(t *testing.T) {
	a := start(t, app.Config{})
	b := newBrowser(t, a)
	b.signUp("alice", "")
	if status, _, _ := b.do(http.MethodPost, "/signout", "application/x-www-form-urlencoded", nil, "https://evil.example"); status != http.StatusForbidden {
		t.Errorf("cross-site sign-out = %d, want 403", status)
	}
	b.accountPage() // still signed in
	if status, _, _ := b.get("/signout"); status != http.StatusNotFound {
		t.Errorf("GET /signout = %d, want 404 (signing out takes a POST)", status)
	}
	b.accountPage()
}

// With a secret file, sessions survive a restart; without any secret, they
// do not.
func TestSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := app.Config{SQLitePath: filepath.Join(dir, "passkeys.db"), SessionSecretFile: filepath.Join(dir, "passkeys.db.secret"), WebauthnSecretFile: filepath.Join(dir, "passkeys.db.webauthn-secret")}
	a := start(t, cfg)
	b := newBrowser(t, a)
	b.signUp("alice", "")
	fi, err := os.Stat(cfg.SessionSecretFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	a.stop()

	// Same address, so the cookie jar sends the session cookie again.
	a2 := restart(t, a, cfg)
	b.app = a2
	b.accountPage()
}

// restart serves the app again on the address of a (which was stopped).
func restart(t *testing.T, a *testApp, cfg app.Config) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener.Close()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", strings.TrimPrefix(a.URL, "http://"))
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", a.URL, err)
	}
	srv.Listener = l
	cfg.Origins = []string{a.URL}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h, closer, err := app.New(cfg)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	a2 := &testApp{URL: a.URL, srv: srv, closer: closer}
	t.Cleanup(a2.stop)
	return a2
}

func TestSecretValidation(t *testing.T) {
	if _, _, err := app.New(app.Config{SessionSecret: []byte("short")}); err == nil {
		t.Error("a 5-byte session secret was accepted")
	}
	bad := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(bad, []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := app.New(app.Config{SessionSecretFile: bad}); err == nil || !strings.Contains(err.Error(), "hex") {
		t.Errorf("a malformed secret file gave %v, want an error naming the format", err)
	}
	_, c, err := app.New(app.Config{SessionSecret: []byte("3f9c1a7be20d64c85e1f0a9b7d2c4e61")})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

var testWebauthnSecret = []byte("a4c1e9f03b7d25186e0f9c3a7b5d1e2f")
