package httpadapter_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/account"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/internal/testsmtp"
	"github.com/webauthnkit/webauthnkit/mail"
	"github.com/webauthnkit/webauthnkit/otc"
)

// switchMailer sends over SMTP to an address the test can change (to a
// closed port for an outage).
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

// accountEnv is env with Options.Accounts over the same store, mailing to
// a real SMTP server (internal/testsmtp).
type accountEnv struct {
	*env
	acc    *account.Accounts
	smtp   *testsmtp.Server
	mailer *switchMailer
}

func newAccountEnv(t testing.TB, edit ...func(*envConfig, *account.Config)) *accountEnv {
	t.Helper()
	ae := &accountEnv{smtp: testsmtp.Start(t), mailer: &switchMailer{}}
	ae.mailer.to(t, ae.smtp.Addr)
	hook := &account.EventHook{}
	ae.env = newEnv(t, func(ec *envConfig) {
		ec.rpCfg = func(c *webauthnkit.Config) { c.OnEvent = hook.OnEvent }
		ec.accounts = func(e *env) *account.Accounts {
			logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			codes, err := otc.New(otc.Config{Store: e.store, Secret: bytes.Repeat([]byte{1}, 32), Links: true, Now: e.clock.Now, Logger: logger})
			require.NoError(t, err)
			cfg := account.Config{
				RP: e.rp, Users: e.store, Challenges: e.store, Codes: codes, Mailer: ae.mailer,
				Secret: bytes.Repeat([]byte{2}, 32), AppName: "Example", LinkBase: e.origin + "/confirm",
				MailsPerAddress: 20, StartsPerAccount: 20, MinStartDuration: -1,
				Now: e.clock.Now, Logger: logger,
			}
			for _, f := range edit {
				f(ec, &cfg)
			}
			acc, err := account.New(cfg)
			require.NoError(t, err)
			hook.Set(acc)
			ae.acc = acc
			return acc
		}
		for _, f := range edit {
			f(ec, nil)
		}
	})
	return ae
}

var mailCodeRE = regexp.MustCompile(`(?m)^    (\d{6})$`)

// mailTo waits for the next mail to address and returns its code and link
// token.
func (ae *accountEnv) mailTo(t testing.TB, address string) (code, token string) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := ae.smtp.WaitFor(c, address)
	require.NoError(t, err)
	if sub := mailCodeRE.FindStringSubmatch(m.Text); sub != nil {
		code = sub[1]
	}
	if i := strings.Index(m.Text, ae.origin+"/confirm?"); i >= 0 {
		l := m.Text[i:]
		if j := strings.IndexAny(l, " \n\r"); j >= 0 {
			l = l[:j]
		}
		u, err := url.Parse(l)
		require.NoError(t, err)
		token = u.Query().Get("token")
	}
	return code, token
}

func (ae *accountEnv) mailsTo(address string) int {
	n := 0
	for _, m := range ae.smtp.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, address) {
				n++
			}
		}
	}
	return n
}

// registerWithGrant runs registration/begin {grant} and finish in b.
func (b *browser) registerWithGrant(grant string) *response {
	b.t.Helper()
	return b.post("/registration/finish", b.registerResponse(map[string]string{"grant": grant, "name": "New device"}))
}

