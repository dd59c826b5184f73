package httpadapter_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/internal/backendtest"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

const chromeLinuxUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"

// linkStart is B's view of a started link request.
type linkStart struct {
	linkID, code, phrase, approvalURL, qr string
}

// startLink runs link/start on b (a new device) and checks the answer and
// the poll-token cookie.
func startLink(t testing.TB, b *browser) linkStart {
	t.Helper()
	r := b.post("/link/start", map[string]any{})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	ls := linkStart{
		linkID: r.json["linkId"].(string), code: r.json["code"].(string), phrase: r.json["phrase"].(string),
		approvalURL: r.json["approvalUrl"].(string), qr: r.json["qrCode"].(string),
	}
	require.NotEmpty(t, ls.code)
	require.NotEmpty(t, ls.phrase)
	require.EqualValues(t, 2, r.json["interval"])
	c := setCookies(r.header)[httpadapter.LinkCookie]
	require.NotNil(t, c, "the poll token is in a cookie")
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Equal(t, "/passkeys", c.Path)
	require.NotContains(t, string(r.body), c.Value, "the poll token is not in the body")
	return ls
}

// poll runs link/poll on b.
func poll(t testing.TB, b *browser) *response {
	t.Helper()
	return b.post("/link/poll", map[string]any{})
}

// linkedDevice runs the part of B after approval: poll (approved, grant),
// register its own passkey with the grant (signed in as want), and checks
// the account now lists B's passkey.
func linkedDevice(t testing.TB, b *browser, want string) (grant string) {
	t.Helper()
	r := poll(t, b)
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, "approved", r.json["status"])
	require.Equal(t, want, r.json["username"])
	grant, _ = r.json["grant"].(string)
	require.NotEmpty(t, grant)
	require.Equal(t, -1, setCookies(r.header)[httpadapter.LinkCookie].MaxAge, "a final answer clears the cookie")

	reg := b.post("/registration/finish", b.registerResponse(map[string]any{"grant": grant, "name": "Laptop"}))
	require.Equal(t, http.StatusOK, reg.status, "%s", reg)
	require.Equal(t, true, reg.json["linked"])
	require.Equal(t, false, reg.json["newUser"])
	require.Equal(t, want, field(reg.json, "user", "name"))
	s := b.call(http.MethodGet, "/session", nil)
	require.Equal(t, http.StatusOK, s.status, "B is signed in: %s", s)
	require.Equal(t, want, field(s.json, "user", "name"))

	// The grant was single use.
	again := b.post("/registration/begin", map[string]any{"grant": grant})
	require.Equal(t, http.StatusBadRequest, again.status, "%s", again)
	require.Equal(t, string(webauthnkit.CodeInvalidGrant), again.code())
	return grant
}

