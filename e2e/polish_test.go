package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestYoursAccessibility checks, in Chromium, what an accessibility audit of
// the demo found: after a failed ceremony the focus is back on the control
// that started it (it dropped to <body>, as the busy control was disabled),
// the error is tied to that control with aria-describedby, the live regions
// are in the accessibility tree before anything is written into them, an
// unknown username gets an accurate sentence, fields have a 2 px focus
// outline, and the avatar stays round on a narrow screen.
func TestYoursAccessibility(t *testing.T) {
	e := newEnv(t)
	tb := e.newTab(t, "keyboard", false)
	tb.addAuthenticator(t, authenticatorOptions()) // for the sign-up below

	t.Run("LiveRegionsPresent", func(t *testing.T) {
		tb.open(t, "/", "signin")
		for _, sel := range []string{"#status", "#error"} {
			display := eval[string](t, tb, `getComputedStyle(document.querySelector("`+sel+`")).display`)
			if display == "none" {
				t.Errorf("%s is display:none while empty: a polite announcement may be lost", sel)
			}
		}
	})

	t.Run("FocusAfterFailedUsernameSignIn", func(t *testing.T) {
		tb.open(t, "/", "signin")
		refuseCeremonies(t, tb)
		tb.do(t, chromedp.SendKeys(chromedp.CSS("#username"), "nobody"), chromedp.Click(chromedp.CSS("#continue")))
		code, text := tb.waitError(t)
		if code != "cancelled" {
			t.Fatalf("error code = %q, want cancelled (no passkey for that name on this device)", code)
		}
		if strings.Contains(text, "cancelled or timed out") || !strings.Contains(text, "nobody") || !strings.Contains(text, "check the username") {
			t.Errorf("error for an unknown username = %q, want it to say the name may have no passkey here", text)
		}
		tb.waitFor(t, "the focus back on Continue", `document.activeElement && document.activeElement.id === "continue"`)
		for _, id := range []string{"continue", "username"} {
			desc := eval[string](t, tb, `document.getElementById("`+id+`").getAttribute("aria-describedby") || ""`)
			if !strings.Contains(" "+desc+" ", " error ") {
				t.Errorf("#%s aria-describedby = %q, want it to reference #error", id, desc)
			}
		}
		if hint := eval[string](t, tb, `document.getElementById("username").getAttribute("aria-describedby")`); !strings.Contains(hint, "username-hint") {
			t.Errorf("#username lost its hint: aria-describedby = %q", hint)
		}
		tb.screenshot(t, "signin-unknown-username")
	})

	t.Run("FocusAfterFailedUsernamelessSignIn", func(t *testing.T) {
		tb.open(t, "/", "signin")
		refuseCeremonies(t, tb)
		tb.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
		tb.waitError(t)
		tb.waitFor(t, "the focus back on the passkey button", `document.activeElement && document.activeElement.id === "passkey-signin"`)
		desc := eval[string](t, tb, `document.getElementById("passkey-signin").getAttribute("aria-describedby") || ""`)
		if !strings.Contains(desc, "error") {
			t.Errorf("#passkey-signin aria-describedby = %q, want #error", desc)
		}
		// A new attempt clears the tie with the error.
		tb.do(t, chromedp.SendKeys(chromedp.CSS("#username"), "x"), chromedp.Click(chromedp.CSS("#continue")))
		tb.waitFor(t, "the tie on the first button gone", `!(document.getElementById("passkey-signin").getAttribute("aria-describedby") || "").includes("error")`)
	})

	t.Run("EmptyUsernameTiedToField", func(t *testing.T) {
		tb.open(t, "/", "signin")
		tb.do(t, chromedp.Click(chromedp.CSS("#continue")))
		tb.waitError(t)
		if got := eval[string](t, tb, `document.activeElement.id`); got != "username" {
			t.Errorf("focus on #%s, want #username", got)
		}
		desc := eval[string](t, tb, `document.getElementById("username").getAttribute("aria-describedby")`)
		if desc != "username-hint error" {
			t.Errorf("#username aria-describedby = %q, want %q", desc, "username-hint error")
		}
	})

	t.Run("FieldFocusOutline", func(t *testing.T) {
		tb.open(t, "/", "signin")
		tb.do(t, chromedp.Focus(chromedp.CSS("#username")))
		style := eval[string](t, tb, `(() => { const s = getComputedStyle(document.getElementById("username")); return s.outlineStyle + " " + s.outlineWidth; })()`)
		if style != "solid 2px" && style != "solid 3px" {
			t.Errorf("focused field outline = %q, want a solid outline of at least 2px", style)
		}
	})

	t.Run("AvatarRoundWhenNarrow", func(t *testing.T) {
		tb.open(t, "/signup", "signup")
		tb.do(t,
			chromedp.SendKeys(chromedp.CSS("#username"), "carol-with-a-long-name"),
			chromedp.SendKeys(chromedp.CSS("#display-name"), "Carol Longname-Abcdefghijklmnopqrstuvwxyz"),
			chromedp.Click(chromedp.CSS("#create")),
		)
		tb.waitPage(t, "account")
		tb.do(t, chromedp.EmulateViewport(320, 640))
		wh := eval[string](t, tb, `(() => { const r = document.querySelector(".avatar").getBoundingClientRect(); return r.width + "x" + r.height; })()`)
		if wh != "34x34" {
			t.Errorf("avatar at 320 px wide is %s, want 34x34", wh)
		}
		tb.screenshot(t, "account-narrow")
		tb.do(t, chromedp.EmulateViewport(1200, 860))
	})
}

