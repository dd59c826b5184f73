package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
)

// TestDeviceLinking runs device linking in the demo with two browser
// contexts (two people's worth of cookies), each with its own virtual
// authenticator: the new device B shows the QR code, the code and the
// phrase; A, signed in, opens the approval URL (which does not show the
// phrase), types the words read from B's screen, re-authenticates (its
// sign-in is older than the fresh-auth limit) and approves; B creates its own passkey, is signed in, and later signs in
// with that passkey alone; A's passkeys page lists B's passkey.
func TestDeviceLinking(t *testing.T) {
	clock := &shiftClock{}
	e := newEnv(t, func(c *app.Config) { c.Now = clock.Now })

	alice := e.newTab(t, "alice-phone", false)
	alice.addAuthenticator(t, authenticatorOptions())
	laptop := e.newTab(t, "new-laptop", false)
	laptopAuth := laptop.addAuthenticator(t, authenticatorOptions())

	// A: alice signs up.
	alice.open(t, "/signup", "signup")
	alice.fill(t, "#username", "alice")
	alice.do(t, chromedp.Click(chromedp.CSS("#create")))
	alice.waitPage(t, "account")

	// B: the sign-in page leads to "Sign in on a new device".
	laptop.open(t, "/", "signin")
	laptop.do(t, chromedp.Click(chromedp.CSS("#new-device")))
	laptop.waitPage(t, "linknew")
	laptop.waitFor(t, "the code", `document.querySelector("#link-code").textContent.trim() !== ""`)
	code := strings.TrimSpace(laptop.text(t, "#link-code"))
	phrase := strings.TrimSpace(laptop.text(t, "#link-phrase"))
	if phrase == "" {
		t.Fatal("no phrase shown")
	}
	laptop.waitFor(t, "the QR code image", `(() => { const i = document.querySelector("#link-qr");
		return i.src.startsWith("data:image/svg+xml;base64,") && i.complete && i.naturalWidth > 0; })()`)
	laptop.screenshot(t, "link-new-device")
	if got := eval[string](t, laptop, "document.cookie"); got != "" {
		t.Errorf("document.cookie = %q: the poll token must be HttpOnly", got)
	}

	// A's last sign-in is older than the fresh-auth limit: approving asks
	// for a re-authentication first (client.js runs it and retries).
	clock.Advance(6 * time.Minute)

	// A: opens the approval URL of the QR code (the code in the fragment).
	alice.open(t, "/link#code="+code, "link")
	alice.waitFor(t, "the request", `!document.querySelector("#link-request").hidden`)
	if got := eval[string](t, alice, "document.documentElement.outerHTML.toLowerCase()"); strings.Contains(got, phrase) {
		t.Fatalf("A's page shows the phrase %q: the user must read it on B", phrase)
	}
	if got := alice.text(t, "#link-device"); got == "" {
		t.Error("A does not say where the request comes from")
	}
	if got := eval[string](t, alice, "location.hash"); got != "" {
		t.Errorf("the code stays in the address bar: %q", got)
	}
	alice.screenshot(t, "link-approve")
	before := len(alice.serverCredentials(t))
	// Typed as people do: capitals, a hyphen.
	words := strings.Fields(phrase)
	alice.fill(t, "#link-phrase-input", strings.ToUpper(words[0])+" "+words[1]+"-"+words[2])
	alice.do(t, chromedp.Click(chromedp.CSS("#link-approve")))
	alice.waitFor(t, "the approval", `document.querySelector("#status").textContent.includes("Approved")`)

	// B: approved; creates its own passkey and lands signed in.
	laptop.waitFor(t, "the approval on B", `!document.querySelector("#link-approved").hidden`)
	laptop.do(t, chromedp.Click(chromedp.CSS("#link-create")))
	laptop.waitPage(t, "account")
	if got := laptop.sessionUser(t); got != "alice" {
		t.Fatalf("B signed in as %q, want alice", got)
	}
	if got := laptop.text(t, "#status"); !strings.Contains(got, "own passkey") {
		t.Errorf("B's notice = %q", got)
	}
	creds := laptop.credentials(t, laptopAuth)
	if len(creds) != 1 || creds[0].UserName != "alice" {
		t.Fatalf("B's authenticator holds %d credentials, want alice's new one", len(creds))
	}
	laptopID := b64url(creds[0].CredentialID)

	// A's passkeys page lists B's passkey.
	alice.open(t, "/account", "account")
	rows := passkeyRows(t, alice)
	if len(rows) != before+1 {
		t.Fatalf("A lists %d passkeys, want %d", len(rows), before+1)
	}
	found := false
	for _, r := range rows {
		found = found || r.ID == laptopID
	}
	if !found {
		t.Errorf("B's passkey %s is not on A's passkeys page: %+v", laptopID, rows)
	}

	// B signs out and signs in again with its own passkey only.
	signOut(t, laptop)
	laptop.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
	laptop.waitPage(t, "account")
	if got := laptop.sessionUser(t); got != "alice" {
		t.Fatalf("B's own passkey signed in %q, want alice", got)
	}

	// Signing out ended every session of the account (the built-in
	// session keeps no per-device state), A's too: opening the approval
	// URL again goes through the sign-in page, which comes back to it with
	// the code; and the code is spent.
	alice.open(t, "/link#code="+code, "signin")
	if got := eval[string](t, alice, "location.search + location.hash"); got != "?next=link#code="+code {
		t.Errorf("the sign-in page lost the way back: %q", got)
	}
	alice.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
	alice.waitPage(t, "link")
	if got, _ := alice.waitError(t); got != "link_not_found" {
		t.Errorf("replayed code: error %q, want link_not_found", got)
	}
}