// linkFlow is the whole flow on e: alice signs up on A; B starts a
// request; A looks it up (B's browser and OS, no phrase), approves with the typed words; B
// gets the grant, registers its own passkey, is signed in, and later signs
// in with that passkey alone.
// It returns what must never be logged.
func linkFlow(t *testing.T, e *env) (secrets []string) {
	a := e.browser()
	a.mustSignUp("alice")
	b := e.browser()
	b.header.Set("User-Agent", chromeLinuxUA)
	ls := startLink(t, b)
	require.Equal(t, e.origin+"/link#code="+ls.code, ls.approvalURL)
	secrets = append(secrets, ls.code, strings.ReplaceAll(ls.code, "-", ""), ls.phrase, b.cookie(httpadapter.LinkCookie).Value)

	r := poll(t, b)
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, "pending", r.json["status"])

	e.clock.Advance(30 * time.Second)
	look := a.post("/link/lookup", map[string]any{"code": ls.code})
	require.Equal(t, http.StatusOK, look.status, "%s", look)
	require.NotContains(t, look.json, "phrase", "A is not told the words: the user types them")
	require.NotContains(t, string(look.body), ls.phrase)
	require.Equal(t, ls.linkID, look.json["linkId"])
	require.Equal(t, "Chrome", look.json["browser"])
	require.Equal(t, "Linux", look.json["os"])
	created, err := time.Parse(time.RFC3339, look.json["createdAt"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, e.clock.Now().Add(-30*time.Second), created, time.Second)

	require.Equal(t, "pending", poll(t, b).json["status"], "looked up, not decided")
	ok := a.post("/link/approve", map[string]any{"linkId": ls.linkID, "phrase": ls.phrase})
	require.Equal(t, http.StatusOK, ok.status, "%s", ok)
	secrets = append(secrets, linkedDevice(t, b, "alice"))

	// B's own passkey signs in without A: a fresh browser with B's
	// authenticator.
	a2 := a.call(http.MethodGet, "/credentials", nil)
	require.Len(t, credentialIDs(a2), 2, "A lists B's passkey")
	b2 := e.browser()
	b2.dev = b.dev
	in := b2.login(map[string]any{})
	require.Equal(t, http.StatusOK, in.status, "%s", in)
	require.Equal(t, "alice", field(in.json, "user", "name"))
	require.NotEqual(t, field(a2.json, "credentials"), nil)

	// The code is spent: a replay after the approval, by anyone, fails.
	for _, who := range []*browser{a, b} {
		again := who.post("/link/lookup", map[string]any{"code": ls.code})
		require.Equal(t, http.StatusNotFound, again.status, "%s", again)
		require.Equal(t, string(webauthnkit.CodeLinkNotFound), again.code())
	}
	// B's cookie is gone: polling again is 404.
	require.Equal(t, http.StatusNotFound, poll(t, b).status)
	return secrets
}

func TestLinkFlow(t *testing.T) {
	e := newEnv(t)
	secrets := linkFlow(t, e)
	// Neither the code, the phrase, the poll token nor the grant reaches
	// the logs (debug level included).
	logs := e.logs.String()
	require.Contains(t, logs, "link_not_found", "the log is captured")
	for _, secret := range secrets {
		require.NotEmpty(t, secret)
		require.NotContains(t, logs, secret)
	}
}

// The same flow on every backend (sqlstore on PostgreSQL, MariaDB, SQLite;
// redisstore), through the HTTP adapter.
func TestLinkFlowBackends(t *testing.T) {
	for _, bk := range backendtest.All() {
		if bk.Name == "memstore" {
			continue // TestLinkFlow
		}
		t.Run(bk.Name, func(t *testing.T) {
			e := newEnv(t, func(ec *envConfig) {
				ec.backend = &bk
				ec.rpCfg = func(c *webauthnkit.Config) { c.Secret = testSecret }
			})
			linkFlow(t, e)
		})
	}
}

// The QR code is an SVG data URL of the approval URL; the SVG is
// well-formed and holds no text of the request.
func TestLinkQRCode(t *testing.T) {
	e := newEnv(t)
	ls := startLink(t, e.browser())
	data, ok := strings.CutPrefix(ls.qr, "data:image/svg+xml;base64,")
	require.True(t, ok, ls.qr[:min(40, len(ls.qr))])
	svg, err := base64.StdEncoding.DecodeString(data)
	require.NoError(t, err)
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	require.Contains(t, string(svg), `width="256"`)
	require.NotContains(t, string(svg), ls.code)

	// An absolute Options.LinkURL is used as it is.
	e2 := newEnv(t, func(ec *envConfig) { ec.opts.LinkURL = "https://app.example/devices/approve" })
	ls2 := startLink(t, e2.browser())
	require.Equal(t, "https://app.example/devices/approve#code="+ls2.code, ls2.approvalURL)

	// A malformed LinkURL is refused at New.
	for _, bad := range []string{"link", "//evil.example/link", "/link#x", "javascript:alert(1)", "ftp://x/link", "https://u:p@x/link", "/" + strings.Repeat("a", 600)} {
		_, err := httpadapter.New(e.rp, httpadapter.Options{SessionSecret: testSecret, LinkURL: bad})
		require.Error(t, err, bad)
	}
	for _, good := range []string{"/link", "/devices/approve?from=qr", "https://app.example/link"} {
		_, err := httpadapter.New(e.rp, httpadapter.Options{SessionSecret: testSecret, LinkURL: good})
		require.NoError(t, err, good)
	}
}