func TestAccountSignUpVerifyFirst(t *testing.T) {
	ae := newAccountEnv(t)
	b := ae.browser()
	r := b.post("/signup/start", map[string]string{"email": "Alice@Example.com", "username": "alice"})
	require.Equal(t, http.StatusAccepted, r.status, "%s", r)
	require.Equal(t, "{}\n", string(r.body))
	code, token := ae.mailTo(t, "alice@example.com")
	require.Len(t, code, 6)
	require.NotEmpty(t, token)

	// A wrong code is a 400 and does not spend the right one.
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	r = b.post("/signup/confirm", map[string]string{"email": "alice@example.com", "code": wrong})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
	require.Equal(t, "invalid_code", r.code())
	// Code and token together are refused.
	r = b.post("/signup/confirm", map[string]string{"email": "alice@example.com", "code": code, "token": token})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)

	r = b.post("/signup/confirm", map[string]string{"email": "alice@example.com", "code": code})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	grant := r.json["grant"].(string)

	// Nobody is signed in before the passkey exists.
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/session", nil).status)
	r = b.registerWithGrant(grant)
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, true, r.json["newUser"])
	require.Equal(t, "alice", field(r.json, "user", "name"))
	r = b.call(http.MethodGet, "/session", nil)
	require.Equal(t, http.StatusOK, r.status, "signed in after sign-up: %s", r)
	u, err := ae.rp.UserByEmail(context.Background(), "alice@example.com")
	require.NoError(t, err)
	require.Equal(t, "alice", u.Name)
	require.False(t, u.EmailVerifiedAt.IsZero(), "verify-first: the address is verified")

	// The grant is single use.
	r = b.post("/registration/begin", map[string]string{"grant": grant})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
	require.Equal(t, "invalid_grant", r.code())

	// The same answer for a verified address and a free one; nothing is
	// mailed to the holder. (A taken name is 409: names are public at
	// sign-up anyway.)
	other := ae.browser()
	r = other.post("/signup/start", map[string]string{"email": "new@example.com", "username": "alice"})
	require.Equal(t, http.StatusConflict, r.status, "%s", r)
	require.Equal(t, "username_taken", r.code())
	for _, body := range []map[string]string{
		{"email": "alice@example.com", "username": "alice2"},
		{"email": "fresh@example.com", "username": "fresh"},
	} {
		r = other.post("/signup/start", body)
		require.Equal(t, http.StatusAccepted, r.status, "%v: %s", body, r)
		require.Equal(t, "{}\n", string(r.body))
	}
	require.Equal(t, 1, ae.mailsTo("alice@example.com"), "the holder of a verified address gets nothing")
	// The link token path.
	_, token = ae.mailTo(t, "fresh@example.com")
	r = other.post("/signup/confirm", map[string]string{"token": token})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, http.StatusOK, other.registerWithGrant(r.json["grant"].(string)).status)
}

func TestAccountRecoveryByEmail(t *testing.T) {
	ae := newAccountEnv(t)
	old := ae.browser()
	old.mustSignUp("bob")
	// Signed in: set and verify an address over HTTP.
	r := old.post("/email", map[string]string{"email": "bob@example.com"})
	require.Equal(t, http.StatusAccepted, r.status, "%s", r)
	code, _ := ae.mailTo(t, "bob@example.com")
	r = old.post("/email/verify", map[string]string{"code": code})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, true, r.json["emailVerified"])
	// The old passkey signs in once, so it has a last use.
	ae.clock.Advance(time.Minute)
	require.Equal(t, http.StatusOK, old.login(map[string]string{"username": "bob"}).status)
	oldID := credentialIDs(old.call(http.MethodGet, "/credentials", nil))[0]

	// Lost device: a new browser with a new authenticator.
	ae.clock.Advance(time.Minute)
	nb := ae.browser()
	known := nb.post("/recovery/start", map[string]string{"identifier": "bob@example.com"})
	require.Equal(t, http.StatusAccepted, known.status, "%s", known)
	unknown := nb.post("/recovery/start", map[string]string{"identifier": "nobody@example.com"})
	require.Equal(t, known.status, unknown.status)
	require.Equal(t, known.body, unknown.body, "the same answer for an unknown account")
	code, _ = ae.mailTo(t, "bob@example.com")
	r = nb.post("/recovery/confirm", map[string]string{"identifier": "nobody@example.com", "code": code})
	require.Equal(t, http.StatusBadRequest, r.status, "another account's code: %s", r)
	r = nb.post("/recovery/confirm", map[string]string{"identifier": "bob@example.com", "code": code})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	r = nb.registerWithGrant(r.json["grant"].(string))
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, false, r.json["newUser"])
	require.Equal(t, true, r.json["recovered"])
	newID := field(r.json, "credential", "id").(string)

	// Signed in; both passkeys listed, the old one with its last use.
	r = nb.call(http.MethodGet, "/credentials", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.ElementsMatch(t, []string{oldID, newID}, credentialIDs(r))
	for _, c := range r.json["credentials"].([]any) {
		c := c.(map[string]any)
		if c["id"] == oldID {
			require.NotEmpty(t, c["lastUsedAt"], "the de-authorise prompt shows the last use")
		}
	}
	// The recovery_completed notice was mailed (CompleteRecovery ran).
	require.Eventually(t, func() bool { return ae.mailsTo("bob@example.com") >= 4 }, 5*time.Second, 10*time.Millisecond)

	// De-authorise the lost passkey.
	r = nb.call(http.MethodDelete, "/credentials/"+oldID, map[string]any{})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, []string{newID}, credentialIDs(r))
	require.Equal(t, http.StatusUnauthorized, old.call(http.MethodGet, "/session", nil).status, "the old browser's session ended")
}

