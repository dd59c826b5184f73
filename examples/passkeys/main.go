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
//	-redis     [PASSKEYS_REDIS]     Redis for ceremonies: host:port, redis://user:pass@host:port/db
//	                                or rediss:// (TLS) (default: in the process)
//	-db-conns  [PASSKEYS_DB_CONNS]  SQL connections, open and idle (default 16)
//	-store-timeout [PASSKEYS_STORE_TIMEOUT] deadline of a request's store work (default 2s)
//	-secret-file [PASSKEYS_SECRET_FILE] session secret file (default <db>.secret)
//	[PASSKEYS_SESSION_SECRET]       the session secret itself (>= 32 characters, not weak)
//	-webauthn-secret-file [PASSKEYS_WEBAUTHN_SECRET_FILE] webauthnkit's Config.Secret
//	                                (default <db>.webauthn-secret, or passkeys.webauthn-secret
//	                                with -postgres/-mysql); every instance sharing the
//	                                database or Redis needs the same file
//	-keyring-file [PASSKEYS_KEYRING_FILE] keys that seal users' data at rest (package
//	                                sealstore, docs/privacy.md), created on first run
//	                                (default <db>.keyring, or passkeys.keyring with
//	                                -postgres/-mysql); "off" stores it in clear
//	[PASSKEYS_SEAL_KEYS]            the keyring itself, as JSON (instead of the file)
//	-rate-limit [PASSKEYS_RATE_LIMIT] on (default), off, or per-client budgets such as
//	                                begin=10/100,finish=10/100,manage=20/200 (per second/burst)
//	-trusted-proxies [PASSKEYS_TRUSTED_PROXIES] CIDRs of reverse proxies whose
//	                                X-Forwarded-For is believed (default none)
//	-smtp      [PASSKEYS_SMTP]      SMTP submission server host:port for the sign-up,
//	                                recovery and notification mails (default: none; the
//	                                development mailer writes each mail, code included,
//	                                to the log instead of sending it)
//	-smtp-from [PASSKEYS_SMTP_FROM] sender address (required with -smtp)
//	-smtp-user [PASSKEYS_SMTP_USER] AUTH user (default: no AUTH)
//	[PASSKEYS_SMTP_PASSWORD]        its password (-smtp-password works too, but is
//	                                visible in the process list)
//	-smtp-tls  [PASSKEYS_SMTP_TLS]  starttls (default), implicit (port 465) or none
//	                                (loopback servers only)
//	-metrics-addr [PASSKEYS_METRICS_ADDR] serve Prometheus metrics at /metrics on this
//	                                separate listener, e.g. localhost:9464 (default: off;
//	                                no authentication: keep it on loopback or a private network)
//	-audit-log [PASSKEYS_AUDIT_LOG] append JSON audit lines to this file, or - for
//	                                standard output (default: off); docs/monitoring.md
//	-audit-usernames [PASSKEYS_AUDIT_USERNAMES] add sign-in names to the audit lines
//	                                (default false: user handles only)
//	-attestation [PASSKEYS_ATTESTATION] off (default), monitor or enforce
//	                                (docs/attestation.md); enforce needs -mds
//	-mds       [PASSKEYS_MDS]       FIDO metadata BLOB file (webauthnkit-mds -out FILE)
//
// Secret files are created with mode 0600 and refused if other users may
// read them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/mail"
	"github.com/webauthnkit/webauthnkit/mds"
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

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

// parseRateLimit reads -rate-limit and -trusted-proxies.
func parseRateLimit(spec, proxies string) (httpadapter.RateLimit, error) {
	var rl httpadapter.RateLimit
	for p := range strings.SplitSeq(proxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			rl.TrustedProxies = append(rl.TrustedProxies, p)
		}
	}
	switch strings.TrimSpace(spec) {
	case "", "on":
		return rl, nil
	case "off":
		rl.Disabled = true
		return rl, nil
	}
	for part := range strings.SplitSeq(spec, ",") {
		class, budget, ok := strings.Cut(strings.TrimSpace(part), "=")
		perSecond, burst, ok2 := strings.Cut(budget, "/")
		ps, err1 := strconv.ParseFloat(perSecond, 64)
		b, err2 := strconv.Atoi(burst)
		if !ok || !ok2 || err1 != nil || err2 != nil || ps <= 0 || b <= 0 || math.IsInf(ps, 0) {
			return rl, fmt.Errorf("-rate-limit: %q is not class=perSecond/burst (e.g. begin=10/100)", part)
		}
		r := httpadapter.Rate{PerSecond: ps, Burst: b}
		switch class {
		case "begin":
			rl.Begin = r
		case "finish":
			rl.Finish = r
		case "manage":
			rl.Manage = r
		default:
			return rl, fmt.Errorf("-rate-limit: unknown class %q (begin, finish or manage)", class)
		}
	}
	return rl, nil
}

