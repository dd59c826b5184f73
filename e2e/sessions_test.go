package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// TestSessionCopiedCookieEndsAtSignOut: a session cookie copied out of the
// browser (DevTools, as malware or someone at a shared computer would)
// works in another browser only until the user signs out: sign-out ends the
// session on the server, not only in the browser that clicked it.
func TestSessionCopiedCookieEndsAtSignOut(t *testing.T) {
	e := newEnv(t)
	dave := e.newTab(t, "dave", false)
	dave.addAuthenticator(t, authenticatorOptions())
	dave.open(t, "/signup", "signup")
	dave.do(t,
		chromedp.SendKeys(chromedp.CSS("#username"), "dave"),
		chromedp.Click(chromedp.CSS("#create")),
	)
	dave.waitPage(t, "account")

	stolen := sessionCookie(t, dave, e.base)
	thief := e.newTab(t, "thief", false) // its own browser context: no cookies
	thief.open(t, "/", "signin")
	if got := thief.sessionStatus(t); got != http.StatusUnauthorized {
		t.Fatalf("the thief's tab is signed in before the copy (%d)", got)
	}
	thief.call(t, "planting the copied cookie", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
			Name: stolen.Name, Value: stolen.Value, URL: e.base + "/", Path: "/",
		})
		return err
	})
	if got := thief.sessionUser(t); got != "dave" {
		t.Fatalf("the copied cookie does not work before sign-out (user %q): the test proves nothing", got)
	}
	thief.open(t, "/account", "account")

	signOut(t, dave)

	if got := thief.sessionStatus(t); got != http.StatusUnauthorized {
		t.Errorf("GET /passkeys/session with the copied cookie = %d after sign-out, want 401", got)
	}
	thief.open(t, "/account", "signin") // the account page sends it to sign in
	// And outside any browser.
	req, _ := http.NewRequest(http.MethodGet, e.base+"/passkeys/session", nil)
	req.AddCookie(&http.Cookie{Name: stolen.Name, Value: stolen.Value})
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the copied cookie from a plain HTTP client = %d, want 401", res.StatusCode)
	}

	// Dave can sign in again; the old copy stays dead.
	dave.do(t, chromedp.Click(chromedp.CSS("#passkey-signin")))
	dave.waitPage(t, "account")
	if got := thief.sessionStatus(t); got != http.StatusUnauthorized {
		t.Errorf("the copied cookie works again after dave signed back in (%d)", got)
	}
}

// sessionCookie reads the built-in session cookie of tb's browser context
// through DevTools (it is HttpOnly: scripts cannot see it).
func sessionCookie(t *testing.T, tb *tab, base string) *network.Cookie {
	t.Helper()
	var found *network.Cookie
	tb.call(t, "reading the session cookie", func(ctx context.Context) error {
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
		if err != nil {
			return err
		}
		for _, c := range res.Cookies {
			if c.Name == httpadapter.SessionCookieInsecure {
				found = c
			}
		}
		return nil
	})
	if found == nil {
		t.Fatal("no session cookie in the browser")
	}
	if !found.HTTPOnly {
		t.Error("the session cookie is not HttpOnly")
	}
	return found
}
