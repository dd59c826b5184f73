package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/internal/testsmtp"
	"github.com/webauthnkit/webauthnkit/mail"
)

// shiftClock is the app's clock: real time plus an offset the test moves
// forward to expire codes without waiting.
type shiftClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *shiftClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// inbox is the SMTP capture the app sends to: the test reads codes from it
// as a user reads their mail.
type inbox struct{ srv *testsmtp.Server }

var mailedCode = regexp.MustCompile(`(?m)^    (\d{6,8})\s*$`)

// count is how many mails address has received.
func (in inbox) count(address string) int {
	n := 0
	for _, m := range in.srv.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, address) {
				n++
			}
		}
	}
	return n
}

// codeAfter waits for a mail to address beyond the first seen ones whose
// subject contains subject, and returns the code in its text.
func (in inbox) codeAfter(t *testing.T, address string, seen int, subject string) string {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		var mine []testsmtp.Message
		for _, m := range in.srv.Messages() {
			for _, to := range m.To {
				if strings.EqualFold(to, address) {
					mine = append(mine, m)
				}
			}
		}
		for _, m := range mine[min(seen, len(mine)):] {
			if strings.Contains(m.Subject, subject) {
				c := mailedCode.FindStringSubmatch(m.Text)
				if c == nil {
					t.Fatalf("no code in the mail %q:\n%s", m.Subject, m.Text)
				}
				return c[1]
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail %q to %s arrived (had %d before)", subject, address, seen)
	return ""
}

// switchMailer sends through the SMTP mailer it currently points at, so
// that a test can take the mail server down and bring it back.
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

func (s *switchMailer) to(t *testing.T, addr string) {
	t.Helper()
	m, err := mail.NewSMTP(mail.SMTPConfig{Addr: addr, From: "Passkeys demo <noreply@example.com>", TLS: mail.TLSNone, DialTimeout: time.Second, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
}

// wrongCode is a code of the same form that is not code.
func wrongCode(code string) string {
	if strings.HasPrefix(code, "1") {
		return "2" + code[1:]
	}
	return "1" + code[1:]
}

// TestRecovery drives the email and recovery flows of the example app
// (issue 14) in headless Chromium, the app mailing through a real SMTP
// server on loopback (internal/testsmtp) whose capture the test reads like
// an inbox: sign-up with email verification, "Lost your device?" on a new
// device (its own browser context and virtual authenticator), removal of
// the lost passkey, which then no longer signs in, and the codes a user
// gets wrong: wrong, expired (the app's clock moved past the 15 minute
// TTL), reused, and a code mailed to another account. Last, recovery codes:
// made on the passkeys page, shown once, one of them used on a third device;
// and a mail server that is down.
func TestRecovery(t *testing.T) {
	start := time.Now()
	smtpSrv := testsmtp.Start(t)
	mailer := &switchMailer{}
	mailer.to(t, smtpSrv.Addr)
	clock := &shiftClock{}
	e := newEnv(t, func(c *app.Config) {
		c.Mailer = mailer
		c.Now = clock.Now
		c.AccountsMinStartDuration = -1 // no padding: tests wait for nothing
	})
	mails := inbox{smtpSrv}
	t.Logf("app at %s, SMTP at %s", e.base, smtpSrv.Addr)

	run := func(name string, f func(t *testing.T)) {
		t.Helper()
		began := time.Now()
		ok := t.Run(name, f)
		t.Logf("%-28s %v", name, time.Since(began).Round(time.Millisecond))
		if !ok {
			t.Fatalf("stopping: the next scenarios build on %s", name)
		}
	}

	const carolMail, daveMail = "carol@example.com", "dave@example.com"
	carol := e.newTab(t, "carol-laptop", false)
	carol.addAuthenticator(t, authenticatorOptions())

	run("SignUpWithEmail", func(t *testing.T) {
		carol.open(t, "/signup", "signup")
		carol.fill(t, "#username", "carol")
		carol.fill(t, "#email", carolMail)
		carol.fill(t, "#display-name", "Carol C.")
		carol.do(t, chromedp.Click(chromedp.CSS("#create")))
		carol.waitFor(t, "the code step", `!document.querySelector("#signup-code-form").hidden`)
		code := mails.codeAfter(t, carolMail, 0, "verify your email")
		carol.screenshot(t, "signup-code")
		if n := len(carol.serverCredentialsOrNone(t)); n != 0 {
			t.Fatalf("a passkey exists before the address is verified (%d)", n)
		}

		// A wrong code first: refused, the real one still works after.
		carol.fill(t, "#signup-code", wrongCode(code))
		carol.do(t, chromedp.Click(chromedp.CSS("#signup-verify")))
		if got, msg := carol.waitError(t); got != "invalid_code" || !strings.Contains(msg, "isn’t right") {
			t.Errorf("wrong code: error %s %q, want invalid_code explained", got, msg)
		}
		if got := carol.sessionStatus(t); got != http.StatusUnauthorized {
			t.Errorf("session = %d after a wrong code, want 401", got)
		}

		carol.fill(t, "#signup-code", code)
		carol.do(t, chromedp.Click(chromedp.CSS("#signup-verify")))
		carol.waitPage(t, "account")
		if got := carol.sessionUser(t); got != "carol" {
			t.Errorf("session user = %q, want carol", got)
		}
		if got := carol.text(t, "#display-name"); got != "Carol C." {
			t.Errorf("display name = %q, want Carol C.", got)
		}
		if got := carol.text(t, "#account-email"); got != carolMail {
			t.Errorf("account email = %q, want %s", got, carolMail)
		}
		if !eval[bool](t, carol, `!!document.querySelector("#email-verified")`) {
			t.Errorf("the address is not shown verified")
		}
		if n := len(carol.serverCredentials(t)); n != 1 {
			t.Errorf("carol has %d passkeys, want 1", n)
		}
		// She signs in with it once, so it has a last-used time.
		signOut(t, carol)
		carol.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
		carol.waitPage(t, "account")
	})

	dave := e.newTab(t, "dave-laptop", false)
	dave.addAuthenticator(t, authenticatorOptions())

	run("SignUp/ExpiredCode", func(t *testing.T) {
		dave.open(t, "/signup", "signup")
		dave.fill(t, "#username", "dave")
		dave.fill(t, "#email", daveMail)
		dave.do(t, chromedp.Click(chromedp.CSS("#create")))
		dave.waitFor(t, "the code step", `!document.querySelector("#signup-code-form").hidden`)
		code := mails.codeAfter(t, daveMail, 0, "verify your email")

		clock.Advance(16 * time.Minute) // past the default 15 minute TTL
		dave.fill(t, "#signup-code", code)
		dave.do(t, chromedp.Click(chromedp.CSS("#signup-verify")))
		if got, _ := dave.waitError(t); got != "invalid_code" {
			t.Errorf("expired code: error %s, want invalid_code", got)
		}
		if got := dave.sessionStatus(t); got != http.StatusUnauthorized {
			t.Errorf("session = %d after an expired code, want 401", got)
		}

		// A new code, promptly typed, works.
		seen := mails.count(daveMail)
		dave.do(t, chromedp.Click(chromedp.CSS("#signup-restart")))
		dave.do(t, chromedp.Click(chromedp.CSS("#create")))
		dave.waitFor(t, "the code step", `!document.querySelector("#signup-code-form").hidden`)
		code = mails.codeAfter(t, daveMail, seen, "verify your email")
		dave.fill(t, "#signup-code", code)
		dave.do(t, chromedp.Click(chromedp.CSS("#signup-verify")))
		dave.waitPage(t, "account")
		if got := dave.sessionUser(t); got != "dave" {
			t.Errorf("session user = %q, want dave", got)
		}
	})

	// carol loses her laptop; she opens the site on a new device.
	carolNew := e.newTab(t, "carol-new-device", false)
	newDevice := carolNew.addAuthenticator(t, authenticatorOptions())
	var recoveryCode string

	run("RecoveryOnNewDevice", func(t *testing.T) {
		seen := mails.count(carolMail)
		carolNew.open(t, "/", "signin")
		carolNew.do(t, chromedp.Click(chromedp.CSS("#lost-device")))
		carolNew.waitPage(t, "recover")
		carolNew.fill(t, "#recover-identifier", "carol")
		carolNew.do(t, chromedp.Click(chromedp.CSS("#recover-start")))
		carolNew.waitFor(t, "the code step", `!document.querySelector("#recover-code-form").hidden`)
		recoveryCode = mails.codeAfter(t, carolMail, seen, "")
		carolNew.screenshot(t, "recover-code")
		carolNew.fill(t, "#recover-code", recoveryCode)
		carolNew.do(t, chromedp.Click(chromedp.CSS("#recover-confirm")))
		carolNew.waitPage(t, "account")
		if got := carolNew.sessionUser(t); got != "carol" {
			t.Fatalf("session user = %q, want carol", got)
		}
		if n := len(carolNew.credentials(t, newDevice)); n != 1 {
			t.Errorf("the new device holds %d passkeys, want 1", n)
		}
		if !eval[bool](t, carolNew, `!!document.querySelector("#recovered-prompt")`) {
			t.Errorf("no prompt to remove the lost passkey")
		}
		rows := passkeyRows(t, carolNew)
		if len(rows) != 2 {
			t.Fatalf("%d passkeys listed, want the lost one and the new one", len(rows))
		}
		newRows := eval[int](t, carolNew, `document.querySelectorAll(".passkey.passkey-new").length`)
		if newRows != 1 {
			t.Errorf("%d rows marked new, want 1", newRows)
		}
		lost := eval[string](t, carolNew, `document.querySelector(".passkey:not(.passkey-new) .passkey-meta").textContent.replace(/\s+/g, " ")`)
		if !strings.Contains(lost, "Last used 16 minutes ago") { // the clock moved 16 minutes since (SignUp/ExpiredCode)
			t.Errorf("the lost passkey's row %q shows no last-used time", lost)
		}
		carolNew.screenshot(t, "account-recovered")
	})

	run("RecoveryCode/Reused", func(t *testing.T) {
		res := carolNew.fetch(t, "POST", "/passkeys/recovery/confirm", "application/json",
			fmt.Sprintf(`{"identifier":"carol","code":%q}`, recoveryCode))
		if res.Status != http.StatusBadRequest || res.Error != "invalid_code" {
			t.Errorf("a used code again = %d %s, want 400 invalid_code", res.Status, res.Error)
		}
	})

	run("RemoveLostPasskey", func(t *testing.T) {
		if got := carol.sessionUser(t); got != "carol" {
			t.Fatalf("the laptop's session = %q before the removal, want carol", got)
		}
		carolNew.do(t, chromedp.Click(chromedp.CSS(".passkey:not(.passkey-new) .revoke")))
		carolNew.waitFor(t, "the confirmation dialog", `document.querySelector("#confirm-revoke").open`)
		carolNew.do(t, chromedp.Click(chromedp.CSS("#confirm-remove")))
		carolNew.waitFor(t, "one passkey left", `document.querySelectorAll(".passkey").length === 1`)
		if n := len(carolNew.serverCredentials(t)); n != 1 {
			t.Errorf("the server has %d passkeys for carol, want 1", n)
		}
		// The session signed in with the lost passkey has ended.
		if got := carol.sessionStatus(t); got != http.StatusUnauthorized {
			t.Errorf("the lost laptop's session = %d after the removal, want 401", got)
		}
		if got := carolNew.sessionUser(t); got != "carol" {
			t.Errorf("the new device's session user = %q after the removal, want carol still signed in", got)
		}
	})

	run("LostPasskeyNoLongerSignsIn", func(t *testing.T) {
		carol.open(t, "/", "signin")
		carol.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
		if code, _ := carol.waitError(t); code != "unknown_credential" {
			t.Errorf("error = %s, want unknown_credential", code)
		}
		if got := carol.sessionStatus(t); got != http.StatusUnauthorized {
			t.Errorf("session = %d with the removed passkey, want 401", got)
		}
		// The new device still signs in.
		signOut(t, carolNew)
		carolNew.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
		carolNew.waitPage(t, "account")
	})

	run("CodeForAnotherAccount", func(t *testing.T) {
		daveNew := e.newTab(t, "dave-new-device", false)
		daveNew.addAuthenticator(t, authenticatorOptions())
		seen := mails.count(daveMail)
		daveNew.open(t, "/recover", "recover")
		daveNew.fill(t, "#recover-identifier", daveMail)
		daveNew.do(t, chromedp.Click(chromedp.CSS("#recover-start")))
		daveNew.waitFor(t, "the code step", `!document.querySelector("#recover-code-form").hidden`)
		code := mails.codeAfter(t, daveMail, seen, "")

		// dave's code typed for carol: refused, and no grant for carol.
		res := daveNew.fetch(t, "POST", "/passkeys/recovery/confirm", "application/json",
			fmt.Sprintf(`{"identifier":"carol","code":%q}`, code))
		if res.Status != http.StatusBadRequest || res.Error != "invalid_code" {
			t.Errorf("dave's code for carol = %d %s, want 400 invalid_code", res.Status, res.Error)
		}
		// It still works for dave.
		daveNew.fill(t, "#recover-code", code)
		daveNew.do(t, chromedp.Click(chromedp.CSS("#recover-confirm")))
		daveNew.waitPage(t, "account")
		if got := daveNew.sessionUser(t); got != "dave" {
			t.Errorf("session user = %q, want dave", got)
		}
		if n := len(carolNew.serverCredentials(t)); n != 1 {
			t.Errorf("carol has %d passkeys, want 1", n)
		}
	})

	run("RecoveryCodes", func(t *testing.T) {
		carolNew.open(t, "/account", "account")
		carolNew.do(t, chromedp.Click(chromedp.CSS("#recovery-codes-generate")))
		carolNew.waitFor(t, "the codes", `!document.querySelector("#recovery-codes-shown").hidden`)
		codes := eval[[]string](t, carolNew, `[...document.querySelectorAll("#recovery-codes-list code")].map(c => c.textContent)`)
		if len(codes) != 10 {
			t.Fatalf("%d codes shown, want 10", len(codes))
		}
		// Shown once: a reload shows the count, not the codes.
		carolNew.open(t, "/account", "account")
		if n := eval[int](t, carolNew, `document.querySelectorAll("#recovery-codes-list code").length`); n != 0 {
			t.Errorf("%d codes shown again after a reload", n)
		}
		if got := carolNew.text(t, "#recovery-codes-left"); !strings.Contains(got, "10 unused") {
			t.Errorf("count = %q, want 10 unused", got)
		}
		// On a third device, without email: one saved code gets carol back in.
		third := e.newTab(t, "carol-third-device", false)
		thirdDevice := third.addAuthenticator(t, authenticatorOptions())
		third.open(t, "/recover", "recover")
		third.do(t, chromedp.Click(chromedp.CSS("#use-recovery-code")))
		third.waitFor(t, "the recovery-code form", `!document.querySelector("#recover-with-code-form").hidden`)
		third.fill(t, "#recover-username", "carol")
		third.fill(t, "#recover-saved-code", "not-"+codes[1])
		third.do(t, chromedp.Click(chromedp.CSS("#recover-with-code")))
		if code, _ := third.waitError(t); code != "invalid_code" {
			t.Errorf("a wrong recovery code: error %s, want invalid_code", code)
		}
		third.fill(t, "#recover-saved-code", codes[0])
		third.do(t, chromedp.Click(chromedp.CSS("#recover-with-code")))
		third.waitPage(t, "account")
		if got := third.sessionUser(t); got != "carol" {
			t.Fatalf("session user = %q, want carol", got)
		}
		if n := len(third.credentials(t, thirdDevice)); n != 1 {
			t.Errorf("the third device holds %d passkeys, want 1", n)
		}
		if !eval[bool](t, third, `!!document.querySelector("#recovered-prompt")`) {
			t.Errorf("no prompt to remove the lost passkey")
		}
		if got := third.text(t, "#recovery-codes-left"); !strings.Contains(got, "9 unused") {
			t.Errorf("count = %q, want 9 unused", got)
		}
		// Single use.
		body := fmt.Sprintf(`{"username":"carol","code":%q}`, codes[0])
		if res := third.fetch(t, "POST", "/passkeys/recovery/code", "application/json", body); res.Status != http.StatusBadRequest || res.Error != "invalid_code" {
			t.Errorf("the same recovery code again = %d %s, want 400 invalid_code", res.Status, res.Error)
		}
	})

	run("MailServerDown", func(t *testing.T) {
		// The mail server is down: the user is told to retry later, and
		// nothing is half-done (no account, the same sign-up works later).
		mailer.to(t, testsmtp.ClosedPort(t))
		erin := e.newTab(t, "erin", false)
		erin.addAuthenticator(t, authenticatorOptions())
		erin.open(t, "/signup", "signup")
		erin.fill(t, "#username", "erin")
		erin.fill(t, "#email", "erin@example.com")
		erin.do(t, chromedp.Click(chromedp.CSS("#create")))
		code, msg := erin.waitError(t)
		if code != "mail_unavailable" || !strings.Contains(msg, "try again in a few minutes") {
			t.Errorf("error = %s %q, want mail_unavailable explained", code, msg)
		}
		if eval[bool](t, erin, `!document.querySelector("#signup-code-form").hidden`) {
			t.Errorf("the code step is shown though no mail was sent")
		}
		mailer.to(t, smtpSrv.Addr)
		erin.do(t, chromedp.Click(chromedp.CSS("#create")))
		erin.waitFor(t, "the code step", `!document.querySelector("#signup-code-form").hidden`)
		erin.fill(t, "#signup-code", mails.codeAfter(t, "erin@example.com", 0, "verify your email"))
		erin.do(t, chromedp.Click(chromedp.CSS("#signup-verify")))
		erin.waitPage(t, "account")
		if got := erin.sessionUser(t); got != "erin" {
			t.Errorf("session user = %q, want erin", got)
		}
	})

	run("AddEmailToExistingAccount", func(t *testing.T) {
		// An account made with a username only adds and verifies an
		// address on the passkeys page; it can then recover by email.
		frank := e.newTab(t, "frank", false)
		frank.addAuthenticator(t, authenticatorOptions())
		frank.open(t, "/signup", "signup")
		frank.fill(t, "#username", "frank")
		frank.do(t, chromedp.Click(chromedp.CSS("#create")))
		frank.waitPage(t, "account")
		frank.fill(t, "#email-input", "frank@example.com")
		frank.do(t, chromedp.Click(chromedp.CSS("#email-send")))
		frank.waitFor(t, "the code field", `!document.querySelector("#email-code-form").hidden`)
		code := mails.codeAfter(t, "frank@example.com", 0, "verify your email")
		frank.fill(t, "#email-code", wrongCode(code))
		frank.do(t, chromedp.Click(chromedp.CSS("#email-verify")))
		if got, _ := frank.waitError(t); got != "invalid_code" {
			t.Errorf("wrong code: error %s, want invalid_code", got)
		}
		frank.fill(t, "#email-code", code)
		frank.do(t, chromedp.Click(chromedp.CSS("#email-verify")))
		frank.waitFor(t, "the verified address", `location.search.includes("notice=emailverified") && document.readyState === "complete" && !!document.querySelector("#email-verified")`)
		if got := frank.text(t, "#account-email"); got != "frank@example.com" {
			t.Errorf("account email = %q", got)
		}
	})

	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// serverCredentialsOrNone is serverCredentials for a tab that may be
// signed out (then none).
func (tb *tab) serverCredentialsOrNone(t *testing.T) []map[string]any {
	t.Helper()
	if tb.sessionStatus(t) != http.StatusOK {
		return nil
	}
	return tb.serverCredentials(t)
}
