// Command existing is an app that had users, bcrypt passwords and its own
// session cookie before it added passkeys with webauthnkit:
//
//   - sign up and sign in with email and password, as before;
//   - a second step after the password: a code from an authenticator app
//     (TOTP, package totp) or a passkey / security key;
//   - passkey sign-in (button or autofill), which skips the second step
//     because a user-verified passkey is two factors;
//   - after a password sign-in, a passkey is created automatically where
//     the browser supports it (conditional create), else offered;
//   - a settings page: passkeys (list, add, remove), TOTP (set up with a
//     QR code, turn off), change of email (also for the passkey managers).
//
// The code to read is in app/: passkeys.go is the whole integration with
// the passkey adapter, users.go the users table and its link to the
// library (users.webauthn_handle).
//
//	go run ./examples/existing   # then open http://localhost:8085
//
// Flags: -addr (default localhost:8085), -db (default existing.db; ":memory:"
// keeps nothing), -key (default <db>.key: the master key, created with mode
// 0600; without it nobody's session or TOTP secret can be forged or read
// from a copy of the database).
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/webauthnkit/webauthnkit/examples/existing/app"
	"github.com/webauthnkit/webauthnkit/sqlstore/sqlitedb"
)

func main() {
	addr := flag.String("addr", "localhost:8085", "listen `address`")
	db := flag.String("db", "existing.db", "SQLite `file` (\":memory:\": in the process)")
	key := flag.String("key", "", "master key `file` (default <db>.key; none with :memory:)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	_, port, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Error("existing: -addr: " + err.Error())
		os.Exit(2)
	}
	if *key == "" && *db != sqlitedb.Memory {
		*key = *db + ".key"
	}
	origin := "http://localhost:" + port
	a, err := app.New(app.Config{Origin: origin, DBPath: *db, KeyFile: *key, Logger: log})
	if err != nil {
		log.Error("existing: " + err.Error())
		os.Exit(1)
	}
	defer a.Close()
	log.Info("existing: open " + origin + " in your browser")
	srv := &http.Server{Addr: *addr, Handler: a, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	// Ctrl-C: finish the requests under way, then close the database.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("existing: " + err.Error())
	}
}
