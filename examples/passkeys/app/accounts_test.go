package app_test

import (
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/webauthnkit/webauthnkit/examples/passkeys/app"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// TestDevelopmentMailerByDefault: without Config.Mailer (no -smtp) the
// demo's mails go to the log, code included, as the README says, and the
// code confirms the sign-up.
func TestDevelopmentMailerByDefault(t *testing.T) {
	logs := &testenv.SyncBuffer{}
	a := start(t, app.Config{Logger: slog.New(slog.NewTextHandler(logs, nil)), AccountsMinStartDuration: -1})
	b := newBrowser(t, a)
	if !strings.Contains(logs.String(), "mails are NOT sent, their codes are written to this log") {
		t.Errorf("the startup log does not say where the codes go:\n%s", logs)
	}
	status, body, _ := b.do(http.MethodPost, "/passkeys/signup/start", "application/json", []byte(`{"email":"dev@example.com","username":"dev"}`), a.URL)
	if status != http.StatusAccepted {
		t.Fatalf("signup/start = %d %s", status, body)
	}
	m := regexp.MustCompile(`DEVELOPMENT MAILER.*to=dev@example.com.*\\n    (\d{6})\\n`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no code for dev@example.com in the log:\n%s", logs)
	}
	b.api("signup/confirm", []byte(`{"email":"dev@example.com","code":"`+m[1]+`"}`))
}
