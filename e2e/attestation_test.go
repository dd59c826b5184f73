package e2e

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/mds"
	"github.com/webauthnkit/webauthnkit/mds/mdstest"
)

// withAttestation runs the app under an attestation policy over a test
// BLOB that knows no authenticator model (Chromium's virtual authenticator
// is not in it).
func withAttestation(t *testing.T, mode webauthnkit.AttestationMode, require bool) func(*app.Config) {
	t.Helper()
	root, err := mdstest.NewRoot("e2e MDS")
	if err != nil {
		t.Fatal(err)
	}
	blob, err := root.BLOB(1, time.Now().AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	p, err := mds.NewFromReader(bytes.NewReader(blob), mds.Options{Root: root.Cert})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *app.Config) {
		c.Attestation = webauthnkit.AttestationPolicy{Mode: mode, Metadata: p, RequireAttestation: require}
	}
}

// TestAttestation signs up in Chromium under monitor (the browser's real
// attestation is evaluated and logged, the sign-up succeeds) and under
// enforce with RequireAttestation (the unknown authenticator is refused and
// the page says so).
func TestAttestation(t *testing.T) {
	signUp := func(tb *tab, name string) {
		tb.open(t, "/signup", "signup")
		tb.do(t,
			chromedp.SendKeys(chromedp.CSS("#username"), name),
			chromedp.Click(chromedp.CSS("#create")),
		)
	}
	t.Run("Monitor", func(t *testing.T) {
		e := newEnv(t, withAttestation(t, webauthnkit.AttestationMonitor, false))
		alice := e.newTab(t, "alice", false)
		alice.addAuthenticator(t, authenticatorOptions())
		signUp(alice, "alice")
		alice.waitPage(t, "account")
		logs := e.logs.String()
		i := strings.Index(logs, "event=attestation.")
		if i < 0 {
			t.Fatalf("no attestation event logged:\n%s", logs)
		}
		line := logs[i:]
		line = line[:strings.IndexByte(line, '\n')]
		t.Logf("logged: %s", line)
		if !strings.Contains(line, "event=attestation.untrusted") || !strings.Contains(line, "refused=false") {
			t.Errorf("event = %s, want attestation.untrusted, not refused", line)
		}
		// Asked for "direct", Chromium's virtual authenticator sends packed
		// attestation with a certificate: the policy read the chain and did
		// not find the model.
		if !strings.Contains(line, "not in the metadata") {
			t.Errorf("event = %s, want the attested model reported unknown", line)
		}
	})
	t.Run("EnforceRequired", func(t *testing.T) {
		e := newEnv(t, withAttestation(t, webauthnkit.AttestationEnforce, true))
		bob := e.newTab(t, "bob", false)
		bob.addAuthenticator(t, authenticatorOptions())
		signUp(bob, "bob")
		code, msg := bob.waitError(t)
		if code != string(webauthnkit.CodeAttestationRefused) || !strings.Contains(msg, "isn’t accepted here") {
			t.Errorf("error = %s %q, want attestation_refused explained", code, msg)
		}
		if got := bob.sessionStatus(t); got != 401 {
			t.Errorf("session status = %d, want 401: no account was made", got)
		}
		if !strings.Contains(e.logs.String(), "code=attestation_refused") {
			t.Errorf("the refusal is not logged")
		}
	})
}