func TestAccountRecoveryCodes(t *testing.T) {
	ae := newAccountEnv(t)
	b := ae.browser()
	// Signed out: 401.
	require.Equal(t, http.StatusUnauthorized, b.post("/recovery/codes", map[string]any{}).status)
	b.mustSignUp("carol")
	r := b.post("/recovery/codes", map[string]any{})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	codes := r.json["codes"].([]any)
	require.NotEmpty(t, codes)
	r = b.call(http.MethodGet, "/recovery/codes", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.EqualValues(t, len(codes), r.json["left"])

	nb := ae.browser()
	r = nb.post("/recovery/code", map[string]string{"username": "carol", "code": "not-a-code"})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
	r = nb.post("/recovery/code", map[string]string{"username": "nobody", "code": codes[0].(string)})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
	require.Equal(t, "invalid_code", r.code())
	r = nb.post("/recovery/code", map[string]string{"username": "carol", "code": codes[0].(string)})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	r = nb.registerWithGrant(r.json["grant"].(string))
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, true, r.json["recovered"])
	r = nb.call(http.MethodGet, "/recovery/codes", nil)
	require.Equal(t, http.StatusOK, r.status, "signed in after recovery: %s", r)
	require.EqualValues(t, len(codes)-1, r.json["left"])
	// A used code is refused.
	r = ae.browser().post("/recovery/code", map[string]string{"username": "carol", "code": codes[0].(string)})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
}

