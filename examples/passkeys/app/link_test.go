package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
)

// The device-linking pages: /link/new for the signed-out new device (the
// approval address shown), /link for the signed-in one (signed out: to
// the sign-in page, which comes back), the approval form on the passkeys
// page, and the offer of a passkey after a cross-device sign-in.
func TestLinkPages(t *testing.T) {
	a := start(t, app.Config{})
	b := newBrowser(t, a)
	status, body, _ := b.get("/link/new")
	host := strings.TrimPrefix(a.URL, "http://")
	if status != http.StatusOK || !strings.Contains(body, "Sign in on a new device") || !strings.Contains(body, host+"/link") || !strings.Contains(body, `id="link-qr"`) {
		t.Fatalf("GET /link/new signed out = %d:\n%s", status, body)
	}
	if status, _, loc := b.get("/link"); status != http.StatusSeeOther || loc != "/?next=link" {
		t.Fatalf("GET /link signed out = %d to %q, want 303 to /?next=link", status, loc)
	}
	_, signin, _ := b.get("/")
	if !strings.Contains(signin, `href="/link/new"`) {
		t.Error("the sign-in page does not offer signing in on a new device")
	}

	b.signUp("alice", "Alice")
	status, body, _ = b.get("/link")
	if status != http.StatusOK || !strings.Contains(body, "Approve a new device") || !strings.Contains(body, "you started yourself") {
		t.Fatalf("GET /link signed in = %d:\n%s", status, body)
	}
	if status, _, loc := b.get("/link/new"); status != http.StatusSeeOther || loc != "/account" {
		t.Fatalf("GET /link/new signed in = %d to %q, want 303 to /account", status, loc)
	}
	page := b.accountPage()
	if !strings.Contains(page, `id="approve-device-form"`) || strings.Contains(page, `id="create-here"`) {
		t.Error("the passkeys page: approval form missing, or the cross-device offer shown without a cross-device sign-in")
	}
	if _, page, _ := b.get("/account?notice=crossdevice"); !strings.Contains(page, `id="create-here"`) {
		t.Error("no offer of a passkey on this device after a cross-device sign-in")
	}
}
