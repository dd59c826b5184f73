// Command passkeys is a small web app that signs users in with passkeys only,
// built on webauthnkit: sign-up, sign-in (username-first, usernameless and
// passkey autofill), a page to rename, add and remove passkeys, sign-out.
//
//	go run ./examples/passkeys
//
// then open http://localhost:8080. Users are kept in an SQLite file
// (./passkeys.db), ceremonies in the process. Flags (or the environment
// variables in brackets) change that:
//
//	-addr      [PASSKEYS_ADDR]      listen address (default localhost:8080: both 127.0.0.1 and [::1])
//	-origin    [PASSKEYS_ORIGIN]    page origin (default http://localhost:<port>)
//	-rpid      [PASSKEYS_RPID]      WebAuthn RP ID (default localhost)
//	-db        [PASSKEYS_DB]        SQLite file (default passkeys.db)
//	-postgres  [PASSKEYS_POSTGRES]  PostgreSQL DSN for users and passkeys, instead of SQLite
//	-mysql     [PASSKEYS_MYSQL]     MySQL/MariaDB DSN, instead of SQLite
//	-redis     [PASSKEYS_REDIS]     Redis address for ceremonies (default: in the process)
//	-secret-file [PASSKEYS_SECRET_FILE] session secret file (default <db>.secret)
//	[PASSKEYS_SESSION_SECRET]       the session secret itself (>= 32 characters)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(os.Args[1:], log); err != nil {
		log.Error("passkeys: " + err.Error())
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("passkeys", flag.ContinueOnError)
	addr := fs.String("addr", env("PASSKEYS_ADDR", "localhost:8080"), "listen `address`; localhost means both 127.0.0.1 and [::1]")
	origin := fs.String("origin", env("PASSKEYS_ORIGIN", ""), "`origin` of the pages (default http://localhost:<port of -addr>)")
	rpID := fs.String("rpid", env("PASSKEYS_RPID", "localhost"), "WebAuthn relying party `ID` (the domain passkeys are bound to)")
	db := fs.String("db", env("PASSKEYS_DB", "passkeys.db"), "SQLite database `file` for users and passkeys")
	pg := fs.String("postgres", env("PASSKEYS_POSTGRES", ""), "PostgreSQL `DSN` for users and passkeys (instead of SQLite)")
	my := fs.String("mysql", env("PASSKEYS_MYSQL", ""), "MySQL/MariaDB `DSN` for users and passkeys (instead of SQLite)")
	rd := fs.String("redis", env("PASSKEYS_REDIS", ""), "Redis `address` for in-flight ceremonies (default: in the process)")
	secretFile := fs.String("secret-file", env("PASSKEYS_SECRET_FILE", ""), "session secret `file`, created if missing (default <db>.secret with SQLite; random per start otherwise)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}

	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", *addr, err)
	}
	if *origin == "" {
		*origin = "http://localhost:" + port
	}
	cfg := app.Config{
		RPID:        *rpID,
		Origins:     []string{*origin},
		PostgresDSN: *pg,
		MySQLDSN:    *my,
		RedisAddr:   *rd,
		Logger:      log,
	}
	if *pg == "" && *my == "" {
		cfg.SQLitePath = *db
		if *secretFile == "" {
			*secretFile = *db + ".secret"
		}
	}
	cfg.SessionSecretFile = *secretFile
	if s := os.Getenv("PASSKEYS_SESSION_SECRET"); s != "" {
		cfg.SessionSecret = []byte(s)
	}

	handler, closer, err := app.New(cfg)
	if err != nil {
		return err
	}
	defer closer.Close()

	listeners, err := listen(host, port, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	errc := make(chan error, len(listeners))
	var wg sync.WaitGroup
	for _, l := range listeners {
		log.Info("passkeys: listening", "addr", l.Addr().String())
		wg.Go(func() {
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		})
	}
	log.Info("passkeys: open " + *origin + " in your browser (Ctrl-C to stop)")

	select {
	case <-ctx.Done():
		log.Info("passkeys: shutting down")
	case err = <-errc:
	}
	stop() // a second Ctrl-C kills the process at once
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = serr
	}
	wg.Wait()
	return err
}

// listen opens the listeners for host:port. "localhost" listens on both
// loopback addresses, 127.0.0.1 and [::1], since browsers may resolve
// localhost to either; the IPv6 one is skipped (with a warning) if the
// machine has no IPv6 loopback.
func listen(host, port string, log *slog.Logger) ([]net.Listener, error) {
	if host != "localhost" {
		l, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, err
		}
		return []net.Listener{l}, nil
	}
	l4, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return nil, err
	}
	// Port 0: let the IPv6 listener take the same port as the IPv4 one.
	_, port, _ = net.SplitHostPort(l4.Addr().String())
	l6, err := net.Listen("tcp", net.JoinHostPort("::1", port))
	if err != nil {
		log.Warn("passkeys: not listening on [::1]", "err", err)
		return []net.Listener{l4}, nil
	}
	return []net.Listener{l4, l6}, nil
}
