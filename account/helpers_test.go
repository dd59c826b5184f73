package account_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/internal/testsmtp"
	"github.com/webauthnkit/webauthnkit/mail"
	"github.com/webauthnkit/webauthnkit/otc"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

const (
	testRPID   = "example.com"
	testOrigin = "https://example.com"
)

var ctx = context.Background()

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// switchMailer sends through the SMTP mailer it currently points at, so a
// test can take the mail server down between steps.
type switchMailer struct {
	mu sync.Mutex
	m  mail.Mailer
}

func (s *switchMailer) Send(ctx context.Context, msg mail.Message) error {
	s.mu.Lock()
	m := s.m
	s.mu.Unlock()
	return m.Send(ctx, msg)
}

func (s *switchMailer) to(t testing.TB, addr string) {
	m, err := mail.NewSMTP(mail.SMTPConfig{Addr: addr, From: "App <noreply@example.com>", TLS: mail.TLSNone, Timeout: 2 * time.Second, DialTimeout: time.Second})
	require.NoError(t, err)
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
}

// backend is a store for both roles; openBackend returns a fresh one
// (memstore unless TestMain chose another, backends_test.go).
type backend = backendtest.Store

var openBackend = func(t testing.TB, now func() time.Time) backend {
	b, _ := backendtest.Named("memstore")
	return b.Open(t, now)
}

type env struct {
	rp       *webauthnkit.RelyingParty
	store    backend
	acc      *account.Accounts
	smtp     *testsmtp.Server
	mailer   *switchMailer
	clock    *clock
	logs     *testenv.SyncBuffer
	mu       sync.Mutex
	events   []account.Event
	coreEvts []webauthnkit.Event
}

func newEnv(t testing.TB, edit ...func(*account.Config)) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Now().UTC().Truncate(time.Millisecond)}, logs: &testenv.SyncBuffer{}, mailer: &switchMailer{}}
	store := openBackend(t, e.clock.Now)
	e.store = store
	var err error
	hook := &account.EventHook{Next: func(_ context.Context, ev webauthnkit.Event) {
		e.mu.Lock()
		e.coreEvts = append(e.coreEvts, ev)
		e.mu.Unlock()
	}}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID: testRPID, RPName: "Example", Origins: []string{testOrigin},
		Credentials: store, Ceremonies: store, Now: e.clock.Now, Logger: logger, Secret: bytes.Repeat([]byte{3}, 32),
		OnEvent: hook.OnEvent,
	})
	require.NoError(t, err)
	e.rp = rp
	codes, err := otc.New(otc.Config{Store: store, Secret: bytes.Repeat([]byte{1}, 32), Links: true, Now: e.clock.Now, Logger: logger})
	require.NoError(t, err)
	e.smtp = testsmtp.Start(t)
	e.mailer.to(t, e.smtp.Addr)
	cfg := account.Config{
		RP: rp, Users: store, Challenges: store, Codes: codes, Mailer: e.mailer,
		Secret: bytes.Repeat([]byte{2}, 32), AppName: "Example", LinkBase: "https://example.com/confirm",
		MailsPerAddress: 20, StartsPerAccount: 20, MinStartDuration: -1,
		Now: e.clock.Now, Logger: logger,
		OnEvent: func(ev account.Event) { e.mu.Lock(); e.events = append(e.events, ev); e.mu.Unlock() },
	}
	for _, f := range edit {
		f(&cfg)
	}
	e.acc, err = account.New(cfg)
	require.NoError(t, err)
	hook.Set(e.acc)
	return e
}

var codeRE = regexp.MustCompile(`(?m)^    (\d{6})$`)
var linkRE = regexp.MustCompile(`https://example\.com/confirm\?\S+`)

// inbox returns the latest mail to address, as a user reads it.
func (e *env) inbox(t testing.TB, address string) testsmtp.Message {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := e.smtp.WaitFor(c, address)
	require.NoError(t, err)
	return m
}

// codeFrom reads the code and link token of a mail.
func codeFrom(t testing.TB, m testsmtp.Message) (code, token string) {
	t.Helper()
	c := codeRE.FindStringSubmatch(m.Text)
	require.NotNil(t, c, "no code in %q", m.Text)
	l := linkRE.FindString(m.Text)
	require.NotEmpty(t, l)
	u, err := url.Parse(l)
	require.NoError(t, err)
	return c[1], u.Query().Get("token")
}

func (e *env) mailsTo(address string) int {
	n := 0
	for _, m := range e.smtp.Messages() {
		for _, to := range m.To {
			if to == address {
				n++
			}
		}
	}
	return n
}

// register runs a registration with a fresh authenticator.
func (e *env) register(t testing.TB, req webauthnkit.RegistrationRequest) (*webauthnkit.Registration, *webauthntest.Authenticator) {
	t.Helper()
	auth := webauthntest.New(webauthntest.WithOrigin(testOrigin))
	begin, err := e.rp.BeginRegistration(ctx, req)
	require.NoError(t, err)
	body, err := auth.Register(begin.Options)
	require.NoError(t, err)
	reg, err := e.rp.FinishRegistration(ctx, begin.CeremonyID, body)
	require.NoError(t, err)
	return reg, auth
}

func (e *env) login(t testing.TB, auth *webauthntest.Authenticator) (*webauthnkit.Login, error) {
	t.Helper()
	begin, err := e.rp.BeginLogin(ctx, webauthnkit.LoginRequest{})
	require.NoError(t, err)
	body, err := auth.Login(begin.Options)
	require.NoError(t, err)
	return e.rp.FinishLogin(ctx, begin.CeremonyID, body)
}

// signUp makes a verified account through flow (a).
func (e *env) signUp(t testing.TB, email, name string) (*webauthnkit.Registration, *webauthntest.Authenticator) {
	t.Helper()
	require.NoError(t, e.acc.StartSignUp(ctx, email, name))
	code, _ := codeFrom(t, e.inbox(t, email))
	grant, err := e.acc.ConfirmSignUp(ctx, email, code)
	require.NoError(t, err)
	return e.register(t, webauthnkit.RegistrationRequest{Grant: grant})
}

// noSecretsLogged fails if a code or token appears in the logs or events.
func (e *env) noSecretsLogged(t testing.TB, secrets ...string) {
	t.Helper()
	logs := e.logs.String()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range secrets {
		require.NotContains(t, logs, s)
		for _, ev := range e.events {
			require.NotContains(t, string(ev.Username)+string(ev.UserHandle)+string(ev.Kind), s)
		}
	}
}
