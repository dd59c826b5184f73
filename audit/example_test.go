package audit_test

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/audit"
)

// A failed sign-in with a passkey the site does not know: the line names
// the credential and the code, never the error's text.
func ExampleLogger_OnEvent() {
	al := audit.NewJSON(os.Stdout, audit.Options{})
	// As the core reports it (webauthnkit.Config{OnEvent: al.OnEvent}).
	al.OnEvent(context.Background(), webauthnkit.Event{
		Type:         webauthnkit.EventLoginFailed,
		Time:         time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Code:         webauthnkit.CodeUnknownCredential,
		CredentialID: []byte("not-registered"),
		Duration:     850 * time.Microsecond,
		Err:          errors.New("details that may quote the challenge"),
	})
	// Output:
	// {"time":"2026-03-01T12:00:00Z","level":"WARN","msg":"webauthnkit.audit","event":"login.failed","outcome":"failure","code":"unknown_credential","credential_id":"bm90LXJlZ2lzdGVyZWQ","duration_ms":0.85}
}
