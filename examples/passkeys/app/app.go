// Package app is the passkeys example web application: sign-up, sign-in
// (username-first, usernameless and passkey autofill), a page to manage the
// account's passkeys, and sign-out, on plain net/http and html/template with
// webauthnkit's httpadapter and its JavaScript client.
//
// It is a package (and not only a main) so that tests can start the whole
// application in-process:
//
//	h, closer, err := app.New(app.Config{SQLitePath: "passkeys.db"})
//	...
//	defer closer.Close()
//	http.ListenAndServe("localhost:8080", h)
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/audit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/mail"
	"github.com/webauthnkit/webauthnkit/webauthnotel"
)

// Config configures the application. The zero value runs on
// http://localhost:8080 with everything in memory.
type Config struct {
	// RPID is the WebAuthn relying party ID. Default "localhost".
	RPID string
	// Origins are the web origins the pages are served from. Default
	// "http://localhost:8080".
	Origins []string
	// AppName is shown in the pages and by authenticators. Default
	// "Passkeys demo".
	AppName string

	// Credential store: PostgresDSN, else MySQLDSN, else SQLitePath, else
	// memory (lost when the process ends).
	PostgresDSN string
	MySQLDSN    string
	SQLitePath  string

	// StorePrefix, if set, names the SQL tables (sqlstore.WithTablePrefix:
	// lower-case letters, digits and underscores) and prefixes the Redis keys
	// (redisstore.WithKeyPrefix), so that several apps, or test runs, can
	// share one database. Default: the stores' defaults ("webauthnkit_",
	// "webauthnkit:").
	StorePrefix string

	// DBConns sizes the SQL connection pool: at most this many open, and as
	// many kept idle, so that a burst does not open and close connections
	// per request (database/sql keeps only 2 idle by default). Default 16.
	DBConns int

	// RedisAddr, when set, keeps ceremonies (the state between begin and
	// finish) in Redis, so several processes can serve one sign-in: a
	// host:port, or a URL with credentials, database and TLS:
	// redis://user:password@host:6379/0, rediss://... (redis.ParseURL).
	// Default: in the process (memstore).
	RedisAddr string
	// RedisCluster, instead of RedisAddr, keeps ceremonies in a Redis
	// Cluster: the host:port of some of its nodes. Default: none.
	RedisCluster []string
	// RedisSentinel, instead of RedisAddr, keeps ceremonies in a Redis
	// behind Sentinel: "master-name@host:port,host:port" (the sentinels).
	// Default: none.
	RedisSentinel string
	// RedisReplicaAck, if positive, acknowledges a Redis write only once
	// this many replicas have it (redisstore.WithReplicaAck, 500 ms
	// timeout), so a failover cannot undo a used ceremony. Default 0.
	RedisReplicaAck int

	// SessionSecret (at least 32 bytes, not weak: see checkSecretStrength)
	// signs the session cookie. If empty, it is read from SessionSecretFile,
	// which is created (mode 0600) with a random secret if missing and
	// refused if other users may read it. If both are empty, a random
	// secret is made for this run (everyone is signed out at restart).
	SessionSecret     []byte
	SessionSecretFile string

	// WebauthnSecret is webauthnkit's Config.Secret (fake credential IDs
	// for unknown usernames, ceremony record MACs), the same rules as
	// SessionSecret; else WebauthnSecretFile, loaded or created like
	// SessionSecretFile. Every process sharing the stores must use the same
	// one, so one of the two is required when users or ceremonies are kept
	// outside the process (PostgresDSN, MySQLDSN, SQLitePath, RedisAddr).
	// With everything in memory it defaults to a key derived from the
	// session secret.
	WebauthnSecret     []byte
	WebauthnSecretFile string

	// SealKeys, a sealstore keyring as JSON (sealstore.KeyringFile), seals
	// what the stores keep about people: names, display names, emails,
	// passkey names and details encrypted (AES-256-GCM), public keys bound
	// to their accounts, lookups by blind index, ceremony records sealed
	// (package sealstore, docs/privacy.md). Else SealKeyringFile, loaded,
	// or created (mode 0600) on first run; refused if other users may read
	// it, and refused when it is missing but the database already holds
	// accounts stored in clear. If both are empty (the default), nothing is
	// sealed. Every process sharing the stores needs the same keyring.
	SealKeys        []byte
	SealKeyringFile string

	// RateLimit configures the adapter's rate limiting (httpadapter's
	// defaults when zero: on). With RedisAddr, RateLimit.Shared defaults to
	// a redisstore.RateLimiter on that Redis, so instances share budgets.
	RateLimit httpadapter.RateLimit
	// StoreTimeout is the deadline of each request's store work
	// (httpadapter's Options.StoreTimeout): a hung store answers 503 after
	// this long. Default 0: httpadapter.DefaultStoreTimeout (2 s).
	StoreTimeout time.Duration

	// Mailer sends the sign-up, recovery and notification mails. Default:
	// mail.NewDevelopment on Logger, which sends nothing and logs each
	// message with its code (development only).
	Mailer mail.Mailer
	// AccountsMinStartDuration is account.Config.MinStartDuration, the least
	// time a sign-up or recovery start takes (so that a real account does not
	// answer slower than an unknown one). Default 1 s; negative disables.
	AccountsMinStartDuration time.Duration

	// Telemetry, if set, records OpenTelemetry metrics and spans (package
	// webauthnotel): the stores are wrapped, and the events and rate-limit
	// refusals reported. Default nil.
	Telemetry *webauthnotel.Telemetry
	// AuditLog, if set, receives one line per security event (package
	// audit). Default nil.
	AuditLog *audit.Logger
	// Attestation is webauthnkit's Config.Attestation (docs/attestation.md).
	// Default: off.
	Attestation webauthnkit.AttestationPolicy

	// Logger receives access and diagnostic logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// MinSecretLength is the minimum length of Config.SessionSecret.
const MinSecretLength = 32

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

type server struct {
	cfg     Config
	acc     *account.Accounts
	log     *slog.Logger
	rp      *webauthnkit.RelyingParty
	h       *httpadapter.Handler
	pages   map[string]*template.Template
	origins map[string]bool
	static  http.Handler
}

// New builds the application: it opens the stores (creating the SQL schema
// if needed), the relying party and the HTTP adapter, and returns the
// handler to serve and a Closer that releases the stores.
func New(cfg Config) (http.Handler, io.Closer, error) {
	redisSettings := 0
	for _, set := range []bool{cfg.RedisAddr != "", len(cfg.RedisCluster) > 0, cfg.RedisSentinel != ""} {
		if set {
			redisSettings++
		}
	}
	if redisSettings > 1 {
		return nil, nil, errors.New("app: set one of RedisAddr, RedisCluster and RedisSentinel")
	}
	if cfg.RPID == "" {
		cfg.RPID = "localhost"
	}
	if len(cfg.Origins) == 0 {
		cfg.Origins = []string{"http://localhost:8080"}
	}
	if cfg.AppName == "" {
		cfg.AppName = "Passkeys demo"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger

	secret, err := loadSecret("session secret", cfg.SessionSecret, cfg.SessionSecretFile, log)
	if err != nil {
		return nil, nil, err
	}
	webauthnSecret := derive(secret, "fake credential IDs")
	shared := cfg.PostgresDSN != "" || cfg.MySQLDSN != "" || cfg.SQLitePath != "" || cfg.usesRedis()
	switch {
	case len(cfg.WebauthnSecret) > 0 || cfg.WebauthnSecretFile != "":
		webauthnSecret, err = loadSecret("webauthnkit secret", cfg.WebauthnSecret, cfg.WebauthnSecretFile, log)
		if err != nil {
			return nil, nil, err
		}
	case shared:
		return nil, nil, errors.New("app: with users or ceremonies in a database or Redis, set WebauthnSecret or WebauthnSecretFile: every process sharing them needs the same webauthnkit secret")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := openStores(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	if err := sealStores(ctx, cfg, st, log); err != nil {
		return nil, nil, err
	}
	// Instrumented after sealing: store latency includes the sealing
	// (microseconds) and the wrapper forwards what the sealed store offers.
	instrumentStores(cfg, st)

	// The core's events go to the log and, once Accounts exists, to the
	// security notices it mails (passkey added, removed).
	hook := &account.EventHook{Next: monitorEvents(cfg, eventLogger(log, st.creds))}
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        cfg.RPID,
		RPName:      cfg.AppName,
		Origins:     cfg.Origins,
		Credentials: st.creds,
		Ceremonies:  st.ceremonies,
		Secret:      webauthnSecret,
		Logger:      log,
		Now:         cfg.Now,
		OnEvent:     hook.OnEvent,
		Attestation: cfg.Attestation,
	})
	if err != nil {
		return nil, nil, err
	}
	acc, err := newAccounts(cfg, rp, st, webauthnSecret, log)
	if err != nil {
		return nil, nil, err
	}
	hook.Set(acc)
	if st.rateLimiter != nil && cfg.RateLimit.Shared == nil {
		// Instances sharing Redis share the per-client budgets too.
		cfg.RateLimit.Shared = st.rateLimiter
	}
	h, err := httpadapter.New(rp, httpadapter.Options{
		SessionSecret: derive(secret, "session cookie"),
		Accounts:      acc,
		RateLimit:     monitorRefusals(cfg, cfg.RateLimit),
		StoreTimeout:  cfg.StoreTimeout,
		Logger:        log,
	})
	if err != nil {
		return nil, nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, nil, err
	}
	s := &server{cfg: cfg, acc: acc, log: log, rp: rp, h: h, pages: pages, origins: map[string]bool{}}
	s.static, err = newStaticFiles(staticFS, "static", http.HandlerFunc(s.notFound))
	if err != nil {
		return nil, nil, err
	}
	for _, o := range rp.Origins() {
		s.origins[strings.ToLower(o)] = true
	}
	log.Info("passkeys: ready", "rpID", cfg.RPID, "origins", strings.Join(cfg.Origins, " "), "credentials", st.credsName, "ceremonies", st.ceremoniesName, "rateLimit", describeRateLimit(cfg.RateLimit))
	ok = true
	return s.routes(), st, nil
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	// The adapter: JSON endpoints and client.js under /passkeys/.
	mux.Handle("/passkeys/", http.StripPrefix("/passkeys", s.h))
	mux.Handle("GET /static/", http.StripPrefix("/static", s.static))
	// The adapter answers JSON under /passkeys/; someone typing /passkeys
	// wants the passkeys page.
	mux.HandleFunc("GET /passkeys", s.toAccount)
	mux.HandleFunc("GET /passkeys/{$}", s.toAccount)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /{$}", s.signIn)
	mux.HandleFunc("GET /signup", s.signUp)
	mux.HandleFunc("GET /recover", s.recover)
	mux.HandleFunc("GET /account", s.account)
	mux.HandleFunc("GET /link", s.linkApprove)
	mux.HandleFunc("GET /link/new", s.linkNew)
	mux.HandleFunc("POST /signout", s.signOut)
	mux.HandleFunc("/", s.notFound)
	return s.accessLog(securityHeaders(s.h.LoadUser(mux)))
}

// notices are the fixed messages a page can show after a redirect
// (?notice=...): never text from the URL.
var notices = map[string]string{
	"signedout":     "You’re signed out.",
	"added":         "Passkey added. You can now sign in with it.",
	"welcome":       "Your account is ready. You signed in with a passkey — no password needed.",
	"recovered":     "A new passkey was created on this device and you’re signed in.",
	"emailverified": "Your email address is verified.",
	"linked":        "This device has its own passkey now, and you’re signed in.",
}

type pageData struct {
	Page     string
	Title    string
	AppName  string
	User     *webauthnkit.User
	Notice   string
	Passkeys []passkeyView
	// OnlyPasskey: the account has one passkey, whose Remove is disabled
	// with the reason shown (the store refuses it anyway, atomically:
	// ErrLastCredential).
	OnlyPasskey bool
	// EmailVerified: the account's email is verified.
	EmailVerified bool
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int
	// Recovered: the user just got back in with a recovery grant; the page
	// prompts removing the lost passkey.
	Recovered bool
	// CrossDevice: the user just signed in with a passkey of another device
	// (hybrid transport); the page offers a passkey on this one.
	CrossDevice bool
	// LinkPage is the approval page's address without scheme, shown on the
	// new device ("example.com/link").
	LinkPage string
}

func (s *server) data(r *http.Request, page, title string) pageData {
	d := pageData{Page: page, Title: title, AppName: s.cfg.AppName, Notice: notices[r.URL.Query().Get("notice")]}
	if u, ok := httpadapter.UserFromContext(r.Context()); ok {
		d.User = &u
	}
	return d
}

func (s *server) signIn(w http.ResponseWriter, r *http.Request) {
	if _, ok := httpadapter.UserFromContext(r.Context()); ok {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	s.render(w, r, "signin", s.data(r, "signin", "Sign in"))
}

func (s *server) signUp(w http.ResponseWriter, r *http.Request) {
	if _, ok := httpadapter.UserFromContext(r.Context()); ok {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	s.render(w, r, "signup", s.data(r, "signup", "Create your account"))
}

func (s *server) recover(w http.ResponseWriter, r *http.Request) {
	if _, ok := httpadapter.UserFromContext(r.Context()); ok {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	s.render(w, r, "recover", s.data(r, "recover", "Lost your device?"))
}

// storeContext bounds a page's store calls by Config.StoreTimeout (the
// adapter's default when zero; none when negative).
func (s *server) storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	d := s.cfg.StoreTimeout
	if d == 0 {
		d = httpadapter.DefaultStoreTimeout
	}
	if d < 0 {
		return r.Context(), func() {}
	}
	return context.WithTimeout(r.Context(), d)
}

func (s *server) account(w http.ResponseWriter, r *http.Request) {
	u, ok := httpadapter.UserFromContext(r.Context())
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	// The page's own store calls get the adapter's deadline too: a hung
	// store shows the error page, not a page that never loads.
	ctx, cancel := s.storeContext(r)
	defer cancel()
	creds, err := s.rp.ListCredentials(ctx, u.Handle)
	if err != nil {
		s.log.ErrorContext(r.Context(), "passkeys: listing credentials", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "We can’t load your passkeys right now. Please try again in a moment.")
		return
	}
	left, err := s.acc.RecoveryCodesLeft(ctx, u.Handle)
	if err != nil {
		s.log.ErrorContext(r.Context(), "passkeys: counting recovery codes", "err", err)
	}
	d := s.data(r, "account", "Your passkeys")
	d.EmailVerified = u.Email != "" && !u.EmailVerifiedAt.IsZero()
	d.RecoveryCodesLeft = left
	d.Recovered = r.URL.Query().Get("notice") == "recovered"
	d.CrossDevice = r.URL.Query().Get("notice") == "crossdevice"
	now := s.cfg.Now()
	newest := -1
	for i, c := range creds {
		d.Passkeys = append(d.Passkeys, newPasskeyView(c, now))
		if newest < 0 || c.CreatedAt.After(creds[newest].CreatedAt) {
			newest = i
		}
	}
	if d.Recovered && newest >= 0 && len(creds) > 1 {
		// The passkey just made by recovery: the others are the candidates
		// for removal.
		d.Passkeys[newest].New = true
	}
	d.OnlyPasskey = len(d.Passkeys) == 1
	s.render(w, r, "account", d)
}

// signOut ends the session. A plain form posts here; cross-site posts are
// refused so that another site cannot sign the user out.
func (s *server) signOut(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		s.errorPage(w, r, http.StatusForbidden, "This request came from another site and was refused.")
		return
	}
	// This ends the account's sessions in every browser (the built-in
	// session keeps no per-browser state), copies of the cookie included.
	if err := s.h.SignOut(w, r); err != nil {
		s.log.ErrorContext(r.Context(), "passkeys: signing out", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "We couldn’t end your sessions on the server. This browser is signed out; please try again in a moment to sign out everywhere.")
		return
	}
	http.Redirect(w, r, "/?notice=signedout", http.StatusSeeOther)
}

func (s *server) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return s.origins[strings.ToLower(o)]
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

func (s *server) toAccount(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "There’s nothing at this address.")
}

func (s *server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := s.data(r, "error", http.StatusText(status))
	d.Notice = msg
	// Headers before the status line (render's come too late for it).
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(httpadapter.RetryAfterSeconds))
	}
	w.WriteHeader(status)
	s.render(w, r, "error", d)
}

