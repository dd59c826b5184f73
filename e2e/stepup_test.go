package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// recordFetches wraps the page's fetch so the test can see what client.js
// asked the server and what it answered.
const recordFetches = `(() => {
  window.__fetches = [];
  const real = window.fetch;
  window.fetch = async (url, init) => {
    const res = await real(url, init);
    let code = "";
    if (!res.ok) { try { code = (await res.clone().json()).error || ""; } catch (_) {} }
    window.__fetches.push({url: String(url), method: (init && init.method) || "GET", status: res.status, code});
    return res;
  };
})()`

type recordedFetch struct {
	URL    string `json:"url"`
	Method string `json:"method"`
	Status int    `json:"status"`
	Code   string `json:"code"`
}

// TestStepUpRemovePasskey: removing a passkey after the fresh-auth window
// (httpadapter.DefaultFreshAuthMaxAge) makes the server answer 403
// reauth_required; client.js then runs the re-authentication ceremony with
// the browser's authenticator and retries, and the passkey is removed.
func TestStepUpRemovePasskey(t *testing.T) {
	clock := &shiftClock{}
	e := newEnv(t, func(c *app.Config) { c.Now = clock.Now })
	alice := e.newTab(t, "alice", false)
	laptop := alice.addAuthenticator(t, authenticatorOptions())

	alice.open(t, "/signup", "signup")
	alice.do(t,
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.Click(chromedp.CSS("#create")),
	)
	alice.waitPage(t, "account")

	// A second passkey, on a phone reached over hybrid, while the sign-up
	// is fresh: no re-authentication asked.
	phoneOpts := authenticatorOptions()
	phoneOpts.Transport = webauthn.AuthenticatorTransportHybrid
	alice.addAuthenticator(t, phoneOpts)
	alice.setPresence(t, laptop, false) // excluded: it must not answer the create
	alice.do(t,
		chromedp.SendKeys(chromedp.CSS("#passkey-name"), "Phone"),
		chromedp.Click(chromedp.CSS("#add-passkey")),
	)
	alice.waitFor(t, "the account page after adding", `location.search.includes("notice=added") && document.readyState === "complete"`)
	if n := len(passkeyRows(t, alice)); n != 2 {
		t.Fatalf("%d passkeys listed, want 2", n)
	}
	alice.setPresence(t, laptop, true)

	// Past the window: removing the phone's passkey asks for a step-up.
	clock.Advance(httpadapter.DefaultFreshAuthMaxAge + time.Minute)
	alice.do(t, chromedp.Evaluate[chromedp.Void](recordFetches))
	alice.do(t, chromedp.Click(chromedp.CSS(`.passkey[data-name="Phone"] .revoke`)))
	alice.waitFor(t, "the confirmation dialog", `document.querySelector("#confirm-revoke").open`)
	alice.do(t, chromedp.Click(chromedp.CSS("#confirm-remove")))
	alice.waitFor(t, "the row to go", `document.querySelectorAll(".passkey").length === 1`)
	if got := alice.text(t, "#status"); !strings.Contains(got, "was removed") {
		t.Errorf("status = %q, want the removal notice", got)
	}

	var got []recordedFetch
	if err := json.Unmarshal([]byte(eval[string](t, alice, `JSON.stringify(window.__fetches)`)), &got); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		suffix, method string
		status         int
		code           string
	}{
		{"/passkeys/credentials/", "DELETE", 403, "reauth_required"},
		{"/passkeys/reauth/begin", "POST", 200, ""},
		{"/passkeys/reauth/finish", "POST", 200, ""},
		{"/passkeys/credentials/", "DELETE", 200, ""},
	}
	if len(got) < len(want) {
		t.Fatalf("requests = %+v, want the refusal, the re-authentication and the retry", got)
	}
	for i, w := range want {
		g := got[i]
		if !strings.Contains(g.URL, w.suffix) || g.Method != w.method || g.Status != w.status || g.Code != w.code {
			t.Errorf("request %d = %+v, want %s %s -> %d %s", i, g, w.method, w.suffix, w.status, w.code)
		}
	}
	creds := alice.serverCredentials(t)
	if len(creds) != 1 || creds[0]["name"] == "Phone" {
		t.Errorf("server keeps %v, want only the laptop's passkey", creds)
	}
	if got := alice.sessionUser(t); got != "alice" {
		t.Errorf("session user = %q after the removal, want alice (still signed in)", got)
	}
	alice.screenshot(t, "account-after-stepup-remove")
}