func TestLinkDeny(t *testing.T) {
	e := newEnv(t)
	a := e.browser()
	a.mustSignUp("alice")
	b := e.browser()
	ls := startLink(t, b)
	look := a.post("/link/lookup", map[string]any{"code": ls.code})
	require.Equal(t, http.StatusOK, look.status, "%s", look)
	d := a.post("/link/deny", map[string]any{"linkId": ls.linkID})
	require.Equal(t, http.StatusOK, d.status, "%s", d)

	r := poll(t, b)
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, "denied", r.json["status"])
	require.Nil(t, r.json["grant"])
	require.Equal(t, -1, setCookies(r.header)[httpadapter.LinkCookie].MaxAge)

	// Decided: neither an approval nor a second denial has an effect.
	for _, path := range []string{"/link/approve", "/link/deny"} {
		again := a.post(path, map[string]any{"linkId": ls.linkID, "phrase": ls.phrase})
		require.Equal(t, http.StatusNotFound, again.status, "%s %s", path, again)
	}
	require.Equal(t, http.StatusNotFound, poll(t, b).status)
}

// A request nobody decides expires after 10 minutes: B's poll says so,
// and the code no longer works.
func TestLinkExpiry(t *testing.T) {
	e := newEnv(t)
	a := e.browser()
	a.mustSignUp("alice")
	b := e.browser()
	ls := startLink(t, b)
	bCookie := b.cookie(httpadapter.LinkCookie)
	e.clock.Advance(webauthnkit.MaxLinkTTL + time.Second)
	if bCookie != nil {
		// The jar would drop the cookie at its Max-Age: keep sending it, as
		// a client that ignores Max-Age does.
		b.setCookie(httpadapter.LinkCookie, bCookie.Value, "/passkeys")
	}
	look := a.post("/link/lookup", map[string]any{"code": ls.code})
	require.Equal(t, http.StatusNotFound, look.status, "%s", look)
	r := poll(t, b)
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, "expired", r.json["status"])

	// Looked up but not decided in time: the approval fails too.
	b2 := e.browser()
	ls2 := startLink(t, b2)
	require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": ls2.code}).status)
	e.clock.Advance(webauthnkit.MaxLinkTTL + time.Second)
	late := a.post("/link/approve", map[string]any{"linkId": ls2.linkID, "phrase": ls2.phrase})
	require.NotEqual(t, http.StatusOK, late.status, "%s", late)
}

// Approval is bound to the account that looked the code up: another
// signed-in account can neither approve nor deny it, nor look the code up
// again; B cannot choose an account.
func TestLinkOtherAccount(t *testing.T) {
	e := newEnv(t)
	a := e.browser()
	a.mustSignUp("alice")
	c := e.browser()
	c.mustSignUp("carol")
	b := e.browser()
	ls := startLink(t, b)

	require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": ls.code}).status)
	require.Equal(t, http.StatusNotFound, c.post("/link/lookup", map[string]any{"code": ls.code}).status)
	for _, path := range []string{"/link/approve", "/link/deny"} {
		r := c.post(path, map[string]any{"linkId": ls.linkID, "phrase": ls.phrase})
		require.Equal(t, http.StatusNotFound, r.status, "%s %s", path, r)
	}
	require.Equal(t, "pending", poll(t, b).json["status"])
	require.Equal(t, http.StatusOK, a.post("/link/approve", map[string]any{"linkId": ls.linkID, "phrase": ls.phrase}).status)
	linkedDevice(t, b, "alice")

	// B's start takes no account name.
	r := e.browser().post("/link/start", map[string]any{"username": "carol"})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r)
	// Signed out, A's endpoints are 401.
	for _, path := range []string{"/link/lookup", "/link/approve", "/link/deny"} {
		r := e.browser().post(path, map[string]any{"code": ls.code, "linkId": ls.linkID})
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusBadRequest}, r.status, "%s %s", path, r)
	}
}

