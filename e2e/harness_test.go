package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// stepTimeout bounds every single browser step (a navigation, a click, a
// ceremony), so that a hung page fails the test quickly instead of at the
// go test deadline.
const stepTimeout = 20 * time.Second

// env is one example app, served in-process at http://localhost:<port>, and
// one Chromium process shared by every tab of the test.
type env struct {
	base    string // http://localhost:<port>, the origin the app is configured for
	logs    *testenv.SyncBuffer
	browser context.Context
}

// newEnv starts the app and the browser. Both are stopped by t.Cleanup.
// edit, if given, changes the app's Config before it starts (a mailer, a
// clock).
func newEnv(t *testing.T, edit ...func(*app.Config)) *env {
	t.Helper()
	path := chromiumPath(t)
	e := &env{logs: &testenv.SyncBuffer{}}
	e.startApp(t, edit...)
	e.startBrowser(t, path)
	return e
}

// chromiumPath finds Chromium: $WEBAUTHNKIT_CHROMIUM if set, else
// /usr/bin/chromium or chromium on $PATH. When there is none the test skips
// (fails under CI=true).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WEBAUTHNKIT_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			testenv.Unavailable(t, "Chromium", p, err, "set WEBAUTHNKIT_CHROMIUM to a Chromium or Chrome binary")
		}
		return p
	}
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Unavailable(t, "Chromium", "/usr/bin/chromium", err, "apt-get install -y chromium (or set WEBAUTHNKIT_CHROMIUM)")
	}
	return p
}

// startApp serves the example app on a random port of both loopback
// addresses, with an SQLite database in a temporary directory.
func (e *env) startApp(t *testing.T, edit ...func(*app.Config)) {
	t.Helper()
	l4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l4.Addr().String())
	listeners := []net.Listener{l4}
	if l6, err := net.Listen("tcp", net.JoinHostPort("::1", port)); err == nil {
		listeners = append(listeners, l6)
	}
	e.base = "http://localhost:" + port

	dir := t.TempDir()
	cfg := app.Config{
		Origins:           []string{e.base},
		SQLitePath:        filepath.Join(dir, "passkeys.db"),
		SessionSecretFile: filepath.Join(dir, "passkeys.db.secret"),
		// A shared store needs a stable webauthnkit secret.
		WebauthnSecretFile: filepath.Join(dir, "passkeys.db.webauthn-secret"),
		// Sealed, as the demo runs by default (issue 17).
		SealKeyringFile: filepath.Join(dir, "passkeys.db.keyring"),
		Logger:          slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range edit {
		f(&cfg)
	}
	handler, closer, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	for _, l := range listeners {
		go func() { _ = srv.Serve(l) }()
	}
	t.Cleanup(func() {
		_ = srv.Close()
		_ = closer.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs)
		}
	})
}

// startBrowser starts one headless Chromium for the whole test.
func (e *env) startBrowser(t *testing.T, path string) {
	t.Helper()
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1200, 860),
	}
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox.
		opts = append(opts, chromedp.NoSandbox)
	}
	var out testenv.SyncBuffer
	opts = append(opts, chromedp.CombinedOutput(&out))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel() // closes the browser
		acancel() // kills the process if it is still there, and waits
		// Chromium's helper processes (zygote, renderers, GPU, network) can
		// outlive the main one by a few seconds and write into the profile
		// while t.TempDir removes it: wait for them, then kill stragglers.
		if n := waitProcessesGone(profile, 5*time.Second); n > 0 {
			t.Logf("killed %d leftover Chromium processes", n)
		}
		if t.Failed() {
			var keep []string
			for line := range strings.Lines(out.String()) {
				if !strings.Contains(line, "dbus") && !strings.Contains(line, "unexpected operator") {
					keep = append(keep, line)
				}
			}
			if len(keep) > 0 {
				t.Logf("chromium output:\n%s", strings.Join(keep, ""))
			}
		}
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v\n%s", path, err, out.String())
	}
	e.browser = bctx
}