func TestAccountWrongCodesThen429(t *testing.T) {
	ae := newAccountEnv(t, func(_ *envConfig, c *account.Config) {
		if c != nil {
			c.CodeAttempts = 3
		}
	})
	b := ae.browser()
	b.mustSignUp("dave")
	require.Equal(t, http.StatusOK, b.post("/recovery/codes", map[string]any{}).status)
	nb := ae.browser()
	var r *response
	for i := 0; i < 10; i++ {
		r = nb.post("/recovery/code", map[string]string{"username": "dave", "code": "aaaa-bbbb-cccc"})
		if r.status != http.StatusBadRequest {
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r)
	require.Equal(t, "too_many_attempts", r.code())
	require.NotEmpty(t, r.header.Get("Retry-After"))

	// Emailed codes too: wrong codes end in 429 for that flow.
	require.Equal(t, http.StatusAccepted, nb.post("/signup/start", map[string]string{"email": "e@example.com", "username": "eve"}).status)
	ae.mailTo(t, "e@example.com")
	for i := 0; i < 30; i++ {
		r = nb.post("/signup/confirm", map[string]string{"email": "e@example.com", "code": "999999"})
		if r.status != http.StatusBadRequest {
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r)
	require.NotEmpty(t, r.header.Get("Retry-After"))
}

func TestAccountMailDown(t *testing.T) {
	ae := newAccountEnv(t)
	b := ae.browser()
	ae.mailer.to(t, testsmtp.ClosedPort(t))
	r := b.post("/signup/start", map[string]string{"email": "frank@example.com", "username": "frank"})
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r)
	require.Equal(t, "mail_unavailable", r.code())
	require.NotEmpty(t, r.header.Get("Retry-After"))
	_, err := ae.rp.UserByEmail(context.Background(), "frank@example.com")
	require.ErrorIs(t, err, webauthnkit.ErrUserNotFound, "nothing half-done")
	require.Zero(t, ae.mailsTo("frank@example.com"))

	// Signed in, setting an address: 503 too, and a retry works once the
	// mail server is back.
	gina := b.mustSignUp("gina")
	r = b.post("/email", map[string]string{"email": "gina@example.com"})
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r)
	require.NotEmpty(t, r.header.Get("Retry-After"))
	u, err := ae.rp.UserByHandle(context.Background(), unb64(t, field(gina.json, "user", "handle").(string)))
	require.NoError(t, err)
	require.True(t, u.EmailVerifiedAt.IsZero())

	ae.mailer.to(t, ae.smtp.Addr)
	r = b.post("/signup/start", map[string]string{"email": "frank@example.com", "username": "frank"})
	require.Equal(t, http.StatusAccepted, r.status, "%s", r)
	code, _ := ae.mailTo(t, "frank@example.com")
	r = b.post("/signup/confirm", map[string]string{"email": "frank@example.com", "code": code})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	r = b.post("/email", map[string]string{"email": "gina@example.com"})
	require.Equal(t, http.StatusAccepted, r.status, "%s", r)
	code, _ = ae.mailTo(t, "gina@example.com")
	require.Equal(t, http.StatusOK, b.post("/email/verify", map[string]string{"code": code}).status)
	// The outage was logged without addresses or codes.
	logs := ae.logs.String()
	require.Contains(t, logs, "account flow unavailable")
	for _, secret := range []string{"frank@example.com", "gina@example.com", code} {
		require.NotContains(t, logs, secret)
	}
}

// accountPaths are the account-flow endpoints with a valid-looking body.
var accountPaths = []struct {
	method, path string
	body         any
}{
	{http.MethodPost, "/signup/start", map[string]string{"email": "a@example.com", "username": "a"}},
	{http.MethodPost, "/signup/confirm", map[string]string{"email": "a@example.com", "code": "123456"}},
	{http.MethodPost, "/recovery/start", map[string]string{"identifier": "a"}},
	{http.MethodPost, "/recovery/confirm", map[string]string{"identifier": "a", "code": "123456"}},
	{http.MethodPost, "/recovery/code", map[string]string{"username": "a", "code": "x"}},
	{http.MethodPost, "/recovery/codes", map[string]any{}},
	{http.MethodGet, "/recovery/codes", nil},
	{http.MethodPost, "/email", map[string]string{"email": "a@example.com"}},
	{http.MethodPost, "/email/verify", map[string]string{"code": "123456"}},
}

func TestAccountEndpointsAbsentWithoutAccounts(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, p := range accountPaths {
		r := b.call(p.method, p.path, p.body)
		require.Equal(t, http.StatusNotFound, r.status, "%s %s: %s", p.method, p.path, r)
	}
	// A grant is still checked by the core (apps can issue their own).
	r := b.post("/registration/begin", map[string]string{"grant": "bogus"})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
	require.Equal(t, "invalid_grant", r.code())
}

