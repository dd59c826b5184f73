package e2e

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	otptotp "github.com/pquerna/otp/totp"

	existingapp "github.com/webauthnkit/webauthnkit/examples/existing/app"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// newExistingEnv is newEnv for examples/existing: the app with its own
// users, passwords and session, served in-process, and one Chromium.
func newExistingEnv(t *testing.T) *env {
	t.Helper()
	path := chromiumPath(t)
	e := &env{logs: &testenv.SyncBuffer{}}
	e.startExistingApp(t)
	e.startBrowser(t, path)
	return e
}

func (e *env) startExistingApp(t *testing.T) {
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
	a, err := existingapp.New(existingapp.Config{
		Origin:  e.base,
		DBPath:  filepath.Join(dir, "existing.db"),
		KeyFile: filepath.Join(dir, "existing.db.key"),
		Logger:  slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		a.ServeHTTP(rec, r)
		fmt.Fprintf(e.logs, "request %s %s -> %d\n", r.Method, r.URL.Path, rec.status)
	})
	srv := &http.Server{Handler: logged, ReadHeaderTimeout: 10 * time.Second}
	for _, l := range listeners {
		go func() { _ = srv.Serve(l) }()
	}
	t.Cleanup(func() {
		_ = srv.Close()
		_ = a.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs)
		}
	})
}

// statusRecorder remembers the status of a response, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// ---- pages of the existing app ----

// submit clicks sel (a form's button) and waits for the next document's
// page named page.
func (tb *tab) submit(t *testing.T, sel, page string) {
	t.Helper()
	tb.do(t, chromedp.Evaluate[chromedp.Void](`window.__before = true`), chromedp.Click(chromedp.CSS(sel)))
	tb.waitFor(t, "the "+page+" page after "+sel, fmt.Sprintf(`!window.__before && document.readyState === "complete" && document.body && document.body.dataset.page === %q`, page))
}

func (tb *tab) exSignUp(t *testing.T, email, password string) {
	t.Helper()
	tb.open(t, "/signup", "signup")
	tb.fill(t, "#email", email)
	tb.fill(t, "#password", password)
	tb.submit(t, "#signup", "account")
}

// exSignIn submits the password form; the caller waits for the page that
// follows (second or account).
func (tb *tab) exSignIn(t *testing.T, email, password string) {
	t.Helper()
	tb.open(t, "/signin", "signin")
	tb.fill(t, "#email", email)
	tb.fill(t, "#password", password)
	tb.do(t, chromedp.Click(chromedp.CSS("#signin")))
	tb.waitFor(t, "the page after the password", `location.pathname !== "/signin" || document.querySelector("#error").textContent !== ""`)
}

func (tb *tab) exSignOut(t *testing.T) {
	t.Helper()
	tb.submit(t, "#signout", "signin")
}

// exAccountReady waits for the account page with its passkeys list loaded.
func (tb *tab) exAccountReady(t *testing.T) {
	t.Helper()
	tb.waitPage(t, "account")
	tb.waitFor(t, "the passkeys list", `document.body.dataset.ready === "1"`)
}

// exPasskeys returns the passkeys list of the account page (its text per
// row), as the user sees it.
func (tb *tab) exPasskeys(t *testing.T) []string {
	t.Helper()
	rows := eval[[]string](t, tb, `[...document.querySelectorAll("#passkeys li")].map(li => li.firstChild.textContent.trim())`)
	return rows
}

// totpCode is what an authenticator app shows for secret at time at.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := otptotp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// exEnrolTOTP sets up TOTP on the account page as a user would: reads the
// key shown for manual entry (checking it is the QR code's too) and types
// the current code. It returns the secret.
func (tb *tab) exEnrolTOTP(t *testing.T) string {
	t.Helper()
	tb.submit(t, "#totp-begin", "account")
	secret := strings.ReplaceAll(tb.text(t, "#totp-secret"), " ", "")
	if len(secret) != 32 {
		t.Fatalf("TOTP key shown = %q, want 32 base32 characters (160 bits)", secret)
	}
	if !tb.tryWait(5*time.Second, `document.querySelector("#totp-qr").complete && document.querySelector("#totp-qr").naturalWidth >= 200`) {
		t.Error("no QR code image shown")
	}
	tb.screenshot(t, "existing-totp-enrol")
	tb.fill(t, "#totp-code", totpCode(t, secret, time.Now()))
	tb.submit(t, "#totp-confirm", "account")
	tb.exAccountReady(t)
	if got := strings.TrimSpace(tb.text(t, "#totp-state")); got != "On." {
		t.Fatalf("TOTP state after confirming = %q (%s)", got, tb.describe())
	}
	return secret
}

// clientCapabilities returns what the page's PublicKeyCredential reports.
func (tb *tab) clientCapabilities(t *testing.T) string {
	t.Helper()
	return eval[string](t, tb, `(async () => {
		if (!window.PublicKeyCredential || !PublicKeyCredential.getClientCapabilities) return "getClientCapabilities missing";
		return JSON.stringify(await PublicKeyCredential.getClientCapabilities());
	})()`)
}

func describeCaps(caps string) string { return fmt.Sprintf("getClientCapabilities() = %s", caps) }