// Concurrent approvals and denials of one request: exactly one wins, and
// B sees that one outcome.
func TestLinkRacingApprovals(t *testing.T) {
	e := newEnv(t)
	a := e.browser()
	a.mustSignUp("alice")
	for round := range 3 {
		b := e.browser()
		ls := startLink(t, b)
		require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": ls.code}).status)
		const n = 8
		statuses := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			path := "/link/approve"
			if round == 1 && i%2 == 1 {
				path = "/link/deny"
			}
			wg.Go(func() {
				<-start
				statuses[i] = a.post(path, map[string]any{"linkId": ls.linkID, "phrase": ls.phrase}).status
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, s := range statuses {
			if s == http.StatusOK {
				wins++
			} else {
				require.Equal(t, http.StatusNotFound, s, "%v", statuses)
			}
		}
		require.Equal(t, 1, wins, "round %d: %v", round, statuses)
		st := poll(t, b).json["status"]
		require.Contains(t, []any{"approved", "denied"}, st)
		if round != 1 {
			require.Equal(t, "approved", st)
		}
	}
}

// Without a fresh user-verified sign-in, approving answers 403
// reauth_required; after reauth/begin + reauth/finish it succeeds.
func TestLinkApproveNeedsFreshAuth(t *testing.T) {
	e := newEnv(t)
	a := e.browser()
	a.mustSignUp("alice")
	b := e.browser()
	ls := startLink(t, b)
	require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": ls.code}).status)
	e.clock.Advance(httpadapter.DefaultFreshAuthMaxAge + time.Second)
	r := a.post("/link/approve", map[string]any{"linkId": ls.linkID, "phrase": ls.phrase})
	require.Equal(t, http.StatusForbidden, r.status, "%s", r)
	require.Equal(t, "reauth_required", r.code())
	require.Equal(t, "pending", poll(t, b).json["status"])

	resp, err := a.dev.Login(a.publicKey(a.post("/reauth/begin", map[string]any{})))
	require.NoError(t, err)
	fin := a.post("/reauth/finish", resp)
	require.Equal(t, http.StatusOK, fin.status, "%s", fin)
	require.Equal(t, http.StatusOK, a.post("/link/approve", map[string]any{"linkId": ls.linkID, "phrase": ls.phrase}).status)
	linkedDevice(t, b, "alice")
}

// Wrong codes: 404 link_not_found, and a client typing codes is soon
// limited (RateLimit.Link), as is one starting requests; the account's
// own lookup budget follows.
func TestLinkWrongCodesRateLimited(t *testing.T) {
	e := newEnv(t, func(ec *envConfig) {
		ec.realLimits = true
		ec.opts.RateLimit.Link = httpadapter.Rate{PerSecond: 0.001, Burst: 5}
	})
	a := e.browser()
	a.mustSignUp("alice")
	var codes []int
	for range 7 {
		codes = append(codes, a.post("/link/lookup", map[string]any{"code": "AAAAA-AAAAA"}).status)
	}
	require.Equal(t, []int{404, 404, 404, 404, 404, 429, 429}, codes)

	// link/start, whose QR code is costly to draw, counts there too (a
	// fresh server: this address has spent its budget above).
	es := newEnv(t, func(ec *envConfig) {
		ec.realLimits = true
		ec.opts.RateLimit.Link = httpadapter.Rate{PerSecond: 0.001, Burst: 5}
	})
	b := es.browser()
	var starts []int
	for range 7 {
		starts = append(starts, b.post("/link/start", map[string]any{}).status)
	}
	require.Equal(t, []int{200, 200, 200, 200, 200, 429, 429}, starts)

	// Without the per-client limit, the account's budget stops it.
	e2 := newEnv(t)
	a2 := e2.browser()
	a2.mustSignUp("alice")
	last := 0
	for i := range webauthnkit.LinkLookupLimit + 1 {
		r := a2.post("/link/lookup", map[string]any{"code": "AAAAA-AAAAA"})
		last = r.status
		if i < webauthnkit.LinkLookupLimit {
			require.Equal(t, http.StatusNotFound, r.status, "%d: %s", i, r)
		} else {
			require.Equal(t, "too_many_attempts", r.code())
		}
	}
	require.Equal(t, http.StatusTooManyRequests, last)
}

// Hostile input: oversized, missing or forged codes, IDs and poll tokens
// get one answer and never reach the panic handler.
func TestLinkHostileInput(t *testing.T) {
	e := newEnv(t)
	a := e.browser()
	a.mustSignUp("alice")
	for _, body := range []any{
		map[string]any{"code": strings.Repeat("A", 10000)},
		map[string]any{"code": ""},
		map[string]any{"code": "\x00\xff"},
		map[string]any{},
	} {
		r := a.post("/link/lookup", body)
		require.Equal(t, http.StatusNotFound, r.status, "%v: %s", body, r)
	}
	require.Equal(t, http.StatusBadRequest, a.post("/link/lookup", map[string]any{"code": 5}).status)
	require.Equal(t, http.StatusBadRequest, a.post("/link/lookup", `{"code":"A","x":1}`).status)
	for _, id := range []string{"", strings.Repeat("x", 5000), "not-a-link"} {
		r := a.post("/link/approve", map[string]any{"linkId": id, "phrase": "amber river tiger"})
		require.Equal(t, http.StatusNotFound, r.status, "%q: %s", id, r)
	}
	b := e.browser()
	require.Equal(t, http.StatusNotFound, poll(t, b).status, "no cookie")
	for _, tok := range []string{"x", strings.Repeat("y", 3000), "AAAA.BBBB"} {
		b.setCookie(httpadapter.LinkCookie, tok, "/passkeys")
		r := poll(t, b)
		require.Equal(t, http.StatusNotFound, r.status, "%q: %s", tok, r)
	}
	// Cross-site requests are refused.
	r := b.raw(http.MethodPost, b.base+"/link/start", []byte("{}"), map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, r.status)
}

// With Options.Accounts, an approval mails the account's verified address
// the device_linked notice (read from the SMTP server).
func TestLinkApprovalNotice(t *testing.T) {
	ae := newAccountEnv(t)
	a := ae.browser()
	reg := a.mustSignUp("alice")
	handle := unb64(t, field(reg.json, "user", "handle").(string))
	_, err := ae.rp.SetEmail(context.Background(), handle, "alice@example.com", true)
	require.NoError(t, err)
	b := ae.browser()
	ls := startLink(t, b)
	require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": ls.code}).status)
	require.Equal(t, http.StatusOK, a.post("/link/approve", map[string]any{"linkId": ls.linkID, "phrase": ls.phrase}).status)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := ae.smtp.WaitFor(ctx, "alice@example.com")
	require.NoError(t, err)
	require.Contains(t, m.Subject, "new device was approved")
	require.Contains(t, m.Text, "tricked")
	require.NotContains(t, m.Text, ls.code)
	require.NotContains(t, m.Text, ls.phrase)
	linkedDevice(t, b, "alice")
}

// The store down: every link endpoint answers 503 store_unavailable with
// Retry-After; link/start sets no cookie, and B's poll keeps its cookie,
// so the request goes on once the store is back.
func TestLinkStoreUnavailable(t *testing.T) {
	e := newEnv(t)
	a := e.browser()
	a.mustSignUp("alice")
	b := e.browser()
	ls := startLink(t, b)

	e.store.Fail(storewrap.ErrDown)
	r := e.browser().post("/link/start", map[string]any{})
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r)
	require.NotEmpty(t, r.header.Get("Retry-After"))
	require.Nil(t, setCookies(r.header)[httpadapter.LinkCookie])
	r = poll(t, b)
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r)
	require.Nil(t, setCookies(r.header)[httpadapter.LinkCookie], "the poll token is kept")
	for path, body := range map[string]any{
		"/link/lookup":  map[string]any{"code": ls.code},
		"/link/approve": map[string]any{"linkId": ls.linkID, "phrase": ls.phrase},
		"/link/deny":    map[string]any{"linkId": ls.linkID},
	} {
		r := a.post(path, body)
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s: %s", path, r)
	}
	e.store.Fail(nil)

	require.Equal(t, "pending", poll(t, b).json["status"])
	require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": ls.code}).status)
	require.Equal(t, http.StatusOK, a.post("/link/approve", map[string]any{"linkId": ls.linkID, "phrase": ls.phrase}).status)
	linkedDevice(t, b, "alice")
}