func TestAccountHostileBodies(t *testing.T) {
	ae := newAccountEnv(t)
	b := ae.browser()
	b.mustSignUp("hal")
	bodies := []string{"", "null", "[]", "{", `{"email":1}`, `{"code":null}`, `{"x":"y"}`, `{}{}`, `"str"`, "\x00\xff", strings.Repeat("[", 10000)}
	for _, p := range accountPaths {
		if p.method != http.MethodPost {
			continue
		}
		for _, body := range bodies {
			if p.path == "/recovery/codes" && body == "" {
				continue // {} may be omitted there
			}
			r := b.call(http.MethodPost, p.path, body)
			require.Contains(t, []int{http.StatusBadRequest}, r.status, "%s %q: %s", p.path, body, r)
		}
		// Wrong content type, cross-site origin.
		r := b.raw(http.MethodPost, b.base+p.path, []byte("{}"), map[string]string{"Content-Type": "text/plain"})
		require.Equal(t, http.StatusUnsupportedMediaType, r.status, "%s: %s", p.path, r)
		r = b.raw(http.MethodPost, b.base+p.path, []byte("{}"), map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"})
		require.Equal(t, http.StatusForbidden, r.status, "%s: %s", p.path, r)
		// Wrong method.
		r = b.call(http.MethodPut, p.path, map[string]any{})
		require.Equal(t, http.StatusMethodNotAllowed, r.status, "%s: %s", p.path, r)
	}
	// Long values are input errors, not 5xx.
	long := strings.Repeat("a", 60<<10)
	for _, p := range accountPaths {
		if p.method != http.MethodPost {
			continue
		}
		for _, f := range []string{"email", "username", "identifier", "code", "token"} {
			r := b.call(http.MethodPost, p.path, map[string]string{f: long})
			require.Less(t, r.status, 500, "%s %s: %s", p.path, f, r)
		}
	}
	// Grant with sign-up fields is refused.
	r := b.post("/registration/begin", map[string]string{"grant": "g", "username": "x"})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
}

func TestAccountRateLimitClass(t *testing.T) {
	ae := newAccountEnv(t, func(ec *envConfig, c *account.Config) {
		if c == nil {
			ec.realLimits = true
			ec.opts.RateLimit.Account = httpadapter.Rate{PerSecond: 0.001, Burst: 3}
		}
	})
	b := ae.browser()
	var r *response
	for i := 0; i < 4; i++ {
		r = b.post("/recovery/start", map[string]string{"identifier": "nobody"})
	}
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r)
	require.Equal(t, "rate_limited", r.code())
	require.NotEmpty(t, r.header.Get("Retry-After"))
	// Passkey sign-in has its own budget.
	require.Equal(t, http.StatusOK, b.post("/login/begin", map[string]any{}).status)
}

func TestAccountStoreDown(t *testing.T) {
	ae := newAccountEnv(t)
	b := ae.browser()
	b.mustSignUp("ivan")
	ae.store.Fail(storewrap.ErrDown)
	defer ae.store.Fail(nil)
	for _, p := range accountPaths {
		r := b.call(p.method, p.path, p.body)
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s %s: %s", p.method, p.path, r)
		require.NotEmpty(t, r.header.Get("Retry-After"), "%s", p.path)
	}
}

// FuzzAccountEndpoints: any body to any account endpoint, signed in or
// not, is answered below 500 with a JSON error code (checked by raw).
func FuzzAccountEndpoints(f *testing.F) {
	ae := newAccountEnv(f)
	signedIn := ae.browser()
	signedIn.mustSignUp("fuzz")
	signedOut := ae.browser()
	for i, p := range accountPaths {
		if p.method != http.MethodPost {
			continue
		}
		for _, s := range []string{`{}`, `{"email":"a@b.c","username":"u"}`, `{"code":"123456"}`, `{"token":"x"}`,
			`{"code":"1","token":"2"}`, `{"identifier":""}`, `{"username":"fuzz","code":"aaaa-bbbb"}`, `[]`, ``, `{"email":null}`} {
			f.Add(uint8(i), []byte(s), i%2 == 0)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte, in bool) {
		p := accountPaths[int(which)%len(accountPaths)]
		b := *signedOut
		if in {
			b = *signedIn
		}
		b.t = t
		r := b.raw(p.method, b.base+p.path, body, map[string]string{"Content-Type": "application/json"})
		if r.status >= 500 {
			t.Fatalf("%s %q: %s", p.path, body, r)
		}
	})
}