// smtpMailer reads the -smtp flags: nil (the development mailer) without
// -smtp.
func smtpMailer(addr, from, user, password, tlsMode string) (mail.Mailer, error) {
	if addr == "" {
		if from != "" || user != "" {
			return nil, errors.New("-smtp-from and -smtp-user need -smtp host:port")
		}
		return nil, nil
	}
	var mode mail.TLSMode
	switch tlsMode {
	case "", "starttls":
		mode = mail.TLSStartTLS
	case "implicit":
		mode = mail.TLSImplicit
	case "none":
		mode = mail.TLSNone
	default:
		return nil, fmt.Errorf("-smtp-tls %q: want starttls, implicit or none", tlsMode)
	}
	m, err := mail.NewSMTP(mail.SMTPConfig{Addr: addr, From: from, Username: user, Password: password, TLS: mode})
	if err != nil {
		return nil, fmt.Errorf("-smtp: %w", err)
	}
	return m, nil
}

func run(args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("passkeys", flag.ContinueOnError)
	addr := fs.String("addr", env("PASSKEYS_ADDR", "localhost:8080"), "listen `address`; localhost means both 127.0.0.1 and [::1]")
	origin := fs.String("origin", env("PASSKEYS_ORIGIN", ""), "`origin` of the pages (default http://localhost:<port of -addr>)")
	rpID := fs.String("rpid", env("PASSKEYS_RPID", "localhost"), "WebAuthn relying party `ID` (the domain passkeys are bound to)")
	db := fs.String("db", env("PASSKEYS_DB", "passkeys.db"), "SQLite database `file` for users and passkeys")
	pg := fs.String("postgres", env("PASSKEYS_POSTGRES", ""), "PostgreSQL `DSN` for users and passkeys (instead of SQLite)")
	my := fs.String("mysql", env("PASSKEYS_MYSQL", ""), "MySQL/MariaDB `DSN` for users and passkeys (instead of SQLite)")
	rd := fs.String("redis", env("PASSKEYS_REDIS", ""), "Redis for in-flight ceremonies: host:port, or a redis://user:password@host:port/db or rediss:// (TLS) `URL` (default: in the process)")
	storeTimeout := fs.Duration("store-timeout", envDuration("PASSKEYS_STORE_TIMEOUT", httpadapter.DefaultStoreTimeout), "deadline of each request's store work: a hung store answers 503 after this `duration`")
	dbConns := fs.Int("db-conns", envInt("PASSKEYS_DB_CONNS", app.DefaultDBConns), "SQL connection pool `size` (open and idle)")
	secretFile := fs.String("secret-file", env("PASSKEYS_SECRET_FILE", ""), "session secret `file`, created if missing (default <db>.secret with SQLite; random per start otherwise)")
	webauthnSecretFile := fs.String("webauthn-secret-file", env("PASSKEYS_WEBAUTHN_SECRET_FILE", ""), "webauthnkit secret `file`, created if missing; the same for every instance (default <db>.webauthn-secret with SQLite, passkeys.webauthn-secret with -postgres/-mysql)")
	rdCluster := fs.String("redis-cluster", env("PASSKEYS_REDIS_CLUSTER", ""), "Redis Cluster for in-flight ceremonies instead of -redis: comma-separated `host:port` of some nodes")
	rdSentinel := fs.String("redis-sentinel", env("PASSKEYS_REDIS_SENTINEL", ""), "Redis behind Sentinel for in-flight ceremonies instead of -redis: `master@host:port,...` (the sentinels)")
	rdAck := fs.Int("redis-replica-ack", envInt("PASSKEYS_REDIS_REPLICA_ACK", 0), "acknowledge a Redis write only once this many `replicas` have it (WAIT, 500 ms timeout)")
	storePrefix := fs.String("store-prefix", env("PASSKEYS_STORE_PREFIX", ""), "`prefix` of the SQL table names and Redis keys (lower-case letters, digits, underscores; default: the stores' own), to keep several apps apart in one database")
	keyringFile := fs.String("keyring-file", env("PASSKEYS_KEYRING_FILE", ""), "keyring `file` sealing users' data at rest, created if missing; \"off\" stores it in clear (default <db>.keyring with SQLite, passkeys.keyring with -postgres/-mysql)")
	rateLimit := fs.String("rate-limit", env("PASSKEYS_RATE_LIMIT", "on"), "rate limiting: on, off, or per-client `budgets` like begin=10/100,finish=10/100,manage=20/200 (requests per second/burst)")
	trustedProxies := fs.String("trusted-proxies", env("PASSKEYS_TRUSTED_PROXIES", ""), "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For names the client")
	smtpAddr := fs.String("smtp", env("PASSKEYS_SMTP", ""), "SMTP submission server `host:port` for the mails (default: none, codes are written to the log)")
	smtpFrom := fs.String("smtp-from", env("PASSKEYS_SMTP_FROM", ""), "sender `address` of the mails, e.g. \"Passkeys demo <noreply@example.com>\" (required with -smtp)")
	smtpUser := fs.String("smtp-user", env("PASSKEYS_SMTP_USER", ""), "SMTP AUTH `user` (default: no AUTH)")
	smtpPassword := fs.String("smtp-password", env("PASSKEYS_SMTP_PASSWORD", ""), "SMTP AUTH `password` (prefer the PASSKEYS_SMTP_PASSWORD variable: flags show in the process list)")
	smtpTLS := fs.String("smtp-tls", env("PASSKEYS_SMTP_TLS", "starttls"), "SMTP `protection`: starttls, implicit (port 465) or none (loopback only)")
	metricsAddr := fs.String("metrics-addr", env("PASSKEYS_METRICS_ADDR", ""), "serve Prometheus /metrics on this separate listen `address`, e.g. localhost:9464 (default: off)")
	auditLog := fs.String("audit-log", env("PASSKEYS_AUDIT_LOG", ""), "append JSON audit lines to this `file`, - for standard output (default: off)")
	auditUsernames := fs.Bool("audit-usernames", env("PASSKEYS_AUDIT_USERNAMES", "") == "true", "write sign-in names (often email addresses) in the audit lines, not only user handles")
	attestation := fs.String("attestation", env("PASSKEYS_ATTESTATION", "off"), "attestation `mode`: off, monitor (verify and log) or enforce (refuse untrusted authenticators; needs -mds)")
	mdsFile := fs.String("mds", env("PASSKEYS_MDS", ""), "FIDO metadata BLOB `file` (download it with webauthnkit-mds); re-read after its nextUpdate")
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
	// Listen first: with port 0 the origin needs the port the system
	// picked.
	listeners, err := listen(host, port, log)
	if err != nil {
		return err
	}
	defer func() {
		for _, l := range listeners {
			l.Close() // after Serve has returned: already closed, harmless
		}
	}()
	_, port, _ = net.SplitHostPort(listeners[0].Addr().String())
	if *origin == "" {
		*origin = "http://localhost:" + port
	}
	rl, err := parseRateLimit(*rateLimit, *trustedProxies)
	if err != nil {
		return err
	}
	mailer, err := smtpMailer(*smtpAddr, *smtpFrom, *smtpUser, *smtpPassword, *smtpTLS)
	if err != nil {
		return err
	}
	cfg := app.Config{
		Mailer:          mailer,
		RPID:            *rpID,
		Origins:         []string{*origin},
		PostgresDSN:     *pg,
		MySQLDSN:        *my,
		RedisAddr:       *rd,
		RedisSentinel:   *rdSentinel,
		RedisReplicaAck: *rdAck,
		StorePrefix:     *storePrefix,
		DBConns:         *dbConns,
		RateLimit:       rl,
		Logger:          log,

		StoreTimeout: *storeTimeout,
	}
	if *pg == "" && *my == "" {
		cfg.SQLitePath = *db
		if *secretFile == "" {
			*secretFile = *db + ".secret"
		}
		if *webauthnSecretFile == "" {
			*webauthnSecretFile = *db + ".webauthn-secret"
		}
	}
	if *webauthnSecretFile == "" {
		// A shared database: instances on other machines need a copy of
		// this file (the app refuses to start without a secret).
		*webauthnSecretFile = "passkeys.webauthn-secret"
	}
	if *rdCluster != "" {
		cfg.RedisCluster = strings.Split(*rdCluster, ",")
	}
	cfg.SessionSecretFile = *secretFile
	cfg.WebauthnSecretFile = *webauthnSecretFile
	switch {
	case *keyringFile == "off":
	case *keyringFile != "":
		cfg.SealKeyringFile = *keyringFile
	case cfg.SQLitePath != "":
		cfg.SealKeyringFile = cfg.SQLitePath + ".keyring"
	default:
		// A shared database: instances on other machines need a copy.
		cfg.SealKeyringFile = "passkeys.keyring"
	}
	if k := os.Getenv("PASSKEYS_SEAL_KEYS"); k != "" && *keyringFile != "off" {
		cfg.SealKeys, cfg.SealKeyringFile = []byte(k), ""
	}
	if s := os.Getenv("PASSKEYS_SESSION_SECRET"); s != "" {
		cfg.SessionSecret = []byte(s)
	}

	stopMonitoring, err := monitoring(&cfg, *metricsAddr, *auditLog, *auditUsernames, log)
	if err != nil {
		return err
	}
	defer stopMonitoring()
	cfg.Attestation.Mode = webauthnkit.AttestationMode(*attestation)
	if *mdsFile != "" {
		p, err := mds.New(context.Background(), mds.Options{File: *mdsFile, Logger: log})
		if err != nil {
			return fmt.Errorf("-mds: %w", err)
		}
		defer p.Close()
		cfg.Attestation.Metadata = p
	}

	handler, closer, err := app.New(cfg)
	if err != nil {
		return err
	}
	defer closer.Close()

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