// waitProcessesGone waits until no process has --user-data-dir=profile on
// its command line (only the browser this test started has this unique
// directory), and after d kills the remaining ones by PID. It returns how
// many it had to kill. Outside Linux (no /proc) it does nothing.
func waitProcessesGone(profile string, d time.Duration) int {
	flag := []byte("--user-data-dir=" + profile)
	find := func() []int {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && bytes.Contains(cmd, flag) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if len(find()) == 0 {
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	pids := find()
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	}
	return len(pids)
}

// tab is a browser tab in its own browser context (its own cookies: one
// "person"), with the WebAuthn domain enabled for virtual authenticators.
type tab struct {
	name    string
	env     *env
	ctx     context.Context
	console *testenv.SyncBuffer
}

// noAutofill makes a page believe that the browser has no passkey autofill
// (conditional mediation). See newTab.
const noAutofill = `if (window.PublicKeyCredential) {
  Object.defineProperty(PublicKeyCredential, "isConditionalMediationAvailable",
    {value: () => Promise.resolve(false), configurable: true});
}`

// newTab opens a tab in a new browser context (its own cookies).
//
// autofill chooses how the tab treats conditional mediation (passkey
// autofill), because Chromium's virtual authenticators answer a conditional
// request at once, without any user gesture, when the WebAuthn UI is off:
//
//   - autofill false: the WebAuthn UI is off (modal requests are answered by
//     the virtual authenticator) and the page is told that conditional
//     mediation is unavailable, as in a browser without passkey autofill, so
//     the sign-in page never starts an autofill request that would sign the
//     user in on its own.
//   - autofill true: the WebAuthn UI is on. A conditional request then waits
//     until the user picks the passkey in the username field's autofill
//     dropdown (focus the field, ArrowDown, Enter), as in a real browser.
//     Modal requests would wait for the (invisible) dialog: do not use them
//     in such a tab.
func (e *env) newTab(t *testing.T, name string, autofill bool) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext())
	tb := &tab{name: name, env: e, ctx: ctx, console: &testenv.SyncBuffer{}}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		cancel()
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	cctx, ccancel := context.WithCancel(ctx)
	messages := chromedp.Console(cctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			fmt.Fprintf(tb.console, "%s: %s\n", name, m.String())
		}
	}()
	t.Cleanup(func() {
		ccancel()
		cancel()
		if t.Failed() && tb.console.String() != "" {
			t.Logf("console of %s:\n%s", name, tb.console)
		}
	})
	tb.call(t, "WebAuthn.enable", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: &autofill})
		return err
	})
	if !autofill {
		tb.call(t, "adding the no-autofill script", func(ctx context.Context) error {
			_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: noAutofill})
			return err
		})
	}
	tb.do(t, chromedp.EmulateViewport(1200, 860))
	return tb
}

// step returns a context for one step of at most stepTimeout.
func (tb *tab) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(tb.ctx, stepTimeout)
}

// do runs actions in the tab, failing t on error.
func (tb *tab) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", tb.name, err)
	}
}

// call runs f with a step context, failing t with what on error.
func (tb *tab) call(t *testing.T, what string, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	if err := f(ctx); err != nil {
		t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// eval evaluates a JavaScript expression (promises awaited) in the page.
func eval[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: evaluating %s: %v", tb.name, expr, err)
	}
	return v
}

// waitFor evaluates a boolean expression until it is true, through
// navigations (evaluation errors while a page loads are retried).
func (tb *tab) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: timed out waiting for %s (%s); last error: %v; page: %s", tb.name, what, expr, last, tb.describe())
}