// TestAccountSetEmailTaken: an address another account holds is answered
// like a free one (202), nothing is sent, nothing changes.
func TestAccountSetEmailTaken(t *testing.T) {
	ae := newAccountEnv(t)
	owner := ae.browser()
	owner.mustSignUp("olga")
	require.Equal(t, http.StatusAccepted, owner.post("/email", map[string]string{"email": "olga@example.com"}).status)
	code, _ := ae.mailTo(t, "olga@example.com")
	require.Equal(t, http.StatusOK, owner.post("/email/verify", map[string]string{"code": code}).status)

	prober := ae.browser()
	me := prober.mustSignUp("peter")
	free := prober.post("/email", map[string]string{"email": "peter@example.com"})
	taken := prober.post("/email", map[string]string{"email": "olga@example.com"})
	require.Equal(t, free.status, taken.status, "%s", taken)
	require.Equal(t, free.body, taken.body)
	require.Equal(t, 1, ae.mailsTo("olga@example.com"), "nothing sent to the holder")
	u, err := ae.rp.UserByHandle(context.Background(), unb64(t, field(me.json, "user", "handle").(string)))
	require.NoError(t, err)
	require.Equal(t, "peter@example.com", u.Email, "unchanged by the refused address")
}

func TestAccountSignUpDisabled(t *testing.T) {
	ae := newAccountEnv(t, func(ec *envConfig, c *account.Config) {
		if c == nil {
			ec.opts.DisableSignUp = true
		}
	})
	r := ae.browser().post("/signup/start", map[string]string{"email": "q@example.com", "username": "q"})
	require.Equal(t, http.StatusForbidden, r.status, "%s", r)
	require.Equal(t, "signup_disabled", r.code())
	require.Zero(t, ae.mailsTo("q@example.com"))
}

// TestAccountLinkTokens: the mailed links work without a session
// (email/verify {"token"}, recovery/confirm {"token"}), and once only.
func TestAccountLinkTokens(t *testing.T) {
	ae := newAccountEnv(t)
	b := ae.browser()
	b.mustSignUp("rita")
	require.Equal(t, http.StatusAccepted, b.post("/email", map[string]string{"email": "rita@example.com"}).status)
	_, token := ae.mailTo(t, "rita@example.com")
	require.NotEmpty(t, token)
	other := ae.browser() // the link opened in another browser, signed out
	r := other.post("/email/verify", map[string]string{"token": token})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, true, r.json["emailVerified"])
	// That proves the mailbox, not the passkeys (a pre-hijacked account in
	// flow b): the passkeys registered before are removed, their sessions end.
	require.Equal(t, http.StatusUnauthorized, b.call(http.MethodGet, "/session", nil).status)
	u, err := ae.rp.UserByEmail(context.Background(), "rita@example.com")
	require.NoError(t, err)
	creds, err := ae.rp.ListCredentials(context.Background(), u.Handle)
	require.NoError(t, err)
	require.Empty(t, creds, "passkeys registered before the address was proven")
	r = other.post("/email/verify", map[string]string{"token": token})
	require.Equal(t, http.StatusBadRequest, r.status, "used: %s", r)
	// A code without a session is not enough to name the account.
	r = other.post("/email/verify", map[string]string{"code": "123456"})
	require.Equal(t, http.StatusUnauthorized, r.status, "%s", r)

	require.Equal(t, http.StatusAccepted, other.post("/recovery/start", map[string]string{"identifier": "rita"}).status)
	_, token = ae.mailTo(t, "rita@example.com")
	r = other.post("/recovery/confirm", map[string]string{"identifier": "rita", "token": token})
	require.Equal(t, http.StatusBadRequest, r.status, "token with identifier: %s", r)
	r = other.post("/recovery/confirm", map[string]string{"token": token})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	r = other.registerWithGrant(r.json["grant"].(string))
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, true, r.json["recovered"])
	require.Equal(t, "rita", field(other.call(http.MethodGet, "/session", nil).json, "user", "name"))
}