// TestDeviceLinkingDeny: A denies; B says so and offers a new code.
func TestDeviceLinkingDeny(t *testing.T) {
	e := newEnv(t)
	alice := e.newTab(t, "alice", false)
	alice.addAuthenticator(t, authenticatorOptions())
	other := e.newTab(t, "someone", false)
	other.addAuthenticator(t, authenticatorOptions())

	alice.open(t, "/signup", "signup")
	alice.fill(t, "#username", "alice")
	alice.do(t, chromedp.Click(chromedp.CSS("#create")))
	alice.waitPage(t, "account")

	other.open(t, "/link/new", "linknew")
	other.waitFor(t, "the code", `document.querySelector("#link-code").textContent.trim() !== ""`)
	code := strings.TrimSpace(other.text(t, "#link-code"))

	// Typed on the passkeys page's form.
	alice.fill(t, "#approve-device-code", strings.ToLower(code))
	alice.do(t, chromedp.Click(chromedp.CSS("#approve-device")))
	alice.waitPage(t, "link")
	alice.waitFor(t, "the request", `!document.querySelector("#link-request").hidden`)
	alice.do(t, chromedp.Click(chromedp.CSS("#link-deny")))
	alice.waitFor(t, "the denial", `document.querySelector("#status").textContent.includes("Denied")`)

	if got, _ := other.waitError(t); got != "link_denied" {
		t.Errorf("B's error = %q, want link_denied", got)
	}
	other.waitFor(t, "a new code offered", `!document.querySelector("#link-restart").hidden`)
	if got := other.sessionStatus(t); got != 401 {
		t.Errorf("B's session = %d after a denial, want 401", got)
	}
}

