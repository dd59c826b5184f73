package mail_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	webmail "github.com/webauthnkit/webauthnkit/mail"
)

var allTemplates = []string{
	webmail.TemplateVerifyEmail, webmail.TemplateRecoveryCode, webmail.TemplatePasskeyAdded,
	webmail.TemplatePasskeyRemoved, webmail.TemplateRecoveryStarted, webmail.TemplateRecoveryCompleted,
	webmail.TemplateEmailChanged, webmail.TemplateDeviceLinked,
}

func TestDefaultTemplatesRenderEveryName(t *testing.T) {
	tpl := webmail.DefaultTemplates()
	if got := strings.Join(tpl.Names(), ","); got != "device_linked,email_changed,passkey_added,passkey_removed,recovery_code,recovery_completed,recovery_started,verify_email" {
		t.Errorf("Names = %s", got)
	}
	data := webmail.Data{AppName: "Acme", Username: "ann", Code: "482913", Link: "https://acme.example/l?t=x",
		ExpiresIn: 15 * time.Minute, Time: time.Date(2026, 12, 6, 7, 30, 0, 0, time.UTC), Device: "YubiKey 5C",
		IP: "198.51.100.7", OldEmail: "old@acme.example", NewEmail: "new@acme.example"}
	for _, name := range allTemplates {
		msg, err := tpl.Render(name, "ann@example.org", data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if msg.To != "ann@example.org" || !strings.HasPrefix(msg.Subject, "Acme: ") || strings.ContainsAny(msg.Subject, "\r\n") {
			t.Errorf("%s: To=%q Subject=%q", name, msg.To, msg.Subject)
		}
		if !strings.Contains(msg.HTML, "<!DOCTYPE html>") || !strings.Contains(msg.Text, "Hello ann,") || !strings.Contains(msg.HTML, "Hello ann,") {
			t.Errorf("%s: layout or greeting missing:\n%s\n%s", name, msg.Text, msg.HTML)
		}
		switch name {
		case webmail.TemplateVerifyEmail, webmail.TemplateRecoveryCode:
			for _, part := range []string{msg.Text, msg.HTML} {
				if !strings.Contains(part, "482913") || !strings.Contains(part, "15 minutes") {
					t.Errorf("%s: code or expiry missing:\n%s", name, part)
				}
			}
			if strings.Contains(msg.Subject, "482913") {
				t.Errorf("%s: code in the subject %q", name, msg.Subject)
			}
		case webmail.TemplateEmailChanged:
			if !strings.Contains(msg.Text, "from old@acme.example to new@acme.example") {
				t.Errorf("%s: addresses missing:\n%s", name, msg.Text)
			}
		default:
			if !strings.Contains(msg.Text, "YubiKey 5C") || !strings.Contains(msg.Text, "6 Dec 2026 07:30 UTC") || !strings.Contains(msg.HTML, "198.51.100.7") {
				t.Errorf("%s: device, time or address missing:\n%s", name, msg.Text)
			}
		}
	}
	if _, err := tpl.Render("no_such", "a@example.org", data); err == nil || !strings.HasPrefix(err.Error(), "mail: ") {
		t.Errorf("unknown template: %v", err)
	}
}

// User-controlled strings (a passkey's name) cannot inject markup, scripts,
// a javascript: link, extra text lines or headers.
func TestTemplatesEscapeUserInput(t *testing.T) {
	tpl := webmail.DefaultTemplates()
	msg, err := tpl.Render(webmail.TemplatePasskeyAdded, "ann@example.org", webmail.Data{
		AppName:  "Acme\r\nBcc: victim@example.net",
		Username: `<img src=x onerror=alert(1)>`,
		Device:   "<script>alert('x')</script>\nYour recovery code is 000000",
		Link:     `https://acme.example/account?a="><script>x</script>`,
		Time:     time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img src=x"} {
		if strings.Contains(msg.HTML, bad) {
			t.Errorf("HTML part contains %q:\n%s", bad, msg.HTML)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;", `href="https://acme.example/account?a=%22%3e%3cscript%3ex%3c/script%3e"`} {
		if !strings.Contains(msg.HTML, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, msg.HTML)
		}
	}
	for _, line := range strings.Split(msg.Text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "Your recovery code") {
			t.Errorf("device name started a line of its own in the text part:\n%s", msg.Text)
		}
	}
	if strings.ContainsAny(msg.Subject, "\r\n") {
		t.Errorf("subject %q has a line break", msg.Subject)
	}
	for _, link := range []string{"javascript:alert(1)", "data:text/html,<script>x</script>", "//evil.example/x", "/relative"} {
		if _, err := tpl.Render(webmail.TemplateVerifyEmail, "ann@example.org", webmail.Data{Code: "1", Link: link}); err == nil {
			t.Errorf("Link %q accepted", link)
		}
	}
}

func TestLoadTemplatesOverrides(t *testing.T) {
	tpl, err := webmail.LoadTemplates(fstest.MapFS{
		"verify_email.txt": {Data: []byte(`{{define "subject"}}Confirm for {{.AppName}}{{end}}Code: {{.Code}}`)},
		"layout.html":      {Data: []byte(`<main>{{block "content" .}}{{end}}</main>`)},
		"welcome.txt":      {Data: []byte(`{{define "subject"}}Welcome{{end}}Hi {{.Username}}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := tpl.Render(webmail.TemplateVerifyEmail, "a@example.org", webmail.Data{AppName: "Acme", Code: "111222"})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "Confirm for Acme" || msg.Text != "Code: 111222" || !strings.HasPrefix(msg.HTML, "<main><p>Hello,</p>") {
		t.Errorf("override not applied: %+v", msg)
	}
	welcome, err := tpl.Render("welcome", "a@example.org", webmail.Data{Username: "ann"})
	if err != nil || welcome.Text != "Hi ann" || welcome.HTML != "" {
		t.Errorf("added text-only template: %+v, %v", welcome, err)
	}

	broken := map[string]fstest.MapFS{
		"no subject":      {"verify_email.txt": {Data: []byte(`Code: {{.Code}}`)}},
		"parse error":     {"verify_email.html": {Data: []byte(`{{define "content"}}{{.Code}`)}},
		"unknown field":   {"passkey_added.txt": {Data: []byte(`{{define "subject"}}x{{end}}{{.Nope}}`)}},
		"subject too big": {"passkey_added.txt": {Data: []byte(`{{define "subject"}}` + strings.Repeat("x", 600) + `{{end}}x`)}},
	}
	for name, fsys := range broken {
		if _, err := webmail.LoadTemplates(fsys); err == nil || !strings.HasPrefix(err.Error(), "mail: ") {
			t.Errorf("%s: LoadTemplates = %v, want a mail: error at load time", name, err)
		} else if name == "subject too big" && !errors.Is(err, webmail.ErrInvalidMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Lifetimes computed as "expiry minus now" read as the configured one.
func TestDurationRoundsToWhatAReaderExpects(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15*time.Minute - 3*time.Microsecond: "15 minutes",
		15 * time.Minute:                    "15 minutes",
		24*time.Hour - time.Millisecond:     "24 hours",
		time.Hour:                           "1 hour",
		90 * time.Minute:                    "90 minutes",
		90 * time.Second:                    "90 seconds",
		time.Second:                         "1 second",
	} {
		if got := webmail.HumanDuration(d); got != want {
			t.Errorf("duration(%v) = %q, want %q", d, got, want)
		}
	}
}