// The link opened where the account is signed in keeps its passkeys (the
// session holder has one of them and now the mailbox too); a link for
// another account's address does not verify this one.
func TestAccountLinkTokenSignedInKeepsPasskeys(t *testing.T) {
	ae := newAccountEnv(t)
	b := ae.browser()
	b.mustSignUp("sam")
	require.Equal(t, http.StatusAccepted, b.post("/email", map[string]string{"email": "sam@example.com"}).status)
	_, token := ae.mailTo(t, "sam@example.com")
	r := b.post("/email/verify", map[string]string{"token": token})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, true, r.json["emailVerified"])
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/session", nil).status, "still signed in")
	require.Len(t, credentialIDs(b.call(http.MethodGet, "/credentials", nil)), 1, "passkey kept")

	// Tess opens a link mailed for Uma's address while signed in as Tess.
	tess, uma := ae.browser(), ae.browser()
	tess.mustSignUp("tess")
	uma.mustSignUp("uma")
	require.Equal(t, http.StatusAccepted, uma.post("/email", map[string]string{"email": "uma@example.com"}).status)
	_, token = ae.mailTo(t, "uma@example.com")
	r = tess.post("/email/verify", map[string]string{"token": token})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
}

// Changing a verified address mails an "email changed" notice to the old
// address (the new one gets its verification code), so a session thief
// cannot move the account silently.
func TestAccountEmailChangeNotifiesOldAddress(t *testing.T) {
	ae := newAccountEnv(t)
	b := ae.browser()
	b.mustSignUp("vera")
	require.Equal(t, http.StatusAccepted, b.post("/email", map[string]string{"email": "vera@example.com"}).status)
	code, _ := ae.mailTo(t, "vera@example.com")
	require.Equal(t, http.StatusOK, b.post("/email/verify", map[string]string{"code": code}).status)
	before := ae.mailsTo("vera@example.com")

	require.Equal(t, http.StatusAccepted, b.post("/email", map[string]string{"email": "vera.new@example.com"}).status)
	require.Eventually(t, func() bool { return ae.mailsTo("vera@example.com") == before+1 }, 5*time.Second, 10*time.Millisecond,
		"the old, verified address is told")
	newCode, _ := ae.mailTo(t, "vera.new@example.com")
	require.NotEmpty(t, newCode, "the new address gets its verification code")
	require.Equal(t, 1, ae.mailsTo("vera.new@example.com"), "and nothing else")
}

// A hung store on the account endpoints: 503 with Retry-After once
// StoreTimeout + MailTimeout have passed (their deadline, as they send
// mail), never the hang.
func TestAccountStoreHung(t *testing.T) {
	const store, mail = 300 * time.Millisecond, 200 * time.Millisecond
	ae := newAccountEnv(t, func(ec *envConfig, _ *account.Config) {
		ec.opts.StoreTimeout, ec.opts.MailTimeout = store, mail
	})
	b := ae.browser()
	b.mustSignUp("ivan")
	ae.store.SetDelay(time.Hour)
	defer ae.store.SetDelay(0)
	for _, p := range accountPaths {
		start := time.Now()
		r := b.call(p.method, p.path, p.body)
		elapsed := time.Since(start)
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s %s: %s", p.method, p.path, r)
		require.NotEmpty(t, r.header.Get("Retry-After"), "%s", p.path)
		require.Less(t, elapsed, store+mail+time.Second, "%s %s held past its deadline", p.method, p.path)
	}
}