// tryWait is waitFor that reports instead of failing: it evaluates expr
// until it is true or d has passed.
func (tb *tab) tryWait(d time.Duration, expr string) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// tryWaitGo polls cond until it is true or d has passed.
func (tb *tab) tryWaitGo(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// describe summarises the page for failure messages.
func (tb *tab) describe() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " page=" + (document.body && document.body.dataset.page) +
		" error=" + JSON.stringify((document.querySelector("#error")||{}).textContent||"") +
		" status=" + JSON.stringify((document.querySelector("#status")||{}).textContent||"")`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}

// open navigates to path and waits until the page's scripts have run.
func (tb *tab) open(t *testing.T, path, page string) {
	t.Helper()
	tb.do(t, chromedp.Navigate(tb.env.base+path))
	tb.waitPage(t, page)
}

// waitPage waits until the current page is the app page named page
// (body[data-page]) and fully loaded.
func (tb *tab) waitPage(t *testing.T, page string) {
	t.Helper()
	tb.waitFor(t, "the "+page+" page", fmt.Sprintf(`document.readyState === "complete" && document.body && document.body.dataset.page === %q`, page))
}

// fill replaces the value of the input matching sel by typing value.
func (tb *tab) fill(t *testing.T, sel, value string) {
	t.Helper()
	tb.do(t,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = ""; el.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	)
}

// text returns the textContent of the first element matching sel ("" if none).
func (tb *tab) text(t *testing.T, sel string) string {
	t.Helper()
	return eval[string](t, tb, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
}

// errorCode returns the code of the error shown in the page's alert region.
func (tb *tab) errorCode(t *testing.T) string {
	t.Helper()
	return eval[string](t, tb, `document.querySelector("#error").dataset.code || ""`)
}

// waitError waits for the alert region to show an error and returns its code
// and text.
func (tb *tab) waitError(t *testing.T) (code, text string) {
	t.Helper()
	tb.waitFor(t, "an error message", `document.querySelector("#error") && document.querySelector("#error").textContent.trim() !== ""`)
	return tb.errorCode(t), strings.TrimSpace(tb.text(t, "#error"))
}

// sessionStatus asks the adapter whether this tab is signed in: 200 or 401.
func (tb *tab) sessionStatus(t *testing.T) int {
	t.Helper()
	return eval[int](t, tb, `fetch("/passkeys/session", {cache: "no-store"}).then(r => r.status)`)
}

// sessionUser returns the signed-in username, or "" when signed out.
func (tb *tab) sessionUser(t *testing.T) string {
	t.Helper()
	return eval[string](t, tb, `fetch("/passkeys/session", {cache: "no-store"}).then(r => r.ok ? r.json() : null).then(j => j ? j.user.name : "")`)
}

// serverCredentials lists the signed-in user's passkeys through the adapter.
func (tb *tab) serverCredentials(t *testing.T) []map[string]any {
	t.Helper()
	raw := eval[string](t, tb, `fetch("/passkeys/credentials").then(r => r.text())`)
	var v struct {
		Credentials []map[string]any `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("%s: credentials: %v: %s", tb.name, err, raw)
	}
	return v.Credentials
}

// fetchStatus runs fetch(path, init) in the page and returns the status and
// the "error" field of a JSON body.
type fetchResult struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