// refuseCeremonies makes the page's navigator.credentials.get fail at once
// with NotAllowedError, what the browser answers when the user closes the
// prompt or the device has no passkey for the request. Chromium's virtual
// authenticator holding no passkey of the site gives the same answer, but
// now and then only after more than the step timeout, so the tests of the
// page's reaction to it stub the answer; TestPasskeys covers the real one.
func refuseCeremonies(t *testing.T, tb *tab) {
	t.Helper()
	tb.do(t, chromedp.Evaluate[chromedp.Void](`navigator.credentials.get = () =>
		Promise.reject(new DOMException("The operation either timed out or was not allowed.", "NotAllowedError"))`))
}

// TestYoursStaticAndPaths: /static responses carry an ETag and answer 304
// to If-None-Match, come gzipped, and /passkeys is a page, not JSON.
func TestYoursStaticAndPaths(t *testing.T) {
	e := newEnv(t)
	tb := e.newTab(t, "visitor", false)
	tb.open(t, "/", "signin")

	for _, path := range []string{"/static/app.js", "/static/app.css"} {
		raw := eval[string](t, tb, `(async () => {
			const a = await fetch("`+path+`", {cache: "no-store"});
			const etag = a.headers.get("ETag") || "";
			await a.text();
			const b = await fetch("`+path+`", {cache: "no-store", headers: {"If-None-Match": etag}});
			return [a.status, etag, a.headers.get("Content-Encoding") || "", a.headers.get("Cache-Control") || "", b.status].join("|");
		})()`)
		parts := strings.Split(raw, "|")
		if len(parts) != 5 {
			t.Fatalf("%s: %q", path, raw)
		}
		if parts[0] != "200" || parts[1] == "" {
			t.Errorf("%s: status %s, ETag %q; want 200 with an ETag", path, parts[0], parts[1])
		}
		if parts[2] != "gzip" {
			t.Errorf("%s: Content-Encoding %q, want gzip", path, parts[2])
		}
		if strings.Contains(parts[3], "no-cache") || !strings.Contains(parts[3], "max-age") {
			t.Errorf("%s: Cache-Control %q", path, parts[3])
		}
		if parts[4] != "304" {
			t.Errorf("%s: revalidation answered %s, want 304", path, parts[4])
		}
	}

	// /passkeys: signed out, the sign-in page; the adapter's JSON is not shown.
	tb.open(t, "/passkeys", "signin")
	if body := tb.text(t, "body"); strings.Contains(body, `"error"`) {
		t.Errorf("/passkeys shows JSON: %.100s", body)
	}
	tb.open(t, "/passkeys/", "signin")
	if got := tb.sessionStatus(t); got != http.StatusUnauthorized {
		t.Errorf("session = %d", got)
	}
}