// With the app's own session (CurrentUser, AuthenticatedAt): the
// approval's freshness comes from AuthenticatedAt, and the new device's
// registration sets no built-in cookie; OnRegister sees the link grant's
// purpose, to sign the new device in.
func TestLinkWithAppSession(t *testing.T) {
	var authAt atomic.Int64 // Unix seconds; 0: never
	var purposes []string
	var mu sync.Mutex
	e := appEnv(t, func(c *envConfig) {
		c.opts.AuthenticatedAt = func(r *http.Request) time.Time {
			if s := authAt.Load(); s > 0 {
				return time.Unix(s, 0)
			}
			return time.Time{}
		}
		c.opts.OnRegister = func(w http.ResponseWriter, r *http.Request, reg *webauthnkit.Registration) error {
			mu.Lock()
			purposes = append(purposes, reg.GrantPurpose)
			mu.Unlock()
			return nil
		}
	})
	a := e.browser()
	a.header.Set("X-App-User", base64.RawURLEncoding.EncodeToString(appUserHandle))
	first := a.post("/registration/finish", a.registerResponse(map[string]any{}))
	require.Equal(t, http.StatusOK, first.status, "%s", first)

	b := e.browser()
	ls := startLink(t, b)
	require.Equal(t, http.StatusOK, a.post("/link/lookup", map[string]any{"code": ls.code}).status)
	r := a.post("/link/approve", map[string]any{"linkId": ls.linkID, "phrase": ls.phrase})
	require.Equal(t, http.StatusForbidden, r.status, "no authentication time on record: %s", r)
	require.Equal(t, "reauth_required", r.code())
	authAt.Store(e.clock.Now().Unix())
	require.Equal(t, http.StatusOK, a.post("/link/approve", map[string]any{"linkId": ls.linkID, "phrase": ls.phrase}).status)

	p := poll(t, b)
	require.Equal(t, "approved", p.json["status"], "%s", p)
	reg := b.post("/registration/finish", b.registerResponse(map[string]any{"grant": p.json["grant"]}))
	require.Equal(t, http.StatusOK, reg.status, "%s", reg)
	require.Equal(t, true, reg.json["linked"])
	require.Equal(t, base64.RawURLEncoding.EncodeToString(appUserHandle), field(reg.json, "user", "handle"))
	for name := range setCookies(reg.header) {
		require.NotContains(t, name, "session", "no built-in session with CurrentUser")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"", webauthnkit.LinkGrantPurpose}, purposes)
}