func (tb *tab) fetch(t *testing.T, method, path, contentType, body string) fetchResult {
	t.Helper()
	js := fmt.Sprintf(`(async () => {
		const init = {method: %q, headers: {}, cache: "no-store"};
		if (%q) init.headers["Content-Type"] = %q;
		if (%q !== "GET" && %q !== "HEAD") init.body = %q;
		const r = await fetch(%q, init);
		let err = "";
		try { err = (await r.json()).error || ""; } catch (_) {}
		return JSON.stringify({status: r.status, error: err});
	})()`, method, contentType, contentType, method, method, body, path)
	var res fetchResult
	if err := json.Unmarshal([]byte(eval[string](t, tb, js)), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// ---- keyboard ----

// pressKey sends one key press (rawKeyDown + keyUp, no char event) to the
// focused element or the browser UI that has the focus (such as the
// autofill dropdown).
func (tb *tab) pressKey(t *testing.T, key string, code int64) {
	t.Helper()
	tb.call(t, "pressing "+key, func(ctx context.Context) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: key, Code: key, WindowsVirtualKeyCode: code, NativeVirtualKeyCode: code,
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- virtual authenticators ----

// authenticatorOptions is a CTAP2.1 platform authenticator with resident
// keys and user verification that always verifies the user and simulates
// presence.
func authenticatorOptions() *webauthn.VirtualAuthenticatorOptions {
	return &webauthn.VirtualAuthenticatorOptions{
		Protocol:                    webauthn.AuthenticatorProtocolCtap2,
		Ctap2version:                webauthn.Ctap2versionCtap21,
		Transport:                   webauthn.AuthenticatorTransportInternal,
		HasResidentKey:              true,
		HasUserVerification:         true,
		IsUserVerified:              true,
		AutomaticPresenceSimulation: true,
	}
}

func (tb *tab) addAuthenticator(t *testing.T, opts *webauthn.VirtualAuthenticatorOptions) webauthn.AuthenticatorID {
	t.Helper()
	var id webauthn.AuthenticatorID
	tb.call(t, "adding a virtual authenticator", func(ctx context.Context) error {
		res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: opts})
		id = res.AuthenticatorID
		return err
	})
	return id
}

// setPresence turns an authenticator's simulated user presence on or off.
// Off, it never answers a request that needs a touch: another authenticator
// of the tab gets to answer instead.
func (tb *tab) setPresence(t *testing.T, id webauthn.AuthenticatorID, on bool) {
	t.Helper()
	tb.call(t, "setting presence simulation", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, webauthn.SetAutomaticPresenceSimulation, webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: id, Enabled: on})
		return err
	})
}

// credentials returns the credentials held by a virtual authenticator,
// private keys included.
func (tb *tab) credentials(t *testing.T, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	var creds []*webauthn.Credential
	tb.call(t, "getting credentials", func(ctx context.Context) error {
		res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
		creds = res.Credentials
		return err
	})
	return creds
}

// addCredential copies a credential (private key included) into a virtual
// authenticator: the same passkey on another device.
//
// WebAuthn.addCredential is sent by hand: cdproto v0.159.2 always sends
// generateCmtgKeyOnNextOperation (no omitempty), which Chromium 156 refuses
// for an authenticator without hasCmtgKey ("CMTG is not supported by this
// authenticator").
func (tb *tab) addCredential(t *testing.T, id webauthn.AuthenticatorID, c *webauthn.Credential) {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString
	params := map[string]any{
		"authenticatorId": id,
		"credential": map[string]any{
			"credentialId":         b64(c.CredentialID),
			"isResidentCredential": c.IsResidentCredential,
			"rpId":                 c.RpID,
			"privateKey":           b64(c.PrivateKey),
			"userHandle":           b64(c.UserHandle),
			"signCount":            c.SignCount,
			"userName":             c.UserName,
			"userDisplayName":      c.UserDisplayName,
			"backupEligibility":    c.BackupEligibility,
			"backupState":          c.BackupState,
		},
	}
	tb.call(t, "adding a credential", func(ctx context.Context) error {
		c := chromedp.FromContext(ctx)
		if c == nil || c.Target == nil {
			return errors.New("no target")
		}
		return c.Target.Call(ctx, "WebAuthn.addCredential", params, nil)
	})
}

// ---- screenshots ----

// artifactsDir is where screenshots go: $WEBAUTHNKIT_ARTIFACTS, default
// e2e/artifacts (git-ignored).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := testenv.Getenv("WEBAUTHNKIT_ARTIFACTS", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot saves a PNG of the viewport as <artifacts>/<name>.png.
func (tb *tab) screenshot(t *testing.T, name string) string {
	t.Helper()
	var png []byte
	tb.call(t, "screenshot", func(ctx context.Context) error {
		var err error
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
		return err
	})
	path := filepath.Join(artifactsDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d KB)", path, len(png)/1024)
	return path
}