// TestDeviceLinkingWrongPhrase: A types words that are not the ones on
// B's screen (as a victim would who opened an attacker's approval link):
// the request is cancelled, A says so, and B shows it was denied.
func TestDeviceLinkingWrongPhrase(t *testing.T) {
	e := newEnv(t)
	alice := e.newTab(t, "alice", false)
	alice.addAuthenticator(t, authenticatorOptions())
	other := e.newTab(t, "attacker", false)
	other.addAuthenticator(t, authenticatorOptions())

	alice.open(t, "/signup", "signup")
	alice.fill(t, "#username", "alice")
	alice.do(t, chromedp.Click(chromedp.CSS("#create")))
	alice.waitPage(t, "account")

	other.open(t, "/link/new", "linknew")
	other.waitFor(t, "the code", `document.querySelector("#link-code").textContent.trim() !== ""`)
	code := strings.TrimSpace(other.text(t, "#link-code"))
	phrase := strings.TrimSpace(other.text(t, "#link-phrase"))

	// The approval link alone binds the request to alice's account...
	alice.open(t, "/link#code="+code, "link")
	alice.waitFor(t, "the request", `!document.querySelector("#link-request").hidden`)
	// ...but Approve without the words asks for them, spending nothing.
	alice.do(t, chromedp.Click(chromedp.CSS("#link-approve")))
	alice.waitFor(t, "the words asked for", `document.querySelector("#link-phrase-input").getAttribute("aria-invalid") === "true"`)
	guess := "otter otter otter"
	if phrase == guess {
		guess = "tiger tiger tiger"
	}
	alice.fill(t, "#link-phrase-input", guess)
	alice.do(t, chromedp.Click(chromedp.CSS("#link-approve")))
	alice.waitFor(t, "the mismatch", `document.querySelector("#error").dataset.code === "link_phrase_mismatch"`)
	code2, text := alice.waitError(t)
	if code2 != "link_phrase_mismatch" || !strings.Contains(text, "don’t match") || !strings.Contains(text, "cancelled") {
		t.Errorf("A's error = %q %q, want link_phrase_mismatch saying the request was cancelled", code2, text)
	}
	alice.waitFor(t, "the request gone", `document.querySelector("#link-request").hidden`)
	alice.screenshot(t, "link-wrong-words")

	if got, _ := other.waitError(t); got != "link_denied" {
		t.Errorf("B's error = %q, want link_denied", got)
	}
	if got := other.sessionStatus(t); got != 401 {
		t.Errorf("B's session = %d after wrong words, want 401", got)
	}
}

// TestCrossDeviceSignInOffersPasskey: a sign-in with a roaming
// authenticator (here a USB key; a phone over the hybrid transport is
// reported the same way, authenticatorAttachment "cross-platform") lands
// on the passkeys page with the offer of a passkey on this device, which
// then creates one with the device's own authenticator.
func TestCrossDeviceSignInOffersPasskey(t *testing.T) {
	e := newEnv(t)
	tb := e.newTab(t, "kiosk", false)
	key := authenticatorOptions()
	key.Transport = webauthn.AuthenticatorTransportUsb
	keyID := tb.addAuthenticator(t, key)

	tb.open(t, "/signup", "signup")
	tb.fill(t, "#username", "dora")
	tb.do(t, chromedp.Click(chromedp.CSS("#create")))
	tb.waitPage(t, "account")
	if _, ok := eval[map[string]any](t, tb, `fetch("/passkeys/credentials").then(r => r.json())`)["credentials"]; !ok {
		t.Fatal("no passkey list")
	}
	signOut(t, tb)

	tb.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
	tb.waitPage(t, "account")
	if got := eval[string](t, tb, "location.search"); got != "?notice=crossdevice" {
		t.Fatalf("after a sign-in with a roaming authenticator: %q, want ?notice=crossdevice", got)
	}
	tb.waitFor(t, "the offer", `document.querySelector("#create-here") !== null`)
	tb.screenshot(t, "cross-device-offer")

	// This device's own (platform) authenticator; the key has its passkey
	// already (excludeCredentials), so the new one is made here.
	tb.setPresence(t, keyID, false)
	here := tb.addAuthenticator(t, authenticatorOptions())
	tb.do(t, chromedp.Click(chromedp.CSS("#create-here")))
	tb.waitFor(t, "the added notice", `location.search === "?notice=added"`)
	if n := len(tb.credentials(t, here)); n != 1 {
		t.Fatalf("this device's authenticator holds %d passkeys, want 1", n)
	}
	if n := len(tb.serverCredentials(t)); n != 2 {
		t.Fatalf("the account lists %d passkeys, want 2", n)
	}
}