// BenchmarkLinkStart is POST link/start through the adapter (core record,
// QR code, cookie, JSON) against a pending POST link/poll, over memstore:
// the cost of the QR code is what sets link/start apart.
func BenchmarkLinkStart(b *testing.B) {
	e := newEnv(b)
	h := e.h
	req := func(path string, cookie *http.Cookie) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/"+path, strings.NewReader("{}"))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", e.origin)
		r.Header.Set("User-Agent", chromeLinuxUA)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		return r
	}
	b.Run("start", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req("link/start", nil))
			if w.Code != http.StatusOK {
				b.Fatal(w.Code, w.Body.String())
			}
		}
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req("link/start", nil))
	cookie := setCookies(w.Header())[httpadapter.LinkCookie]
	b.Run("poll", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req("link/poll", cookie))
			if w.Code != http.StatusOK {
				b.Fatal(w.Code, w.Body.String())
			}
		}
	})
}

// FuzzLinkEndpoints sends arbitrary bodies to every link endpoint and
// arbitrary poll-token cookies, signed in as alice: no answer is a 5xx or
// an error without JSON, and the pending request of another device is
// never decided by it.
func FuzzLinkEndpoints(f *testing.F) {
	store, err := memstore.New()
	require.NoError(f, err)
	f.Cleanup(func() { _ = store.Close() })
	rp, err := webauthnkit.New(webauthnkit.Config{RPID: "example.com", Origins: []string{fuzzOrigin}, Credentials: store, Ceremonies: store})
	require.NoError(f, err)
	h, err := httpadapter.New(rp, httpadapter.Options{SessionSecret: testSecret, RateLimit: httpadapter.RateLimit{Disabled: true}})
	require.NoError(f, err)
	mux := http.NewServeMux()
	mux.Handle("/passkeys/", http.StripPrefix("/passkeys", h))
	ft := &fuzzTarget{rp: rp, h: mux, dev: webauthntest.New()}
	cookie, opts := ft.begin(f, "/registration/begin", `{"username":"alice"}`)
	reg, err := ft.dev.Register(opts)
	require.NoError(f, err)
	w := ft.post("/registration/finish", reg, cookie)
	require.Equal(f, http.StatusOK, w.Code, w.Body.String())
	session := setCookies(w.Header())[httpadapter.SessionCookieSecure]
	w = ft.post("/link/start", []byte(`{}`))
	require.Equal(f, http.StatusOK, w.Code, w.Body.String())
	pollCookie := setCookies(w.Header())[httpadapter.LinkCookie]
	require.NotNil(f, pollCookie)

	paths := []string{"/link/start", "/link/poll", "/link/lookup", "/link/approve", "/link/deny"}
	for i := range paths {
		for _, s := range []string{`{}`, `{"code":"AAAAA-AAAAA"}`, `{"linkId":"x"}`, `{"code":null}`, `[]`, ``, `{"code":"` + strings.Repeat("Z", 200) + `"}`, `{"linkId":1}`} {
			f.Add(uint8(i), []byte(s), "", true)
		}
		f.Add(uint8(i), []byte(`{}`), pollCookie.Value[:len(pollCookie.Value)/2], false)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte, token string, signedIn bool) {
		path := paths[int(which)%len(paths)]
		var cookies []*http.Cookie
		if signedIn {
			cookies = append(cookies, session)
		}
		if c := (&http.Cookie{Name: httpadapter.LinkCookie, Value: token}); token != "" && c.Valid() == nil {
			cookies = append(cookies, c)
		}
		w := ft.post(path, body, cookies...)
		checkAnswer(t, w, body)
		if w.Code == http.StatusOK && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("invalid JSON answer: %s", w.Body.String())
		}
		w = ft.post("/link/poll", []byte(`{}`), pollCookie)
		var p struct{ Status string }
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), w.Body.String())
		if p.Status != "pending" {
			t.Fatalf("the other device's request was decided: %s", w.Body.String())
		}
	})
}
