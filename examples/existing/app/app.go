// Package app is the example app of examples/existing: an app with its own
// users table (email, bcrypt password) and session cookie that adds
// passkey sign-in, passkey and TOTP second factors, automatic passkey
// upgrade and a settings page with webauthnkit. See ../main.go.
package app

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
	"github.com/webauthnkit/webauthnkit/totp"
)

// Config configures the app.
type Config struct {
	// Origin is the origin of the pages, e.g. http://localhost:8085.
	// Required.
	Origin string
	// DBPath is the SQLite file holding the app's users and the library's
	// tables. Required; sqlitedb.Memory (":memory:") keeps everything in
	// the process.
	DBPath string
	// KeyFile holds the master key (created with mode 0600 if missing).
	// Default "": a random key per start (everyone is signed out and TOTP
	// secrets no longer open after a restart: fine only with ":memory:").
	KeyFile string
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// BcryptCost is the cost of new password hashes. Default 12.
	BcryptCost int
}

// App serves the pages. Close releases the database.
type App struct {
	db         *sql.DB
	store      *sqlstore.Store
	rp         *webauthnkit.RelyingParty
	passkeys   *httpadapter.Handler
	totp       *totp.TOTP
	keys       keys
	secure     bool // https: Secure cookies
	bcryptCost int
	dummyHash  []byte
	now        func() time.Time
	log        *slog.Logger
	limiter    *failureLimiter // wrong passwords per email address
	ipLimiter  *failureLimiter // wrong passwords per client address
	pages      *template.Template
	mux        *http.ServeMux
}

//go:embed templates/*.html templates/*.js
var files embed.FS

// New opens the database (creating the tables) and builds the app.
func New(cfg Config) (*App, error) {
	if cfg.Origin == "" || cfg.DBPath == "" {
		return nil, errors.New("app: Config.Origin and Config.DBPath are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = defaultBcryptCost
	}
	master := make([]byte, 32)
	if cfg.KeyFile != "" {
		var err error
		if master, err = loadMasterKey(cfg.KeyFile); err != nil {
			return nil, err
		}
	} else if _, err := rand.Read(master); err != nil {
		return nil, err
	}
	k, err := deriveKeys(master)
	if err != nil {
		return nil, err
	}

	// One SQLite file for both. sqlitedb.Open sets what the library's
	// store needs (WAL, foreign keys, busy timeout, and _txlock=immediate:
	// every BEGIN of the app takes the write lock too). The store queues
	// its own writes; the app's writes here are single statements, and
	// never hold a transaction open across a library call (that call would
	// wait for the app's write lock on another connection).
	if cfg.DBPath != sqlitedb.Memory {
		// Password hashes and passkeys: readable by the app's user only
		// (SQLite gives its -wal and -shm files the same mode).
		f, err := os.OpenFile(cfg.DBPath, os.O_RDONLY|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		_ = f.Close()
	}
	db, err := sqlitedb.Open(cfg.DBPath)
	if err != nil {
		return nil, err
	}
	a := &App{db: db, keys: k, now: cfg.Now, log: cfg.Logger, bcryptCost: cfg.BcryptCost, secure: strings.HasPrefix(cfg.Origin, "https://")}
	if err := a.init(context.Background(), cfg); err != nil {
		_ = a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) init(ctx context.Context, cfg Config) error {
	if _, err := a.db.ExecContext(ctx, schema); err != nil {
		return err
	}
	// The library's tables, beside "users": passkeys_users,
	// passkeys_credentials, passkeys_ceremonies (its foreign keys stay
	// among them; nothing references the app's table).
	prefix := sqlstore.WithTablePrefix("passkeys_")
	if err := sqlstore.Migrate(ctx, a.db, sqlstore.SQLite, prefix); err != nil {
		return err
	}
	var err error
	a.store, err = sqlstore.New(a.db, sqlstore.SQLite, prefix, sqlstore.WithLogger(a.log), sqlstore.WithClock(cfg.Now))
	if err != nil {
		return err
	}
	a.rp, err = webauthnkit.New(webauthnkit.Config{
		RPID:        hostOf(cfg.Origin),
		RPName:      "Existing App",
		Origins:     []string{cfg.Origin},
		Credentials: a.store,
		Ceremonies:  a.store,
		Secret:      a.keys.webauthn, // required with a store other processes may share
		Logger:      a.log,
		Now:         cfg.Now,
	})
	if err != nil {
		return err
	}
	a.totp, err = totp.New(totp.Config{
		Issuer: "Existing App",
		Keys:   []totp.Key{{ID: 1, Secret: a.keys.totp}},
		Replay: a.store, // used codes and attempts, shared like the ceremonies
		Now:    cfg.Now,
		Logger: a.log,
	})
	if err != nil {
		return err
	}
	if a.passkeys, err = a.newPasskeyHandler(); err != nil {
		return err
	}
	if a.dummyHash, err = bcrypt.GenerateFromPassword([]byte("not anyone's password"), a.bcryptCost); err != nil {
		return err
	}
	a.limiter = newFailureLimiter(maxPasswordFailures, passwordWindow, cfg.Now)
	a.ipLimiter = newFailureLimiter(maxPasswordFailuresPerClient, passwordWindow, cfg.Now)
	a.pages, err = template.ParseFS(files, "templates/*.html")
	if err != nil {
		return err
	}
	a.routes()
	return nil
}

// Close closes the store and the database.
func (a *App) Close() error {
	var err error
	if a.store != nil {
		err = a.store.Close()
	}
	return errors.Join(err, a.db.Close())
}

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func (a *App) routes() {
	m := http.NewServeMux()
	// Forms that change something are checked like the adapter's own
	// endpoints: the Origin must be ours (CSRF).
	post := func(pattern string, h http.HandlerFunc) { m.Handle("POST "+pattern, a.passkeys.CheckOrigin(h)) }

	m.Handle("/passkeys/", a.passkeys) // the adapter's JSON endpoints and client.js
	m.HandleFunc("GET /{$}", a.home)
	m.HandleFunc("GET /app.js", a.script)
	m.HandleFunc("GET /signup", a.signUpPage)
	post("/signup", a.signUp)
	m.HandleFunc("GET /signin", a.signInPage)
	post("/signin", a.signIn)
	m.HandleFunc("GET /signin/second", a.secondFactorPage)
	post("/signin/second", a.secondFactorTOTP)
	post("/signout", a.signOut)
	m.HandleFunc("GET /account", a.accountPage)
	post("/account/email", a.changeEmail)
	post("/account/totp/begin", a.totpBegin)
	post("/account/totp/confirm", a.totpConfirm)
	post("/account/totp/disable", a.totpDisable)
	post("/account/delete", a.deleteAccount)
	a.mux = m
}

func hostOf(origin string) string {
	h := origin[strings.Index(origin, "//")+2:]
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return h
}
