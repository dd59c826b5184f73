package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// TestPasskeys drives the example app (examples/passkeys) in headless
// Chromium with DevTools virtual authenticators: every scenario a user can
// go through, and the attacks a browser can attempt. The scenarios run in
// order and build on each other (the account made by SignUp is used by the
// next ones); one Chromium serves them all, each person in their own
// browser context (own cookies) and tab (own authenticators).
//
// Passkey autofill (conditional mediation) is tested for real: the Autofill
// scenario's tab has Chromium's WebAuthn UI on, the page's conditional
// request is checked to wait (nobody signed in), then the test focuses the
// username field and picks the passkey in the autofill dropdown with
// ArrowDown and Enter, as a keyboard user would. The dropdown itself is
// browser UI, so it is in no screenshot. The other tabs run with the
// WebAuthn UI off, where Chromium's virtual authenticators answer even a
// conditional request at once, with no user gesture; those tabs tell the
// page that conditional mediation is unavailable (see newTab), as a browser
// without autofill would.
//
// Not covered here: real platform authenticators and hybrid (phone) transport,
// Chromium's account chooser for modal requests (the UI is off, Chromium
// picks), other browsers, and the PostgreSQL, MySQL and Redis backends
// (covered over HTTP, without a browser, by examples/passkeys/app's tests).
func TestPasskeys(t *testing.T) {
	start := time.Now()
	e := newEnv(t)
	t.Logf("app at %s, browser up in %v", e.base, time.Since(start).Round(time.Millisecond))

	alice := e.newTab(t, "alice", false)
	a1 := alice.addAuthenticator(t, authenticatorOptions()) // alice's laptop
	var (
		a2       webauthn.AuthenticatorID // alice's phone (synced passkeys)
		revoked  *webauthn.Credential     // alice's first passkey, after it is revoked
		aliceKey *webauthn.Credential     // alice's remaining passkey
	)

	run := func(name string, f func(t *testing.T)) {
		t.Helper()
		began := time.Now()
		ok := t.Run(name, f)
		t.Logf("%-28s %v", name, time.Since(began).Round(time.Millisecond))
		if !ok {
			t.Fatalf("stopping: the next scenarios build on %s", name)
		}
	}

	run("Screenshots/SignInPage", func(t *testing.T) {
		guest := e.newTab(t, "guest", false)
		guest.open(t, "/", "signin")
		guest.screenshot(t, "signin")
		guest.open(t, "/signup", "signup")
		guest.screenshot(t, "signup")
		guest.call(t, "dark mode", func(ctx context.Context) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
			})
			return err
		})
		guest.open(t, "/", "signin")
		guest.screenshot(t, "signin-dark")
		guest.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		guest.screenshot(t, "signin-mobile-dark")
	})

	run("SignUp", func(t *testing.T) {
		alice.open(t, "/signup", "signup")
		alice.do(t,
			chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
			chromedp.SendKeys(chromedp.CSS("#display-name"), "Alice Liddell"),
			chromedp.Click(chromedp.CSS("#create")),
		)
		alice.waitPage(t, "account")
		if got := alice.text(t, "#display-name"); got != "Alice Liddell" {
			t.Errorf("display name shown = %q", got)
		}
		if got := alice.text(t, "#status"); !strings.Contains(got, "account is ready") {
			t.Errorf("status = %q, want the welcome notice", got)
		}
		if got := alice.sessionUser(t); got != "alice" {
			t.Errorf("session user = %q, want alice", got)
		}
		rows := passkeyRows(t, alice)
		if len(rows) != 1 || rows[0].Badge != "This device only" {
			t.Fatalf("passkeys listed = %+v, want one device-bound passkey", rows)
		}
		creds := alice.credentials(t, a1)
		if len(creds) != 1 {
			t.Fatalf("authenticator holds %d credentials, want 1", len(creds))
		}
		c := creds[0]
		if !c.IsResidentCredential || c.RpID != "localhost" || c.UserName != "alice" || c.UserDisplayName != "Alice Liddell" {
			t.Errorf("credential = resident %v, rpId %q, user %q / %q; want a discoverable credential for alice on localhost",
				c.IsResidentCredential, c.RpID, c.UserName, c.UserDisplayName)
		}
		if got, want := rows[0].ID, b64url(c.CredentialID); got != want {
			t.Errorf("listed credential ID %s, authenticator's %s", got, want)
		}
		// Session and ceremony cookies are HttpOnly: invisible to scripts.
		if got := eval[string](t, alice, "document.cookie"); got != "" {
			t.Errorf("document.cookie = %q, want no cookie visible to scripts", got)
		}
	})

	run("SignOut", func(t *testing.T) {
		signOut(t, alice)
		if got := alice.text(t, "#status"); !strings.Contains(got, "signed out") {
			t.Errorf("status = %q, want the signed-out notice", got)
		}
		if got := alice.sessionStatus(t); got != http.StatusUnauthorized {
			t.Errorf("GET /passkeys/session = %d after sign-out, want 401", got)
		}
		alice.open(t, "/account", "signin") // the account page sends signed-out visitors to sign in
	})

	run("SignInWithUsername", func(t *testing.T) {
		alice.open(t, "/", "signin")
		alice.do(t,
			chromedp.SendKeys(chromedp.CSS("#username"), "  Alice "), // normalised like at sign-up
			chromedp.Click(chromedp.CSS("#continue")),
		)
		alice.waitPage(t, "account")
		if got := alice.sessionUser(t); got != "alice" {
			t.Errorf("session user = %q, want alice", got)
		}
		if got := passkeyRows(t, alice)[0].Meta; !strings.Contains(got, "Last used just now") {
			t.Errorf("passkey meta = %q, want it to show the sign-in just now", got)
		}
	})

	run("SignInUsernameless", func(t *testing.T) {
		signOut(t, alice)
		alice.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
		alice.waitPage(t, "account")
		if got := alice.sessionUser(t); got != "alice" {
			t.Errorf("session user = %q, want alice", got)
		}
	})

	run("SignInEmptyUsername", func(t *testing.T) {
		signOut(t, alice)
		alice.do(t, chromedp.Click(chromedp.CSS("#continue")))
		_, msg := alice.waitError(t)
		if !strings.Contains(msg, "Enter your username") {
			t.Errorf("error = %q, want a prompt for the username", msg)
		}
		if got := eval[string](t, alice, `document.querySelector("#username").getAttribute("aria-invalid") || ""`); got != "true" {
			t.Errorf("username aria-invalid = %q, want true", got)
		}
	})

	run("Autofill", func(t *testing.T) {
		// Carol signs up in one browser, then signs in with passkey autofill
		// in another one that has her passkey (a synced passkey, say): a tab
		// with the WebAuthn UI on, so that the conditional request waits for
		// her to pick the passkey. (A copied credential keeps its signature
		// counter, so carol's passkey is not used anywhere else afterwards.)
		setup := e.newTab(t, "carol-signup", false)
		id := setup.addAuthenticator(t, authenticatorOptions())
		setup.open(t, "/signup", "signup")
		setup.do(t,
			chromedp.SendKeys(chromedp.CSS("#username"), "carol"),
			chromedp.Click(chromedp.CSS("#create")),
		)
		setup.waitPage(t, "account")
		creds := setup.credentials(t, id)
		if len(creds) != 1 {
			t.Fatalf("carol's authenticator holds %d credentials", len(creds))
		}

		af := e.newTab(t, "carol-autofill", true)
		af.addCredential(t, af.addAuthenticator(t, authenticatorOptions()), creds[0])
		af.open(t, "/", "signin")
		if !eval[bool](t, af, "webauthnkit.isAutofillSupported()") {
			t.Fatal("isAutofillSupported() = false in Chromium")
		}
		// The page starts the conditional request by itself...
		af.waitFor(t, "the conditional login/begin", `performance.getEntriesByType("resource").some(e => e.name.endsWith("/passkeys/login/begin"))`)
		// ...which must wait for the user: nobody is signed in yet.
		time.Sleep(500 * time.Millisecond)
		if page := eval[string](t, af, "document.body.dataset.page"); page != "signin" {
			t.Fatalf("page = %s before the user picked a passkey, want signin", page)
		}
		if got := af.sessionStatus(t); got != http.StatusUnauthorized {
			t.Fatalf("signed in (%d) before the user picked a passkey", got)
		}
		// Carol focuses the username field and picks her passkey in the
		// autofill dropdown with the keyboard.
		signedIn := false
		for attempt := 1; attempt <= 3 && !signedIn; attempt++ {
			af.do(t, chromedp.Focus(chromedp.CSS("#username")), chromedp.Click(chromedp.CSS("#username")))
			time.Sleep(time.Duration(attempt) * 700 * time.Millisecond) // the dropdown opens asynchronously
			af.pressKey(t, "ArrowDown", 40)
			time.Sleep(300 * time.Millisecond)
			af.pressKey(t, "Enter", 13)
			signedIn = af.tryWait(4*time.Second, `document.readyState === "complete" && document.body.dataset.page === "account"`)
			if !signedIn {
				t.Logf("attempt %d: not signed in: %s", attempt, af.describe())
			}
		}
		if !signedIn {
			t.Fatalf("choosing the passkey in the autofill dropdown did not sign in; page: %s", af.describe())
		}
		if got := af.sessionUser(t); got != "carol" {
			t.Errorf("session user = %q, want carol", got)
		}
	})

	run("RenamePasskey", func(t *testing.T) {
		alice.open(t, "/", "signin")
		alice.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
		alice.waitPage(t, "account")
		alice.do(t, chromedp.Click(chromedp.CSS(".passkey .rename")))
		alice.waitFor(t, "the rename form", `!document.querySelector(".rename-form").hidden && document.activeElement === document.querySelector(".rename-input")`)
		if shown := eval[bool](t, alice, `getComputedStyle(document.querySelector(".passkey-actions")).display !== "none"`); shown {
			t.Error("the Rename and Remove buttons stay visible while renaming")
		}
		alice.fill(t, ".rename-input", "Work laptop")
		alice.screenshot(t, "account-rename")
		alice.do(t, chromedp.Click(chromedp.CSS(".rename-form button[type=submit]")))
		alice.waitFor(t, "the new name", `document.querySelector(".passkey-name").textContent === "Work laptop" && document.querySelector(".rename-form").hidden`)
		if focused := eval[string](t, alice, `document.activeElement.className`); !strings.Contains(focused, "rename") {
			t.Errorf("focus after renaming is on %q, want the Rename button", focused)
		}
		if got := alice.text(t, "#status"); !strings.Contains(got, "renamed") {
			t.Errorf("status = %q, want a confirmation", got)
		}
		if got := alice.serverCredentials(t)[0]["name"]; got != "Work laptop" {
			t.Errorf("stored name = %v", got)
		}
		alice.open(t, "/account", "account")
		if got := passkeyRows(t, alice)[0].Name; got != "Work laptop" {
			t.Errorf("name after reload = %q", got)
		}
	})

	run("AddSecondPasskey", func(t *testing.T) {
		// A second authenticator: alice's phone, reached over hybrid
		// (Chromium allows one internal authenticator per tab), whose
		// passkeys are synced.
		opts := authenticatorOptions()
		opts.Transport = webauthn.AuthenticatorTransportHybrid
		opts.DefaultBackupEligibility, opts.DefaultBackupState = true, true
		a2 = alice.addAuthenticator(t, opts)
		// The laptop holds an excluded credential (excludeCredentials): it
		// must not answer, or the browser would report "already registered".
		alice.setPresence(t, a1, false)
		alice.do(t,
			chromedp.SendKeys(chromedp.CSS("#passkey-name"), "Phone"),
			chromedp.Click(chromedp.CSS("#add-passkey")),
		)
		alice.waitFor(t, "the account page after adding", `location.search.includes("notice=added") && document.readyState === "complete"`)
		rows := passkeyRows(t, alice)
		if len(rows) != 2 || rows[0].Name != "Work laptop" || rows[1].Name != "Phone" {
			t.Fatalf("passkeys = %+v, want Work laptop and Phone", rows)
		}
		if rows[0].Badge != "This device only" || rows[1].Badge != "Synced" {
			t.Errorf("badges = %q, %q; want This device only, Synced", rows[0].Badge, rows[1].Badge)
		}
		if got := alice.text(t, "#passkey-count"); got != "2 passkeys" {
			t.Errorf("count = %q", got)
		}
		if got := alice.credentials(t, a2); len(got) != 1 || got[0].UserName != "alice" {
			t.Fatalf("phone holds %d credentials, want alice's", len(got))
		}
		alice.screenshot(t, "account")
		alice.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		alice.screenshot(t, "account-mobile")
		alice.do(t, chromedp.EmulateViewport(1200, 860))
	})

	run("RevokePasskey", func(t *testing.T) {
		revoked = alice.credentials(t, a1)[0]
		laptop := `.passkey[data-name="Work laptop"] .revoke`
		// Cancel first: nothing happens.
		alice.do(t, chromedp.Click(chromedp.CSS(laptop)))
		alice.waitFor(t, "the confirmation dialog", `document.querySelector("#confirm-revoke").open`)
		if got := alice.text(t, "#confirm-name"); got != "Work laptop" {
			t.Errorf("dialog names %q", got)
		}
		alice.screenshot(t, "account-confirm-remove")
		alice.do(t, chromedp.Click(chromedp.CSS("#confirm-cancel")))
		alice.waitFor(t, "the dialog to close", `!document.querySelector("#confirm-revoke").open`)
		if n := len(alice.serverCredentials(t)); n != 2 {
			t.Fatalf("cancel removed a passkey: %d left", n)
		}
		// Confirm.
		alice.do(t, chromedp.Click(chromedp.CSS(laptop)))
		alice.waitFor(t, "the confirmation dialog", `document.querySelector("#confirm-revoke").open`)
		alice.do(t, chromedp.Click(chromedp.CSS("#confirm-remove")))
		alice.waitFor(t, "the row to go", `document.querySelectorAll(".passkey").length === 1`)
		if got := alice.text(t, "#status"); !strings.Contains(got, "was removed") {
			t.Errorf("status = %q", got)
		}
		if got := alice.text(t, "#passkey-count"); got != "1 passkey" {
			t.Errorf("count = %q", got)
		}
		creds := alice.serverCredentials(t)
		if len(creds) != 1 || creds[0]["name"] != "Phone" {
			t.Fatalf("server keeps %v, want only Phone", creds)
		}
		// The client told the browser which passkeys the account still
		// accepts (signalAllAcceptedCredentials): Chromium drops the revoked
		// one from the laptop's authenticator.
		if !alice.tryWaitGo(5*time.Second, func() bool { return len(alice.credentials(t, a1)) == 0 }) {
			t.Errorf("the laptop still holds the revoked passkey after signalAllAcceptedCredentials")
		}
		if got := alice.credentials(t, a2); len(got) != 1 {
			t.Errorf("the phone holds %d credentials, want its passkey kept", len(got))
		}
		aliceKey = alice.credentials(t, a2)[0]
	})

	run("RevokeLastPasskeyRefused", func(t *testing.T) {
		// The only passkey's Remove is disabled up front, the reason shown
		// next to it and tied to the button: first by the page's script
		// (right after the other passkey was removed), then as rendered.
		for _, reload := range []bool{false, true} {
			if reload {
				alice.open(t, "/account", "account")
			}
			alice.waitFor(t, "the only passkey's Remove disabled", `document.querySelectorAll(".passkey").length === 1 && document.querySelector(".passkey .revoke").disabled`)
			if got := alice.text(t, "#only-passkey"); !strings.Contains(got, "only passkey") {
				t.Errorf("reload %v: reason shown = %q, want it explained", reload, got)
			}
			if got := eval[string](t, alice, `document.querySelector(".passkey .revoke").getAttribute("aria-describedby") || ""`); got != "only-passkey" {
				t.Errorf("reload %v: Remove's aria-describedby = %q, want the reason", reload, got)
			}
		}
		// The server refuses it anyway (atomically, in the store).
		id := passkeyRows(t, alice)[0].ID
		if res := alice.fetch(t, "DELETE", "/passkeys/credentials/"+id, "application/json", "{}"); res.Status != http.StatusConflict || res.Error != "last_credential" {
			t.Errorf("DELETE of the only passkey = %d %s, want 409 last_credential", res.Status, res.Error)
		}
		if n := eval[int](t, alice, `document.querySelectorAll(".passkey").length`); n != 1 {
			t.Errorf("%d rows shown, want the passkey still listed", n)
		}
		if n := len(alice.serverCredentials(t)); n != 1 {
			t.Errorf("server has %d passkeys, want 1", n)
		}
		alice.screenshot(t, "account-last-passkey")
	})

	run("SignInWithRevokedPasskey", func(t *testing.T) {
		// The revoked passkey is back on the laptop (say, restored from a
		// backup): the server refuses it and tells the browser to forget it
		// (signalUnknownCredential).
		signOut(t, alice)
		old := a1
		alice.addCredential(t, old, revoked)
		alice.setPresence(t, old, true)
		alice.setPresence(t, a2, false) // only the laptop answers
		alice.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
		code, msg := alice.waitError(t)
		if code != "unknown_credential" || !strings.Contains(msg, "don’t recognise this passkey") {
			t.Errorf("error = %s %q, want unknown_credential explained", code, msg)
		}
		if got := alice.sessionStatus(t); got != http.StatusUnauthorized {
			t.Errorf("session = %d, want 401", got)
		}
		if !alice.tryWaitGo(5*time.Second, func() bool { return len(alice.credentials(t, old)) == 0 }) {
			t.Errorf("the old device still holds the revoked passkey after signalUnknownCredential")
		}
		alice.setPresence(t, old, false)
		alice.setPresence(t, a2, true)
	})

	run("ReplayedFinish", func(t *testing.T) {
		type capture struct {
			body     []byte
			ceremony string
		}
		got := make(chan capture, 1)
		stop := alice.interceptRequests(t, "*/passkeys/login/finish", func(r pausedRequest) []byte {
			select {
			case got <- capture{r.Body, r.Cookies["webauthnkit_ceremony"]}:
			default:
			}
			return nil // send unchanged
		})
		alice.open(t, "/", "signin")
		alice.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
		alice.waitPage(t, "account")
		stop()
		var c capture
		select {
		case c = <-got:
		default:
			t.Fatal("the login/finish request was not intercepted")
		}
		if len(c.body) == 0 || c.ceremony == "" {
			t.Fatalf("captured body %d bytes, ceremony cookie %q", len(c.body), c.ceremony)
		}

		// 1. Replay the request exactly, ceremony cookie included.
		status, code, setCookie := post(t, e.base+"/passkeys/login/finish", c.body, "webauthnkit_ceremony="+c.ceremony)
		if status != http.StatusUnauthorized || code != "ceremony_not_found" || strings.Contains(setCookie, "webauthnkit_session=") && !strings.Contains(setCookie, "Max-Age=0") {
			t.Errorf("replay = %d %s (Set-Cookie %q), want 401 ceremony_not_found and no session", status, code, setCookie)
		}
		// 2. Replay it into a fresh ceremony: the challenge differs.
		_, _, beginCookie := post(t, e.base+"/passkeys/login/begin", []byte(`{}`), "")
		fresh := cookieValue(beginCookie, "webauthnkit_ceremony")
		if fresh == "" {
			t.Fatalf("login/begin set no ceremony cookie: %q", beginCookie)
		}
		status, code, _ = post(t, e.base+"/passkeys/login/finish", c.body, "webauthnkit_ceremony="+fresh)
		if status != http.StatusUnauthorized || code != "challenge_mismatch" {
			t.Errorf("replay into a new ceremony = %d %s, want 401 challenge_mismatch", status, code)
		}
		// 3. Replay from the page itself (the browser has no ceremony cookie any more).
		res := alice.fetch(t, "POST", "/passkeys/login/finish", "application/json", string(c.body))
		if res.Status < 400 || res.Status > 499 {
			t.Errorf("replay from the page = %d %s, want 4xx", res.Status, res.Error)
		}
		if got := alice.sessionUser(t); got != "alice" {
			t.Errorf("the genuine sign-in was lost: session user %q", got)
		}
	})

	run("TamperedSignature", func(t *testing.T) {
		signOut(t, alice)
		tampered := make(chan error, 4)
		stop := alice.interceptRequests(t, "*/passkeys/login/finish", func(r pausedRequest) []byte {
			b, err := tamperSignature(r.Body)
			tampered <- err
			return b
		})
		alice.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
		code, msg := alice.waitError(t)
		stop()
		if err := <-tampered; err != nil {
			t.Fatalf("tampering: %v", err)
		}
		if code != "invalid_response" || !strings.Contains(msg, "couldn’t be verified") {
			t.Errorf("error = %s %q, want invalid_response explained", code, msg)
		}
		if got := alice.sessionStatus(t); got != http.StatusUnauthorized {
			t.Errorf("session = %d after a forged signature, want 401", got)
		}
		if page := eval[string](t, alice, "document.body.dataset.page"); page != "signin" {
			t.Errorf("page = %s, want signin", page)
		}
		alice.screenshot(t, "signin-error")
		// The genuine passkey still works afterwards.
		alice.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
		alice.waitPage(t, "account")
	})

	bob := e.newTab(t, "bob", false)
	bob.addAuthenticator(t, authenticatorOptions())

	run("SecondUser/UsernameTaken", func(t *testing.T) {
		bob.open(t, "/signup", "signup")
		bob.do(t,
			chromedp.SendKeys(chromedp.CSS("#username"), "ALICE"),
			chromedp.Click(chromedp.CSS("#create")),
		)
		code, msg := bob.waitError(t)
		if code != "username_taken" || !strings.Contains(msg, "already taken") {
			t.Errorf("error = %s %q, want username_taken explained", code, msg)
		}
		if got := eval[string](t, bob, `document.querySelector("#username").getAttribute("aria-invalid") || ""`); got != "true" {
			t.Errorf("username aria-invalid = %q, want true", got)
		}
	})

	run("SecondUser/SignUp", func(t *testing.T) {
		bob.fill(t, "#username", "bob")
		bob.do(t,
			chromedp.SendKeys(chromedp.CSS("#display-name"), "Bob"),
			chromedp.Click(chromedp.CSS("#create")),
		)
		bob.waitPage(t, "account")
		if got := bob.sessionUser(t); got != "bob" {
			t.Errorf("session user = %q, want bob", got)
		}
		if n := len(bob.serverCredentials(t)); n != 1 {
			t.Errorf("bob has %d passkeys", n)
		}
		if n := len(alice.serverCredentials(t)); n != 1 {
			t.Errorf("alice now has %d passkeys, want 1", n)
		}
	})

	run("SecondUser/CannotUseOthersPasskey", func(t *testing.T) {
		// A browser whose only authenticator holds alice's passkey tries to
		// sign in as bob.
		m := e.newTab(t, "alice-device-as-bob", false)
		dev := m.addAuthenticator(t, authenticatorOptions())
		m.addCredential(t, dev, aliceKey)

		// Honest browser: bob's credentials are not on this device.
		m.open(t, "/", "signin")
		m.do(t,
			chromedp.SendKeys(chromedp.CSS("#username"), "bob"),
			chromedp.Click(chromedp.CSS("#continue")),
		)
		code, _ := m.waitError(t)
		if code != "cancelled" {
			t.Errorf("error = %s, want cancelled (no passkey for bob on this device)", code)
		}
		if got := m.sessionStatus(t); got != http.StatusUnauthorized {
			t.Fatalf("session = %d, want 401", got)
		}

		// Hostile page script: it drops allowCredentials from bob's login
		// options, so the authenticator signs with alice's passkey. The
		// server must refuse it for bob's ceremony.
		m.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
			const orig = window.fetch;
			window.fetch = async (url, init) => {
				const res = await orig(url, init);
				if (!String(url).endsWith("/login/begin")) return res;
				const j = await res.json();
				delete j.publicKey.allowCredentials;
				return new Response(JSON.stringify(j), {status: res.status, headers: res.headers});
			};
		})()`))
		m.do(t, chromedp.Evaluate[chromedp.Void](`document.querySelector("#error").textContent = ""`))
		m.do(t, chromedp.Click(chromedp.CSS("#continue")))
		code, msg := m.waitError(t)
		if code != "unknown_credential" {
			t.Errorf("error = %s %q, want unknown_credential", code, msg)
		}
		if got := m.sessionStatus(t); got != http.StatusUnauthorized {
			t.Errorf("session = %d after signing bob's ceremony with alice's passkey, want 401", got)
		}
		// Alice's passkey is real: the server must not make the browser forget it.
		if n := len(m.credentials(t, dev)); n != 1 {
			t.Errorf("the device holds %d credentials, want alice's passkey kept", n)
		}
	})

	run("GarbageBodies", func(t *testing.T) {
		big := strings.Repeat("A", 70<<10)
		cases := []struct {
			name, method, path, contentType, body string
		}{
			{"begin: not JSON", "POST", "/passkeys/login/begin", "application/json", "not json"},
			{"begin: array", "POST", "/passkeys/login/begin", "application/json", "[]"},
			{"begin: truncated", "POST", "/passkeys/login/begin", "application/json", `{"username":`},
			{"begin: wrong type", "POST", "/passkeys/login/begin", "application/json", `{"username": 5}`},
			{"begin: unknown field", "POST", "/passkeys/login/begin", "application/json", `{"user": "bob"}`},
			{"begin: control character", "POST", "/passkeys/login/begin", "application/json", `{"username": "b\u0000b"}`},
			{"begin: text/plain", "POST", "/passkeys/login/begin", "text/plain", `{}`},
			{"begin: too large", "POST", "/passkeys/login/begin", "application/json", `{"username":"` + big + `"}`},
			{"begin: GET", "GET", "/passkeys/login/begin", "", ""},
			{"finish: no ceremony", "POST", "/passkeys/login/finish", "application/json", `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}`},
			{"signup: empty username", "POST", "/passkeys/registration/begin", "application/json", `{"username": "  "}`},
			{"signup: too long (over MaxNameLength, 254)", "POST", "/passkeys/registration/begin", "application/json", `{"username": "` + strings.Repeat("x", 255) + `"}`},
			{"signup: null username", "POST", "/passkeys/registration/begin", "application/json", `{"username": null}`},
			{"rename: bad id", "PATCH", "/passkeys/credentials/%25%25", "application/json", `{"name": "x"}`},
			{"rename: unknown id", "PATCH", "/passkeys/credentials/AAAAAAAAAAAAAAAAAAAAAA", "application/json", `{"name": "x"}`},
			{"rename: control chars", "PATCH", "/passkeys/credentials/" + bobCredentialID(t, bob), "application/json", `{"name": "a\u0007b"}`},
			{"revoke: body", "DELETE", "/passkeys/credentials/" + bobCredentialID(t, bob), "application/json", `{"force": true}`},
		}
		for _, c := range cases {
			res := bob.fetch(t, c.method, c.path, c.contentType, c.body)
			if res.Status < 400 || res.Status > 499 {
				t.Errorf("%s: %s %s = %d %s, want 4xx", c.name, c.method, c.path, res.Status, res.Error)
			}
		}
		// Garbage after a real begin: the ceremony exists, the response is junk.
		for _, junk := range []string{
			`{}`,
			`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"!!!","authenticatorData":"","signature":""}}`,
			`{"id":"` + strings.Repeat("A", 5000) + `","type":"public-key"}`,
		} {
			res := bob.fetch(t, "POST", "/passkeys/login/begin", "application/json", `{}`)
			if res.Status != http.StatusOK {
				t.Fatalf("login/begin = %d", res.Status)
			}
			res = bob.fetch(t, "POST", "/passkeys/login/finish", "application/json", junk)
			if res.Status < 400 || res.Status > 499 {
				t.Errorf("finish with %.40q = %d %s, want 4xx", junk, res.Status, res.Error)
			}
			res = bob.fetch(t, "POST", "/passkeys/registration/begin", "application/json", `{}`) // signed in: add a passkey
			if res.Status != http.StatusOK {
				t.Fatalf("registration/begin = %d %s", res.Status, res.Error)
			}
			res = bob.fetch(t, "POST", "/passkeys/registration/finish", "application/json", junk)
			if res.Status < 400 || res.Status > 499 {
				t.Errorf("registration/finish with %.40q = %d %s, want 4xx", junk, res.Status, res.Error)
			}
		}
		// Still serving, and nothing changed.
		if got := bob.fetch(t, "GET", "/", "", ""); got.Status != http.StatusOK {
			t.Errorf("GET / = %d after the garbage", got.Status)
		}
		if got := bob.sessionUser(t); got != "bob" {
			t.Errorf("session user = %q after the garbage, want bob", got)
		}
		if n := len(bob.serverCredentials(t)); n != 1 {
			t.Errorf("bob has %d passkeys after the garbage, want 1", n)
		}
	})

	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// signOut clicks Sign out on the account page (opening it first if needed)
// and waits for the sign-in page.
func signOut(t *testing.T, tb *tab) {
	t.Helper()
	if eval[string](t, tb, "document.body.dataset.page") != "account" {
		tb.open(t, "/account", "account")
	}
	tb.do(t, chromedp.Click(chromedp.CSS("#signout")))
	tb.waitFor(t, "the sign-in page after signing out", `location.search.includes("notice=signedout") && document.readyState === "complete" && document.body.dataset.page === "signin"`)
}

type passkeyRow struct {
	ID, Name, Badge, Meta string
}

// passkeyRows reads the passkeys listed on the account page.
func passkeyRows(t *testing.T, tb *tab) []passkeyRow {
	t.Helper()
	raw := eval[string](t, tb, `JSON.stringify([...document.querySelectorAll(".passkey")].map(li => ({
		ID: li.dataset.id,
		Name: li.querySelector(".passkey-name").textContent,
		Badge: li.querySelector(".badge").textContent,
		Meta: li.querySelector(".passkey-meta").textContent.replace(/\s+/g, " ").trim(),
	})))`)
	var rows []passkeyRow
	if err := json.Unmarshal([]byte(raw), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func bobCredentialID(t *testing.T, bob *tab) string {
	t.Helper()
	creds := bob.serverCredentials(t)
	if len(creds) == 0 {
		t.Fatal("bob has no passkey")
	}
	id, _ := creds[0]["id"].(string)
	return id
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// post sends a JSON POST as a script on the app's origin would (Origin
// header set), with an optional Cookie header, and returns the status, the
// error code and the Set-Cookie lines.
func post(t *testing.T, url string, body []byte, cookie string) (status int, code, setCookie string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	origin := url[:strings.Index(url[len("http://"):], "/")+len("http://")]
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(data, &e)
	return res.StatusCode, e.Error, strings.Join(res.Header.Values("Set-Cookie"), "\n")
}

// cookieValue finds name=value in Set-Cookie lines.
func cookieValue(setCookie, name string) string {
	for line := range strings.Lines(setCookie) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+"="); ok {
			v, _, _ = strings.Cut(v, ";")
			return v
		}
	}
	return ""
}
