package app_test

import (
	"encoding/json"
	"html"
	"strings"
	"testing"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// The passkeys page names each passkey's provider from its AAGUID, with a
// monogram where a logo would go, instead of showing nothing (or a UUID).
func TestAccountPageShowsProvider(t *testing.T) {
	a := start(t, app.Config{})
	b := newBrowser(t, a)
	gpm := [16]byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}
	yubi := [16]byte{0x2f, 0xc0, 0x57, 0x9f, 0x81, 0x13, 0x47, 0xea, 0xb1, 0x16, 0xbb, 0x5a, 0x8d, 0xb9, 0x20, 0x2a}
	b.device = webauthntest.New(webauthntest.WithOrigin(a.URL), webauthntest.WithAAGUID(gpm), webauthntest.WithBackup(true, true))
	b.signUp("alice", "Alice")

	// A security key added with a name of its own.
	b.device = webauthntest.New(webauthntest.WithOrigin(a.URL), webauthntest.WithAAGUID(yubi), webauthntest.WithAttachment(webauthntest.CrossPlatform))
	req, _ := json.Marshal(map[string]string{"name": "Keyring key"})
	resp, err := b.device.Register(b.api("registration/begin", req))
	if err != nil {
		t.Fatal(err)
	}
	b.api("registration/finish", resp)

	page := html.UnescapeString(b.accountPage())
	for _, want := range []string{
		`<span class="passkey-name">Google Password Manager</span>`, // the default name
		`<span class="passkey-provider-line"><span class="passkey-provider">YubiKey 5 Series with NFC</span> · </span>Created`,
		`<span class="passkey-name">Keyring key</span>`,
		`class="passkey-icon provider-icon" aria-hidden="true" title="YubiKey 5 Series with NFC">Y</span>`,
		`title="Google Password Manager">G</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the passkeys page lacks %q", want)
		}
	}
	if strings.Contains(page, `<span class="passkey-provider">Google Password Manager</span>`) {
		t.Error("the provider is repeated under a passkey named after it")
	}
	if strings.Contains(page, "ea9b8d66") {
		t.Error("the page shows a UUID")
	}
}