func (s *server) render(w http.ResponseWriter, r *http.Request, page string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.pages[page].ExecuteTemplate(w, "layout", d); err != nil {
		s.log.ErrorContext(r.Context(), "passkeys: rendering page", "page", page, "err", err)
	}
}

// passkeyView is one row of the passkeys page.
type passkeyView struct {
	ID          string // base64url, as the adapter's credentials/{id} wants it
	Name        string
	Created     string
	CreatedISO  string
	LastUsed    string
	LastUsedISO string
	Synced      bool // backed up (BS flag): a synced passkey
	CanSync     bool // backup eligible but not backed up yet
	Kind        string
	New         bool // just created by recovery on this device
	// Provider names the authenticator or passkey provider ("Google
	// Password Manager", from Credential.ProviderName); ProviderNote is it
	// when it differs from Name (a default name is the provider's).
	Provider     string
	ProviderNote string
}

func newPasskeyView(c webauthnkit.Credential, now time.Time) passkeyView {
	v := passkeyView{
		ID:         base64.RawURLEncoding.EncodeToString(c.ID),
		Name:       c.Name,
		Created:    c.CreatedAt.Local().Format("Jan 2, 2006"),
		CreatedISO: c.CreatedAt.UTC().Format(time.RFC3339),
		Synced:     c.BackupState,
		CanSync:    c.BackupEligible && !c.BackupState,
		Provider:   c.ProviderName,
	}
	if v.Name == "" {
		v.Name = "Passkey"
	}
	if v.Provider != v.Name {
		v.ProviderNote = v.Provider
	}
	if c.LastUsedAt.IsZero() {
		v.LastUsed = "Not used yet"
	} else {
		v.LastUsed = "Last used " + ago(c.LastUsedAt, now)
		v.LastUsedISO = c.LastUsedAt.UTC().Format(time.RFC3339)
	}
	switch {
	case c.BackupEligible:
		v.Kind = "synced"
	case c.Attachment == "cross-platform":
		v.Kind = "key"
	default:
		v.Kind = "device"
	}
	return v
}

// ago formats t relative to now: "just now", "5 minutes ago", "Mar 3, 2026".
func ago(t, now time.Time) string {
	d := now.Sub(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d < 7*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	}
	return "on " + t.Local().Format("Jan 2, 2006")
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, p := range []string{"signin", "signup", "recover", "account", "error", "link", "linknew"} {
		t, err := template.New(p).Funcs(template.FuncMap{"initial": initial}).ParseFS(templateFS, "templates/layout.html", "templates/icons.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("app: parsing template %s: %w", p, err)
		}
		pages[p] = t
	}
	return pages, nil
}

// initial returns the first letter of the first non-empty name, upper-cased,
// for the avatar.
func initial(names ...string) string {
	for _, n := range names {
		for _, r := range strings.TrimSpace(n) {
			return strings.ToUpper(string(r))
		}
	}
	return "?"
}

// securityHeaders sets a strict Content Security Policy (scripts, styles and
// images from this origin only: the pages load nothing from the network) and
// the usual hardening headers.
func securityHeaders(next http.Handler) http.Handler {
	const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// accessLog logs one line per request (never bodies or cookies).
func (s *server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("took", time.Since(start).Round(time.Microsecond)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// derive makes an independent key for one purpose from the app secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("passkeys example\x00" + purpose))
	return m.Sum(nil)
}

// describeRateLimit says in the startup log which rate limits apply.
func describeRateLimit(rl httpadapter.RateLimit) string {
	if rl.Disabled {
		return "off"
	}
	pick := func(r, def httpadapter.Rate) string {
		if r.PerSecond == 0 {
			r.PerSecond = def.PerSecond
		}
		if r.Burst == 0 {
			r.Burst = def.Burst
		}
		return fmt.Sprintf("%g/%d", r.PerSecond, r.Burst)
	}
	d := fmt.Sprintf("per client: begin %s, finish %s, manage %s, device linking %s (per second/burst)",
		pick(rl.Begin, httpadapter.DefaultBeginRate), pick(rl.Finish, httpadapter.DefaultFinishRate), pick(rl.Manage, httpadapter.DefaultManageRate),
		pick(rl.Link, httpadapter.DefaultLinkRate))
	if rl.Shared != nil {
		d += ", shared by the instances on this Redis"
	}
	if len(rl.TrustedProxies) > 0 {
		d += "; trusted proxies " + strings.Join(rl.TrustedProxies, " ")
	}
	return d
}
